"""Capacity planner: eligibility, packing, concrete fixes, cost, the markdown report, and a packing invariant."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.gpu.capacity import (
    Demand,
    PoolCapacity,
    eligible,
    plan,
    pool_allocatable,
    pool_capacity,
    render_markdown,
)
from components.gpu.catalog import InstanceType, catalog
from components.gpu.mig import gpu_resources_per_node
from components.scheduling import Taint, Toleration

GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")
TOLERATE_GPU = (Toleration("nvidia.com/gpu", "Exists"),)


def _it(name: str) -> InstanceType:
    it = catalog().instance("aws", name)
    assert it is not None
    return it


def _a10g_pool(max_nodes: int = 2, min_nodes: int = 0) -> PoolCapacity:
    return pool_capacity(
        "gpu-a10g",
        _it("g5.12xlarge"),
        gpu_resources_per_node(_it("g5.12xlarge")),
        labels={"pool": "gpu-a10g"},
        taints=(GPU_TAINT,),
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        reserved_cpu=0.5,
        reserved_memory_gib=1.0,
    )


def _p5_mixed_pool(max_nodes: int = 1) -> PoolCapacity:
    res = gpu_resources_per_node(_it("p5.48xlarge"), "mig", "mixed", "all-balanced")
    return pool_capacity(
        "gpu-h100-mig",
        _it("p5.48xlarge"),
        res,
        labels={"pool": "gpu-h100-mig"},
        taints=(GPU_TAINT,),
        max_nodes=max_nodes,
    )


def _system_pool() -> PoolCapacity:
    return pool_capacity(
        "system",
        _it("m6i.xlarge"),
        {},
        labels={"pool": "system"},
        min_nodes=2,
        max_nodes=4,
        reserved_cpu=0.5,
        reserved_memory_gib=1.0,
    )


# --- helpers ------------------------------------------------------------------------------------------


def test_pool_allocatable_subtracts_daemonsets_and_adds_gpus() -> None:
    alloc = pool_allocatable(_it("g5.12xlarge"), {"nvidia.com/gpu": 4}, reserved_cpu=0.5, reserved_memory_gib=1.0)
    # Karpenter estimate 47810m / 173400Mi (= 169.34 GiB) minus the DaemonSets.
    assert alloc == {"cpu": 47.31, "memory": 168.34, "pods": 737.0, "nvidia.com/gpu": 4.0}


def test_pool_allocatable_falls_back_to_raw_size_when_no_estimate() -> None:
    ali = catalog().instance("alicloud", "ecs.g7.xlarge")
    assert ali is not None
    assert pool_allocatable(ali, {}, reserved_cpu=0.25) == {"cpu": 3.75, "memory": 16.0}
    with pytest.raises(ValueError, match="leave nothing allocatable"):
        pool_allocatable(ali, {}, reserved_cpu=4)


def test_pool_capacity_takes_price_and_gpu_count_from_catalog() -> None:
    pool = _a10g_pool()
    assert (pool.price_usd_per_node_hour, pool.gpu_slices_per_node) == (5.672, 28)


def test_pool_rejects_min_above_max() -> None:
    with pytest.raises(ValueError, match=r"pool p: need 0 <= min_nodes \(3\) <= max_nodes \(2\)"):
        PoolCapacity("p", {"cpu": 1}, min_nodes=3, max_nodes=2)


# --- eligibility --------------------------------------------------------------------------------------


def test_eligible_names_selector_taint_and_resource_problems() -> None:
    pool = _a10g_pool()
    d = Demand(
        "llm",
        "chat",
        1,
        {"nvidia.com/gpu": 8, "nvidia.com/mig-1g.10gb": 1},
        node_selector={"pool": "gpu-h100", "zone": "a"},
    )
    assert eligible(pool, d) == [
        "nodeSelector pool=gpu-h100: pool has pool=gpu-a10g",
        "nodeSelector zone=a: pool has no label zone",
        "taint nvidia.com/gpu=present:NoSchedule is not tolerated",
        "requests nvidia.com/gpu=8 per pod, a node has 4",
        "no nvidia.com/mig-1g.10gb on this pool",
    ]


def test_toleration_semantics() -> None:
    taint = Taint("nvidia.com/gpu", "present", "NoSchedule")
    assert Toleration("nvidia.com/gpu", "Exists").tolerates(taint)
    assert Toleration("nvidia.com/gpu", "Equal", "present", "NoSchedule").tolerates(taint)
    assert not Toleration("nvidia.com/gpu", "Equal", "true").tolerates(taint)
    assert not Toleration("nvidia.com/gpu", "Exists", effect="NoExecute").tolerates(taint)
    assert Toleration("", "Exists").tolerates(taint)
    # PreferNoSchedule is a preference, not a barrier.
    soft = PoolCapacity("p", {"cpu": 1}, taints=(Taint("x", "", "PreferNoSchedule"),))
    assert eligible(soft, Demand("d", "g", 1, {"cpu": 1})) == []


# --- packing and fixes ----------------------------------------------------------------------------------


def test_whole_gpu_demand_fits_and_packs_tightly() -> None:
    p = plan(
        [_a10g_pool(max_nodes=3)],
        [Demand("llm", "chat", 6, {"nvidia.com/gpu": 1, "cpu": 4, "memory": 16}, tolerations=TOLERATE_GPU)],
    )
    assert p.fits and p.demands[0].placements == {"gpu-a10g": 6}
    pool = p.pools[0]
    assert pool.nodes_used == 2 and pool.requested["nvidia.com/gpu"] == 6
    assert pool.utilisation("nvidia.com/gpu") == 0.75
    assert pool.usd_per_hour_at_peak == pytest.approx(11.344) and pool.gpus_at_peak == 8


def test_exhausted_pool_gets_the_exact_max_size_fix() -> None:
    p = plan([_a10g_pool(max_nodes=2)], [Demand("llm", "chat", 9, {"nvidia.com/gpu": 1}, tolerations=TOLERATE_GPU)])
    d = p.demands[0]
    assert (d.fits, d.placed, d.placements) == (False, 8, {"gpu-a10g": 8})
    assert d.problems == ("8 of 9 replicas fit; 1 need nodes beyond the pools' maxSize",)
    assert d.fixes == ("raise nodePools[gpu-a10g].maxSize from 2 to 3",)
    assert p.pools[0].nodes_used == 2  # the hypothetical third node is a fix, not part of the plan


def test_pod_larger_than_any_node() -> None:
    p = plan([_a10g_pool()], [Demand("big", "train", 1, {"nvidia.com/gpu": 8}, tolerations=TOLERATE_GPU)])
    assert p.demands[0].fixes == ("request ≤ 4 GPUs per pod: largest node has 4",)
    assert p.demands[0].problems == ("gpu-a10g: requests nvidia.com/gpu=8 per pod, a node has 4",)


def test_missing_mig_profile_suggests_a_mig_pool() -> None:
    p = plan(
        [_a10g_pool(), _p5_mixed_pool()],
        [
            Demand("llm", "chat", 1, {"nvidia.com/mig-3g.40gb": 1}, tolerations=TOLERATE_GPU),
            Demand("emb", "search", 1, {"nvidia.com/mig-1g.20gb": 1}, tolerations=TOLERATE_GPU),
        ],
    )
    assert p.demands[0].fits and p.demands[0].placements == {"gpu-h100-mig": 1}
    assert p.demands[1].fixes == ("no pool offers nvidia.com/mig-1g.20gb: add a MIG pool with layout all-1g.20gb",)


def test_selector_or_taint_mismatch_says_how_to_reach_the_pool() -> None:
    p = plan([_a10g_pool()], [Demand("llm", "chat", 1, {"nvidia.com/gpu": 1}, node_selector={"pool": "gpu-l4"})])
    assert p.demands[0].fixes == (
        "to use pool gpu-a10g: nodeSelector pool=gpu-l4: pool has pool=gpu-a10g; "
        "taint nvidia.com/gpu=present:NoSchedule is not tolerated",
    )


def test_mig_mixed_layout_packs_each_profile_separately() -> None:
    demands = [
        Demand("big", "chat", 8, {"nvidia.com/mig-3g.40gb": 1, "cpu": 8, "memory": 64}, tolerations=TOLERATE_GPU),
        Demand("mid", "chat", 8, {"nvidia.com/mig-2g.20gb": 1, "cpu": 4, "memory": 32}, tolerations=TOLERATE_GPU),
        Demand("small", "chat", 17, {"nvidia.com/mig-1g.10gb": 1, "cpu": 1, "memory": 8}, tolerations=TOLERATE_GPU),
    ]
    p = plan([_p5_mixed_pool(max_nodes=1)], demands)
    assert [d.fits for d in p.demands] == [True, True, False]
    assert p.demands[2].fixes == ("raise nodePools[gpu-h100-mig].maxSize from 1 to 2",)
    pool = p.pools[0]
    assert {r: pool.utilisation(r) for r in pool.gpu_resources} == {
        "nvidia.com/mig-1g.10gb": 1.0,
        "nvidia.com/mig-2g.20gb": 1.0,
        "nvidia.com/mig-3g.40gb": 1.0,
    }


def test_time_slicing_fits_more_pods_per_gpu() -> None:
    g6 = _it("g6.12xlarge")
    sliced = pool_capacity(
        "gpu-l4-ts",
        g6,
        gpu_resources_per_node(g6, "time-slicing", time_slicing_replicas=4),
        taints=(GPU_TAINT,),
        max_nodes=1,
    )
    p = plan(
        [sliced], [Demand("emb", "search", 16, {"nvidia.com/gpu": 1, "cpu": 2, "memory": 8}, tolerations=TOLERATE_GPU)]
    )
    assert p.fits and p.pools[0].nodes_used == 1 and p.pools[0].utilisation("nvidia.com/gpu") == 1.0


def test_prefers_the_cheaper_pool_and_fills_min_nodes_first() -> None:
    cheap = PoolCapacity("cheap", {"cpu": 4, "memory": 16}, max_nodes=5, price_usd_per_node_hour=0.1)
    dear = PoolCapacity("dear", {"cpu": 4, "memory": 16}, min_nodes=1, max_nodes=5, price_usd_per_node_hour=1.0)
    p = plan([dear, cheap], [Demand("api", "web", 3, {"cpu": 2})])
    # The dear pool's idle min node is already paid for: fill it, then open the cheap pool.
    assert p.demands[0].placements == {"cheap": 1, "dear": 2}
    assert (p.pools[0].nodes_used, p.pools[1].nodes_used) == (1, 1)
    assert (p.usd_per_hour_at_min, p.usd_per_hour_at_peak) == (1.0, pytest.approx(1.1))


def test_unknown_price_makes_cost_unknown() -> None:
    priced = PoolCapacity("priced", {"cpu": 4}, min_nodes=1, max_nodes=1, price_usd_per_node_hour=0.2)
    ali = PoolCapacity("ali", {"cpu": 4}, max_nodes=2)
    p = plan([priced, ali], [Demand("api", "web", 3, {"cpu": 2})])
    assert p.fits and p.usd_per_hour_at_min == 0.2  # the unpriced pool has no nodes at min
    assert p.usd_per_hour_at_peak is None and p.unpriced_pools == ("ali",)


def test_pods_limit_counts_each_replica() -> None:
    pool = PoolCapacity("p", {"cpu": 100, "memory": 100, "pods": 3}, max_nodes=1)
    p = plan([pool], [Demand("tiny", "web", 4, {"cpu": 0.1})])
    assert p.demands[0].placed == 3 and p.demands[0].fixes == ("raise nodePools[p].maxSize from 1 to 2",)


def test_float_requests_do_not_spill() -> None:
    p = plan([PoolCapacity("p", {"cpu": 0.3}, max_nodes=1)], [Demand("d", "g", 3, {"cpu": 0.1})])
    assert p.fits


def test_resources_split_across_pools_is_named() -> None:
    p = plan(
        [PoolCapacity("mem", {"memory": 8}), PoolCapacity("cpu", {"cpu": 8})],
        [Demand("d", "g", 1, {"cpu": 1, "memory": 1})],
    )
    assert p.demands[0].fixes == (
        "no pool's node has all of cpu=1, memory=1: add a pool whose nodes do, or lower the requests",
    )


def test_duplicate_pool_names_rejected() -> None:
    with pytest.raises(ValueError, match=r"duplicate pool names: \['a'\]"):
        plan([PoolCapacity("a", {"cpu": 1}), PoolCapacity("a", {"cpu": 2})], [])


# --- report -------------------------------------------------------------------------------------------


def test_render_markdown_is_deterministic_and_complete() -> None:
    pools = [_system_pool(), _a10g_pool(max_nodes=1)]
    demands = [
        Demand("llm", "chat", 5, {"nvidia.com/gpu": 1, "cpu": 4, "memory": 16}, tolerations=TOLERATE_GPU),
        Demand("api", "platform", 2, {"cpu": 1, "memory": 2}),
    ]
    md = render_markdown(plan(pools, demands))
    assert md == render_markdown(plan(pools, demands))
    assert (
        md
        == """## Capacity

**1 of 2 demands fit; 1 do not.**

| demand | group | replicas | placed | pools | status |
|---|---|---:|---:|---|---|
| llm | chat | 5 | 4 | gpu-a10g ×4 | DOES NOT FIT |
| api | platform | 2 | 2 | system ×2 | fits |

### What to change

- **llm** (chat):
  - problem: 4 of 5 replicas fit; 1 need nodes beyond the pools' maxSize
  - fix: raise nodePools[gpu-a10g].maxSize from 1 to 2

### Pool system

nodes: min 2, max 4, used at peak 2 · $0.192/node-hour

| resource | per node | requested | capacity at peak | utilisation |
|---|---:|---:|---:|---|
| cpu | 3.5 | 2 | 7 | [###-------] 29% |
| memory | 15 | 4 | 30 | [#---------] 13% |

### Pool gpu-a10g

nodes: min 0, max 1, used at peak 1 · $5.672/node-hour

| resource | per node | requested | capacity at peak | utilisation |
|---|---:|---:|---:|---|
| nvidia.com/gpu | 4 | 4 | 4 | [##########] 100% |
| cpu | 47.31 | 16 | 47.31 | [###-------] 34% |
| memory | 168.34 | 64 | 168.34 | [####------] 38% |
| pods | 737 | 4 | 737 | [----------] 1% |

### Cost (USD per hour, on-demand)

| pool | nodes at min | at min | nodes at peak | at peak |
|---|---:|---:|---:|---:|
| system | 2 | $0.38 | 2 | $0.38 |
| gpu-a10g | 0 | $0.00 | 1 | $5.67 |
| **total** | 2 | $0.38 | 3 | $6.06 |
"""
    )


def test_render_markdown_says_unknown_cost() -> None:
    md = render_markdown(plan([PoolCapacity("ali-gpu", {"cpu": 8}, max_nodes=1)], [Demand("d", "g", 1, {"cpu": 1})]))
    assert "| **total** | 0 | $0.00 | 1 | unknown |" in md
    assert md.endswith("Cost is unknown: no sourced price for ali-gpu.\n")


# --- property: a reported fit never overcommits a node -----------------------------------------------

RESOURCES = ("cpu", "memory", "nvidia.com/gpu", "nvidia.com/mig-1g.10gb")
_alloc = st.dictionaries(st.sampled_from(RESOURCES), st.floats(0.5, 64, allow_nan=False), min_size=1)
_req = st.dictionaries(st.sampled_from(RESOURCES), st.floats(0, 16, allow_nan=False), min_size=1)
_pools = st.lists(
    st.builds(
        lambda i, a, mx, price, tainted: PoolCapacity(
            f"p{i}",
            a,
            labels={"pool": f"p{i}"},
            taints=(GPU_TAINT,) if tainted else (),
            max_nodes=mx,
            price_usd_per_node_hour=price,
        ),
        st.integers(0, 99),
        _alloc,
        st.integers(1, 6),
        st.none() | st.floats(0.1, 50),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda p: p.name,
)
_demands = st.lists(
    st.builds(
        lambda i, r, n, tol, sel: Demand(
            f"d{i}", "g", n, r, node_selector={"pool": sel} if sel else {}, tolerations=TOLERATE_GPU if tol else ()
        ),
        st.integers(0, 99),
        _req,
        st.integers(0, 40),
        st.booleans(),
        st.none() | st.sampled_from(["p1", "p2"]),
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(_pools, _demands)
def test_plan_never_overcommits_and_accounts_for_every_replica(
    pools: list[PoolCapacity], demands: list[Demand]
) -> None:
    result = plan(pools, demands)
    by_name = {p.name: p for p in pools}
    for usage in result.pools:
        pool = by_name[usage.name]
        assert pool.min_nodes <= usage.nodes_used <= pool.max_nodes
        for load in usage.node_loads:
            for res, used in load.items():
                assert used <= pool.allocatable.get(res, 0.0) + 1e-6, (usage.name, res)
    for demand, fit in zip(demands, result.demands, strict=True):
        assert fit.placed == sum(fit.placements.values()) <= demand.replicas
        for pool_name in fit.placements:
            assert eligible(by_name[pool_name], demand) == []
        if not fit.fits:
            assert fit.fixes, fit


@pytest.mark.parametrize("n", [10, 40])  # 20 pod shapes: a node list per shape; 80: one list for the pool
def test_many_demands_that_do_not_fit_share_the_hypothetical_nodes(n: int) -> None:
    # 3-GPU pods go first (largest share): 2 fit, n - 2 open one hypothetical 4-GPU node each; the 1-GPU
    # pods then take the 2 real nodes' last GPU and the hypothetical nodes' spare GPU: n nodes in all.
    # Each demand asks a slightly different CPU (never the binding resource), so each is its own shape.
    def d(name: str, i: int, gpus: int) -> Demand:
        return Demand(f"{name}-{i}", "g", 1, {"nvidia.com/gpu": gpus, "cpu": 0.1 + i / 100}, tolerations=TOLERATE_GPU)

    big = [d("big", i, 3) for i in range(n)]
    small = [d("small", i, 1) for i in range(n)]
    p = plan([_a10g_pool(max_nodes=2)], [*small, *big])
    assert sum(x.placed for x in p.demands) == 4
    assert {x.fixes for x in p.demands if not x.fits} == {(f"raise nodePools[gpu-a10g].maxSize from 2 to {n}",)}


def test_capacity_check_reports_ten_releases_in_full_and_names_the_rest() -> None:
    # dev's L4 pool holds 2 GPUs; 13 copies of its model each need 2 beside 24 for the others' floors.
    from tests.spec_helpers import problems, raw_stack

    raw = raw_stack("dev")
    first = raw["models"][0]
    raw["models"] += [dict(first, name=f"m{i}", hosts=[f"m{i}.example.com"]) for i in range(1, 13)]
    found = problems(raw)
    assert len(found) == 11
    assert found[0] == (
        "gpu-platform:models[0]: model 'llama3-8b' does not fit at rollout step 10% (stable v1 x1, candidate v2 x1): "
        "needs 2 nvidia.com/gpu + 24 nvidia.com/gpu for the other releases' floors; eligible pools gpu-l4 "
        "(maxSize 2) hold 2 nvidia.com/gpu; fixes: raise nodePools[gpu-l4].maxSize from 2 to 26"
    )
    assert [f.split(":", 2)[1] for f in found[:10]] == [f"models[{i}]" for i in range(10)]
    assert found[10] == (
        "gpu-platform:models[10]: model 'm10' and 2 more models (m11, m12) were not capacity-checked one by one: "
        "10 models above do not fit beside the other releases' floors and the check reports at most 10 in full; "
        "fix those (raise the pools' maxSize or lower the releases' floors) and plan again"
    )
