"""ACK node pools and the managed autoscaler under the plan runner: instance fallback lists, scaling,
labels/taints identical to components/scheduling, GPU scaling type, encrypted disks, spot, repair."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.alicloud.autoscaling import SERVICE_TRUST
from components.alicloud.node_pool import NVIDIA_DRIVER_LABEL
from stacks.spec.parse import parse_spec
from stacks.spec.pools import pool_shape
from tests.conftest import Plan
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import config_from_raw
from tools.offline.runner import run_stack

POOL = "alicloud:cs/nodePool:NodePool"
AUTOSCALING = "alicloud:cs/autoscalingConfig:AutoscalingConfig"


def _pools(p: Plan) -> dict[str, dict[str, Any]]:
    return {r["inputs"]["nodePoolName"]: r for r in p.of_type(POOL)}


@pytest.mark.parametrize("stack", ["alicloud-dev", "alicloud-prod"])
def test_labels_and_taints_are_the_scheduling_modules(plan: Callable[[str], Plan], stack: str) -> None:
    spec = parse_spec(raw_stack(stack))
    pools = _pools(plan(stack))
    assert sorted(pools) == sorted(p.name for p in spec.node_pools)
    for pool in spec.node_pools:
        shape = pool_shape(spec, pool)
        inputs = pools[pool.name]["inputs"]
        labels = {lab["key"]: lab["value"] for lab in inputs["labels"]}
        expected = shape.labels()
        if shape.is_gpu:
            expected[NVIDIA_DRIVER_LABEL] = "550.144.03"  # charts/ack.yaml pin
        assert labels == expected
        assert inputs["taints"] == [{"key": t.key, "value": t.value, "effect": t.effect} for t in shape.taints()]


def test_gpu_pool_scales_from_zero_as_gpu_type(plan: Callable[[str], Plan]) -> None:
    pools = _pools(plan("alicloud-dev"))
    gpu = pools["gpu-a10"]
    i = gpu["inputs"]
    # The spec's ordered list is ACK's fallback order.
    assert i["instanceTypes"] == ["ecs.gn7i-c8g1.2xlarge", "ecs.gn7i-c16g1.4xlarge"]
    assert i["scalingConfig"] == {"enable": True, "minSize": 0, "maxSize": 2, "type": "gpu"}
    assert "desiredSize" not in i and "nodeCount" not in i  # the autoscaler owns the count
    assert {lab["key"]: lab["value"] for lab in i["labels"]}["gpu-platform.io/gpu-model"] == "a10"
    assert i["taints"][0] == {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    assert i["instanceChargeType"] == "PostPaid" and i["spotStrategy"] == "NoSpot"
    system = pools["system"]["inputs"]
    assert system["scalingConfig"] == {"enable": True, "minSize": 2, "maxSize": 3, "type": "cpu"}
    assert system["taints"] == [] and system["dataDisks"] == []
    assert NVIDIA_DRIVER_LABEL not in {lab["key"] for lab in system["labels"]}


def test_disks_are_encrypted_with_the_cluster_key(plan: Callable[[str], Plan]) -> None:
    for r in plan("alicloud-prod").of_type(POOL):
        i = r["inputs"]
        assert i["systemDiskEncrypted"] is True and i["systemDiskKmsKey"] == "<computed>"
        assert i["systemDiskCategory"] == "cloud_essd"
        assert all(d["encrypted"] == "true" and d["kmsKeyId"] == "<computed>" for d in i["dataDisks"])
        assert i["instanceMetadataOptions"] == {"httpTokens": "required"}
    pools = _pools(plan("alicloud-prod"))
    assert pools["gpu-a100-mig"]["inputs"]["systemDiskSize"] == 500  # spec diskSizeGib
    assert pools["gpu-a10"]["inputs"]["systemDiskSize"] == 200  # GPU default (stacks/spec/pools.disk_size_gib)
    assert pools["system"]["inputs"]["systemDiskSize"] == 50
    assert pools["gpu-a10"]["inputs"]["dataDisks"][0]["size"] == 200


def test_pools_are_managed_and_replaced_delete_first(plan: Callable[[str], Plan]) -> None:
    for r in plan("alicloud-prod").of_type(POOL):
        m = r["inputs"]["management"]
        assert m["enable"] is True and m["autoRepair"] is True and m["autoRepairPolicy"] == {"restartNode": True}
        assert m["autoUpgrade"] is False
        # ACK rejects a duplicate pool name, so create-before-delete replacement would fail.
        assert r["options"]["deleteBeforeReplace"] is True


def test_spot_pool(plan: Callable[[str], Plan]) -> None:
    i = _pools(plan("alicloud-prod"))["gpu-l20-spot"]["inputs"]
    assert i["spotStrategy"] == "SpotAsPriceGo"
    assert i["multiAzPolicy"] == "COST_OPTIMIZED" and i["compensateWithOnDemand"] is True
    assert i["scalingConfig"]["type"] == "gpu"
    assert i["instanceTypes"] == ["ecs.gn8is.2xlarge", "ecs.gn8is.4xlarge"]


def test_mig_pool_is_bare_metal_and_carries_the_mig_config(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-prod")
    i = _pools(p)["gpu-a100-mig"]["inputs"]
    assert i["instanceTypes"] == ["ecs.ebmgn7e.32xlarge"]
    labels = {lab["key"]: lab["value"] for lab in i["labels"]}
    assert labels["nvidia.com/mig.config"] == "all-balanced-a100-80gb"
    assert labels["gpu-platform.io/gpu-sharing"] == "mig"
    assert [d["message"] for d in p.data["diagnostics"] if "MIG on ACK" in d["message"]] == [
        "nodePools[gpu-a100-mig]: MIG on ACK is partitioned by ACK, not by this platform; the pool carries "
        "nvidia.com/mig.config for the scheduler and planner, but enable MIG mode and the layout with ACK's MIG "
        "node-pool guide before scheduling MIG workloads"
    ]


def test_managed_autoscaler_is_gpu_aware(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-dev")
    ca = p.one(AUTOSCALING)
    assert ca["inputs"] == {
        "clusterId": "<computed>",
        "scalerType": "cluster-autoscaler",
        "expander": "least-waste",
        "scaleUpFromZero": True,
        "scaleDownEnabled": True,
        "scanInterval": "30s",
        "unneededDuration": "10m",
        "coolDownDuration": "10m",
        "gpuUtilizationThreshold": "0.5",
        "utilizationThreshold": "0.5",
        "skipNodesWithLocalStorage": False,
        "skipNodesWithSystemPods": True,
        "daemonsetEvictionForNodes": False,
        "maxGracefulTerminationSec": 3600,
    }
    # After the pools: the config names scaling groups that must exist.
    assert ca["options"]["dependsOn"] == sorted(r["urn"] for r in p.of_type(POOL))
    assert not p.of_type("alicloud:ram/role:Role")  # account roles: opt-in only


def test_autoscaler_follows_spec_and_can_create_service_roles() -> None:
    raw = mutate(
        raw_stack("alicloud-dev"),
        "addons.clusterAutoscaler",
        {"scaleDownUnneededTime": "20m", "scaleDownGpuUtilizationThreshold": 0.25},
    )
    raw = mutate(raw, "cluster.alicloud", {"createServiceRoles": True})
    p = Plan(run_stack("ali-roles", config=config_from_raw(raw, "ali-roles")))
    ca = p.one(AUTOSCALING)["inputs"]
    assert (ca["unneededDuration"], ca["gpuUtilizationThreshold"]) == ("20m", "0.25")
    roles = {r["inputs"]["roleName"]: r["inputs"] for r in p.of_type("alicloud:ram/role:Role")}
    assert sorted(roles) == ["AliyunCSManagedAutoScalerRole", "AliyunCSManagedNlcRole"]
    assert all(r["assumeRolePolicyDocument"] == SERVICE_TRUST for r in roles.values())
    attachments = {
        r["inputs"]["policyName"]: r["inputs"]["policyType"]
        for r in p.of_type("alicloud:ram/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attachments == {"AliyunCSManagedAutoScalerRolePolicy": "System", "AliyunCSManagedNlcRolePolicy": "System"}


def test_autoscaler_off_registers_no_config() -> None:
    raw = mutate(raw_stack("alicloud-dev"), "addons.clusterAutoscaler", {"enabled": False})
    p = Plan(run_stack("ali-noca", config=config_from_raw(raw, "ali-noca")))
    assert not p.of_type(AUTOSCALING)
