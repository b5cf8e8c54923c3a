"""Typed arguments of ModelRelease: what a release declares, as frozen dataclasses.

Other stacks can build these directly in Python; the workload layer (`stacks/workloads/`) builds them from the
stack spec.
Every default says what it does. Cross-field rules live in `components/models/validation.py` and run
before any child resource is registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

from components.cloud import ArtifactStoreFactory
from components.models.names import PROMETHEUS_URL
from components.scheduling import PoolShape

Runtime = Literal["triton", "torchserve", "tfserving", "vllm", "custom"]
Tier = Literal["critical", "standard", "batch"]
StableScaling = Literal["keepFull", "shrinkWithWeight"]
_EMPTY: Mapping[str, str] = MappingProxyType({})


class PoolLike(Protocol):
    """A node pool as the cluster layer reports it (stacks.contract.PoolFacts satisfies this)."""

    @property
    def shape(self) -> PoolShape: ...
    @property
    def min_size(self) -> int: ...
    @property
    def max_size(self) -> int: ...


@dataclass(frozen=True, slots=True)
class GpuRequest:
    count: int | None = 1
    """Whole GPUs per replica. Default: one whole GPU. Set None when using mig_profile or time_sliced."""
    mig_profile: str | None = None
    """One MIG slice per replica (e.g. "2g.10gb") instead of whole GPUs."""
    time_sliced: bool = False
    """One time-sliced GPU share per replica (no memory isolation)."""
    model: str | None = None
    """Catalog GPU model key to pin ("l4", "a100-40gb"); default: any pool offering the resource."""
    model_memory_gib: float | None = None
    """GPU memory a replica needs; default: not checked against the slice."""


@dataclass(frozen=True, slots=True)
class Artifact:
    uri: str
    """s3://, oss://, hf://org/model@<revision> or pvc://<claim>/<path>; fetched and verified before the
    server starts (components/models/weights.py)."""
    sha256: str | None = None
    size_gib: float | None = None
    """Weights size: the download volume's size and the fetch time of the cold-start budget."""
    token_secret: str | None = None
    """hf://: Secret (key `token`) in the model's namespace."""


@dataclass(frozen=True, slots=True)
class ServerOverrides:
    http_port: int | None = None
    health_path: str | None = None
    metrics_port: int | None = None
    metrics_path: str | None = None


@dataclass(frozen=True, slots=True)
class Autoscaling:
    engine: Literal["keda", "none"] = "keda"
    """keda: ScaledObject on Istio request rate, Deployment without spec.replicas. none: fixed replicas."""
    min_replicas: int = 1
    max_replicas: int = 2
    target_rps_per_replica: float = 2.0


@dataclass(frozen=True, slots=True)
class Slo:
    p99_ms: float = 2000
    error_ratio: float = 0.01
    window: str = "5m"
    min_rps: float = 0.1


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    semver: str
    image: str
    """<repository>@sha256:<64 hex>; tags are rejected."""
    runtime: Runtime = "custom"
    server: ServerOverrides = ServerOverrides()
    args: tuple[str, ...] = ()
    gpu: GpuRequest = GpuRequest()
    cpu: float = 2
    memory_gib: float = 8
    load_seconds: int = 300
    artifact: Artifact | None = None
    autoscaling: Autoscaling | None = None
    """Default: the release's autoscaling."""
    image_size_gib: float | None = None
    """Compressed image size, for the cold-start budget (components/models/cold_start.py)."""
    cold_start_seconds: int | None = None
    """Cold-start objective; scale-from-zero and surge settings whose budget exceeds it are refused."""
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class AbRoute:
    header: str
    version: str
    values: tuple[str, ...] = ()
    regex: str | None = None


@dataclass(frozen=True, slots=True)
class Shadow:
    version: str
    percent: float = 10


@dataclass(frozen=True, slots=True)
class Retries:
    attempts: int = 1
    retry_on: str = "connect-failure,refused-stream"
    allow_gpu_retries: bool = False


@dataclass(frozen=True, slots=True)
class Traffic:
    stable: str
    candidate: str | None = None
    candidate_weight: int = 0
    ab_routes: tuple[AbRoute, ...] = ()
    shadow: Shadow | None = None
    timeout_seconds: int = 60
    retries: Retries = Retries()


@dataclass(frozen=True, slots=True)
class GatewayRoute:
    """The API gateway route that exposes this model (`addons.istio.gateway.routes[]` naming it).

    The VirtualService then binds to the gateway, serves its hosts and, for gateway traffic, matches
    only `path_prefix`: the gateway's JWT AuthorizationPolicy (by path) and the EnvoyFilter rate limit
    (by route name = the model name) apply to every request that reaches the model from outside."""

    path_prefix: str
    hosts: tuple[str, ...]
    """The gateway's hosts (the Gateway object's server hosts)."""


@dataclass(frozen=True, slots=True)
class Cache:
    size_gib: int
    storage_class: str | None = None


@dataclass(frozen=True)
class ModelReleaseArgs:
    name: str
    versions: tuple[ModelVersion, ...]
    traffic: Traffic
    pools: tuple[PoolLike, ...]
    """Pools the release may run on: the capacity check and GPU placement use their facts."""
    namespace: str | None = None
    """Default: the model's own namespace (named after it), created by the release."""
    own_namespace: bool | None = None
    """Whether the release creates its namespace. Default: True exactly when namespace is the model name."""
    hosts: tuple[str, ...] = ()
    gateway: str = "istio-ingress/api-gateway"
    gateway_route: GatewayRoute | None = None
    """Set when the gateway has a route named after this model (stacks/workloads/release_args.py)."""
    tier: Tier = "standard"
    autoscaling: Autoscaling = Autoscaling()
    slo: Slo = Slo()
    rollout_steps: tuple[int, ...] = (10, 25, 50, 100)
    stable_scaling: StableScaling = "keepFull"
    max_surge: int = 1
    termination_grace_seconds: int | None = None
    artifact_bucket: bool = False
    cache: Cache | None = None
    environment: str = "prod"
    """prod requires artifact sha256."""
    artifact_store: ArtifactStoreFactory | None = None
    """The cloud seam's artifact store (components/cloud.py): with `artifact_bucket`, the release creates
    its store through it and binds its ServiceAccount to the store's read-only identity."""
    artifact_uri_prefix: str | None = None
    """With `artifact_bucket`: where the store the release creates lives (e.g. `s3://<bucket>/`); every
    version's `artifact.uri` must start with it, so servers read the store their identity may read.
    Default: not checked."""
    prometheus_url: str = PROMETHEUS_URL
    """Prometheus the KEDA triggers query (kube-prometheus-stack's `prometheus-operated` Service)."""
    other_release_demands: tuple[object, ...] = ()
    """capacity.Demand of the other releases sharing the pools (their steady floor); stacks/workloads/capacity.py
    fills it."""
    key: str = ""
    """Config path used in messages, e.g. "gpu-platform:models[0]"; default "ModelRelease[<name>]"."""

    @property
    def ns(self) -> str:
        return self.namespace or self.name

    @property
    def owns_namespace(self) -> bool:
        return self.ns == self.name if self.own_namespace is None else self.own_namespace

    @property
    def label(self) -> str:
        return self.key or f"ModelRelease[{self.name}]"

    def version(self, name: str) -> ModelVersion | None:
        return next((v for v in self.versions if v.name == name), None)

    def scaling(self, v: ModelVersion) -> Autoscaling:
        return v.autoscaling or self.autoscaling
