"""GPU layer: capacity/cost outputs of the plans, DaemonSet reservations, extra demands, report section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.alicloud.seam import alicloud_seam
from components.gpu import capacity, nvidia
from components.gpu.capacity import Demand
from components.mesh import istio
from components.scheduling import Toleration
from stacks.cluster.aws import aws_pool_facts
from stacks.contract import ClusterFacts, pool_facts
from stacks.platform import gpu as gpu_layer
from stacks.spec.parse import parse_spec
from stacks.workloads.capacity import release_demands
from tests.conftest import Plan
from tests.spec_helpers import mutate, raw_stack
from tools.offline.artifacts import report_markdown

GPU_TOLERATION = Toleration("nvidia.com/gpu", "Equal", "present", "NoSchedule")


def _facts(raw: dict[str, Any]) -> ClusterFacts:
    spec = parse_spec(raw)
    return ClusterFacts(
        cloud=alicloud_seam(region=spec.region),  # the planner never asks the cloud anything
        name=spec.cluster_name,
        region=spec.region,
        kubernetes_version=spec.cluster.kubernetes_version,
        k8s_provider=None,  # pyright: ignore[reportArgumentType]  # the planner never touches it
        pools=aws_pool_facts(spec) if spec.cloud == "aws" else pool_facts(spec),
    )


PROD = _facts(raw_stack("prod"))


def _pool(name: str) -> Any:
    return next(p for p in PROD.pools if p.name == name)


def test_reservations_per_node_kind() -> None:
    # kube-proxy, VPC CNI, EBS CSI, log agent, node exporter, Istio CNI node agent
    assert gpu_layer.reserved(_pool("system")) == (0.365, 0.371)
    assert gpu_layer.reserved(_pool("gpu-a10g")) == (0.53, 1.058)  # + device plugin, GFD/NFD, DCGM
    assert gpu_layer.reserved(_pool("gpu-a100-mig")) == (0.58, 1.183)  # + MIG manager


def test_gpu_daemonset_reservations_are_the_requests_we_set() -> None:
    by_name = {r.name: r for r in gpu_layer.NODE_RESERVATIONS}
    assert (by_name["istio-cni-node"].cpu, by_name["istio-cni-node"].memory_gib) == (0.1, 100 / 1024)
    assert istio.CNI_REQUESTS == {"cpu": "100m", "memory": "100Mi"}
    assert (by_name["nvidia-device-plugin"].cpu, by_name["nvidia-device-plugin"].memory_gib) == (0.05, 0.0625)
    assert nvidia.DEVICE_PLUGIN_REQUESTS == {"cpu": "50m", "memory": "64Mi"}
    assert (by_name["dcgm-exporter"].cpu, by_name["dcgm-exporter"].memory_gib) == (0.1, 0.5)
    assert nvidia.DCGM_REQUESTS == {"cpu": "100m", "memory": "512Mi"}


def test_prod_capacity_output_per_pool(plan: Callable[[str], Plan]) -> None:
    out = plan("prod").outputs["capacity"]
    assert list(out["pools"]) == [
        "gpu-a100-mig",
        "gpu-a100-reserved",
        "gpu-a10g",
        "gpu-h100-efa",
        "gpu-h200-block",
        "gpu-l4-karpenter",
        "gpu-l4-shared",
        "system",
    ]
    # Issue 18: a Karpenter pool plans maxSize nodes of its cheapest type, a reservation pool at most what
    # the reservation holds (tests/component/test_karpenter.py, test_reservations.py).
    assert (out["pools"]["gpu-l4-karpenter"]["instanceType"], out["pools"]["gpu-l4-karpenter"]["maxNodes"]) == (
        "g6.xlarge",
        8,
    )
    assert out["pools"]["gpu-a100-reserved"]["maxNodes"] == 2
    # The Capacity Block pool: its reservation's 2 nodes, no price (the book records why: the block's rate is
    # set per offering at purchase, components/cost/prices.yaml gaps), so nothing is invented for it.
    block = out["pools"]["gpu-h200-block"]
    assert (block["instanceType"], block["maxNodes"], block["usdPerNodeHour"], block["usdPerHourAtMax"]) == (
        "p5e.48xlarge",
        2,
        None,
        None,
    )
    assert out["pools"]["gpu-l4-shared"] == {
        "instanceType": "g6.xlarge",
        "gpuModel": "l4",
        "gpusPerNode": 1,
        "sharing": "time-slicing",
        "gpuResourcesPerNode": {"nvidia.com/gpu": 4},
        # catalog g6.xlarge allocatable 3920m / 14162Mi minus 0.53 cores / 1.058 GiB of DaemonSets
        "allocatablePerNode": {"cpu": 3.39, "memory": 12.772, "nvidia.com/gpu": 4, "pods": 58},
        "reservedPerNode": {"cpu": 0.53, "memoryGib": 1.058},
        # The model releases' worst rollout steps (stacks/workloads/capacity.py) are the plan's demands: the
        # reranker (2 pods + 1 surge, 1 time-sliced GPU, 3 CPU each) opens one node at peak.
        "minNodes": 0,
        "maxNodes": 4,
        "nodesAtPeak": 1,
        "usdPerNodeHour": 0.8048,
        "usdPerHourAtMin": 0,
        "usdPerHourAtPeak": 0.8048,
        "usdPerHourAtMax": 3.2192,
        "utilisation": {"cpu": 0.9735, "memory": 0.9983, "nvidia.com/gpu": 0.75, "pods": 0.0517},
    }
    mig_pool = out["pools"]["gpu-a100-mig"]
    assert mig_pool["gpuResourcesPerNode"] == {
        "nvidia.com/mig-1g.5gb": 16,
        "nvidia.com/mig-2g.10gb": 8,
        "nvidia.com/mig-3g.20gb": 8,
    }
    assert (mig_pool["usdPerNodeHour"], mig_pool["usdPerHourAtMax"]) == (21.9576, 43.9153)
    # min = the system pool's 3 always-on nodes; peak = + the nodes the releases' worst steps open;
    # max = every pool at maxSize: unknown, the Capacity Block pool has no price.
    assert (out["fits"], out["usdPerHourAtMin"], out["usdPerHourAtPeak"], out["usdPerHourAtMax"]) == (
        True,
        0.576,
        29.3984,
        None,
    )
    # The priced pools at max: 55.5585 before issue 18 + gpu-l4-karpenter 8 x 0.8048 + gpu-a100-reserved
    # 2 x 27.44705 + gpu-h100-efa 2 x 55.04.
    assert round(sum((p.price_usd_per_node_hour or 0) * p.max_size for p in PROD.pools), 4) == 226.971


def test_capacity_report_output_is_the_planner_markdown(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    demands = release_demands(parse_spec(raw_stack("prod")), PROD.pools)
    assert [d.name for d in demands] == [
        "llama3-8b/v1",
        "llama3-8b/v2",
        "llama3-8b/v2/surge",
        "embeddings/v3",
        "embeddings/v4",
        "embeddings/v3/surge",
        "reranker/v1",
        "reranker/v1/surge",
    ]
    assert p.outputs["capacityReport"] == capacity.render_markdown(gpu_layer.plan_capacity(PROD, demands))
    assert "| llama3-8b/v2/surge | model llama3-8b at " in p.outputs["capacityReport"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_report_md_has_capacity_per_pool_and_cost(stack: str, plan: Callable[[str], Plan]) -> None:
    report = report_markdown(plan(stack).data)
    assert "## Capacity" in report and "### Cost (USD per hour, on-demand)" in report
    for pool in parse_spec(raw_stack(stack)).node_pools:
        assert f"### Pool {pool.name}\n" in report
    # The model releases' worst rollout steps are the plan's demands (stacks/workloads/capacity.py).
    if stack == "prod":
        assert "| nvidia.com/mig-3g.20gb | 8 | 0 | 8 | [----------] 0% |" in report  # the MIG node opened for 1g/2g
        assert "| **total** | 3 | $0.58 | 10 | $29.40 |" in report
    else:  # dev's one release: stable + surge, one whole L4 each
        assert "| nvidia.com/gpu | 1 | 2 | 2 | [##########] 100% |" in report
        assert "| **total** | 2 | $0.19 | 4 | $1.80 |" in report


def test_extra_demands_are_planned_and_priced() -> None:
    llm = Demand(
        "llm-3g", "chat", 9, {"nvidia.com/mig-3g.20gb": 1, "cpu": 4, "memory": 32}, tolerations=(GPU_TOLERATION,)
    )
    plan = gpu_layer.plan_capacity(PROD, [llm])
    assert plan.fits
    assert plan.demands[0].placements == {"gpu-a100-mig": 9}
    mig_use = next(p for p in plan.pools if p.name == "gpu-a100-mig")
    assert mig_use.nodes_used == 2  # 8 x 3g.20gb per node
    p4d = _pool("gpu-a100-mig").price_usd_per_node_hour
    assert plan.usd_per_hour_at_peak == pytest.approx(0.576 + 2 * p4d)
    out = gpu_layer.capacity_output(PROD, plan)["pools"]["gpu-a100-mig"]
    assert out["utilisation"]["nvidia.com/mig-3g.20gb"] == round(9 / 16, 4)
    too_many = gpu_layer.plan_capacity(
        PROD, [Demand("llm-3g", "chat", 17, llm.requests, tolerations=(GPU_TOLERATION,))]
    )
    assert too_many.demands[0].fixes == ("raise nodePools[gpu-a100-mig].maxSize from 2 to 3",)


def test_time_sliced_replicas_count_against_the_shared_gpu() -> None:
    small = Demand(
        "embed",
        "search",
        10,
        {"nvidia.com/gpu": 1, "cpu": 0.5, "memory": 2},
        node_selector={"gpu-platform.io/pool": "gpu-l4-shared"},
        tolerations=(GPU_TOLERATION,),
    )
    plan = gpu_layer.plan_capacity(PROD, [small])
    use = next(p for p in plan.pools if p.name == "gpu-l4-shared")
    assert (plan.demands[0].placements, use.nodes_used) == ({"gpu-l4-shared": 10}, 3)  # 4 replicas per L4


def test_bottlerocket_pools_bring_their_own_device_plugin() -> None:
    raw = mutate(raw_stack("prod"), "nodePools.1.amiType", "BOTTLEROCKET_x86_64_NVIDIA")
    pools = gpu_layer.gpu_pools(_facts(raw))
    assert {p.name: p.os_ships_device_plugin for p in pools} == {
        "gpu-a10g": True,
        "gpu-l4-shared": False,
        "gpu-a100-mig": False,
        "gpu-l4-karpenter": False,
        "gpu-a100-reserved": False,
        "gpu-h200-block": False,
        "gpu-h100-efa": False,
    }
