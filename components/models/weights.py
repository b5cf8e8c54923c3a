"""Model weights as part of a release: fetched and sha256-verified before a server starts, optionally from a
shared read-only cache populated once per artifact digest (docs/model-weights.md).

What this module builds (pure functions over the release args; ModelRelease registers the objects):
- per model: a ConfigMap with the fetcher (components/models/fetcher/fetch.py);
- per version with an `artifact`, in the server pod: the `fetch-weights` init container (restricted Pod
  Security: non-root, read-only root, no capabilities, RuntimeDefault seccomp, requests and limits)
  that downloads into an emptyDir and verifies, or — with a cache — waits until the cache Job verified the
  digest; the server mounts the result read-only and reads `MODEL_DIR`;
- with `cache`: a Job per artifact digest that fetches and verifies into `<cache>/<sha256>` on the RWX
  claim (the only writer), then the servers mount the claim read-only.

Cloud-neutral: the object store's endpoints, environment and identity come through the cloud seam
(components/cloud.py: ObjectStoreEgress.fetch_env, ArtifactAccess); no cloud name is compared here.
The pods that fetch use Istio native sidecars (`sidecar.istio.io/nativeSidecar`), so the proxy runs
before the init container and the download leaves the mesh only through the model's ServiceEntry
(REGISTRY_ONLY outbound policy, docs/model-weights.md#egress).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.cloud import ArtifactAccess, ArtifactReaderFactory, CloudSeam, ModelCacheStorage
from components.models.args import Artifact, ModelReleaseArgs, ModelVersion
from components.models.fetcher import FETCHER_IMAGE, FETCHER_PYTHON, SCRIPT_NAME, script
from components.models.pod_security import CACHE_MOUNT, container_security, pod_security
from components.models.weights_plan import (
    FETCH_CPU,
    FETCH_CPU_LIMIT,
    FETCH_MEMORY,
    FETCH_MEMORY_LIMIT,
    cache_claim,
    fetcher_config_map,
    pvc_claim,
    scheme,
)

FETCHER_DIR = "/opt/fetcher"
WEIGHTS_DIR = "/models/weights"
SOURCE_DIR = "/models/source"
TOKEN_DIR = "/var/run/secrets/gpu-platform/artifact-identity"
TOKEN_FILE = "token"
DOWNLOAD_HEADROOM = 1.1  # the emptyDir holds the weights plus filesystem overhead
NATIVE_SIDECAR = {"sidecar.istio.io/nativeSidecar": "true"}


@dataclass(frozen=True)
class WeightsContext:
    """What the cluster offers a release's weights, from the cloud seam (stacks/workloads/layer.py)."""

    fetch_env: tuple[tuple[str, str], ...] = ()
    """The object store's environment for the fetcher (ObjectStoreEgress.fetch_env)."""
    cache: ModelCacheStorage | None = None
    """The stack's RWX storage for caches that name no storage class."""
    reader: ArtifactReaderFactory | None = None
    """A read-only identity on buckets the stack does not create (the seam's artifact_reader)."""
    reader_scheme: str | None = None
    """The URI scheme of the cloud's store the reader serves (its ObjectStoreEgress.scheme)."""


NO_WEIGHTS = WeightsContext()
"""A cluster that offers nothing beyond the defaults (no store environment, no RWX storage, no reader)."""


@dataclass(frozen=True)
class PodWeights:
    """The pieces of one version's pod that fetch, verify and mount its weights."""

    init_containers: list[k8s.core.v1.ContainerArgs]
    volumes: list[k8s.core.v1.VolumeArgs]
    server_mounts: list[k8s.core.v1.VolumeMountArgs]
    server_env: list[k8s.core.v1.EnvVarArgs]
    annotations: dict[str, str] = field(default_factory=dict)


# --- pod pieces ------------------------------------------------------------------------------------


def _resources() -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": FETCH_CPU, "memory": FETCH_MEMORY},
        limits={"cpu": FETCH_CPU_LIMIT, "memory": FETCH_MEMORY_LIMIT},
    )


def _env(art: Artifact, ctx: WeightsContext, access: ArtifactAccess | None) -> list[k8s.core.v1.EnvVarArgs]:
    env: list[k8s.core.v1.EnvVarArgs] = [k8s.core.v1.EnvVarArgs(name="PVC_ROOT", value=SOURCE_DIR)]
    s = scheme(art.uri)
    if s in ("s3", "oss"):
        env += [k8s.core.v1.EnvVarArgs(name=n, value=val) for n, val in ctx.fetch_env]
        if access is not None:
            env += [k8s.core.v1.EnvVarArgs(name=n, value=val) for n, val in sorted(access.fetch_env.items())]
            if access.token_audience is not None and access.token_env is not None:
                env.append(k8s.core.v1.EnvVarArgs(name=access.token_env, value=f"{TOKEN_DIR}/{TOKEN_FILE}"))
    if s == "hf" and art.token_secret is not None:
        env.append(
            k8s.core.v1.EnvVarArgs(
                name="HF_TOKEN",
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=art.token_secret, key="token")
                ),
            )
        )
    return env


def _fetch_args(a: ModelReleaseArgs, art: Artifact, dest: str) -> list[str]:
    args = [f"{FETCHER_DIR}/{SCRIPT_NAME}", "fetch", "--uri", art.uri, "--dest", dest]
    if art.sha256:
        args += ["--sha256", art.sha256]
    if a.environment == "prod":
        args.append("--require-sha256")
    return args


def _source_volume(art: Artifact) -> list[k8s.core.v1.VolumeArgs]:
    claim = pvc_claim(art.uri) if scheme(art.uri) == "pvc" else None
    if claim is None:
        return []
    return [
        k8s.core.v1.VolumeArgs(
            name="weights-source",
            persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=claim, read_only=True),
        )
    ]


def _token_volume(access: ArtifactAccess | None) -> list[k8s.core.v1.VolumeArgs]:
    if access is None or access.token_audience is None:
        return []
    return [
        k8s.core.v1.VolumeArgs(
            name="artifact-identity",
            projected=k8s.core.v1.ProjectedVolumeSourceArgs(
                sources=[
                    k8s.core.v1.VolumeProjectionArgs(
                        service_account_token=k8s.core.v1.ServiceAccountTokenProjectionArgs(
                            audience=access.token_audience, expiration_seconds=3600, path=TOKEN_FILE
                        )
                    )
                ]
            ),
        )
    ]


def _fetcher_volume(a: ModelReleaseArgs) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(
        name="fetcher",
        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=fetcher_config_map(a), default_mode=0o444),
    )


def _fetch_mounts(
    art: Artifact, access: ArtifactAccess | None, dest_volume: str, mount_path: str
) -> list[k8s.core.v1.VolumeMountArgs]:
    mounts = [
        k8s.core.v1.VolumeMountArgs(name="fetcher", mount_path=FETCHER_DIR, read_only=True),
        k8s.core.v1.VolumeMountArgs(name=dest_volume, mount_path=mount_path),
    ]
    if _source_volume(art):
        mounts.append(k8s.core.v1.VolumeMountArgs(name="weights-source", mount_path=SOURCE_DIR, read_only=True))
    if _token_volume(access):
        mounts.append(k8s.core.v1.VolumeMountArgs(name="artifact-identity", mount_path=TOKEN_DIR, read_only=True))
    return mounts


def _fetcher_container(
    name: str,
    args: list[str],
    volume_mounts: list[k8s.core.v1.VolumeMountArgs],
    env: list[k8s.core.v1.EnvVarArgs] | None = None,
) -> k8s.core.v1.ContainerArgs:
    """The fetcher program as a container (restricted, with requests and limits), whatever it is asked to do."""
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=FETCHER_IMAGE,
        # Digest-pinned: Always costs one registry HEAD per start (CKV_K8S_15), like the server image.
        image_pull_policy="Always",
        command=[FETCHER_PYTHON],
        args=args,
        env=env,
        resources=_resources(),
        security_context=container_security(),
        # The mismatch line becomes the container's termination message (kubectl describe shows it).
        termination_message_policy="FallbackToLogsOnError",
        volume_mounts=volume_mounts,
    )


def fetch_container(
    a: ModelReleaseArgs,
    art: Artifact,
    ctx: WeightsContext,
    access: ArtifactAccess | None,
    *,
    name: str = "fetch-weights",
    dest_volume: str,
    mount_path: str,
    dest: str,
    extra_mounts: Sequence[k8s.core.v1.VolumeMountArgs] = (),
) -> k8s.core.v1.ContainerArgs:
    """Downloads `art` into `dest` (under the `dest_volume` mounted at `mount_path`) and verifies it."""
    return _fetcher_container(
        name,
        _fetch_args(a, art, dest),
        [*_fetch_mounts(art, access, dest_volume, mount_path), *extra_mounts],
        env=_env(art, ctx, access),
    )


def pod_weights(
    a: ModelReleaseArgs, v: ModelVersion, ctx: WeightsContext, access: ArtifactAccess | None
) -> PodWeights | None:
    """The init container, volumes and server mounts that put `v`'s verified weights at MODEL_DIR."""
    art = v.artifact
    if art is None:
        return None
    volumes = [_fetcher_volume(a), *_token_volume(access)]
    if a.cache is not None and art.sha256 is not None:
        # Cache hit path: the Job verified <cache>/<sha256>; wait for it, then read it in place.
        digest_dir = f"{CACHE_MOUNT}/{art.sha256}"
        wait = _fetcher_container(
            "fetch-weights",
            [f"{FETCHER_DIR}/{SCRIPT_NAME}", "wait", "--sha256", art.sha256, "--dest", digest_dir, "--timeout", "3600"],
            [
                k8s.core.v1.VolumeMountArgs(name="fetcher", mount_path=FETCHER_DIR, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="model-cache", mount_path=CACHE_MOUNT, read_only=True),
            ],
        )
        return PodWeights(
            init_containers=[wait],
            volumes=volumes,  # the cache claim itself is mounted by components/models/objects.py
            server_mounts=[],
            server_env=[k8s.core.v1.EnvVarArgs(name="MODEL_DIR", value=digest_dir)],
            annotations=dict(NATIVE_SIDECAR),
        )
    size = f"{int(-(-(art.size_gib or 50) * DOWNLOAD_HEADROOM // 1))}Gi"
    volumes += [
        k8s.core.v1.VolumeArgs(name="weights", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=size)),
        *_source_volume(art),
    ]
    return PodWeights(
        init_containers=[
            fetch_container(a, art, ctx, access, dest_volume="weights", mount_path=WEIGHTS_DIR, dest=WEIGHTS_DIR)
        ],
        volumes=volumes,
        server_mounts=[k8s.core.v1.VolumeMountArgs(name="weights", mount_path=WEIGHTS_DIR, read_only=True)],
        server_env=[k8s.core.v1.EnvVarArgs(name="MODEL_DIR", value=WEIGHTS_DIR)],
        annotations=dict(NATIVE_SIDECAR),
    )


# --- cache Job -------------------------------------------------------------------------------------


def cache_job_spec(
    a: ModelReleaseArgs,
    art: Artifact,
    ctx: WeightsContext,
    access: ArtifactAccess | None,
    *,
    service_account: str,
    labels: Mapping[str, str],
) -> k8s.batch.v1.JobSpecArgs:
    """Fetch and verify one artifact into <cache>/<sha256> (the claim's only writer). Retried a few times
    (a flaky download), never re-run once complete: the Job's name carries the digest."""
    assert art.sha256 is not None
    volumes = [
        _fetcher_volume(a),
        *_token_volume(access),
        *_source_volume(art),
        k8s.core.v1.VolumeArgs(
            name="model-cache",
            persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=cache_claim(a)),
        ),
        k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
    ]
    container = fetch_container(
        a,
        art,
        ctx,
        access,
        name="populate-cache",
        dest_volume="model-cache",
        mount_path=CACHE_MOUNT,
        dest=f"{CACHE_MOUNT}/{art.sha256}",
        extra_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
    )
    return k8s.batch.v1.JobSpecArgs(
        backoff_limit=3,
        # A stuck download must not hold the claim forever.
        active_deadline_seconds=6 * 3600,
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                labels={**labels, "sidecar.istio.io/inject": "true"}, annotations=dict(NATIVE_SIDECAR)
            ),
            spec=k8s.core.v1.PodSpecArgs(
                service_account_name=service_account,
                automount_service_account_token=False,
                restart_policy="OnFailure",
                security_context=pod_security(),
                containers=[container],
                volumes=volumes,
            ),
        ),
    )


def register_fetcher_config_map(
    name: str, a: ModelReleaseArgs, labels: Mapping[str, str], opts: pulumi.ResourceOptions
) -> k8s.core.v1.ConfigMap:
    return k8s.core.v1.ConfigMap(
        f"{name}-fetcher",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=fetcher_config_map(a), namespace=a.ns, labels=dict(labels)),
        data={SCRIPT_NAME: script()},
        immutable=False,
        opts=opts,
    )


def weights_context(
    cloud: CloudSeam, releases: Sequence[ModelReleaseArgs], opts: pulumi.ResourceOptions
) -> WeightsContext:
    """What the cluster's seam offers the releases' weights; installs the RWX cache storage (once) only when
    a release has a cache that names no storage class."""
    egress = cloud.artifact_egress
    cache = None
    if cloud.model_cache is not None and any(a.cache is not None and a.cache.storage_class is None for a in releases):
        cache = cloud.model_cache(opts=opts)
    return WeightsContext(
        fetch_env=egress.fetch_env if egress is not None else (),
        cache=cache,
        reader=cloud.artifact_reader,
        reader_scheme=egress.scheme if egress is not None else None,
    )
