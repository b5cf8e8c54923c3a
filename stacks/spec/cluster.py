"""`cluster:` block (control plane, network, endpoint, Alibaba cluster settings) and its rules."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from components.alicloud.pins import ack_pins
from components.gpu.catalog import catalog
from stacks.spec.base import (
    AWS_PRINCIPAL_RE,
    CONFIG_KEY_RE,
    KUBERNETES_VERSIONS,
    LABEL_KEY_RE,
    SECRETS_NAMESPACE,
    Cidr,
    DnsName,
    Loc,
    Problem,
    Spec,
    duplicates,
)

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec
from stacks.spec.cloud_facts import RFC1918
from stacks.spec.errors import show


class NetworkSpec(Spec):
    vpc_cidr: Cidr = "10.0.0.0/16"
    """VPC (AWS) / VPC network (Alibaba) CIDR. Private node subnets take the first /19-equivalent blocks,
    public subnets a small block at the end; see components/aws/network.py."""
    nat_gateways: Literal["single", "perZone"] | None = None
    """Default: `perZone` in prod (a zone outage does not cut egress), `single` elsewhere (cheaper)."""
    service_cidr: Cidr = "172.20.0.0/16"
    """Kubernetes Service CIDR; must not overlap the VPC CIDR."""


class EndpointSpec(Spec):
    private_access: bool = True
    """Default: the API server is reachable from inside the VPC."""
    public_access: bool = False
    """Default: no public API endpoint. Set true and list `publicAccessCidrs` to open it."""
    public_access_cidrs: tuple[Cidr, ...] = ()
    """CIDRs allowed to reach a public endpoint. CIDRs that together cover every address (`0.0.0.0/0`, or
    `0.0.0.0/1` + `128.0.0.0/1`, ...) need `allowWorld: true`."""
    allow_world: bool = False
    """Explicit acknowledgement required to open a public endpoint to the whole internet, however its CIDRs
    are split. In prod also `acknowledge: {publicEndpointOpenToWorld: <reason>}`."""
    private_access_cidrs: tuple[Cidr, ...] = ()
    """Private networks (RFC 1918 or RFC 6598) outside the cluster that may reach the private endpoint on
    443: the CI runners and VPN clients that run `pulumi up` and kubectl. AWS: one ingress rule each on the
    EKS cluster security group, which otherwise admits only itself (nodes and control plane). Default:
    none. Not on Alibaba Cloud, where the API server's intranet load balancer answers everything routed
    into the VPC."""


class AlicloudClusterSpec(Spec):
    network_plugin: Literal["terway", "flannel"] = "terway"
    """`terway`: pods get VPC addresses from a pod vSwitch per zone (no overlay; security groups and
    NetworkPolicy on pods). `flannel`: an overlay from `podCidr` (fewer VPC addresses used). Create-only."""
    cluster_spec: Literal["ack.pro.small", "ack.pro.xlarge", "ack.pro.2xlarge", "ack.pro.4xlarge"] = "ack.pro.small"
    """ACK Pro control-plane tier. The xlarge tiers (provisioned control plane) need whitelisting."""
    pod_cidr: Cidr = "172.16.0.0/16"
    """Pod overlay CIDR with `networkPlugin: flannel` (ignored with Terway); must not overlap the VPC or
    Service CIDR. Create-only."""
    nvidia_driver_version: str | None = None
    """NVIDIA driver ACK installs on new GPU nodes (node-pool label `ack.aliyun.com/nvidia-driver-version`).
    Default: the version pinned in charts/ack.yaml. An unsupported version silently falls back to ACK's
    default, so pick one from ACK's driver list."""
    create_service_roles: bool = False
    """Create the account-wide RAM roles the managed autoscaler and managed node pools act as
    (AliyunCSManagedAutoScalerRole, AliyunCSManagedNlcRole). Default: off — they exist once per account
    (console authorisation or another stack); only one stack of an account may own them."""


class LoadBalancerAnnotationsSpec(Spec):
    internal: dict[str, str] = {}
    """Annotations of the gateway's LoadBalancer Service with `addons.istio.gateway.loadBalancer: internal`
    (the default), for the cluster's load-balancer implementation, e.g. MetalLB's
    `metallb.universe.tf/address-pool: internal`. Default: none, and the implementation hands out an address
    from its default pool: make sure that pool is not reachable from the internet."""
    internet_facing: dict[str, str] = {}
    """Annotations with `loadBalancer: internet-facing`, e.g. `metallb.universe.tf/address-pool: public`.
    Required with it: without them nothing would tell the cluster to publish the gateway."""


class ExistingClusterSpec(Spec):
    cluster_identifier: str
    """A stable name of the cluster for the Kubernetes provider, e.g. 'lab-gpu.fra1.example.com'. Never
    change it while the stack exists: a new kubeconfig (rotated credentials, a new endpoint) then updates
    the provider in place, while a new identifier replaces every object the stack manages in the cluster."""
    kubeconfig_secret: str = "kubeconfig"
    """Key in the `gpu-platform-secrets:` config namespace holding the kubeconfig that reaches the cluster,
    stored encrypted: `pulumi config set --secret gpu-platform-secrets:kubeconfig < kubeconfig.yaml`. A
    plain-text value is refused."""
    context: str | None = None
    """Kubeconfig context to use. Default: the kubeconfig's current-context."""
    gpu_device_plugin: Literal["install", "provided"] = "install"
    """`install`: the platform installs the NVIDIA device plugin (and the MIG manager when a pool uses MIG),
    as on EKS. `provided`: the cluster already runs one (e.g. the NVIDIA GPU Operator): the platform installs
    neither, and the pools' GPU sharing must match how that plugin is configured. Either way the nodes need
    the NVIDIA driver and container toolkit."""
    scales_pools: bool = False
    """The cluster scales its node pools itself (its own cluster-autoscaler or Karpenter): each pool may grow
    from minSize to maxSize, and the capacity check counts maxSize nodes. Default: off — nothing scales the
    pools, so minSize must equal maxSize, the pool's node count. The platform never installs a node
    autoscaler on an existing cluster."""
    load_balancer_annotations: LoadBalancerAnnotationsSpec = LoadBalancerAnnotationsSpec()
    """Annotations of the API gateway's LoadBalancer Service per scheme. The Service needs the cluster's
    own load-balancer implementation (MetalLB, kube-vip, Cilium LB IPAM, a cloud controller). Default: none."""
    kubeconfig: Any = None
    """Not allowed: a kubeconfig holds credentials and never lives in the typed config. Store it encrypted
    under `gpu-platform-secrets:<kubeconfigSecret>`."""


class ClusterSpec(Spec):
    name: DnsName | None = None
    """Default: `gpu-<environment>`."""
    kubernetes_version: str = "1.33"
    """Pinned control-plane and node version; one of KUBERNETES_VERSIONS."""
    network: NetworkSpec = NetworkSpec()
    """VPC and Service CIDRs, NAT layout."""
    endpoint: EndpointSpec = EndpointSpec()
    """Kubernetes API endpoint exposure (private by default)."""
    admin_principals: tuple[str, ...] = ()
    """IAM role/user ARNs (AWS) or RAM principals (Alibaba) granted cluster-admin through access entries.
    Default: none — the creator gets no implicit admin, so name your admin role here."""
    log_retention_days: int = 90
    """Control-plane log retention. Must be a value CloudWatch accepts."""
    deletion_protection: bool | None = None
    """Default: on in prod, off elsewhere."""
    alicloud: AlicloudClusterSpec | None = None
    """Alibaba Cloud (ACK) only: network plugin, control-plane tier, GPU driver. Default on alicloud:
    Terway, ack.pro.small, the pinned driver."""
    existing: ExistingClusterSpec | None = None
    """Existing cluster only (`cloud: existing`, required there): how to reach the cluster and what it
    provides (docs/existing-cluster.md)."""


# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy API).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def cluster(spec: StackSpec) -> Iterator[Problem]:
    c = spec.cluster
    if c.kubernetes_version not in KUBERNETES_VERSIONS:
        yield (
            ("cluster", "kubernetesVersion"),
            (f"{show(c.kubernetes_version)} is not supported; choose one of " + ", ".join(KUBERNETES_VERSIONS)),
        )
    if spec.cloud == "alicloud" and not 1 <= c.log_retention_days <= 3650:
        yield (
            ("cluster", "logRetentionDays"),
            (f"{c.log_retention_days} is outside 1..3650 days (Log Service TTL); choose a value in that range"),
        )
    if spec.cloud == "aws" and c.log_retention_days not in LOG_RETENTION_DAYS:
        near = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - c.log_retention_days))
        yield (
            ("cluster", "logRetentionDays"),
            (
                f"{c.log_retention_days} is not a CloudWatch retention period; "
                f"use {near} (allowed: {', '.join(map(str, LOG_RETENTION_DAYS))})"
            ),
        )
    if spec.cloud == "aws":
        for i, arn in enumerate(c.admin_principals):
            if not AWS_PRINCIPAL_RE.match(arn):
                yield (
                    ("cluster", "adminPrincipals", i),
                    (
                        f"{show(arn)} is not an IAM role or user ARN; write it like "
                        "'arn:aws:iam::123456789012:role/platform-admin'"
                    ),
                )


def network(spec: StackSpec) -> Iterator[Problem]:
    net = spec.cluster.network
    vpc = ipaddress.ip_network(net.vpc_cidr)
    svc = ipaddress.ip_network(net.service_cidr)
    loc: Loc = ("cluster", "network")
    if not 16 <= vpc.prefixlen <= 20:
        yield (
            (*loc, "vpcCidr"),
            (
                f"{show(net.vpc_cidr)} has prefix /{vpc.prefixlen}; use a /16 to /20 "
                "(each zone needs a large private subnet for pod IPs)"
            ),
        )
    if vpc.overlaps(svc):
        yield (
            (*loc, "serviceCidr"),
            (
                f"{show(net.service_cidr)} overlaps vpcCidr {show(net.vpc_cidr)}; "
                "choose a Service CIDR outside the VPC, e.g. '172.20.0.0/16'"
            ),
        )
    if not vpc.is_private:
        yield (*loc, "vpcCidr"), f"{show(net.vpc_cidr)} is not a private (RFC 1918) range; use e.g. '10.0.0.0/16'"
    if len(spec.zones) > 6:
        yield ("zones",), f"{len(spec.zones)} zones given; at most 6 fit the subnet plan"


def endpoint(spec: StackSpec) -> Iterator[Problem]:
    e = spec.cluster.endpoint
    loc: Loc = ("cluster", "endpoint")
    if not e.private_access and not e.public_access:
        yield (
            (*loc, "privateAccess"),
            "false while publicAccess is false leaves no API endpoint; set privateAccess: true",
        )
    if e.public_access and not e.public_access_cidrs:
        yield (
            (*loc, "publicAccessCidrs"),
            (
                "empty while publicAccess is true; list the CIDRs allowed to reach the "
                "API server (e.g. your VPN egress '203.0.113.0/24')"
            ),
        )
    if not e.public_access and e.public_access_cidrs:
        yield (*loc, "publicAccessCidrs"), "given while publicAccess is false; set publicAccess: true or remove them"
    if e.private_access_cidrs and not e.private_access:
        yield (
            (*loc, "privateAccessCidrs"),
            "given while privateAccess is false (no private endpoint to reach); set privateAccess: true or remove them",
        )
    for i, cidr in enumerate(e.private_access_cidrs):
        if not _private(cidr):
            yield (
                (*loc, "privateAccessCidrs", i),
                (
                    f"{show(cidr)} is not a private network; list RFC 1918 (10.0.0.0/8, 172.16.0.0/12, "
                    "192.168.0.0/16) or RFC 6598 (100.64.0.0/10) ranges of your CI runners or VPN clients, "
                    "e.g. '10.20.0.0/16' (public clients: publicAccess with publicAccessCidrs)"
                ),
            )
    for cidr in sorted(duplicates(e.private_access_cidrs)):
        yield (*loc, "privateAccessCidrs"), f"{show(cidr)} is listed twice; list each CIDR once"
    for i, cidr in enumerate(e.public_access_cidrs):
        if ipaddress.ip_network(cidr).prefixlen == 0 and not e.allow_world:
            yield (
                (*loc, "publicAccessCidrs", i),
                (
                    "'0.0.0.0/0' opens the API server to the whole internet; "
                    "list narrower CIDRs, or set allowWorld: true to accept the risk"
                ),
            )


# Where a private endpoint may be reached from: RFC 1918 private ranges and RFC 6598 shared address
# space (carrier-grade NAT, often VPN client pools); never the internet.
PRIVATE_RANGES = (*RFC1918, ipaddress.IPv4Network("100.64.0.0/10"))


def _private(cidr: str) -> bool:
    net = ipaddress.ip_network(cidr)  # IPv4 only: the Cidr type rejects IPv6
    return isinstance(net, ipaddress.IPv4Network) and any(net.subnet_of(r) for r in PRIVATE_RANGES)


MAX_ACK_ZONES = 5  # cs.ManagedKubernetes vswitch_ids: MinItems 1, MaxItems 5


DRIVER_RE = re.compile(r"^\d{3}\.\d{2,3}(\.\d{2})?$")


# ACK driver notes [S9]: bare-metal A100 (ebmgn7/ebmgn7e) need >= 460.32.03; the A100 families have
# known issues with 510.x and 515.x.
A100_MIN_DRIVER = (460, 32, 3)


A100_BAD_DRIVER_MAJORS = (510, 515)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def alicloud_zones(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud != "alicloud":
        return
    # Zone IDs are the region and a letter, joined by '-' in the Chinese mainland regions (cn-hangzhou-h)
    # and not where the region ends in a digit (ap-southeast-1a, eu-central-1a).
    sep = "" if spec.region[-1:].isdigit() else "-"
    zone_re = re.compile(rf"^{re.escape(spec.region)}{sep}[a-z]$")
    for i, zone in enumerate(spec.zones):
        # Zones outside the region are reported by spec_rules.zones; here only the ACK spelling.
        if zone.startswith(spec.region) and not zone_re.match(zone):
            how = "region, '-', zone letter" if sep else "region and zone letter"
            yield (
                ("zones", i),
                (f"{show(zone)} is not an Alibaba Cloud zone name; write it like '{spec.region}{sep}h' ({how})"),
            )
    if len(set(spec.zones)) > MAX_ACK_ZONES:
        yield (
            ("zones",),
            (
                f"{len(set(spec.zones))} zones given; an ACK cluster takes at most {MAX_ACK_ZONES} "
                "control-plane vSwitches; list at most 5 zones"
            ),
        )


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
    if e.private_access_cidrs:
        yield (
            ("cluster", "endpoint", "privateAccessCidrs"),
            (
                f"{', '.join(e.private_access_cidrs)}: nothing to open on ACK, whose API server listens on an "
                "intranet load balancer in the VPC that answers every address routed into the VPC (no security "
                "group applies to it); remove privateAccessCidrs and route your CI/VPN network into the VPC"
            ),
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
            if p.instance_types
            and (inst := catalog().instance("alicloud", p.instance_types[0])) is not None
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


# A provider cluster identifier: a name, never a credential (it is stored in plain text in the state).
CLUSTER_IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._:/@-]{0,251}[A-Za-z0-9])?$")
# Kubeconfig context names are free text in Kubernetes; refuse only what cannot be one (blank, whitespace).
CONTEXT_RE = re.compile(r"^\S{1,253}$")
# Cluster settings an existing cluster has already: key -> (attribute, what it would set).
NOT_ON_EXISTING = {
    "network": ("network", "its network (VPC, Service CIDR, NAT)"),
    "endpoint": ("endpoint", "its API endpoint"),
    "adminPrincipals": ("admin_principals", "who is cluster-admin"),
    "logRetentionDays": ("log_retention_days", "its control-plane log retention"),
    "deletionProtection": ("deletion_protection", "its deletion protection"),
}


def existing_cluster(spec: StackSpec) -> Iterator[Problem]:
    """`cluster.existing` is required with `cloud: existing` and refused elsewhere; the keys that configure
    a cluster this stack creates are refused with it."""
    c = spec.cluster
    ex = c.existing
    loc: Loc = ("cluster", "existing")
    if spec.cloud != "existing":
        if ex is not None:
            yield (
                loc,
                (
                    f"given while cloud is {show(spec.cloud)}; these settings apply to an existing cluster only "
                    "(cloud: existing); remove the block"
                ),
            )
        return
    if ex is None:
        yield (
            loc,
            (
                "required with cloud 'existing'; add existing: {clusterIdentifier: <a stable name of the cluster>} "
                f"and store its kubeconfig with: pulumi config set --secret {SECRETS_NAMESPACE}:kubeconfig "
                "< kubeconfig.yaml"
            ),
        )
    for key, (attr, what) in NOT_ON_EXISTING.items():
        if attr in c.model_fields_set:
            yield (
                ("cluster", key),
                (
                    f"given while cloud is 'existing'; this stack does not create the cluster, so {what} is not "
                    f"its to set: remove {key}"
                ),
            )
    if ex is None:
        return
    if ex.kubeconfig is not None:
        yield (
            (*loc, "kubeconfig"),
            (
                "a kubeconfig in the typed config is stored in plain text in the stack file, and it holds "
                "credentials; remove it and store it encrypted: pulumi config set --secret "
                f"{SECRETS_NAMESPACE}:{ex.kubeconfig_secret} < kubeconfig.yaml"
            ),
        )
    if not CLUSTER_IDENTIFIER_RE.match(ex.cluster_identifier):
        yield (
            (*loc, "clusterIdentifier"),
            (
                f"{show(ex.cluster_identifier)} is not a cluster identifier; use 1-253 letters, digits, '.', "
                "'-', '_', ':', '/' or '@', starting and ending with a letter or digit, e.g. "
                "'lab-gpu.fra1.example.com'"
            ),
        )
    if not CONFIG_KEY_RE.match(ex.kubeconfig_secret):
        yield (
            (*loc, "kubeconfigSecret"),
            (
                f"{show(ex.kubeconfig_secret)} is not a config key name; use letters, digits, '_', '-' and '.', "
                "starting with a letter"
            ),
        )
    if ex.context is not None and not CONTEXT_RE.match(ex.context):
        yield (
            (*loc, "context"),
            (
                f"{show(ex.context)} is not a kubeconfig context name (1-253 characters, no spaces); name a "
                "context of the kubeconfig, or remove context to use its current-context"
            ),
        )
    lb = ex.load_balancer_annotations
    for key, given in (("internal", lb.internal), ("internetFacing", lb.internet_facing)):
        for name in sorted(given):
            if not LABEL_KEY_RE.match(name):
                yield (
                    (*loc, "loadBalancerAnnotations", key, name),
                    (
                        f"{show(name)} is not an annotation key; write it like "
                        "'metallb.universe.tf/address-pool' (optional DNS prefix, '/', name of up to 63 characters)"
                    ),
                )
