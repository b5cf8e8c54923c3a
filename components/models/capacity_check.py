"""The preview-time capacity check: does the release fit its pools at every rollout step?

For each step (the current candidate weight and every weight in `rolloutSteps`) the release's pods are
fed to components/gpu/capacity.py against the pools at their max sizes:

- stable: its max replicas (`keepFull`; the previous version stays warm so a rollback is a weight change),
  or its share of them (`shrinkWithWeight`);
- candidate at weight w: max(1, ceil(stable max x w / 100)), capped by its own max (Argo's rule: canary
  pods follow the weight), or its floor at weight 0;
- shadow: ceil(stable max x percent / 100), at least 1 (mirrored traffic needs capacity too);
- A/B-routed versions at their max, idle versions at their floor;
- surge: `maxSurge` extra pods of the version being rolled (the candidate, or the stable without one);
- the other releases sharing the pools at their floor (what certainly runs beside this rollout).

If a step does not fit, the error names the model, the step, the numbers and fixes that were each
re-checked by the planner (raise pool max, shrink stable with weight, lower max replicas, drop surge).
Pure Python: runs inside `pulumi preview`, the offline plan and the spec validator alike.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from components.gpu import capacity as cap
from components.gpu import reservations
from components.models.args import Autoscaling, ModelReleaseArgs, ModelVersion, PoolLike
from components.models.placement import placement
from components.models.weights_plan import cache_job_quota

# check_all reports this many releases that do not fit in full, then names the rest it did not check: each
# check re-packs every other release's floor, so checking all of 1,000 releases that do not fit is quadratic
# (docs/performance.md#capacity-check-when-models-do-not-fit).
FULL_REPORTS = 10

# Istio sidecar resources, set explicitly on every model pod (annotations) and counted here.
SIDECAR_CPU = 0.1
SIDECAR_MEMORY_GIB = 0.25


@dataclass(frozen=True)
class Step:
    label: str  # "50%" or "steady"
    pods: tuple[tuple[str, str, int], ...]  # (role, version, replicas)


def pool_capacities(pools: Sequence[PoolLike]) -> list[cap.PoolCapacity]:
    """The pools as the planner sees them: per-node allocatable after the platform's DaemonSets, the same
    numbers as the platform capacity plan (components/gpu/reservations.py, used by stacks/platform/gpu.py)."""
    return [reservations.pool_capacity(p.shape, p.min_size, p.max_size) for p in pools]


def requests(a: ModelReleaseArgs, v: ModelVersion) -> dict[str, float]:
    p = placement(v.gpu, a.pools)
    return {
        "cpu": round(v.cpu + SIDECAR_CPU, 3),
        "memory": round(v.memory_gib + SIDECAR_MEMORY_GIB, 3),
        p.resource: float(p.quantity),
    }


def demand(a: ModelReleaseArgs, v: ModelVersion, replicas: int, group: str, suffix: str = "") -> cap.Demand:
    p = placement(v.gpu, a.pools)
    return cap.Demand(
        name=f"{a.name}/{v.name}{suffix}",
        group=group,
        replicas=replicas,
        requests=requests(a, v),
        node_selector=dict(p.node_selector),
        tolerations=tuple(
            cap.Toleration(t["key"], "Equal", t["value"], t["effect"])  # type: ignore[arg-type]
            for t in p.tolerations
        ),
    )


def steps(a: ModelReleaseArgs, weights: Sequence[int] | None = None) -> list[Step]:
    """Pods per rollout step: the current weight and `rolloutSteps` (or the given candidate weights)."""
    t = a.traffic
    stable = a.version(t.stable)
    assert stable is not None, "validation runs first"
    s_max = a.scaling(stable).max_replicas
    chosen: Sequence[int | None] = (
        [None]
        if t.candidate is None
        else sorted({t.candidate_weight, *a.rollout_steps} if weights is None else set(weights))
    )
    out: list[Step] = []
    for w in chosen:
        pods: list[tuple[str, str, int]] = []
        share = 0 if w is None else w
        if a.stable_scaling == "shrinkWithWeight" and w is not None:
            n = max(a.scaling(stable).min_replicas, math.ceil(s_max * (100 - share) / 100))
        else:
            n = s_max
        pods.append(("stable", stable.name, n))
        rolled = stable.name
        if t.candidate is not None:
            c = a.version(t.candidate)
            assert c is not None
            cs = a.scaling(c)
            n = (
                cs.min_replicas
                if share == 0
                else min(cs.max_replicas, max(cs.min_replicas, 1, math.ceil(s_max * share / 100)))
            )
            pods.append(("candidate", c.name, n))
            rolled = c.name
        for v in a.versions:
            if v.name in (t.stable, t.candidate):
                continue
            vs = a.scaling(v)
            if t.shadow is not None and v.name == t.shadow.version:
                n = min(vs.max_replicas, max(vs.min_replicas, 1, math.ceil(s_max * t.shadow.percent / 100)))
                pods.append(("shadow", v.name, n))
            elif any(r.version == v.name for r in t.ab_routes):
                pods.append(("a/b", v.name, vs.max_replicas))
            else:
                pods.append(("idle", v.name, vs.min_replicas))
        if a.max_surge:
            pods.append(("surge", rolled, a.max_surge))
        out.append(Step("steady" if w is None else f"{w}%", tuple(pods)))
    return out


def step_demands(a: ModelReleaseArgs, step: Step) -> list[cap.Demand]:
    group = f"model {a.name} at {step.label}"
    out: list[cap.Demand] = []
    for role, name, n in step.pods:
        v = a.version(name)
        assert v is not None
        if n:
            out.append(demand(a, v, n, group, "/surge" if role == "surge" else ""))
    return out


def floor_demands(a: ModelReleaseArgs) -> list[cap.Demand]:
    """What the release always runs: every version at its floor (for the other releases' checks)."""
    return [
        demand(a, v, a.scaling(v).min_replicas, f"model {a.name} at min")
        for v in a.versions
        if a.scaling(v).min_replicas
    ]


def _gpu_totals(demands: Sequence[cap.Demand]) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in demands:
        for res, q in d.requests.items():
            if cap.is_gpu_resource(res):
                out[res] = out.get(res, 0.0) + q * d.replicas
    return dict(sorted(out.items()))


def _fits(
    a: ModelReleaseArgs,
    pools: Sequence[cap.PoolCapacity] | None = None,
) -> tuple[bool, Step | None, cap.CapacityPlan | None]:
    """Whether every step fits; else the failing step with the largest GPU need and its plan."""
    pools = pool_capacities(a.pools) if pools is None else pools
    others = [d for d in a.other_release_demands if isinstance(d, cap.Demand)]
    worst: tuple[float, Step, cap.CapacityPlan] | None = None
    for st in steps(a):
        mine = step_demands(a, st)
        result = cap.plan(pools, [*mine, *others])
        if not all(f.fits for f in result.demands):
            need = sum(_gpu_totals(mine).values())
            if worst is None or need > worst[0]:
                worst = (need, st, result)
    if worst is None:
        return True, None, None
    return False, worst[1], worst[2]


def _all_fit(a: ModelReleaseArgs, pools: Sequence[cap.PoolCapacity]) -> bool:
    """_fits(a, pools)[0], stopping at the first step that does not fit (the fixes only need yes or no)."""
    others = [d for d in a.other_release_demands if isinstance(d, cap.Demand)]
    return all(cap.plan(pools, [*step_demands(a, st), *others]).fits for st in steps(a))


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _with_max(a: ModelReleaseArgs, k: int) -> ModelReleaseArgs:
    def capped(s: Autoscaling) -> Autoscaling:
        return s if s.max_replicas <= k else dataclasses.replace(s, max_replicas=k, min_replicas=min(s.min_replicas, k))

    versions = tuple(
        v if v.autoscaling is None else dataclasses.replace(v, autoscaling=capped(v.autoscaling)) for v in a.versions
    )
    return dataclasses.replace(a, autoscaling=capped(a.autoscaling), versions=versions)


def check_capacity(a: ModelReleaseArgs, pools: Sequence[cap.PoolCapacity] | None = None) -> list[str]:
    """[] when every rollout step fits, else one message with the numbers and re-checked fixes.
    `pools`: pool_capacities(a.pools), when the caller already has them."""
    pools = pool_capacities(a.pools) if pools is None else pools
    ok, step, result = _fits(a, pools)
    if ok or step is None or result is None:
        return []
    mine = step_demands(a, step)
    parts = ", ".join(f"{role} {name} x{n}" for role, name, n in step.pods if n)
    need = _gpu_totals(mine)
    eligible = {pname for d in mine for pname in placement(a.version(d.name.split("/")[1]).gpu, a.pools).pools}  # type: ignore[union-attr]
    have: dict[str, float] = {}
    for p in pools:
        if p.name in eligible:
            for res in need:
                have[res] = have.get(res, 0.0) + p.allocatable.get(res, 0.0) * p.max_nodes
    needs = ", ".join(f"{_n(q)} {res}" for res, q in need.items())
    holds = ", ".join(f"{_n(have.get(res, 0.0))} {res}" for res in need)
    where = ", ".join(f"{p.name} (maxSize {p.max_nodes})" for p in pools if p.name in eligible) or "no eligible pool"
    fixes: list[str] = []
    mine_names = {d.name for d in mine}
    # The planner names the pools to grow on whichever demand it could not place (ours or a neighbour's).
    for f in sorted(result.demands, key=lambda f: f.name not in mine_names):
        if not f.fits:
            fixes += [x for x in f.fixes if x not in fixes]
    problems = [
        p
        for f in result.demands
        if f.name in mine_names and not f.fits
        for p in f.problems
        if "need nodes beyond" not in p
    ]
    if a.traffic.candidate is not None and a.stable_scaling == "keepFull":
        if _all_fit(dataclasses.replace(a, stable_scaling="shrinkWithWeight"), pools):
            fixes.append("set stableScaling: shrinkWithWeight (the stable releases pods as its traffic share falls)")
    top = max(s.max_replicas for s in [a.autoscaling, *(v.autoscaling for v in a.versions if v.autoscaling)])
    for k in range(top - 1, 0, -1):
        if _all_fit(_with_max(a, k), pools):
            fixes.append(f"lower autoscaling.maxReplicas from {top} to {k}")
            break
    if a.max_surge and _all_fit(dataclasses.replace(a, max_surge=0), pools):
        fixes.append("set maxSurge: 0 (roll pods one at a time without a spare GPU)")
    mine_pools = [p for p in pools if p.name in eligible]
    other_need = _gpu_totals(
        [
            d
            for d in a.other_release_demands
            if isinstance(d, cap.Demand) and any(not cap.eligible(p, d) for p in mine_pools)
        ]
    )
    others = "".join(f" + {_n(q)} {res} for the other releases' floors" for res, q in other_need.items() if res in need)
    msg = (
        f"model {a.name!r} does not fit at rollout step {step.label} ({parts}): needs {needs}{others}; "
        f"eligible pools {where} hold {holds}"
    )
    if problems:
        msg += "; " + "; ".join(problems)
    return [msg + ("; fixes: " + "; ".join(fixes) if fixes else "")]


def excess_demands(a: ModelReleaseArgs) -> list[cap.Demand]:
    """What any rollout step of `a` runs beyond its floor: per version the max over steps minus the floor
    (surge pods whole), as demands named `<model>/<version>/excess`."""
    floor = {d.name: d.replicas for d in floor_demands(a)}
    most: dict[str, cap.Demand] = {}
    for st in steps(a):
        for d in step_demands(a, st):
            extra = d.replicas - floor.get(d.name, 0)
            if extra > 0 and (d.name not in most or extra > most[d.name].replicas):
                most[d.name] = dataclasses.replace(
                    d, name=f"{d.name}/excess", replicas=extra, group=f"model {a.name} beyond its floor"
                )
    return [most[k] for k in sorted(most)]


def _shape(demands: Sequence[cap.Demand]) -> tuple[object, ...]:
    """The packing problem a list of demands poses, without their names (equal shapes pack alike)."""
    return tuple(
        sorted(
            (
                tuple(sorted(d.requests.items())),
                tuple(sorted(d.node_selector.items())),
                tuple(sorted(map(repr, d.tolerations))),
                d.replicas,
            )
            for d in demands
        )
    )


def check_all(releases: Sequence[ModelReleaseArgs]) -> list[list[str]]:
    """check_capacity for releases sharing the same pools, each against the others' floors (their
    `other_release_demands` are replaced by exactly that). One entry per release, [] when it fits.

    Without quadratic work in the common case: release i at any step runs a subset of
    every release's floor + i's excess over its floor (the max of each version over its steps). If one
    plan packs that superset, release i fits (drop pods from a packing that fits: the rest still fits),
    and releases whose excess has the same shape (requests, selectors, tolerations, replicas) share that
    one plan. Only a release whose superset does not pack is checked on its own (check_capacity), which
    gives the exact per-release message and fixes.

    Bounded when many releases do not fit: after FULL_REPORTS releases failed their own check, the rest
    are neither checked one by one nor packed as a new superset shape (each would pack every release's
    floor again, quadratic in the releases); the first of them gets one message naming them all.
    """
    if not releases:
        return []
    pools = pool_capacities(releases[0].pools)
    floors = [floor_demands(a) for a in releases]
    every_floor = [d for ds in floors for d in ds]
    packs: dict[tuple[object, ...], bool] = {}
    out: list[list[str]] = []
    unchecked: list[int] = []
    failed = 0
    for i, a in enumerate(releases):
        extra = excess_demands(a)
        key = _shape(extra)
        if key not in packs and failed < FULL_REPORTS:
            packs[key] = all(f.fits for f in cap.plan(pools, [*every_floor, *extra]).demands)
        if packs.get(key):
            out.append([])
            continue
        if failed >= FULL_REPORTS:
            # Summarised below: each check (and each new release shape) packs every release's floor again.
            unchecked.append(i)
            out.append([])
            continue
        others = tuple(d for k, ds in enumerate(floors) if k != i for d in ds)
        out.append(check_capacity(dataclasses.replace(a, other_release_demands=others), pools))
        failed += bool(out[-1])
    if unchecked:
        out[unchecked[0]] = [_unchecked_message([releases[i].name for i in unchecked], failed)]
    return out


def _unchecked_message(names: Sequence[str], failed: int) -> str:
    shown = ", ".join(names[1:6]) + (", ..." if len(names) > 6 else "")
    more = f" and {len(names) - 1} more models ({shown})" if len(names) > 1 else ""
    return (
        f"model {names[0]!r}{more} {'were' if more else 'was'} not capacity-checked one by one: {failed} models above do not fit "
        f"beside the other releases' floors and the check reports at most {FULL_REPORTS} in full; "
        "fix those (raise the pools' maxSize or lower the releases' floors) and plan again"
    )


def quota(a: ModelReleaseArgs) -> dict[str, str]:
    """ResourceQuota `hard` for the release's namespace: the most any weight 0-100 can need, per resource
    (requests and limits, sidecar included). Independent of the current weight, so promoting a
    candidate never changes the quota."""
    worst: dict[str, float] = {}
    for st in steps(a, weights=range(0, 101)):
        totals: dict[str, float] = {}
        for _role, name, n in st.pods:
            v = a.version(name)
            assert v is not None
            p = placement(v.gpu, a.pools)
            per_pod = {
                "pods": 1.0,
                "requests.cpu": v.cpu + SIDECAR_CPU,
                "limits.cpu": v.cpu + SIDECAR_CPU * 10,
                "requests.memory": v.memory_gib + SIDECAR_MEMORY_GIB,
                "limits.memory": v.memory_gib + SIDECAR_MEMORY_GIB * 2,
                f"requests.{p.resource}": float(p.quantity),
            }
            for k, q in per_pod.items():
                totals[k] = totals.get(k, 0.0) + q * n
        for k, q in totals.items():
            worst[k] = max(worst.get(k, 0.0), q)
    # The model cache's populate Jobs (components/models/weights.py) run beside the servers, sidecar included.
    jobs = cache_job_quota(a)
    n_jobs = jobs.get("pods", 0.0)
    sidecars = {
        "requests.cpu": SIDECAR_CPU,
        "limits.cpu": SIDECAR_CPU * 10,
        "requests.memory": SIDECAR_MEMORY_GIB,
        "limits.memory": SIDECAR_MEMORY_GIB * 2,
    }
    for k, q in jobs.items():
        worst[k] = worst.get(k, 0.0) + q + n_jobs * sidecars.get(k, 0.0)
    return {k: _quantity(k, q) for k, q in sorted(worst.items())}


def _quantity(key: str, q: float) -> str:
    if key.endswith("memory"):
        return f"{math.ceil(q * 1024)}Mi"
    if key.endswith("cpu"):
        return f"{math.ceil(q * 1000)}m"
    return str(math.ceil(q))


def add_quotas(quotas: Sequence[dict[str, str]]) -> dict[str, str]:
    """Sum of several releases' quotas (a shared namespace)."""
    total: dict[str, int] = {}
    for qd in quotas:
        for k, v in qd.items():
            total[k] = total.get(k, 0) + int(v.rstrip("mMi"))
    return {
        k: f"{n}Mi" if k.endswith("memory") else f"{n}m" if k.endswith("cpu") else str(n)
        for k, n in sorted(total.items())
    }


# ---------------------------------------------------------------------------------------------------
# Cost view for the plan report


@dataclass(frozen=True)
class ReleaseCost:
    name: str
    gpus_at_min: dict[str, float]
    gpus_at_peak: dict[str, float]
    peak_step: str
    usd_per_hour_at_min: float | None
    usd_per_hour_at_peak: float | None


def _usd(a: ModelReleaseArgs, demands: Sequence[cap.Demand]) -> float | None:
    """GPU share of the node price: replicas x resource / resource per node x node price (cheapest pool)."""
    total = 0.0
    for d in demands:
        v = a.version(d.name.split("/")[1])
        assert v is not None
        p = placement(v.gpu, a.pools)
        prices = []
        for pool in a.pools:
            if pool.shape.name in p.pools:
                inst = pool.shape.instance
                price = inst.price_usd_per_hour
                gpu = inst.gpu
                prof = gpu.profile(v.gpu.mig_profile) if gpu is not None and v.gpu.mig_profile else None
                if prof is not None and price is not None:
                    # A MIG slice costs its share of the GPU's compute slices, not the whole node's profile count.
                    prices.append(price * prof.compute_slices / (inst.gpu_count * cap.SLICES_PER_GPU))
                    continue
                per_node = pool.shape.gpu_resources.get(p.resource, 0)
                if per_node and price is not None:
                    prices.append(price / per_node)
        if not prices:
            return None
        total += min(prices) * p.quantity * d.replicas
    return round(total, 2)


def worst_step(a: ModelReleaseArgs) -> tuple[Step, list[cap.Demand]]:
    """The rollout step with the largest GPU need (the first such step) and its demands."""
    worst: tuple[float, Step, list[cap.Demand]] | None = None
    for st in steps(a):
        ds = step_demands(a, st)
        need = sum(_gpu_totals(ds).values())
        if worst is None or need > worst[0]:
            worst = (need, st, ds)
    assert worst is not None
    return worst[1], worst[2]


def release_cost(a: ModelReleaseArgs) -> ReleaseCost:
    floor = floor_demands(a)
    step, peak = worst_step(a)
    return ReleaseCost(a.name, _gpu_totals(floor), _gpu_totals(peak), step.label, _usd(a, floor), _usd(a, peak))


def render_costs(costs: Sequence[ReleaseCost]) -> str:
    def gpus(d: dict[str, float]) -> str:
        return ", ".join(f"{_n(q)} {r}" for r, q in d.items()) or "0"

    def usd(x: float | None) -> str:
        return "unknown" if x is None else f"${x:,.2f}"

    lines = [
        "## Model releases",
        "",
        "GPU demand per release at its floor (every version at minReplicas) and at its worst rollout step "
        "(stable + candidate + shadow + surge); cost is the GPU share of the cheapest eligible pool's "
        "on-demand node price at the catalog's reference (us-east-1); priced in the stack's own region in the "
        "Cost section (docs/cost.md).",
        "",
        "| release | GPUs at min | $/h at min | worst step | GPUs at peak | $/h at peak |",
        "|---|---|---:|---|---|---:|",
    ]
    for c in costs:
        lines.append(
            f"| {c.name} | {gpus(c.gpus_at_min)} | {usd(c.usd_per_hour_at_min)} | {c.peak_step} | "
            f"{gpus(c.gpus_at_peak)} | {usd(c.usd_per_hour_at_peak)} |"
        )
    return "\n".join(lines) + "\n"
