"""Reservations (issue 18): a pool launches into an ODCR or a Capacity Block through its launch template,
its node group is pinned to the reservation's zone, and the capacity check and report count what the
reservation holds (components/aws/node_pool.py, components/gpu/reservations.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from components.gpu import capacity, reservations
from components.scheduling import pool_shape
from tests.conftest import Plan
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import config_from_raw
from tools.offline.runner import run_stack

LT = "aws:ec2/launchTemplate:LaunchTemplate"
NG = "aws:eks/nodeGroup:NodeGroup"
BLOCK = {
    "name": "gpu-h100-block",
    "instanceTypes": ["p5.48xlarge"],
    "maxSize": 2,
    "diskSizeGib": 500,
    "reservation": {
        "type": "capacity-block",
        "id": "cr-0123456789abcdef0",
        "instanceType": "p5.48xlarge",
        "zone": "us-west-2b",
        "count": 2,
    },
}


# The same Capacity Block taken by a Karpenter pool (EC2NodeClass capacityReservationSelectorTerms).
KARPENTER_BLOCK = {**BLOCK, "name": "gpu-h100-kblock", "provisioner": "karpenter"}


@functools.cache
def block_plan() -> Plan:
    raw = raw_stack("dev")
    raw = mutate(raw, "nodePools", [*raw["nodePools"], BLOCK, KARPENTER_BLOCK])
    return Plan(run_stack("dev-block", config=config_from_raw(raw, "dev-block")))


def test_odcr_pool_targets_its_reservation(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    lt = p.one(LT, "gpu-prod-gpu-a100-reserved-lt")["inputs"]
    assert lt["capacityReservationSpecification"] == {
        "capacityReservationTarget": {"capacityReservationId": "cr-0a1b2c3d4e5f60718"}
    }
    assert "instanceMarketOptions" not in lt and "instanceType" not in lt
    ng = p.one(NG, "gpu-prod-gpu-a100-reserved-ng")["inputs"]
    assert (ng["capacityType"], ng["instanceTypes"]) == ("ON_DEMAND", ["p4de.24xlarge"])


def test_capacity_block_pool_uses_the_capacity_block_market() -> None:
    p = block_plan()
    lt = p.one(LT, "gpu-dev-gpu-h100-block-lt")["inputs"]
    assert lt["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert lt["instanceType"] == "p5.48xlarge"
    assert lt["capacityReservationSpecification"] == {
        "capacityReservationTarget": {"capacityReservationId": "cr-0123456789abcdef0"}
    }
    ng = p.one(NG, "gpu-dev-gpu-h100-block-ng")["inputs"]
    # EKS takes the instance type from the launch template for CAPACITY_BLOCK node groups.
    assert ng["capacityType"] == "CAPACITY_BLOCK" and "instanceTypes" not in ng
    # Other pools are untouched.
    assert "capacityReservationSpecification" not in p.one(LT, "gpu-dev-gpu-l4-lt")["inputs"]


def test_capacity_counts_reserved_nodes_and_the_report_shows_them() -> None:
    shape = pool_shape(
        "aws", "gpu-h100-block", "p5.48xlarge", reserved_nodes=2, reservation="capacity-block cr-0123 in us-west-2b"
    )
    cap = reservations.pool_capacity(shape, 0, 5)
    assert cap.max_nodes == 2  # a targeted reservation does not spill over
    assert cap.note == "reserved 2 nodes (capacity-block cr-0123 in us-west-2b)"
    report = capacity.render_markdown(capacity.plan([cap], []))
    assert (
        "nodes: min 0, max 2, used at peak 0 · $55.04/node-hour · reserved 2 nodes (capacity-block cr-0123 in us-west-2b)"
        in report
    )
    plain = reservations.pool_capacity(pool_shape("aws", "gpu", "p5.48xlarge"), 0, 5)
    assert (plain.max_nodes, plain.note) == (5, "")


def test_karpenter_pool_launches_only_into_its_reservation() -> None:
    p = block_plan()
    (node_class,) = p.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    assert node_class["inputs"]["spec"]["capacityReservationSelectorTerms"] == [{"id": "cr-0123456789abcdef0"}]
    (node_pool,) = p.of_type("kubernetes:karpenter.sh/v1:NodePool")
    reqs = {r["key"]: r["values"] for r in node_pool["inputs"]["spec"]["template"]["spec"]["requirements"]}
    assert reqs["karpenter.sh/capacity-type"] == ["reserved"]
    assert reqs["topology.kubernetes.io/zone"] == ["us-west-2b"]
    assert reqs["node.kubernetes.io/instance-type"] == ["p5.48xlarge"]
    assert node_pool["inputs"]["spec"]["limits"]["nvidia.com/gpu"] == "16"  # maxSize 2 x 8 GPUs
