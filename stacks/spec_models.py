"""The typed stack spec: every `gpu-platform:*` config key, with its default and what the default does.

Structure and per-field rules live here (pydantic, frozen, unknown keys rejected); rules that relate
several fields or need the GPU catalog live in `stacks/spec_rules.py`. Keys are camelCase in YAML and
snake_case in Python.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from stacks.errors import show

Environment = Literal["dev", "staging", "prod"]
Cloud = Literal["aws", "alicloud"]
NAME_RE = re.compile(r"^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$")
# Kubernetes versions the project is tested against (EKS standard support and ACK, 2026-11).
KUBERNETES_VERSIONS = ("1.31", "1.32", "1.33", "1.34")


class Spec(BaseModel):
    """Base: frozen, camelCase keys, unknown keys are errors."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=False,
        use_attribute_docstrings=True,
    )


def _dns_name(value: str) -> str:
    if not NAME_RE.match(value):
        raise PydanticCustomError(
            "gp_name",
            "{got} is not a valid name; use 1-30 lowercase letters, digits and '-', starting with a letter",
            {"got": show(value)},
        )
    return value


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise PydanticCustomError(
            "gp_cidr", "{got} is not a network CIDR; write it like '10.0.0.0/16' (host bits zero)", {"got": show(value)}
        ) from None
    if net.version != 4:
        raise PydanticCustomError("gp_cidr", "{got} is IPv6; only IPv4 CIDRs are supported", {"got": show(value)})
    return value


DnsName = Annotated[str, AfterValidator(_dns_name)]
Cidr = Annotated[str, AfterValidator(_cidr)]


# ----------------------------------------------------------------------------------------------------
# Cluster


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
    """CIDRs allowed to reach a public endpoint. `0.0.0.0/0` needs `allowWorld: true`."""
    allow_world: bool = False
    """Explicit acknowledgement required to open a public endpoint to 0.0.0.0/0."""


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


# ----------------------------------------------------------------------------------------------------
# Node pools


class TaintSpec(Spec):
    key: str
    """Taint key, e.g. dedicated."""
    value: str = ""
    """Taint value (may be empty)."""
    effect: Literal["NoSchedule", "NoExecute", "PreferNoSchedule"] = "NoSchedule"
    """What happens to pods that do not tolerate it."""


class MigSpec(Spec):
    strategy: Literal["single", "mixed"] = "mixed"
    """`mixed` advertises each MIG profile as its own resource (nvidia.com/mig-1g.10gb); `single`
    advertises every slice as nvidia.com/gpu and needs a uniform layout."""
    layout: str
    """A named mig-parted layout for the pool's GPU, e.g. all-1g.10gb, all-balanced."""


class TimeSlicingSpec(Spec):
    replicas: int
    """How many pods share one GPU (no memory isolation). At least 2."""


class GpuSpec(Spec):
    sharing: Literal["none", "mig", "time-slicing"] = "none"
    """Default: whole GPUs, one pod per GPU."""
    mig: MigSpec | None = None
    """Required when sharing is `mig`."""
    time_slicing: TimeSlicingSpec | None = None
    """Required when sharing is `time-slicing`."""


class NodePoolSpec(Spec):
    name: DnsName
    """Pool name; part of resource names, so renaming a pool replaces it."""
    instance_types: tuple[str, ...] = Field(min_length=1)
    """One or more instance types of the same shape; the first is the primary."""
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    """SPOT is cheaper but can be reclaimed at two minutes' notice."""
    min_size: int = Field(default=0, ge=0)
    """Default 0: the pool scales to zero when idle (GPU pools should)."""
    max_size: int = Field(default=2, ge=1)
    """Upper bound for the cluster autoscaler; the capacity planner checks releases fit at this size."""
    disk_size_gib: int | None = Field(default=None, ge=20, le=16384)
    """Root volume. Default: 200 GiB on GPU pools (driver, CUDA images), 50 GiB otherwise."""
    ami_type: str | None = None
    """EKS AMI type. Default: AL2023 NVIDIA for GPU instances, AL2023 standard otherwise (by arch)."""
    labels: dict[str, str] = {}
    """Extra node labels (GPU pools also get the catalog labels)."""
    taints: tuple[TaintSpec, ...] = ()
    """Extra taints. GPU pools always get nvidia.com/gpu=present:NoSchedule."""
    gpu: GpuSpec | None = None
    """GPU sharing. Default for a GPU instance type: whole GPUs."""
    efa: bool = False
    """Elastic Fabric Adapter interfaces + cluster placement group (p4d/p5-class, multi-node)."""


# ----------------------------------------------------------------------------------------------------
# Registry and add-ons


class RegistrySpec(Spec):
    enabled: bool = True
    """Create the registry and one repository per model."""
    platform_repositories: tuple[DnsName, ...] = ()
    """Extra repositories for platform images (beyond one per model)."""
    keep_release_images: int = Field(default=30, ge=1, le=1000)
    """Lifecycle: keep this many release images per repository."""
    untagged_expiry_days: int = Field(default=7, ge=1, le=365)
    """Lifecycle: expire untagged images after this many days."""
    scan_type: Literal["BASIC", "ENHANCED"] = "BASIC"
    """ENHANCED turns on continuous (Inspector) scanning registry-wide."""
    replication_regions: tuple[str, ...] = ()
    """Regions to replicate every repository to (disaster recovery, pulls close to other clusters)."""
    ci_push_repos: tuple[str, ...] = ()
    """GitHub `owner/repo` (optionally `owner/repo:ref`) allowed to push through GitHub OIDC."""
    github_oidc_provider_arn: str | None = None
    """Existing IAM OIDC provider for token.actions.githubusercontent.com (an account has at most one).
    Default: the stack creates it when `ciPushRepos` is set; name it here when another stack already did."""


class AddonToggle(Spec):
    enabled: bool = True
    """Install this add-on."""


_DURATION_RE = re.compile(r"^[1-9][0-9]*(s|m|h)$")


def _duration(value: str) -> str:
    if not _DURATION_RE.match(value):
        raise PydanticCustomError(
            "gp_duration", "{got} is not a duration; write a whole number with s, m or h, e.g. '10m'",
            {"got": show(value)})
    return value


Duration = Annotated[str, AfterValidator(_duration)]


class NvidiaAddonSpec(AddonToggle):
    dcgm_exporter: bool = True
    """DCGM exporter on every GPU node (GPU utilisation, memory, Xid errors for alerts and SLOs); its
    ServiceMonitor is created when `addons.prometheus.enabled`."""


class ClusterAutoscalerSpec(AddonToggle):
    scale_down_unneeded_time: Duration = "10m"
    """How long a node must be unneeded before the autoscaler removes it. GPU nodes take minutes to boot
    and load models, so a short value makes pools flap; a long one pays for idle GPUs."""
    scale_down_gpu_utilization_threshold: float = Field(default=0.5, gt=0, le=1)
    """A GPU node whose pods request less than this share of its GPUs is a scale-down candidate (its
    pods must fit elsewhere). CPU and memory are ignored on GPU nodes."""


class AddonsSpec(Spec):
    nvidia: NvidiaAddonSpec = NvidiaAddonSpec()
    """NVIDIA device plugin, GPU feature discovery, MIG manager, DCGM exporter."""
    cluster_autoscaler: ClusterAutoscalerSpec = ClusterAutoscalerSpec()
    """Cluster autoscaler with scale-from-zero GPU node templates."""
    istio: AddonToggle = AddonToggle()
    """Istio mesh (mTLS STRICT) and the API gateway."""
    prometheus: AddonToggle = AddonToggle()
    """kube-prometheus-stack with GPU and SLO rules."""
    logging: AddonToggle = AddonToggle()
    """Elasticsearch, Kibana and Fluent Bit (EFK)."""


# ----------------------------------------------------------------------------------------------------
# Models (the ModelRelease issue completes these)


class ModelGpuSpec(Spec):
    count: int | None = Field(default=None, ge=1)
    """Whole GPUs per replica."""
    mig_profile: str | None = None
    """A MIG profile instead of whole GPUs, e.g. 1g.10gb."""


class ModelVersionSpec(Spec):
    name: DnsName
    """Version name; the Deployment is `<model>-<name>`."""
    image: str
    """Repository + digest: `<repo>@sha256:<64 hex>`."""
    gpu: ModelGpuSpec = ModelGpuSpec(count=1)
    """GPU request per replica. Default: one whole GPU."""


class ModelTrafficSpec(Spec):
    stable: str
    """Version that takes the traffic not sent to the candidate."""
    candidate: str | None = None
    """Version under canary."""
    candidate_weight: int = Field(default=0, ge=0, le=100)
    """Percent of requests to the candidate (0-100)."""


class ModelSpec(Spec):
    name: DnsName
    """Model name: namespace, Service and repository names derive from it."""
    versions: tuple[ModelVersionSpec, ...] = Field(min_length=1)
    """Deployable versions of the model (one Deployment each)."""
    traffic: ModelTrafficSpec
    """How requests are split between versions."""


# ----------------------------------------------------------------------------------------------------


class StackSpec(Spec):
    environment: Environment
    """Drives the safer defaults: NAT per zone, deletion protection and protected state in prod."""
    cloud: Cloud = "aws"
    """Which cloud layer builds the cluster; the Kubernetes layers are shared."""
    region: str
    """Cloud region, e.g. us-west-2 or cn-hangzhou. Zones must belong to it."""
    zones: tuple[str, ...] = Field(min_length=1)
    """Availability zones for subnets and node pools; at least 2 on AWS and in prod."""
    cluster: ClusterSpec = ClusterSpec()
    """Control plane, network and API endpoint."""
    node_pools: tuple[NodePoolSpec, ...] = Field(min_length=1)
    """Node pools; a pool whose instance type has GPUs is a GPU pool (tainted, labelled from the catalog)."""
    registry: RegistrySpec = RegistrySpec()
    """Container registry (ECR / ACR) for model and platform images."""
    addons: AddonsSpec = AddonsSpec()
    """Cluster add-ons; each can be switched off per environment."""
    models: tuple[ModelSpec, ...] = ()
    """Model releases deployed on the cluster."""

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def cluster_name(self) -> str:
        return self.cluster.name or f"gpu-{self.environment}"

    @property
    def nat_gateways(self) -> Literal["single", "perZone"]:
        return self.cluster.network.nat_gateways or ("perZone" if self.is_prod else "single")

    @property
    def deletion_protection(self) -> bool:
        d = self.cluster.deletion_protection
        return self.is_prod if d is None else d
