"""Facts the clouds and Kubernetes enforce, in one place with their sources, and the rules that check them.

A stack file that breaks one of these passes `pulumi preview` and fails minutes into `pulumi up` (or never
deploys at all), so the spec refuses it up front. Where each list comes from, and how to update it:
docs/design.md#facts-the-clouds-enforce.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import TYPE_CHECKING, Annotated

from pulumi_aws import Region as _AwsRegion
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from stacks.spec.base import Loc, Problem
from stacks.spec.errors import show

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec

# --- Regions ---------------------------------------------------------------------------------------------

# The regions of the pinned AWS provider (pulumi_aws.Region, requirements.txt): what `aws:region` accepts.
AWS_REGIONS: frozenset[str] = frozenset(r.value for r in _AwsRegion)
AWS_REGIONS_SOURCE = f"pulumi-aws {version('pulumi-aws')} (pulumi_aws.Region)"
# Alibaba Cloud public regions: `ValidRegions` of the Alibaba Terraform provider that pulumi-alicloud wraps
# (alicloud/connectivity/regions.go), without the finance and government clouds, which need their own
# accounts and spell zones differently. Update with the provider pin (docs/alicloud.md#regions-and-zones).
ALICLOUD_REGIONS: frozenset[str] = frozenset(
    {
        "cn-hangzhou",
        "cn-qingdao",
        "cn-beijing",
        "cn-hongkong",
        "cn-shenzhen",
        "cn-shanghai",
        "cn-zhangjiakou",
        "cn-huhehaote",
        "cn-chengdu",
        "cn-heyuan",
        "cn-wulanchabu",
        "cn-guangzhou",
        "cn-nanjing",
        "us-west-1",
        "us-east-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ap-south-1",
        "me-east-1",
        "me-central-1",
        "eu-central-1",
        "eu-west-1",
    }
)
ALICLOUD_REGIONS_SOURCE = "the Alibaba Cloud Terraform provider's ValidRegions (docs/alicloud.md#regions-and-zones)"
REGIONS = {"aws": AWS_REGIONS, "alicloud": ALICLOUD_REGIONS}
CLOUD_NAMES = {"aws": "AWS", "alicloud": "Alibaba Cloud"}

# --- Networks ---------------------------------------------------------------------------------------------

RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# Special-purpose IPv4 ranges (IANA registry, RFC 6890) that Python's `is_private` counts as private but no
# VPC or Service network may use: they are never routed to a VPC (or never leave the host).
SPECIAL_RANGES: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(n), what)
    for n, what in (
        ("0.0.0.0/8", "'this network', RFC 1122"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local, where the instance metadata service lives"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation, TEST-NET-1"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation, TEST-NET-2"),
        ("203.0.113.0/24", "documentation, TEST-NET-3"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)
# What each managed control plane accepts as the Kubernetes Service CIDR (docs/design.md#facts-the-clouds-enforce):
# EKS: kubernetes_network_config.service_ipv4_cidr (pulumi_aws.eks.ClusterKubernetesNetworkConfigArgs):
#   inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, between /12 and /24, not overlapping the VPC.
# ACK: service_cidr (ACK network planning): inside the same three ranges, between /16 and /24, not
#   overlapping the VPC or the pod CIDR.
SERVICE_CIDR_PREFIXES = {"aws": (12, 24), "alicloud": (16, 24)}
SERVICE_CIDR_SOURCE = {"aws": "EKS service_ipv4_cidr", "alicloud": "ACK service_cidr"}


def special_range(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str | None:
    """'127.0.0.0/8 (loopback)' when `net` overlaps a special-purpose range, else None."""
    for special, what in SPECIAL_RANGES:
        if net.version == 4 and net.overlaps(special):
            return f"{special} ({what})"
    return None


def outside_rfc1918(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str | None:
    """Where `net` lies when it is not inside an RFC 1918 range ('in <special range>' or 'outside the private
    ranges'), else None: the one wording of the Service CIDR and Flannel pod CIDR rules."""
    if isinstance(net, ipaddress.IPv4Network) and any(net.subnet_of(r) for r in RFC1918):
        return None
    return f"in {s}" if (s := special_range(net)) else "outside the private ranges"


def covers_world(cidrs: list[str]) -> int | None:
    """The IP version (4 or 6) whose whole address space the union of `cidrs` covers, else None.

    `0.0.0.0/1` + `128.0.0.0/1` is the world as much as `0.0.0.0/0` is: collapse the union and compare."""
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    v4 = [n for n in nets if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in nets if isinstance(n, ipaddress.IPv6Network)]
    if v4 and list(ipaddress.collapse_addresses(v4)) == [ipaddress.IPv4Network("0.0.0.0/0")]:
        return 4
    if v6 and list(ipaddress.collapse_addresses(v6)) == [ipaddress.IPv6Network("::/0")]:
        return 6
    return None


# --- Integers ---------------------------------------------------------------------------------------------

# Kubernetes API integer fields are int32 (replicas, ports, counts) or int64 (seconds, quantities); the
# cloud APIs (EKS scaling config, ECS sizes) take int32. A larger value passes the spec and fails in the API
# server or provider, so the spec types name the bound.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def _bounded(bits: int, limit: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value > limit:
            raise PydanticCustomError(
                "gp_int_bound",
                "{got} is more than {limit}, the largest value this int{bits} field of the Kubernetes or cloud "
                "API takes; use a smaller number",
                {"got": value, "limit": limit, "bits": bits},
            )
        return value

    return check


Int32 = Annotated[int, AfterValidator(_bounded(32, INT32_MAX))]
Int64 = Annotated[int, AfterValidator(_bounded(64, INT64_MAX))]


# --- Rules ------------------------------------------------------------------------------------------------


def _other_cloud(cloud: str) -> str:
    return "alicloud" if cloud == "aws" else "aws"


def regions(spec: StackSpec) -> Iterator[Problem]:
    """The region exists for the chosen cloud (not the other one's), and AWS zones are availability zones."""
    if spec.cloud not in REGIONS:
        return  # an existing cluster's region is a name of the user's choosing
    known = REGIONS[spec.cloud]
    name = CLOUD_NAMES[spec.cloud]
    if spec.region not in known:
        other = _other_cloud(spec.cloud)
        if spec.region in REGIONS[other]:
            fix = f"set cloud: {other}, or choose a region of {name}"
            yield ("region",), f"{show(spec.region)} is a region of {CLOUD_NAMES[other]}, not of {name}; {fix}"
        else:
            close = difflib.get_close_matches(spec.region, sorted(known), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"e.g. {', '.join(map(repr, sorted(known)[:3]))}"
            source = AWS_REGIONS_SOURCE if spec.cloud == "aws" else ALICLOUD_REGIONS_SOURCE
            yield ("region",), f"{show(spec.region)} is not a region of {name} (regions of {source}); {hint}"
        return
    if spec.cloud != "aws":
        return  # ACK zone spelling: cluster.alicloud_zones
    zone_re = re.compile(rf"^{re.escape(spec.region)}[a-z]$")
    for i, zone in enumerate(spec.zones):
        # Zones outside the region are stack.zones' to report.
        if zone.startswith(spec.region) and not zone_re.match(zone):
            yield (
                ("zones", i),
                (
                    f"{show(zone)} is not an availability zone name of {spec.region}; write the region and a "
                    f"letter, e.g. '{spec.region}a' (Local and Wavelength Zones cannot hold EKS cluster subnets)"
                ),
            )


def network_ranges(spec: StackSpec) -> Iterator[Problem]:
    """VPC and Service CIDRs are in ranges the cloud routes and accepts."""
    if spec.cloud not in SERVICE_CIDR_PREFIXES:
        return
    net = spec.cluster.network
    loc: Loc = ("cluster", "network")
    vpc = ipaddress.ip_network(net.vpc_cidr)
    # A VPC outside `is_private` is cluster.network's to report; here the special ranges it lets through.
    special = special_range(vpc)
    if vpc.is_private and special is not None:
        yield (
            (*loc, "vpcCidr"),
            (
                f"{show(net.vpc_cidr)} is in {special}, which no VPC can use; use a range inside 10.0.0.0/8, "
                "172.16.0.0/12 or 192.168.0.0/16, e.g. '10.0.0.0/16'"
            ),
        )
    svc = ipaddress.ip_network(net.service_cidr)
    low, high = SERVICE_CIDR_PREFIXES[spec.cloud]
    source = SERVICE_CIDR_SOURCE[spec.cloud]
    if (where := outside_rfc1918(svc)) is not None:
        yield (
            (*loc, "serviceCidr"),
            (
                f"{show(net.service_cidr)} is {where}; {source} must be inside 10.0.0.0/8, 172.16.0.0/12 or "
                "192.168.0.0/16, e.g. '172.20.0.0/16'"
            ),
        )
    elif not low <= svc.prefixlen <= high:
        yield (
            (*loc, "serviceCidr"),
            (
                f"{show(net.service_cidr)} has prefix /{svc.prefixlen}; {source} must be a /{low} to /{high}, "
                "e.g. '172.20.0.0/16'"
            ),
        )
    ali = spec.cluster.alicloud
    if spec.cloud == "alicloud" and ali is not None and ali.network_plugin == "flannel":
        pod = ipaddress.ip_network(ali.pod_cidr)
        if (where := outside_rfc1918(pod)) is not None:
            yield (
                ("cluster", "alicloud", "podCidr"),
                (
                    f"{show(ali.pod_cidr)} is {where}; the Flannel pod CIDR (ACK pod_cidr) must be inside "
                    "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. '172.16.0.0/16'"
                ),
            )
