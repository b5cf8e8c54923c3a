"""Model weights, the pure part (no Pulumi): which URIs a release fetches, their rules, the cache's names
and quota, the hosts a fetch reaches. components/models/weights.py builds the Kubernetes objects from these;
the spec rules, the capacity check (quota) and the cold-start budget use them without an engine."""

from __future__ import annotations

import re
from collections.abc import Iterator

from components.models.args import Artifact, ModelReleaseArgs
from components.models.names import k8s_name, workload
from components.models.validation import Loc, Problem

FETCH_SCHEMES = ("s3", "oss", "hf", "pvc")
FETCH_CPU, FETCH_CPU_LIMIT = "500m", "1"
FETCH_MEMORY, FETCH_MEMORY_LIMIT = "256Mi", "512Mi"
FETCH_CPU_CORES, FETCH_CPU_LIMIT_CORES = 0.5, 1.0
FETCH_MEMORY_GIB, FETCH_MEMORY_LIMIT_GIB = 0.25, 0.5
# Hosts an hf:// download reaches: the Hub API and resolve endpoint, then the CDN and Xet storage it
# redirects file downloads to (docs/model-weights.md#egress). A new redirect target fails the fetch with
# its host in the log line, and is added here.
HF_HOSTS = (
    "huggingface.co",
    "cdn-lfs.hf.co",
    "cdn-lfs-us-1.hf.co",
    "cdn-lfs-eu-1.hf.co",
    "cas-bridge.xethub.hf.co",
)
_HF_URI = re.compile(r"^hf://[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9._/-]+$")
_PVC_URI = re.compile(r"^pvc://([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?)(/.*)?$")
_BUCKET_URI = re.compile(r"^(s3|oss)://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")


def scheme(uri: str) -> str:
    return uri.split("://", 1)[0] if "://" in uri else ""


def pvc_claim(uri: str) -> str | None:
    m = _PVC_URI.match(uri)
    return m.group(1) if m else None


# --- rules -----------------------------------------------------------------------------------------


def check_weights(a: ModelReleaseArgs) -> Iterator[Problem]:
    """Rules of the weights a release fetches (run with the release rules, before anything registers)."""
    digests: dict[str, float] = {}
    for j, v in enumerate(a.versions):
        if v.artifact is None:
            continue
        loc: Loc = ("versions", j, "artifact")
        art = v.artifact
        s = scheme(art.uri)
        if s == "gs":
            yield (
                (*loc, "uri"),
                f"'{art.uri}': gs:// is not fetched (the platform has no GCP identity); copy the weights to "
                "s3://, oss://, a Hugging Face revision (hf://org/model@<revision>) or a claim (pvc://<claim>/<path>)",
            )
        elif s == "hf" and "@" in art.uri and not _HF_URI.match(art.uri):  # no '@': validation.py says so
            yield (
                (*loc, "uri"),
                f"'{art.uri}' is not hf://<org>/<model>@<revision>; name the repository and pin a revision",
            )
        elif s == "pvc" and pvc_claim(art.uri) is None:
            yield (
                (*loc, "uri"),
                f"'{art.uri}' is not pvc://<claim>/<path>; name a PersistentVolumeClaim of the model's namespace",
            )
        elif s in ("s3", "oss") and not _BUCKET_URI.match(art.uri):
            yield (*loc, "uri"), f"'{art.uri}' is not {s}://<bucket>/<key or prefix/>; name a valid bucket"
        if art.token_secret is not None and s != "hf":
            yield (
                (*loc, "tokenSecret"),
                f"'{art.token_secret}' is set but the artifact is not a hf:// URI ({s or 'no scheme'}://); a token secret is for "
                "hf:// only (object stores use the release's workload identity): remove it",
            )
        if a.cache is not None:
            if art.sha256 is None and a.environment != "prod":  # prod: validation.py requires it already
                yield (
                    (*loc, "sha256"),
                    "required with a model cache: the cache keeps each artifact under its sha256; set the "
                    "artifact's sha256 (64 hex)",
                )
            if art.size_gib is None:
                yield (
                    (*loc, "sizeGib"),
                    "required with a model cache: the cache must hold every version's weights; set the "
                    "artifact's size in GiB",
                )
            elif art.sha256 is not None:
                digests[art.sha256] = art.size_gib
    if a.cache is not None and digests and sum(digests.values()) > a.cache.size_gib:
        need = sum(digests.values())
        yield (
            ("cache", "sizeGib"),
            f"{a.cache.size_gib} GiB cannot hold the {len(digests)} artifact(s) the versions fetch into it "
            f"({_gib(need)} GiB); set cache.sizeGib to at least {int(-(-need // 1))}",
        )


def _gib(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


# --- names -----------------------------------------------------------------------------------------


def fetcher_config_map(a: ModelReleaseArgs) -> str:
    return workload(a.name, "fetcher")


def cache_claim(a: ModelReleaseArgs) -> str:
    return workload(a.name, "cache")


def cache_job(a: ModelReleaseArgs, sha256: str) -> str:
    """One Job per artifact digest: a new digest is a new Job, a known one is never re-run."""
    return k8s_name(a.name, "cache", sha256[:12])


def cached_artifacts(a: ModelReleaseArgs) -> dict[str, Artifact]:
    """sha256 -> artifact, for the versions the cache holds (sorted, deterministic)."""
    out: dict[str, Artifact] = {}
    for v in a.versions:
        if v.artifact is not None and v.artifact.sha256 is not None:
            out.setdefault(v.artifact.sha256, v.artifact)
    return dict(sorted(out.items()))


def fetches(a: ModelReleaseArgs) -> bool:
    return any(v.artifact is not None for v in a.versions)


def egress_hosts(a: ModelReleaseArgs) -> tuple[str, ...]:
    """Hosts the models layer itself knows a fetch reaches (Hugging Face); the object stores' come from
    the cloud seam."""
    if any(v.artifact is not None and scheme(v.artifact.uri) == "hf" for v in a.versions):
        return HF_HOSTS
    return ()


def reader_buckets(a: ModelReleaseArgs, store_scheme: str | None) -> tuple[str, ...]:
    """Buckets of the cloud's store the versions read without an artifact store of their own."""
    if store_scheme is None or a.artifact_bucket:
        return ()
    out = {
        v.artifact.uri.split("://", 1)[1].split("/", 1)[0]
        for v in a.versions
        if v.artifact is not None and scheme(v.artifact.uri) == store_scheme
    }
    return tuple(sorted(out))


def cache_job_quota(a: ModelReleaseArgs) -> dict[str, float]:
    """What the cache Jobs may hold at once in the namespace's ResourceQuota (every digest in parallel,
    each with its sidecar): added to the release's quota by components/models/capacity_check.py."""
    n = len(cached_artifacts(a)) if a.cache is not None else 0
    if n == 0:
        return {}
    return {
        "pods": float(n),
        "requests.cpu": n * FETCH_CPU_CORES,
        "limits.cpu": n * FETCH_CPU_LIMIT_CORES,
        "requests.memory": n * FETCH_MEMORY_GIB,
        "limits.memory": n * FETCH_MEMORY_LIMIT_GIB,
    }
