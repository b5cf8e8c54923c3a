"""Alibaba Cloud rules: what ACK/ACR can deliver for a spec, and the keys that belong to one cloud only.

Registered into spec_rules.RULES on import (stacks/spec.py lists this module in _RULE_MODULES).
AWS-only keys are rejected on alicloud (rather than silently ignored) so a stack file never claims a
setting that does nothing; Alibaba-only blocks are rejected on aws for the same reason.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from components.alicloud.pins import ack_pins
from components.gpu.catalog import catalog
from stacks.errors import show
from stacks.spec_models import KUBERNETES_VERSIONS, AlicloudClusterSpec, AlicloudRegistrySpec, StackSpec
from stacks.spec_rules import Loc, Problem, rule

MAX_ACK_ZONES = 5  # cs.ManagedKubernetes vswitch_ids: MinItems 1, MaxItems 5
ACR_EE_PERIODS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 24, 36)  # months; annual values are whole years
DRIVER_RE = re.compile(r"^\d{3}\.\d{2,3}(\.\d{2})?$")
# ACK driver notes [S9]: bare-metal A100 (ebmgn7/ebmgn7e) need >= 460.32.03; the A100 families have
# known issues with 510.x and 515.x.
A100_MIN_DRIVER = (460, 32, 3)
A100_BAD_DRIVER_MAJORS = (510, 515)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


@rule
def alicloud_only_keys(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud == "alicloud":
        return
    for loc, block in (
        (("cluster", "alicloud"), spec.cluster.alicloud),
        (("registry", "alicloud"), spec.registry.alicloud),
    ):
        if block is not None:
            yield (
                loc,
                (
                    f"given while cloud is {show(spec.cloud)}; these settings apply to Alibaba Cloud only "
                    "(cloud: alicloud); remove the block"
                ),
            )


@rule
def alicloud_zones(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud != "alicloud":
        return
    zone_re = re.compile(rf"^{re.escape(spec.region)}-[a-z]$")
    for i, zone in enumerate(spec.zones):
        # Zones outside the region are reported by spec_rules.zones; here only the ACK spelling.
        if zone.startswith(spec.region) and not zone_re.match(zone):
            yield (
                ("zones", i),
                (
                    f"{show(zone)} is not an Alibaba Cloud zone name; write it like "
                    f"'{spec.region}-h' (region, '-', zone letter)"
                ),
            )
    if len(set(spec.zones)) > MAX_ACK_ZONES:
        yield (
            ("zones",),
            (
                f"{len(set(spec.zones))} zones given; an ACK cluster takes at most {MAX_ACK_ZONES} "
                "control-plane vSwitches; list at most 5 zones"
            ),
        )


@rule
def alicloud_cluster(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud != "alicloud":
        return
    c = spec.cluster
    if c.kubernetes_version in KUBERNETES_VERSIONS and c.kubernetes_version not in ack_pins().kubernetes:
        yield (
            ("cluster", "kubernetesVersion"),
            (
                f"{show(c.kubernetes_version)} has no ACK version pinned in charts/ack.yaml; choose one of "
                + ", ".join(sorted(ack_pins().kubernetes))
            ),
        )
    if c.admin_principals:
        yield (
            ("cluster", "adminPrincipals"),
            (
                "given on alicloud, where cluster-admin is granted through RAM authorisation in ACK (console "
                "Authorizations, or cs.KubernetesPermission), which this stack does not manage; remove adminPrincipals"
            ),
        )
    e = c.endpoint
    if not e.private_access:
        yield (
            ("cluster", "endpoint", "privateAccess"),
            ("false is not possible on ACK: the API server always has a VPC (intranet) address; remove privateAccess"),
        )
    narrow = [cidr for cidr in e.public_access_cidrs if ipaddress.ip_network(cidr).prefixlen != 0]
    if e.public_access and narrow:
        yield (
            ("cluster", "endpoint", "publicAccessCidrs"),
            (
                f"{', '.join(narrow)}: ACK's public API endpoint (an EIP on the API server's load balancer) has no "
                "source-CIDR allowlist this stack can set; keep the endpoint private (reach it over VPN), or list "
                "'0.0.0.0/0' with allowWorld: true and restrict it with the load balancer's access control in ACK"
            ),
        )
    ali = c.alicloud or AlicloudClusterSpec()
    if ali.network_plugin == "flannel":
        pod = ipaddress.ip_network(ali.pod_cidr)
        for key, other in (("vpcCidr", c.network.vpc_cidr), ("serviceCidr", c.network.service_cidr)):
            if pod.overlaps(ipaddress.ip_network(other)):
                yield (
                    ("cluster", "alicloud", "podCidr"),
                    (
                        f"{show(ali.pod_cidr)} overlaps {key} {show(other)}; choose a pod CIDR outside both, "
                        "e.g. '172.16.0.0/16'"
                    ),
                )
    elif c.alicloud is not None and "pod_cidr" in c.alicloud.model_fields_set:
        yield (
            ("cluster", "alicloud", "podCidr"),
            (
                "given with networkPlugin 'terway', which takes pod addresses "
                "from pod vSwitches; remove podCidr or use networkPlugin: flannel"
            ),
        )
    yield from _driver(spec, ali)


def _driver(spec: StackSpec, ali: AlicloudClusterSpec) -> Iterator[Problem]:
    version = ali.nvidia_driver_version
    if version is None:
        return
    loc: Loc = ("cluster", "alicloud", "nvidiaDriverVersion")
    if not DRIVER_RE.match(version):
        yield loc, f"{show(version)} is not an NVIDIA driver version; write it like '550.144.03'"
        return
    a100 = sorted(
        {
            p.instance_types[0]
            for p in spec.node_pools
            if (inst := catalog().instance("alicloud", p.instance_types[0])) is not None
            and (inst.gpu_model or "").startswith("a100")
        }
    )
    if not a100:
        return
    parts = _version(version)
    if parts[0] in A100_BAD_DRIVER_MAJORS:
        yield (
            loc,
            (
                f"{show(version)}: ACK documents issues of drivers {'/'.join(f'{m}.x' for m in A100_BAD_DRIVER_MAJORS)} "
                f"on the A100 families ({', '.join(a100)}); use 550 or newer (fixes XID 119/120 errors)"
            ),
        )
    elif parts < A100_MIN_DRIVER:
        yield (
            loc,
            (
                f"{show(version)} is older than 460.32.03, the minimum ACK supports on A100 bare metal "
                f"({', '.join(a100)}); use 550 or newer"
            ),
        )


@rule
def alicloud_pools(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud != "alicloud":
        return
    for i, pool in enumerate(spec.node_pools):
        loc: Loc = ("nodePools", i)
        if pool.ami_type is not None:
            yield (
                (*loc, "amiType"),
                (
                    f"{show(pool.ami_type)} is an EKS AMI type; ACK nodes run Alibaba Cloud Linux 3 "
                    "with ACK's NVIDIA driver, so remove amiType"
                ),
            )
        if pool.gpu is not None and pool.gpu.sharing == "time-slicing":
            yield (
                (*loc, "gpu", "sharing"),
                (
                    "'time-slicing' is configured in the NVIDIA device plugin, which ACK replaces with its own "
                    "(ack-nvidia-device-plugin); use sharing: none (whole GPUs) or MIG on a bare-metal A100 pool"
                ),
            )


@rule
def alicloud_registry(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud != "alicloud":
        return
    reg = spec.registry
    loc: Loc = ("registry",)
    # ECR settings with no ACR counterpart here: key -> (given?, what ACR does instead).
    aws_only = {
        "scanType": (reg.scan_type != "BASIC", "ACR Enterprise Edition scans every push with its own scanner"),
        "replicationRegions": (bool(reg.replication_regions), "ACR replication is not managed by this stack"),
        "ciPushRepos": (bool(reg.ci_push_repos), "CI pushes to ACR with a RAM user or role, not GitHub OIDC here"),
        "githubOidcProviderArn": (reg.github_oidc_provider_arn is not None, "it names an IAM OIDC provider"),
        "untaggedExpiryDays": (
            "untagged_expiry_days" in reg.model_fields_set,
            "ACR retention keeps the newest keepReleaseImages tags",
        ),
    }
    for key, (given, why) in aws_only.items():
        if given:
            yield (*loc, key), f"an ECR (AWS) setting with no effect on ACR ({why}); remove {key}"
    ali = reg.alicloud or AlicloudRegistrySpec()
    edition = ali.edition or ("enterprise" if spec.is_prod else "personal")
    if ali.subscription_months not in ACR_EE_PERIODS:
        yield (
            (*loc, "alicloud", "subscriptionMonths"),
            (
                f"{ali.subscription_months} is not an ACR Enterprise period; choose one of "
                + ", ".join(map(str, ACR_EE_PERIODS))
            ),
        )
    if edition != "personal":
        return
    for key, attr in (("instanceType", "instance_type"), ("subscriptionMonths", "subscription_months")):
        if attr in ali.model_fields_set:
            yield (
                (*loc, "alicloud", key),
                (f"given with the Personal Edition, which has no instance; remove {key} or set edition: enterprise"),
            )
    if "keep_release_images" in reg.model_fields_set:
        yield (
            (*loc, "keepReleaseImages"),
            ("the ACR Personal Edition has no retention rules; remove it or set registry.alicloud.edition: enterprise"),
        )
