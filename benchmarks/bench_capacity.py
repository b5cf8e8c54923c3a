"""Capacity planner benchmark: prints (never asserts) time, packing quality and GPU-hours saved.

    .venv/bin/python benchmarks/bench_capacity.py

Reference mix: 10,000 replicas over a CPU system pool, whole-GPU A10G, time-sliced L4 (x4), H100 MIG
mixed (all-balanced) and A100-80GB MIG single (all-1g.10gb) pools, all built from the catalog.

- quality: nodes chosen vs a lower bound. Per pool, the bound is max over resources of
  ceil(total requested on that pool / per-node allocatable); every demand here can only land on one pool,
  so summing per-pool bounds is a true lower bound for this mix.
- GPU-hours saved: vs naive packing that gives every GPU-using pod its own whole physical GPU.
"""

from __future__ import annotations

import copy
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.gpu.capacity import (  # noqa: E402
    SLICES_PER_GPU,
    CapacityPlan,
    Demand,
    PoolCapacity,
    is_gpu_resource,
    plan,
    pool_capacity,
)
from components.gpu.catalog import InstanceType, catalog
from components.gpu.mig import gpu_resources_per_node  # noqa: E402
from components.scheduling import Taint, Toleration  # noqa: E402

GPU_TAINT = (Taint("nvidia.com/gpu", "present", "NoSchedule"),)
TOLERATE = (Toleration("nvidia.com/gpu", "Exists"),)


def _aws(name: str) -> InstanceType:
    it = catalog().instance("aws", name)
    assert it is not None, name
    return it


def reference_pools() -> list[PoolCapacity]:
    def gpu_pool(name: str, itype: str, res: dict[str, int], max_nodes: int) -> PoolCapacity:
        return pool_capacity(
            name,
            _aws(itype),
            res,
            labels={"pool": name},
            taints=GPU_TAINT,
            max_nodes=max_nodes,
            reserved_cpu=0.5,
            reserved_memory_gib=1.0,
        )

    return [
        pool_capacity(
            "system",
            _aws("m6i.xlarge"),
            {},
            labels={"pool": "system"},
            min_nodes=3,
            max_nodes=300,
            reserved_cpu=0.5,
            reserved_memory_gib=1.0,
        ),
        gpu_pool("gpu-a10g", "g5.12xlarge", gpu_resources_per_node(_aws("g5.12xlarge")), 400),
        gpu_pool(
            "gpu-l4-ts",
            "g6.12xlarge",
            gpu_resources_per_node(_aws("g6.12xlarge"), "time-slicing", time_slicing_replicas=4),
            200,
        ),
        gpu_pool(
            "gpu-h100-mig",
            "p5.48xlarge",
            gpu_resources_per_node(_aws("p5.48xlarge"), "mig", "mixed", "all-balanced"),
            150,
        ),
        gpu_pool(
            "gpu-a100-single",
            "p4de.24xlarge",
            gpu_resources_per_node(_aws("p4de.24xlarge"), "mig", "single", "all-1g.10gb"),
            30,
        ),
    ]


def reference_demands() -> list[Demand]:
    def d(name: str, n: int, req: dict[str, float], pool: str) -> Demand:
        return Demand(name, name.split("-")[0], n, req, node_selector={"pool": pool}, tolerations=TOLERATE)

    return [
        d("api-gateway", 2000, {"cpu": 0.5, "memory": 1}, "system"),
        d("chat-a10g", 1500, {"nvidia.com/gpu": 1, "cpu": 4, "memory": 16}, "gpu-a10g"),
        d("embed-l4", 2500, {"nvidia.com/gpu": 1, "cpu": 1, "memory": 4}, "gpu-l4-ts"),
        d("llm-3g", 1000, {"nvidia.com/mig-3g.40gb": 1, "cpu": 8, "memory": 64}, "gpu-h100-mig"),
        d("llm-2g", 1000, {"nvidia.com/mig-2g.20gb": 1, "cpu": 4, "memory": 32}, "gpu-h100-mig"),
        d("rerank-1g", 1000, {"nvidia.com/mig-1g.10gb": 1, "cpu": 2, "memory": 16}, "gpu-h100-mig"),
        d("asr-1g", 1000, {"nvidia.com/gpu": 1, "cpu": 1, "memory": 8}, "gpu-a100-single"),
    ]


def mixed_scenario() -> tuple[list[PoolCapacity], list[Demand]]:
    """Harder: 10,000 replicas of 60 differently sized, unpinned pods; two pool sizes per kind to choose from."""
    rng = random.Random(7)  # fixed seed: the benchmark is repeatable
    g5 = gpu_resources_per_node
    pools = [
        pool_capacity("cpu-m6i-xl", _aws("m6i.xlarge"), {}, max_nodes=2000, reserved_cpu=0.25),
        pool_capacity("cpu-m6i-4xl", _aws("m6i.4xlarge"), {}, max_nodes=2000, reserved_cpu=0.25),
        pool_capacity("gpu-g5-12xl", _aws("g5.12xlarge"), g5(_aws("g5.12xlarge")), taints=GPU_TAINT, max_nodes=2000),
        pool_capacity("gpu-g5-48xl", _aws("g5.48xlarge"), g5(_aws("g5.48xlarge")), taints=GPU_TAINT, max_nodes=2000),
    ]
    demands: list[Demand] = []
    for i in range(40):
        demands.append(
            Demand(
                f"cpu-{i}",
                "mixed",
                200,
                {"cpu": rng.choice([0.25, 0.5, 1, 1.5, 2, 3]), "memory": rng.choice([0.5, 1, 2, 4, 8])},
            )
        )
    for i in range(20):
        gpus = rng.choice([1, 1, 1, 2, 4])
        demands.append(
            Demand(
                f"gpu-{i}",
                "mixed",
                100,
                {"nvidia.com/gpu": gpus, "cpu": 4 * gpus, "memory": 16 * gpus},
                tolerations=TOLERATE,
            )
        )
    return pools, demands


def mixed_lower_bound(pools: list[PoolCapacity], demands: list[Demand], kind: str) -> int:
    # No node holds more than the largest pool's allocatable, so this many nodes are needed at least.
    totals: dict[str, float] = {}
    for d in demands:
        if d.name.startswith(kind):
            for r, q in d.requests.items():
                totals[r] = totals.get(r, 0.0) + q * d.replicas
    biggest = {r: max(p.allocatable.get(r, 0.0) for p in pools if p.name.startswith(kind)) for r in totals}
    return max(math.ceil(q / biggest[r] - 1e-9) for r, q in totals.items())


def lower_bound(result: CapacityPlan) -> int:
    total = 0
    for pool in result.pools:
        need = max(
            (math.ceil(q / pool.allocatable[r] - 1e-9) for r, q in pool.requested.items() if pool.allocatable.get(r)),
            default=0,
        )
        total += max(need, pool.min_nodes)
    return total


def main() -> None:
    pools, demands = reference_pools(), reference_demands()
    replicas = sum(d.replicas for d in demands)
    timings: list[float] = []
    result = plan(pools, demands)
    for _ in range(5):
        start = time.perf_counter()
        result = plan(pools, demands)
        timings.append(time.perf_counter() - start)
    chosen = sum(p.nodes_used for p in result.pools)
    bound = lower_bound(result)
    gpus_planned = sum(p.gpus_at_peak for p in result.pools)
    # Naive: one pod per whole GPU, whatever it asked for (a MIG slice or a time-slice share).
    gpus_naive = sum(d.replicas for d in demands if any(is_gpu_resource(r) for r in d.requests))
    print(f"replicas: {replicas} in {len(demands)} demands over {len(pools)} pools; all fit: {result.fits}")
    print(f"plan() time: best {min(timings) * 1000:.1f} ms, median {sorted(timings)[2] * 1000:.1f} ms (5 runs)")
    print(f"nodes chosen: {chosen}; lower bound: {bound}; ratio {chosen / bound:.3f}")
    for p in result.pools:
        gpu = ", ".join(f"{r} {p.utilisation(r):.0%}" for r in p.gpu_resources) or "no GPUs"
        print(f"  {p.name:16} nodes {p.nodes_used:4d}  {gpu}")
    print(
        f"GPUs at peak: planned {gpus_planned:.0f} vs naive one-pod-per-GPU {gpus_naive} "
        f"-> {gpus_naive - gpus_planned:.0f} GPU-hours saved per hour ({1 - gpus_planned / gpus_naive:.0%})"
    )
    cost = result.usd_per_hour_at_peak
    print(f"cost at peak: {'unknown' if cost is None else f'${cost:,.2f}/h'}; slices per GPU assumed {SLICES_PER_GPU}")

    pools, demands = mixed_scenario()
    start = time.perf_counter()
    result = plan(pools, demands)
    elapsed = time.perf_counter() - start
    print(
        f"\nmixed sizes: {sum(d.replicas for d in demands)} replicas, {len(demands)} demands, unpinned; "
        f"all fit: {result.fits}; plan() {elapsed * 1000:.1f} ms"
    )
    for kind in ("cpu", "gpu"):
        used = [p for p in result.pools if p.name.startswith(kind)]
        nodes = sum(p.nodes_used for p in used)
        bound = mixed_lower_bound(pools, demands, kind)
        detail = ", ".join(f"{p.name} {p.nodes_used}" for p in used)
        chosen_bound = lower_bound(CapacityPlan(tuple(used), ()))
        print(
            f"  {kind} nodes: {nodes} ({detail}); bound for the pools chosen {chosen_bound} "
            f"(ratio {nodes / chosen_bound:.3f}); bound if all on the largest node {bound} (ratio {nodes / bound:.3f})"
        )
    gpus_planned = sum(p.gpus_at_peak for p in result.pools)
    gpus_naive = sum(d.replicas * d.requests.get("nvidia.com/gpu", 0) for d in demands)
    print(
        f"  GPUs at peak: planned {gpus_planned:.0f} vs requested whole GPUs {gpus_naive:.0f} "
        f"(whole-GPU requests: nothing to save, this checks packing overhead only)"
    )
    cost = result.usd_per_hour_at_peak
    print(f"  cost at peak: {'unknown' if cost is None else f'${cost:,.2f}/h'}")


def _per_doubling(n0: int, t0: float, n1: int, t1: float) -> float:
    """Time growth per doubling of N between two measurements (1.0: constant, 2.0: linear, 4.0: quadratic)."""
    return (t1 / t0) ** (1 / math.log2(n1 / n0)) if t0 > 0 and t1 > 0 else math.nan


def _timed_rows(label: str, sizes: list[int], run: Any) -> None:
    prev: tuple[int, float] | None = None
    for n in sizes:
        start = time.perf_counter()
        detail = run(n)
        t = time.perf_counter() - start
        growth = "" if prev is None else f"; x{_per_doubling(prev[0], prev[1], n, t):.2f} per doubling"
        print(f"  {label} {n:5d}: {t:6.2f} s ({detail}){growth}")
        prev = (n, t)


def non_fitting() -> None:
    """Many demands / releases that do NOT fit (docs/performance.md#capacity-check-when-models-do-not-fit)."""
    from stacks.spec.errors import ConfigError
    from stacks.spec.parse import parse_spec
    from tools.offline.runner import PROJECT_DIR

    print("\nnon-fitting: one-replica GPU demands far beyond a 2-node pool (plan() alone)")
    pool = reference_pools()[1]
    pool = PoolCapacity(pool.name, pool.allocatable, pool.labels, pool.taints, 0, 2, pool.price_usd_per_node_hour)

    def planner(n: int) -> str:
        ds = [Demand(f"d{i}", "g", 1, {"nvidia.com/gpu": 1 + i % 3}, tolerations=TOLERATE) for i in range(n)]
        r = plan([pool], ds)
        return f"{sum(not d.fits for d in r.demands)} do not fit; {r.demands[-1].fixes[0]}"

    _timed_rows("demands", [2000, 4000, 8000, 16000], planner)

    print("non-fitting: parse_spec of dev with N copies of its model (every release fails the L4 pool)")
    cfg = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    raw = {k.split(":", 1)[1]: v for k, v in cfg.items() if k.startswith("gpu-platform:")}
    first = raw["models"][0]

    def spec(n: int) -> str:
        models = [first] + [dict(first, name=f"m{i}", hosts=[f"m{i}.example.com"]) for i in range(1, n)]
        try:
            parse_spec(copy.deepcopy({**raw, "models": models}))
        except ConfigError as err:
            return f"{len(err.problems)} problems"
        return "accepted"

    spec(10)  # warm the catalog and chart caches
    _timed_rows("models", [50, 100, 200, 400, 1000], spec)

    print("non-fitting: the same, but maxReplicas 2 and each copy asks a different CPU (one pod shape per release)")

    def distinct(n: int) -> str:
        models = []
        for i in range(n):
            m = copy.deepcopy(first)
            if i:
                m.update(name=f"m{i}", hosts=[f"m{i}.example.com"])
            m["autoscaling"]["maxReplicas"] = 2
            for v in m["versions"]:
                v["cpu"] = round(1 + i / 1000, 3)
            models.append(m)
        try:
            parse_spec(copy.deepcopy({**raw, "models": models}))
        except ConfigError as err:
            return f"{len(err.problems)} problems"
        return "accepted"

    _timed_rows("models", [50, 100, 200, 400, 1000], distinct)


if __name__ == "__main__":
    main()
    non_fitting()
