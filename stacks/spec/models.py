"""`models:` block (model releases: versions, traffic, autoscaling, SLOs, artifacts).

Its rule needs the workload layer (release args, validation, the capacity check over the pools), so it
lives there: stacks/workloads/checks.py, listed in stacks/spec/rules.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from components.aws.artifact_names import (
    ARTIFACT_SUFFIX,
    S3_BUCKET_MAX,
    artifact_bucket_name,
    artifact_uri_prefix,
    bucket_name_problem,
)
from stacks.spec.analysis import AnalysisSpec
from stacks.spec.base import DnsName, Problem, Spec
from stacks.spec.cloud_facts import Int32, Int64
from stacks.spec.errors import show

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec

Runtime = Literal["triton", "torchserve", "tfserving", "vllm", "custom"]


Tier = Literal["critical", "standard", "batch"]


class ModelGpuSpec(Spec):
    count: Int32 | None = Field(default=None, ge=1)
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
    """Where the weights are fetched from before the server starts (docs/model-weights.md): `s3://bucket/key`
    or `s3://bucket/prefix/` (read through the release's workload identity), `oss://bucket/...` (RRSA),
    `hf://org/model@<revision>`, `pvc://<claim>/<path>`. The `fetch-weights` init container downloads
    it, checks `sha256` and only then lets the server start, reading it from `MODEL_DIR`."""
    sha256: str | None = None
    """sha256 of the artifact (64 hex): of the object's bytes for a single object, of the sorted
    `sha256sum` listing for a prefix, directory or revision (`fetch.py digest`). Required in prod, so what
    was evaluated is what is served; a mismatch fails the pod."""
    size_gib: float | None = Field(default=None, gt=0, le=100_000)
    """Size of the weights (GiB): sizes the pod's download volume (and the cache) and the fetch time in
    the cold-start budget. Required with `coldStartSeconds` or a model `cache`."""
    token_secret: DnsName | None = None
    """`hf://` only: a Secret in the model's namespace whose key `token` holds the Hugging Face token
    (gated or private repositories). Default: anonymous download."""


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
    min_replicas: Int32 = Field(default=1, ge=0)
    """Floor. 0 (scale to zero) is allowed only with keda and only for versions that take no live,
    canary, A/B or shadow traffic (idle pods cannot produce gate metrics; a cold GPU start takes minutes)."""
    max_replicas: Int32 = Field(default=2, ge=1)
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
    """Model weights, fetched and sha256-verified by an init container before the server starts
    (docs/model-weights.md). Default: weights baked into the image."""
    image_size_gib: float | None = Field(default=None, gt=0, le=1000)
    """Compressed size of the server image (GiB, the registry manifest's layer sizes): its pull time counts
    in the cold-start budget. Default: not counted (the budget says so)."""
    cold_start_seconds: int | None = Field(default=None, ge=1, le=86_400)
    """Cold-start objective (seconds from a pending pod to a ready server). With it, a scale-from-zero
    (`minReplicas: 0`) or surge (`maxSurge` > 0) setting whose budget — node boot + image pull + weights
    fetch + `loadSeconds` — exceeds it is refused at preview (docs/model-weights.md#cold-start-budget)."""
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
    """Percent of requests to the candidate (0-100). `python -m tools.release promote/rollback/run` edits it."""
    ab_routes: tuple[ModelAbRouteSpec, ...] = ()
    """Header-based A/B routes, tried in order before the weighted split."""
    shadow: ModelShadowSpec | None = None
    """Mirror a share of live requests to a version with zero live weight."""
    timeout_seconds: int = Field(default=60, ge=1, le=3600)
    """Route timeout. Also sets the Istio drain duration and the pods' termination grace."""
    retries: ModelRetrySpec = ModelRetrySpec()
    """Explicit retry policy (no retries of GPU work on 5xx by default)."""


class ModelCacheSpec(Spec):
    size_gib: Int64 = Field(ge=1)
    """Size of the model cache PersistentVolumeClaim: one directory per artifact sha256, populated once by a
    Job and mounted read-only by every server at /models/cache (docs/model-weights.md#cache)."""
    storage_class: str | None = None
    """ReadWriteMany storage class. Default: the one the stack installs for model caches (EFS on AWS, NAS
    on ACK); required on `cloud: existing`."""


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
    analysis: AnalysisSpec | None = None
    """How `python -m tools.release run` judges the candidate at each rollout step (interval checks,
    candidate vs stable, minimum traffic; stacks/spec/analysis.py). Default: no automatic loop."""
    rollout_steps: tuple[int, ...] = (10, 25, 50, 100)
    """Candidate weights `python -m tools.release promote --next` and `run` walk through; the capacity check proves each fits."""
    stable_scaling: Literal["keepFull", "shrinkWithWeight"] = "keepFull"
    """Capacity assumption during a rollout. `keepFull`: the stable keeps its max replicas (instant
    rollback). `shrinkWithWeight`: trust the stable's request-rate autoscaler to release pods as its share
    falls (fewer GPUs, but a rollback waits for the stable to scale back up)."""
    max_surge: int = Field(default=1, ge=0, le=4)
    """Extra pods a Deployment may start while it rolls (one spare GPU each). 0 frees the spare GPU but
    replaces pods one at a time with less capacity."""
    termination_grace_seconds: Int64 | None = Field(default=None, ge=1)
    """Default: preStop drain 10s + timeoutSeconds + 15s, so in-flight requests finish on scale-down."""
    artifact_bucket: bool = False
    """Create an artifact bucket for this model (S3 `<cluster>-<model>-artifacts`: KMS-encrypted, versioned,
    public access blocked, protected) and a read-only workload identity (IRSA) for its servers. Every
    version's `artifact.uri` must then start with `s3://<cluster>-<model>-artifacts/` (output `artifactBuckets`)."""
    cache: ModelCacheSpec | None = None
    """Shared read-only model cache: every version's artifact is fetched and verified once into it by a
    Job, and servers start from it instead of downloading (a cache hit in the cold-start budget)."""


def artifact_store_uri(spec: StackSpec, model: ModelSpec) -> str | None:
    """Where the artifact store `artifactBucket` creates for `model` lives (AWS: `s3://<cluster>-<model>-artifacts/`,
    components/aws/artifact_names.py), which every version's `artifact.uri` must start with. None without
    `artifactBucket` (or on a cloud without a store: rule stack.aws_only_model_keys refuses that)."""
    if not model.artifact_bucket or spec.cloud != "aws":
        return None
    return artifact_uri_prefix(spec.cluster_name, model.name)


def aws_artifact_buckets(spec: StackSpec) -> Iterator[Problem]:
    """Each `artifactBucket` model's bucket name `<cluster>-<model>-artifacts` is one S3 accepts."""
    if spec.cloud != "aws":
        return
    cluster = spec.cluster_name
    for i, m in enumerate(spec.models):
        if not m.artifact_bucket:
            continue
        bucket = artifact_bucket_name(cluster, m.name)
        problem = bucket_name_problem(bucket)
        if problem is None:
            continue
        if len(bucket) > S3_BUCKET_MAX:
            room = S3_BUCKET_MAX - len(cluster) - 1 - len(ARTIFACT_SUFFIX)
            yield (
                ("models", i, "name"),
                (
                    f"{show(m.name)} with artifactBucket: true gives the bucket name {show(bucket)} "
                    f"(<cluster>-<model>{ARTIFACT_SUFFIX}), which {problem}; shorten the model name to at most {room} "
                    f"characters, or cluster.name"
                ),
            )
        else:
            yield (
                ("cluster", "name"),
                (
                    f"{show(cluster)} makes the artifact bucket name {show(bucket)} of models[{i}] ({m.name}) "
                    f"invalid: it {problem}; choose another cluster name"
                ),
            )
