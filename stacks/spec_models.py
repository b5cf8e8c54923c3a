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
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        strict=False,
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


class AlicloudRegistrySpec(Spec):
    edition: Literal["enterprise", "personal"] | None = None
    """`enterprise`: an ACR Enterprise Edition instance (immutable tags, vulnerability scan on push,
    private VPC endpoint; prepaid). `personal`: the free Personal Edition (no immutability, no scan).
    Default: enterprise in prod, personal elsewhere."""
    instance_type: Literal["Basic", "Standard", "Advanced"] = "Standard"
    """Enterprise Edition size (create-only)."""
    subscription_months: int = 1
    """Enterprise Edition prepaid period: 1-9 months, or 12, 24, 36."""
    namespace: DnsName | None = None
    """Registry namespace holding the repositories (image path `<namespace>/<repo>`). Default: the
    cluster name. Personal Edition namespaces are unique per region across all accounts."""


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
    alicloud: AlicloudRegistrySpec | None = None
    """Alibaba Cloud (ACR) only: edition, size, namespace. Default on alicloud: see its keys."""


class AddonToggle(Spec):
    enabled: bool = True
    """Install this add-on."""


_DURATION_RE = re.compile(r"^[1-9][0-9]*(s|m|h)$")


def _duration(value: str) -> str:
    if not _DURATION_RE.match(value):
        raise PydanticCustomError(
            "gp_duration",
            "{got} is not a duration; write a whole number with s, m or h, e.g. '10m'",
            {"got": show(value)},
        )
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


# Secret values (receiver URLs, passwords) never live in the typed spec: the spec names a key in this
# config namespace and the component reads it with `pulumi.Config(SECRETS_NAMESPACE).require_secret`,
# so the value stays encrypted in the stack file and marked secret in the engine.
SECRETS_NAMESPACE = "gpu-platform-secrets"


class RateLimitSpec(Spec):
    requests_per_minute: int = Field(ge=1, le=1_000_000)
    """Sustained requests per minute allowed on the route, per gateway replica (Envoy local rate limit:
    a token bucket refilled in steps of at least a second that add up to this rate). Requests over the
    limit get HTTP 429."""
    burst: int | None = Field(default=None, ge=1, le=1_000_000)
    """Bucket size: how many requests may arrive at once. Default: equal to requestsPerMinute."""


class GatewayRouteSpec(Spec):
    name: DnsName
    """Name of the VirtualService http route (bound to this gateway) the rate limit applies to; the
    model release names its route after the model, so this is usually the model name."""
    path_prefix: str
    """URL path prefix of the route, e.g. /v1/models/llama3-8b; authentication is enforced on it."""
    require_auth: bool = True
    """Default: requests need a valid JWT from `jwt.issuer`; false makes the route public."""
    rate_limit: RateLimitSpec | None = None
    """Local rate limit for the route. Default: not rate limited."""


class JwtSpec(Spec):
    issuer: str
    """JWT `iss` the gateway accepts, e.g. https://auth.example.com/ (https only)."""
    jwks_uri: str
    """URL of the issuer's JSON Web Key Set (https only); istiod fetches and caches it."""
    audiences: tuple[str, ...] = ()
    """Accepted `aud` values. Default: any audience of the issuer."""


class GatewaySpec(Spec):
    enabled: bool = False
    """Install the ingress gateway and its Gateway, auth and rate-limit objects. Default: off, since it
    needs hosts, a TLS Secret and (for authenticated routes) a JWT issuer that only you can name."""
    hosts: tuple[str, ...] = ()
    """Host names the gateway serves, e.g. ['models.example.com'] or ['*.models.example.com'].
    Required when the gateway is enabled."""
    tls_secret: str | None = None
    """Name of the TLS Secret (tls.crt/tls.key) in the gateway namespace `istio-ingress`, used as the
    Gateway's credentialName. Required when the gateway is enabled; HTTP is redirected to HTTPS."""
    load_balancer: Literal["internal", "internet-facing"] = "internal"
    """Default: an internal cloud load balancer (reachable from the VPC only). `internet-facing`
    publishes the gateway (AWS NLB scheme / Alibaba SLB address type)."""
    min_replicas: int | None = Field(default=None, ge=1, le=50)
    """Gateway pods kept running (the HPA scales up to maxReplicas). Default: 2 in prod (with a
    PodDisruptionBudget), 1 elsewhere."""
    max_replicas: int = Field(default=5, ge=1, le=100)
    """Upper bound of the gateway HPA."""
    jwt: JwtSpec | None = None
    """Token issuer for routes with requireAuth. Required when any route requires auth."""
    routes: tuple[GatewayRouteSpec, ...] = ()
    """Model routes with their authentication and rate limit. Default: none."""


class IstioSpec(Spec):
    enabled: bool = True
    """Install Istio (base CRDs, istiod, mesh-wide mTLS STRICT, request telemetry)."""
    istiod_replicas: int | None = Field(default=None, ge=1, le=10)
    """istiod pods. Default: 2 in prod (with a PodDisruptionBudget, so a node drain never takes the
    control plane down), 1 elsewhere (no PDB: a single-replica PDB would block drains)."""
    gateway: GatewaySpec = GatewaySpec()
    """The API gateway: TLS entry point with JWT auth and per-route rate limits."""


class AlertReceiverSpec(Spec):
    name: DnsName
    """Receiver name, shown in Alertmanager."""
    type: Literal["slack", "pagerduty", "webhook"]
    """Where the alerts go."""
    secret_key: str
    """Key in the `gpu-platform-secrets:` config namespace holding the Slack webhook URL, PagerDuty
    routing key or webhook URL: `pulumi config set --secret gpu-platform-secrets:<key> <value>`."""
    channel: str | None = None
    """Slack channel, e.g. '#gpu-alerts' (slack only; required there)."""
    severities: tuple[Literal["critical", "warning", "info"], ...] = ("critical", "warning")
    """Alerts whose `severity` label is one of these are sent here."""


class AlertmanagerSpec(Spec):
    replicas: int | None = Field(default=None, ge=1, le=5)
    """Alertmanager pods (they gossip to deduplicate). Default: 2 in prod, 1 elsewhere."""
    receivers: tuple[AlertReceiverSpec, ...] = ()
    """Notification targets. Default: none — alerts are only visible in Alertmanager and Grafana."""


class GrafanaSpec(Spec):
    admin_password_key: str | None = None
    """Key in the `gpu-platform-secrets:` config namespace with the Grafana admin password. Default: a
    generated 32-character password (pulumi-random), exported as the secret output grafanaAdminPassword."""
    storage_gib: int = Field(default=10, ge=1, le=1024)
    """Persistent volume for Grafana's database (users, preferences, edited dashboards)."""


class PrometheusSpec(Spec):
    enabled: bool = True
    """Install kube-prometheus-stack with the GPU, mesh SLO and platform rules."""
    retention: str = "15d"
    """How long samples are kept, as a Prometheus duration (e.g. 15d, 4w)."""
    storage_gib: int = Field(default=50, ge=10, le=16384)
    """Persistent volume per Prometheus replica. Size-based retention is set to 90% of it, so a full
    disk drops the oldest data instead of stopping ingestion."""
    replicas: int | None = Field(default=None, ge=1, le=5)
    """Prometheus pods, each scraping everything. Default: 2 in prod, 1 elsewhere."""
    alertmanager: AlertmanagerSpec = AlertmanagerSpec()
    """Alertmanager replicas and receivers."""
    grafana: GrafanaSpec = GrafanaSpec()
    """Grafana admin credentials and storage."""


class LoggingSpec(Spec):
    enabled: bool = True
    """Install the ECK operator, Elasticsearch, Kibana and the Fluent Bit DaemonSet."""
    replicas: int | None = Field(default=None, ge=1, le=50)
    """Elasticsearch nodes (each master-eligible and data). Default: 3 in prod (survives one node
    loss), 1 elsewhere. 2 is rejected: two master-eligible nodes cannot elect a master after a loss."""
    storage_gib: int = Field(default=100, ge=10, le=65536)
    """Data volume per Elasticsearch node, on the encrypted StorageClass."""
    retention_days: int = Field(default=14, ge=1, le=3650)
    """Log indices older than this are deleted by an index lifecycle policy."""
    kibana_replicas: int | None = Field(default=None, ge=1, le=10)
    """Kibana pods. Default: 2 in prod, 1 elsewhere."""


class KedaSpec(AddonToggle):
    replicas: int | None = Field(default=None, ge=1, le=5)
    """KEDA operator and metrics-server pods. Default: 2 in prod, 1 elsewhere."""


class AddonsSpec(Spec):
    nvidia: NvidiaAddonSpec = NvidiaAddonSpec()
    """NVIDIA device plugin, GPU feature discovery, MIG manager, DCGM exporter."""
    cluster_autoscaler: ClusterAutoscalerSpec = ClusterAutoscalerSpec()
    """Cluster autoscaler with scale-from-zero GPU node templates."""
    istio: IstioSpec = IstioSpec()
    """Istio mesh (mTLS STRICT) and the API gateway."""
    prometheus: PrometheusSpec = PrometheusSpec()
    """kube-prometheus-stack with GPU and SLO rules."""
    logging: LoggingSpec = LoggingSpec()
    """Elasticsearch, Kibana and Fluent Bit (EFK)."""
    keda: KedaSpec = KedaSpec()
    """KEDA: scales model versions on their request rate (the ScaledObjects of `autoscaling.engine: keda`)."""
    storage_class: str | None = None
    """Encrypted StorageClass for Prometheus, Alertmanager, Grafana and Elasticsearch volumes. Default:
    the encrypted class the cluster layer creates and reports (ClusterFacts.storage_class):
    `gp3-encrypted` on AWS, `alicloud-disk-essd-encrypted` on Alibaba."""


# ----------------------------------------------------------------------------------------------------
# Models (ModelRelease, issue 6). Cross-field rules: stacks/spec_model_rules.py.

Runtime = Literal["triton", "torchserve", "tfserving", "vllm", "custom"]
Tier = Literal["critical", "standard", "batch"]


class ModelGpuSpec(Spec):
    count: int | None = Field(default=None, ge=1)
    """Whole GPUs per replica (`nvidia.com/gpu`, on pools with sharing `none`). Set exactly one of
    count, migProfile, timeSliced."""
    mig_profile: str | None = None
    """One MIG slice per replica instead of whole GPUs, e.g. `2g.10gb`; some pool must offer it
    (`nvidia.com/mig-<profile>` under the mixed strategy). A CUDA process uses only one MIG device, so
    count must stay unset."""
    time_sliced: bool = False
    """One time-sliced share of a GPU (`nvidia.com/gpu` on a pool with sharing `time-slicing`): cheap,
    but GPU memory is not isolated between the pods sharing it."""
    model: str | None = None
    """Pin a GPU model from the catalog (e.g. `l4`, `a10g`, `a100-40gb`). Default: any pool offering the
    requested GPU resource."""
    model_memory_gib: float | None = Field(default=None, gt=0)
    """GPU memory one replica needs (weights + KV cache + activations). Checked against the slice: count x
    GPU memory, the MIG profile's memory, or the GPU's memory divided by the time-slicing replicas.
    Default: not checked."""


class ModelArtifactSpec(Spec):
    uri: str
    """Where the server loads weights from: `s3://`, `oss://`, `gs://`, `hf://org/model@<revision>`,
    `pvc://`. Carried on the Deployment as an annotation."""
    sha256: str | None = None
    """sha256 of the artifact (64 hex). Required in prod, so what was evaluated is what is served."""


class ModelServerSpec(Spec):
    http_port: int | None = Field(default=None, ge=1, le=65535)
    """Override the runtime preset's HTTP port."""
    health_path: str | None = None
    """Override the preset's readiness/liveness/startup path."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Override the preset's metrics port."""
    metrics_path: str | None = None
    """Override the preset's metrics path."""


class ModelAutoscalingSpec(Spec):
    engine: Literal["keda", "none"] = "keda"
    """`keda`: a KEDA ScaledObject scales each version on its Istio request rate (Prometheus query);
    `spec.replicas` is then omitted from the Deployment. `none`: fixed `minReplicas` replicas."""
    min_replicas: int = Field(default=1, ge=0)
    """Floor. 0 (scale to zero) is allowed only with keda and only for versions that take no live,
    canary, A/B or shadow traffic (idle pods cannot produce gate metrics; a cold GPU start takes minutes)."""
    max_replicas: int = Field(default=2, ge=1)
    """Ceiling; the capacity check proves the pools can hold it at every rollout step."""
    target_rps_per_replica: float = Field(default=2.0, gt=0)
    """Requests per second one replica should serve; KEDA adds replicas above it."""


class ModelSloSpec(Spec):
    p99_ms: float = Field(default=2000, gt=0)
    """P99 latency objective (ms): alert and rollout gate threshold."""
    error_ratio: float = Field(default=0.01, gt=0, lt=1)
    """Highest acceptable share of 5xx responses (0.01 = 1%)."""
    window: str = "5m"
    """Prometheus range for rates (at least 1m with 15s scrapes)."""
    min_rps: float = Field(default=0.1, gt=0)
    """Below this request rate a gate is inconclusive (never a pass) and alerts stay silent."""


class ModelVersionSpec(Spec):
    name: DnsName
    """Version name (`v2`): the Deployment is `<model>-<name>`, the DestinationRule subset and the pod
    `version` label are `<name>`. Versions are immutable: ship a change as a new version."""
    semver: str
    """Semantic version of the model release (MAJOR.MINOR.PATCH), shown as `app.kubernetes.io/version`."""
    image: str
    """Repository + digest: `<repo>@sha256:<64 hex>`. Tags are rejected (they can be moved)."""
    runtime: Runtime = "custom"
    """Model server preset: ports (HTTP, gRPC), probe paths and metrics path. `custom`: HTTP 8080,
    `/healthz`, metrics `/metrics` on 8080 (override with `server`)."""
    server: ModelServerSpec = ModelServerSpec()
    """Overrides of the runtime preset."""
    args: tuple[str, ...] = ()
    """Container args (the image's entrypoint stays)."""
    gpu: ModelGpuSpec = ModelGpuSpec(count=1)
    """GPU request per replica. Default: one whole GPU."""
    cpu: float = Field(default=2, gt=0)
    """CPU cores per replica (request and limit)."""
    memory_gib: float = Field(default=8, gt=0)
    """Memory per replica in GiB (request and limit)."""
    load_seconds: int = Field(default=300, ge=10, le=7200)
    """How long the server takes to load the model. Drives the startupProbe budget, the Deployment's
    progressDeadlineSeconds and the Pulumi await timeout, so a slow 70B load is not killed or timed out."""
    artifact: ModelArtifactSpec | None = None
    """Model weights location + sha256, carried as annotations. Default: weights baked into the image."""
    autoscaling: ModelAutoscalingSpec | None = None
    """Per-version override of the model's `autoscaling`."""
    metadata: dict[str, str] = {}
    """Free-form model metadata (source run, eval report, dataset...), rendered as
    `gpu-platform.io/meta-<key>` annotations on the Deployment."""


class ModelAbRouteSpec(Spec):
    header: str
    """Request header to match; lowercase with hyphens (Istio matches header names in lowercase)."""
    values: tuple[str, ...] = ()
    """Exact values that select `version` (one match block each). Set values or regex."""
    regex: str | None = None
    """RE2 regex the header value must match. Set values or regex."""
    version: str
    """Version that serves matching requests (routes are tried before the weighted split)."""


class ModelShadowSpec(Spec):
    version: str
    """Version that receives a mirrored copy of live requests (responses are dropped). Must take no
    live weight, or its metrics would mix mirrored and live requests."""
    percent: float = Field(default=10, gt=0, le=100)
    """Share of requests mirrored (Istio mirrorPercentage)."""


class ModelRetrySpec(Spec):
    attempts: int = Field(default=1, ge=0, le=3)
    """Retries per request (Istio's implicit default is 2; we always set it explicitly)."""
    retry_on: str = "connect-failure,refused-stream"
    """Envoy retry conditions. Default retries only requests that never reached the server: a retried
    5xx re-runs seconds of GPU work."""
    allow_gpu_retries: bool = False
    """Acknowledge that `retryOn` may re-execute inferences (5xx, gateway-error, reset, retriable-status-codes)."""


class ModelTrafficSpec(Spec):
    stable: str
    """Version that takes the traffic not sent to the candidate."""
    candidate: str | None = None
    """Version under canary."""
    candidate_weight: int = Field(default=0, ge=0, le=100)
    """Percent of requests to the candidate (0-100). `tools/release.py promote/rollback` edits it."""
    ab_routes: tuple[ModelAbRouteSpec, ...] = ()
    """Header-based A/B routes, tried in order before the weighted split."""
    shadow: ModelShadowSpec | None = None
    """Mirror a share of live requests to a version with zero live weight."""
    timeout_seconds: int = Field(default=60, ge=1, le=3600)
    """Route timeout. Also sets the Istio drain duration and the pods' termination grace."""
    retries: ModelRetrySpec = ModelRetrySpec()
    """Explicit retry policy (no retries of GPU work on 5xx by default)."""


class ModelCacheSpec(Spec):
    size_gib: int = Field(ge=1)
    """Size of the model cache PersistentVolumeClaim (mounted read-only at /models/cache)."""
    storage_class: str | None = None
    """Storage class with ReadOnlyMany/ReadWriteMany (EFS, FSx for Lustre). Default: the cluster default."""


class ModelSpec(Spec):
    name: DnsName
    """Model name: namespace, Service, VirtualService and Deployment names derive from it."""
    namespace: DnsName | None = None
    """Namespace to deploy into. Default: its own namespace named after the model (created with Pod
    Security `restricted`, sidecar injection, quota, limits and default-deny NetworkPolicy). Models
    naming the same namespace share one."""
    hosts: tuple[str, ...] = ()
    """External hostnames routed to this model through the ingress gateway. Default: mesh-internal only
    (`<name>.<namespace>.svc.cluster.local`)."""
    gateway: str = "istio-ingress/api-gateway"
    """Istio Gateway (`namespace/name`) that serves `hosts`."""
    tier: Tier = "standard"
    """Service tier -> PriorityClass: critical models preempt batch work when GPUs are short."""
    versions: tuple[ModelVersionSpec, ...] = Field(min_length=1)
    """Deployable versions of the model (one Deployment each)."""
    traffic: ModelTrafficSpec
    """How requests are split between versions."""
    autoscaling: ModelAutoscalingSpec = ModelAutoscalingSpec()
    """Replica bounds and target for every version (a version may override)."""
    slo: ModelSloSpec = ModelSloSpec()
    """Per-version SLO: PrometheusRule alerts and rollout gates use the same PromQL."""
    rollout_steps: tuple[int, ...] = (10, 25, 50, 100)
    """Candidate weights `tools/release.py promote --next` walks through; the capacity check proves each fits."""
    stable_scaling: Literal["keepFull", "shrinkWithWeight"] = "keepFull"
    """Capacity assumption during a rollout. `keepFull`: the stable keeps its max replicas (instant
    rollback). `shrinkWithWeight`: trust the stable's request-rate autoscaler to release pods as its share
    falls (fewer GPUs, but a rollback waits for the stable to scale back up)."""
    max_surge: int = Field(default=1, ge=0, le=4)
    """Extra pods a Deployment may start while it rolls (one spare GPU each). 0 frees the spare GPU but
    replaces pods one at a time with less capacity."""
    termination_grace_seconds: int | None = Field(default=None, ge=1)
    """Default: preStop drain 10s + timeoutSeconds + 15s, so in-flight requests finish on scale-down."""
    artifact_bucket: bool = False
    """Create an artifact bucket for this model (S3: KMS-encrypted, versioned, public access blocked,
    protected) and a read-only workload identity (IRSA) for its servers."""
    cache: ModelCacheSpec | None = None
    """Optional model cache volume (PVC) shared by the model's pods to avoid per-pod downloads."""


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
    cluster_stack: str | None = None
    """Models-only (layered) stack: the cluster stack `<organization>/<project>/<stack>` to deploy the
    models into, read through a StackReference. Its `clusterFacts` output supplies cloud, region, zones,
    cluster, node pools (the capacity check runs against them) and registry, so `cloud`, `region`,
    `zones`, `cluster`, `nodePools`, `registry` and `addons` are not allowed here (an error, not ignored).
    Default: none — this stack builds its own cluster and platform (stacks/cluster_ref.py)."""

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
