"""Cross-field rules of a ModelRelease, run before any child resource is registered.

Each rule yields (loc, message); loc is the camelCase path inside the release (("traffic", "stable")),
so the stack spec reports `gpu-platform:models[0].traffic.stable: ...` and a Python caller gets
`ModelRelease[llama].traffic.stable: ...` from the same code. Messages give the value received, what is
allowed and a fix (reference model-release.md §4.4).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TypeAlias

from components.gpu.catalog import catalog
from components.models.args import ModelReleaseArgs, ModelVersion
from components.models.budget import PRE_STOP_SECONDS, min_grace_seconds
from components.models.placement import offered_mig_profiles, placement
from components.observability.slo import is_duration

Loc: TypeAlias = tuple[str | int, ...]
Problem: TypeAlias = tuple[Loc, str]

IMAGE_DIGEST_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[a-f0-9]{64}$")
SHA256_RE = re.compile(r"^[a-f0-9]{64}$")
# SemVer 2.0.0 (semver.org), without build metadata ordering concerns.
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
# Istio HTTPMatchRequest.headers: "keys must be lowercase and use hyphen as the separator".
HEADER_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
RESERVED_HEADERS = ("authority", "method", "scheme", "uri")
MIG_PROFILE_RE = re.compile(r"^[1-7]g\.\d+gb(\+me)?$")
HOST_RE = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
META_KEY_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,56}[A-Za-z0-9])?$")
ARTIFACT_SCHEMES = ("s3", "oss", "gs", "hf", "pvc")
# Envoy retry conditions that re-send a request the server may already have worked on.
GPU_RETRY_CONDITIONS = ("5xx", "gateway-error", "reset", "retriable-status-codes")
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "istio-system", "monitoring")


def _q(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _digest_problem(image: str) -> str:
    """The whole image (a digest cut off at 80 characters hides what is wrong) and what a digest is."""
    shown = repr(image) if len(image) <= 400 else repr(image[:397] + "...")
    repo, sep, digest = image.rpartition("@sha256:")
    if sep and repo:
        wrong = [f"{len(digest)} characters"] if len(digest) != 64 else []
        if digest != digest.lower():
            wrong.append("uppercase letters")
        if re.search(r"[^0-9a-fA-F]", digest):
            wrong.append("characters that are not hex digits")
        if not wrong:
            return f"{shown}: the repository before '@sha256:' must be lowercase letters, digits and '._/:-'"
        return (
            f"{shown}: the digest after '@sha256:' must be lowercase, 64 hex digits; this one has {' and '.join(wrong)} "
            "(copy it again, e.g. with 'crane digest <ref>')"
        )
    return (
        f"{shown} is not pinned by digest; write '<repository>@sha256:<digest>', the digest lowercase, 64 hex "
        "digits (tags can be moved; resolve one with 'crane digest <ref>')"
    )


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_release(a: ModelReleaseArgs) -> list[Problem]:
    """Every problem of one release (empty when it is valid)."""
    return [*_versions(a), *_traffic(a), *_scaling(a), *_gpu(a), *_misc(a)]


def check_releases(releases: Sequence[ModelReleaseArgs]) -> list[tuple[int, Loc, str]]:
    """Rules across releases of one stack: (index of the release, loc, message)."""
    out: list[tuple[int, Loc, str]] = []
    seen: dict[str, str] = {}
    for i, a in enumerate(releases):
        for j, host in enumerate(a.hosts):
            if host in seen:
                out.append(
                    (
                        i,
                        ("hosts", j),
                        f"{_q(host)} is already routed by model {_q(seen[host])}; two "
                        "VirtualServices for one host merge unpredictably; give each model its own host",
                    )
                )
            else:
                seen[host] = a.name
    names = Counter(a.name for a in releases)
    for name in sorted(n for n, c in names.items() if c > 1):
        idx = [i for i, a in enumerate(releases) if a.name == name][-1]
        out.append((idx, ("name",), f"model name {_q(name)} is used twice; model names must be unique"))
    return out


def _versions(a: ModelReleaseArgs) -> Iterator[Problem]:
    names = [v.name for v in a.versions]
    for name in sorted(n for n, c in Counter(names).items() if c > 1):
        yield ("versions",), f"version name {_q(name)} is used twice; version names must be unique"
    for j, v in enumerate(a.versions):
        loc: Loc = ("versions", j)
        if not IMAGE_DIGEST_RE.match(v.image):
            yield (*loc, "image"), _digest_problem(v.image)
        if not SEMVER_RE.match(v.semver):
            yield (*loc, "semver"), f"{_q(v.semver)} is not a semantic version; write MAJOR.MINOR.PATCH, e.g. '1.4.0'"
        if v.artifact is not None:
            yield from _artifact(a, v, (*loc, "artifact"))
        elif a.environment == "prod" and a.artifact_bucket:
            yield (
                (*loc, "artifact"),
                (
                    "required when artifactBucket is true in prod; add {uri: s3://..., "
                    "sha256: <64 hex>} so servers load a verified artifact"
                ),
            )
        for key in sorted(v.metadata):
            if not META_KEY_RE.match(key):
                yield (
                    (*loc, "metadata", key),
                    (f"{_q(key)} cannot be an annotation name; use up to 58 letters, digits, '-', '_' or '.'"),
                )
        if v.cpu <= 0 or v.memory_gib <= 0:
            yield (*loc, "cpu"), f"cpu {_num(v.cpu)} and memoryGib {_num(v.memory_gib)} must both be positive"


def _artifact(a: ModelReleaseArgs, v: ModelVersion, loc: Loc) -> Iterator[Problem]:
    art = v.artifact
    assert art is not None
    scheme = art.uri.split("://", 1)[0] if "://" in art.uri else ""
    if scheme not in ARTIFACT_SCHEMES:
        yield (
            (*loc, "uri"),
            (f"{_q(art.uri)} has no supported scheme; use one of " + ", ".join(f"{s}://" for s in ARTIFACT_SCHEMES)),
        )
    elif a.artifact_bucket and a.artifact_uri_prefix and not art.uri.startswith(a.artifact_uri_prefix):
        yield (
            (*loc, "uri"),
            (
                f"{_q(art.uri)} is not in the model's own artifact store {a.artifact_uri_prefix} (artifactBucket: "
                f"true; its servers may read only that); write '{a.artifact_uri_prefix}<path>', or remove "
                "artifactBucket to load the weights from a store you manage"
            ),
        )
    elif scheme == "hf" and "@" not in art.uri:
        yield (
            (*loc, "uri"),
            (
                f"{_q(art.uri)} has no revision; pin 'hf://org/model@<commit>' so the weights "
                "cannot change under the same version"
            ),
        )
    if art.sha256 is None:
        if a.environment == "prod":
            yield (
                (*loc, "sha256"),
                "required in prod; set the artifact's sha256 (64 hex) so what was evaluated is what is served",
            )
    elif not SHA256_RE.match(art.sha256):
        yield (*loc, "sha256"), f"{_q(art.sha256)} is not a sha256; write 64 lowercase hex digits"


def _traffic_sinks(a: ModelReleaseArgs) -> dict[str, str]:
    """version -> why it takes traffic (live, canary, A/B or shadow)."""
    t = a.traffic
    out: dict[str, str] = {}
    for r in t.ab_routes:
        out.setdefault(r.version, f"the A/B route on header {_q(r.header)}")
    if t.shadow is not None:
        out.setdefault(t.shadow.version, f"{_num(t.shadow.percent)}% shadow traffic")
    if t.candidate is not None and t.candidate_weight > 0:
        out[t.candidate] = f"{t.candidate_weight}% canary traffic"
    if t.candidate_weight < 100:
        out[t.stable] = f"{100 - t.candidate_weight}% live traffic as the stable version"
    if t.candidate is not None and t.candidate_weight == 100:
        out[t.candidate] = "100% live traffic"
    return out


def _traffic(a: ModelReleaseArgs) -> Iterator[Problem]:
    t = a.traffic
    names = [v.name for v in a.versions]
    loc: Loc = ("traffic",)
    if t.stable not in names:
        yield (*loc, "stable"), f"{_q(t.stable)} is not a version of this model; choose one of {names}"
    if t.candidate is not None and t.candidate not in names:
        yield (*loc, "candidate"), f"{_q(t.candidate)} is not a version of this model; choose one of {names}"
    if t.candidate is not None and t.candidate == t.stable:
        yield (*loc, "candidate"), f"{_q(t.candidate)} is also the stable version; pick another version"
    if not 0 <= t.candidate_weight <= 100:
        yield (*loc, "candidateWeight"), f"{t.candidate_weight} is out of range; use 0-100"
    if t.candidate is None and t.candidate_weight > 0:
        yield (
            (*loc, "candidateWeight"),
            (f"{t.candidate_weight} with no candidate; set traffic.candidate or make the weight 0"),
        )
    for k, r in enumerate(t.ab_routes):
        rloc: Loc = (*loc, "abRoutes", k)
        if not HEADER_RE.match(r.header):
            fix = f"; write {_q(r.header.lower())}" if HEADER_RE.match(r.header.lower()) else ""
            yield (
                (*rloc, "header"),
                (
                    f"{_q(r.header)} must be lowercase letters, digits and '-' (Istio matches "
                    f"header names in lowercase){fix}"
                ),
            )
        elif r.header in RESERVED_HEADERS:
            yield (
                (*rloc, "header"),
                (
                    f"{_q(r.header)} is an Istio pseudo-header match, not a request header; "
                    "use a custom header such as 'x-model-variant'"
                ),
            )
        if bool(r.values) == (r.regex is not None):
            yield rloc, "set exactly one of values or regex"
        if any(not val for val in r.values):
            yield (*rloc, "values"), "an empty value matches nothing useful; remove it"
        if r.regex is not None:
            try:
                re.compile(r.regex)
            except (re.error, RecursionError, OverflowError) as err:  # deep nesting overflows the parser
                yield (*rloc, "regex"), f"{_q(r.regex)} does not compile ({err}); Istio uses RE2 syntax"
        if r.version not in names:
            yield (*rloc, "version"), f"{_q(r.version)} is not a version of this model; choose one of {names}"
    if t.shadow is not None:
        s = t.shadow
        if s.version not in names:
            yield (*loc, "shadow", "version"), f"{_q(s.version)} is not a version of this model; choose one of {names}"
        else:
            live = {t.stable: 100 - t.candidate_weight}
            if t.candidate is not None:
                live[t.candidate] = t.candidate_weight
            ab = [r.header for r in t.ab_routes if r.version == s.version]
            if live.get(s.version, 0) > 0:
                yield (
                    (*loc, "shadow", "version"),
                    (
                        f"{_q(s.version)} also takes {live[s.version]}% live traffic; its metrics would mix mirrored "
                        "and live requests; shadow a version with weight 0"
                    ),
                )
            elif ab:
                yield (
                    (*loc, "shadow", "version"),
                    (
                        f"{_q(s.version)} also serves the A/B route on header {_q(ab[0])}; shadow a version that "
                        "takes no live traffic"
                    ),
                )
        if not 0 < s.percent <= 100:
            yield (*loc, "shadow", "percent"), f"{_num(s.percent)} is out of range; use more than 0 and at most 100"
    retry_on = {c.strip() for c in t.retries.retry_on.split(",") if c.strip()}
    risky = sorted(retry_on & set(GPU_RETRY_CONDITIONS))
    if risky and t.retries.attempts > 0 and not t.retries.allow_gpu_retries:
        yield (
            (*loc, "retries", "retryOn"),
            (
                f"{_q(t.retries.retry_on)} retries {', '.join(risky)}: a retried request re-runs its GPU work on "
                "another replica; use 'connect-failure,refused-stream' or set allowGpuRetries: true"
            ),
        )
    if t.timeout_seconds * 1000 < a.slo.p99_ms:
        yield (
            (*loc, "timeoutSeconds"),
            (
                f"{t.timeout_seconds}s is below slo.p99Ms {_num(a.slo.p99_ms)}ms: requests would be cut off before "
                "the latency SLO could fire; raise the timeout or lower the SLO"
            ),
        )


def _scaling(a: ModelReleaseArgs) -> Iterator[Problem]:
    sinks = _traffic_sinks(a)
    scopes: list[tuple[Loc, str | None]] = [(("autoscaling",), None)]
    scopes += [(("versions", j, "autoscaling"), v.name) for j, v in enumerate(a.versions) if v.autoscaling]
    for loc, version in scopes:
        s = a.autoscaling if version is None else a.version(version).autoscaling  # type: ignore[union-attr]
        assert s is not None
        if s.min_replicas > s.max_replicas:
            yield (
                (*loc, "minReplicas"),
                (f"{s.min_replicas} is greater than maxReplicas {s.max_replicas}; make minReplicas <= maxReplicas"),
            )
        if s.min_replicas == 0 and s.engine == "none":
            yield (
                (*loc, "minReplicas"),
                "0 with engine 'none' runs no pods at all; use engine 'keda' or minReplicas >= 1",
            )
    for j, v in enumerate(a.versions):
        s = a.scaling(v)
        if s.min_replicas == 0 and v.name in sinks:
            where: Loc = (
                ("versions", j, "autoscaling", "minReplicas") if v.autoscaling else ("autoscaling", "minReplicas")
            )
            yield (
                where,
                (
                    f"0 (scale to zero) for version {_q(v.name)}, which takes {sinks[v.name]}: with no pods "
                    "the rollout gates see no data and the first requests wait for a cold GPU start; "
                    "use minReplicas >= 1 for it"
                ),
            )
    steps = a.rollout_steps
    if not steps or list(steps) != sorted(set(steps)) or steps[-1] != 100 or steps[0] < 1:
        yield (
            ("rolloutSteps",),
            (
                f"{list(steps)} must be strictly increasing weights between 1 and 100 that end at "
                "100, e.g. [10, 25, 50, 100]"
            ),
        )
    if a.max_surge < 0:
        yield ("maxSurge",), f"{a.max_surge} is negative; use 0 or more"
    grace = a.termination_grace_seconds
    need = min_grace_seconds(a.traffic.timeout_seconds)
    if grace is not None and grace < need:
        yield (
            ("terminationGraceSeconds",),
            (
                f"{grace}s is shorter than preStop {PRE_STOP_SECONDS}s + traffic.timeoutSeconds "
                f"{a.traffic.timeout_seconds}s + 5s; in-flight requests would be killed on scale-down; use at least {need}"
            ),
        )
    if not is_duration(a.slo.window):
        yield ("slo", "window"), f"{_q(a.slo.window)} is not a Prometheus duration; write e.g. '5m' or '1h'"


def _gpu(a: ModelReleaseArgs) -> Iterator[Problem]:
    gpu_pools = [p for p in a.pools if p.shape.is_gpu]
    for j, v in enumerate(a.versions):
        g = v.gpu
        loc: Loc = ("versions", j, "gpu")
        if g.mig_profile is not None and g.count is not None and g.count > 1:
            yield (
                (*loc, "count"),
                (
                    f"{g.count} with migProfile {_q(g.mig_profile)}: a CUDA process uses only one "
                    "MIG device, so more slices per pod are unusable; remove count or use whole GPUs"
                ),
            )
            continue
        kinds = [
            k
            for k, on in (
                ("count", g.count is not None),
                ("migProfile", g.mig_profile is not None),
                ("timeSliced", g.time_sliced),
            )
            if on
        ]
        if len(kinds) != 1:
            got = ", ".join(kinds) if kinds else "none"
            yield loc, f"set exactly one of count, migProfile, timeSliced (got {got})"
            continue
        if g.model is not None and g.model not in catalog().gpus:
            yield (
                (*loc, "model"),
                f"{_q(g.model)} is not a GPU model in the catalog; choose one of {sorted(catalog().gpus)}",
            )
            continue
        if g.mig_profile is not None and not MIG_PROFILE_RE.match(g.mig_profile):
            yield (*loc, "migProfile"), f"{_q(g.mig_profile)} is not a MIG profile name; write it like '2g.10gb'"
            continue
        p = placement(g, a.pools)
        if not p.pools:
            if g.mig_profile is not None:
                offered = offered_mig_profiles(gpu_pools)
                yield (
                    (*loc, "migProfile"),
                    (
                        f"{_q(g.mig_profile)} is not offered by any pool (pools offer: "
                        f"{', '.join(offered) if offered else 'no MIG profiles'}); pick an offered profile or add a MIG "
                        "pool whose layout contains it"
                    ),
                )
            elif g.time_sliced:
                yield (
                    (*loc, "timeSliced"),
                    (
                        "no pool shares GPUs by time-slicing; add a pool with gpu.sharing "
                        "'time-slicing' or request whole GPUs (count: 1)"
                    ),
                )
            else:
                most = max(
                    (pl.shape.gpu_resources.get("nvidia.com/gpu", 0) for pl in gpu_pools if pl.shape.sharing == "none"),
                    default=0,
                )
                model = f" {g.model}" if g.model else ""
                yield (
                    (*loc, "count"),
                    (
                        f"{g.count} whole{model} GPU(s) per pod: no pool with whole{model} GPUs has "
                        f"that many per node (largest: {most}); lower count or add a larger pool"
                    ),
                )
            continue
        if (
            g.model_memory_gib is not None
            and p.slice_memory_gib is not None
            and g.model_memory_gib > p.slice_memory_gib
        ):
            yield (
                (*loc, "modelMemoryGib"),
                (
                    f"{_num(g.model_memory_gib)} GiB does not fit {p.slice_text} with {_num(p.slice_memory_gib)} GiB of GPU "
                    "memory; choose a larger slice or more whole GPUs, or quantise the model"
                ),
            )


def _misc(a: ModelReleaseArgs) -> Iterator[Problem]:
    if a.ns in RESERVED_NAMESPACES:
        yield (
            ("namespace",),
            (
                f"{_q(a.ns)} is a system namespace; model servers need their own Pod Security and "
                "NetworkPolicy rules, so use a dedicated namespace"
            ),
        )
    for j, host in enumerate(a.hosts):
        if not HOST_RE.match(host):
            yield ("hosts", j), f"{_q(host)} is not a lowercase DNS hostname such as 'llama.models.example.com'"
    if a.hosts and not re.match(r"^[a-z0-9-]+/[a-z0-9-]+$", a.gateway):
        yield ("gateway",), f"{_q(a.gateway)} is not '<namespace>/<gateway name>'; e.g. 'istio-ingress/models-gateway'"
