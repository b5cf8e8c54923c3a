"""The cold-start budget of a model version, proven at preview (docs/model-weights.md#cold-start-budget).

A pending pod's path to a ready server, from catalog facts and the spec only (pure Python, no Pulumi):

    node boot        a new GPU node of the eligible pool (catalog `cold_start`: boot_seconds)
  + image pull       the declared `imageSizeGib` at the catalog's pull throughput
  + weights fetch    cache miss: `artifact.sizeGib` at min(the store's stream throughput, the node's
                     network bandwidth); cache hit: 0 (the server reads the verified copy in place)
  + load             the version's `loadSeconds`

Worst case on purpose: a scale-from-zero pod or a surge pod is assumed to need a new node (the pool may
have no spare GPU), so the budget holds whatever the autoscaler finds. The rule refuses a
`minReplicas: 0` or `maxSurge` > 0 setting whose budget exceeds the version's `coldStartSeconds`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from components.gpu.catalog import ColdStartFacts, cold_start_facts
from components.models.args import ModelReleaseArgs, ModelVersion, PoolLike
from components.models.placement import placement
from components.models.validation import Problem
from components.models.weights_plan import scheme

GBPS_TO_MIBPS = 1e9 / 8 / 2**20  # 1 Gbit/s = 119.2 MiB/s


@dataclass(frozen=True, slots=True)
class ColdStart:
    model: str
    version: str
    pool: str | None
    instance: str | None
    node_boot_seconds: int
    image_pull_seconds: int | None
    """None: `imageSizeGib` not declared."""
    fetch_miss_seconds: int | None
    """0 without an artifact; None when its size is not declared."""
    fetch_mibps: float | None
    cached: bool
    load_seconds: int
    objective_seconds: int | None

    def total(self, *, hit: bool) -> int | None:
        fetch = 0 if hit else self.fetch_miss_seconds
        if self.image_pull_seconds is None or fetch is None:
            return None
        return self.node_boot_seconds + self.image_pull_seconds + fetch + self.load_seconds

    @property
    def expected(self) -> int | None:
        """What a scale-from-zero or surge pod pays: a cache hit with a cache, a miss without."""
        return self.total(hit=self.cached)


def _slowest_pool(v: ModelVersion, pools: Sequence[PoolLike], facts: ColdStartFacts) -> PoolLike | None:
    eligible = set(placement(v.gpu, pools).pools)
    candidates = [p for p in pools if p.shape.name in eligible]
    if not candidates:
        return None
    # The slowest fetch among the pools the scheduler may choose (boot time is one catalog default today).
    return min(candidates, key=lambda p: (_network_mibps(p, facts) or math.inf, p.shape.name))


def _network_mibps(pool: PoolLike, facts: ColdStartFacts) -> float | None:
    inst = pool.shape.instance
    gbps = facts.network_gbps.get((inst.cloud, inst.name))
    return None if gbps is None else gbps * GBPS_TO_MIBPS


def cold_start(a: ModelReleaseArgs, v: ModelVersion, facts: ColdStartFacts | None = None) -> ColdStart:
    facts = facts or cold_start_facts()
    pool = _slowest_pool(v, a.pools, facts)
    pull = None if v.image_size_gib is None else math.ceil(v.image_size_gib * 1024 / facts.image_pull_mibps)
    fetch_s: int | None = 0
    mibps: float | None = None
    if v.artifact is not None:
        store = facts.fetch_mibps.get(scheme(v.artifact.uri), min(facts.fetch_mibps.values()))
        net = _network_mibps(pool, facts) if pool is not None else None
        mibps = min(store, net) if net is not None else store
        fetch_s = None if v.artifact.size_gib is None else math.ceil(v.artifact.size_gib * 1024 / mibps)
    return ColdStart(
        model=a.name,
        version=v.name,
        pool=pool.shape.name if pool is not None else None,
        instance=pool.shape.instance.name if pool is not None else None,
        node_boot_seconds=facts.boot_seconds,
        image_pull_seconds=pull,
        fetch_miss_seconds=fetch_s,
        fetch_mibps=mibps,
        cached=a.cache is not None and v.artifact is not None,
        load_seconds=v.load_seconds,
        objective_seconds=v.cold_start_seconds,
    )


def _breakdown(c: ColdStart, v: ModelVersion) -> str:
    parts = [f"node boot {c.node_boot_seconds}s ({c.pool} {c.instance}, catalog cold_start)"]
    parts.append(f"image pull {c.image_pull_seconds}s ({_n(v.image_size_gib or 0)} GiB)")
    if v.artifact is not None:
        if c.cached:
            parts.append("weights 0s (cache hit)")
        else:
            parts.append(
                f"weights {c.fetch_miss_seconds}s ({_n(v.artifact.size_gib or 0)} GiB at "
                f"{_n(c.fetch_mibps or 0)} MiB/s, no cache)"
            )
    parts.append(f"load {c.load_seconds}s")
    return " + ".join(parts)


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def check_cold_start(a: ModelReleaseArgs) -> Iterator[Problem]:
    """Refuse scale-from-zero and surge settings whose cold start exceeds a version's objective."""
    for j, v in enumerate(a.versions):
        if v.cold_start_seconds is None:
            continue
        loc = ("versions", j)
        missing = []
        if v.image_size_gib is None:
            missing.append("imageSizeGib")
        if v.artifact is not None and v.artifact.size_gib is None:
            missing.append("artifact.sizeGib")
        if missing:
            yield (
                (*loc, "coldStartSeconds"),
                f"{v.cold_start_seconds}s cannot be checked without {' and '.join(missing)}; declare "
                f"{' and '.join(missing)} (GiB) so the preview can prove the cold start",
            )
            continue
        scale = a.scaling(v)
        triggers = []
        if scale.min_replicas == 0:
            triggers.append("minReplicas 0 (scale from zero)")
        if a.max_surge > 0:
            triggers.append(f"maxSurge {a.max_surge} (a surge pod may need a new node)")
        if not triggers:
            continue
        c = cold_start(a, v)
        total = c.expected
        if c.pool is None or total is None or total <= v.cold_start_seconds:
            continue
        fixes = []
        if scale.min_replicas == 0:
            fixes.append("keep minReplicas >= 1")
        if a.max_surge > 0:
            fixes.append("set maxSurge: 0 (pods replaced in place, no new node)")
        if v.artifact is not None and not c.cached:
            fixes.append(f"add a model cache (a hit skips the {c.fetch_miss_seconds}s fetch)")
        fixes.append(f"raise coldStartSeconds to at least {total}")
        yield (
            (*loc, "coldStartSeconds"),
            f"{v.cold_start_seconds}s is exceeded by the cold start of {' and '.join(triggers)}: {total}s = "
            f"{_breakdown(c, v)}; {', or '.join(fixes)}",
        )


def render_cold_starts(budgets: Sequence[ColdStart]) -> str:
    """Markdown for the plan report: each version's budget, cache miss and hit, against its objective."""

    def s(x: int | None) -> str:
        return "n/a" if x is None else f"{x}s"

    lines = [
        "## Model cold-start budget",
        "",
        "Node boot + image pull + weights fetch + load, from the catalog's `cold_start` facts and the spec "
        "(docs/model-weights.md#cold-start-budget). n/a: a size is not declared.",
        "",
        "| model | version | pool (instance) | node boot | image pull | weights (miss) | load | total miss | total hit | objective |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in budgets:
        hit = c.total(hit=True) if c.cached else None
        objective = "—" if c.objective_seconds is None else f"{c.objective_seconds}s"
        if c.objective_seconds is not None and c.expected is not None:
            objective += " ✓" if c.expected <= c.objective_seconds else " ✗"
        lines.append(
            f"| {c.model} | {c.version} | {c.pool or '—'} ({c.instance or '—'}) | {c.node_boot_seconds}s | "
            f"{s(c.image_pull_seconds)} | {s(c.fetch_miss_seconds)} | {c.load_seconds}s | "
            f"{s(c.total(hit=False))} | {s(hit) if c.cached else '—'} | {objective} |"
        )
    return "\n".join(lines) + "\n"
