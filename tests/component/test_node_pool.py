"""Node pools: hardened launch templates, managed node groups, autoscaler ASG tags, EFA, determinism."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pytest

from components.aws.asg_tags import autoscaler_tags
from stacks.spec.parse import parse_spec
from stacks.spec.pools import pool_shapes
from tests.conftest import Plan
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import config_from_raw
from tools.offline.runner import run_stack

LT = "aws:ec2/launchTemplate:LaunchTemplate"
NG = "aws:eks/nodeGroup:NodeGroup"
TAG = "aws:autoscaling/tag:Tag"
AMI = {
    "dev": {"system": "AL2023_x86_64_STANDARD", "gpu-l4": "AL2023_x86_64_NVIDIA"},
    "prod": {
        "system": "AL2023_x86_64_STANDARD",
        "gpu-a10g": "AL2023_x86_64_NVIDIA",
        "gpu-l4-shared": "AL2023_x86_64_NVIDIA",
        "gpu-a100-mig": "AL2023_x86_64_NVIDIA",
        "gpu-a100-reserved": "AL2023_x86_64_NVIDIA",
        "gpu-h200-block": "AL2023_x86_64_NVIDIA",
        "gpu-h100-efa": "AL2023_x86_64_NVIDIA",
    },
}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}


def _by_pool(p: Plan, type_: str, suffix: str) -> dict[str, dict[str, Any]]:
    prefix = f"gpu-{p.data['stack']}-"
    return {r["name"][len(prefix) : -len(suffix)]: r for r in p.of_type(type_) if r["name"].endswith(suffix)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_launch_template_is_hardened(stack: str, plan: Callable[[str], Plan]) -> None:
    lts = _by_pool(plan(stack), LT, "-lt")
    assert sorted(lts) == sorted(AMI[stack])
    for pool, r in lts.items():
        i = r["inputs"]
        assert i["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
            "instanceMetadataTags": "disabled",
        }
        (bdm,) = i["blockDeviceMappings"]
        gpu = pool != "system"
        size = (
            500
            if pool in ("gpu-a100-mig", "gpu-a100-reserved", "gpu-h200-block", "gpu-h100-efa")
            else (200 if gpu else 50)
        )
        assert bdm == {
            "deviceName": "/dev/xvda",
            "ebs": {"deleteOnTermination": "true", "encrypted": "true", "volumeSize": size, "volumeType": "gp3"},
        }
        assert "keyName" not in i and "iamInstanceProfile" not in i and "userData" not in i
        assert [t["resourceType"] for t in i["tagSpecifications"]] == ["instance", "volume", "network-interface"]
        assert i["namePrefix"] == f"gpu-{stack}-{pool}-"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_node_groups_follow_the_pool_shape(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    spec = parse_spec(raw_stack(stack))
    shapes = {s.name: s for s in pool_shapes(spec)}
    pools = {pool.name: pool for pool in spec.node_pools}
    ngs = _by_pool(p, NG, "-ng")
    assert sorted(ngs) == sorted(AMI[stack])
    for name, r in ngs.items():
        i = r["inputs"]
        gpu = name != "system"
        assert i["amiType"] == AMI[stack][name]
        res = pools[name].reservation
        if res is not None and res.type == "capacity-block":
            # EKS takes a Capacity Block with the instance type in the launch template (test_reservations.py).
            assert "instanceTypes" not in i and i["capacityType"] == "CAPACITY_BLOCK"
        else:
            assert i["instanceTypes"] == list(pools[name].instance_types) and i["capacityType"] == "ON_DEMAND"
        assert i["version"] == "1.33"
        assert i["nodeGroupNamePrefix"] == f"gpu-{stack}-{name}-" and "nodeGroupName" not in i
        assert i["scalingConfig"] == {
            "minSize": pools[name].min_size,
            "maxSize": pools[name].max_size,
            "desiredSize": pools[name].min_size,
        }
        assert r["options"]["ignoreChanges"] == ["scalingConfig.desiredSize"]
        assert r["options"]["deleteBeforeReplace"] is False
        assert i["labels"] == shapes[name].labels()
        assert i["taints"] == ([GPU_TAINT] if gpu else [])
        if gpu:
            assert i["updateConfig"] == {"maxUnavailable": 1, "updateStrategy": "MINIMAL"}
            assert i["nodeRepairConfig"] == {"enabled": True}
        else:
            assert i["updateConfig"] == {"maxUnavailablePercentage": 33}
            assert "nodeRepairConfig" not in i
        assert "diskSize" not in i and "remoteAccess" not in i  # owned by the launch template


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_asg_tags_match_the_pool_shape(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    spec = parse_spec(raw_stack(stack))
    tags = p.of_type(TAG)
    efa = {pool.name for pool in spec.node_pools if pool.efa}
    for shape in pool_shapes(spec):
        if shape.provisioner == "karpenter":  # no node group, no ASG: tests/component/test_karpenter.py
            continue
        prefix = f"gpu-{stack}-{shape.name}-asg-"
        mine = {r["inputs"]["tag"]["key"]: r for r in tags if r["name"].startswith(prefix)}
        want = autoscaler_tags(f"gpu-{stack}", shape, efa=shape.name in efa)
        assert {k: r["inputs"]["tag"]["value"] for k, r in mine.items()} == want
        efa_tag = mine.get("k8s.io/cluster-autoscaler/node-template/resources/vpc.amazonaws.com/efa")
        # prod's EFA pool (p5.48xlarge): all 32 interfaces, so CA scales it from zero for EFA pods.
        assert (efa_tag and efa_tag["inputs"]["tag"]["value"]) == ("32" if shape.name in efa else None)
        for r in mine.values():
            assert r["inputs"]["tag"]["propagateAtLaunch"] is False
            assert r["inputs"]["autoscalingGroupName"] == "<computed>"  # from the node group's ASG
            assert r["parent"].endswith(f"gpu-platform:aws:NodePool::gpu-{stack}-{shape.name}")


def test_prod_mig_pool_can_scale_from_zero_on_mig_slices(plan: Callable[[str], Plan]) -> None:
    values = {
        r["inputs"]["tag"]["key"]: r["inputs"]["tag"]["value"]
        for r in plan("prod").of_type(TAG)
        if r["name"].startswith("gpu-prod-gpu-a100-mig-asg-")
    }
    ca = "k8s.io/cluster-autoscaler"
    assert values[f"{ca}/node-template/resources/nvidia.com/mig-1g.5gb"] == "16"
    assert values[f"{ca}/node-template/taint/nvidia.com/gpu"] == "present:NoSchedule"
    assert values[f"{ca}/gpu-prod"] == "owned" and values[f"{ca}/enabled"] == "true"


@functools.cache
def efa_plan() -> Plan:
    raw = mutate(mutate(raw_stack("prod"), "nodePools.3.efa", True), "registry.replicationRegions", ["us-west-2"])
    return Plan(run_stack("prod-efa", config=config_from_raw(raw, "prod-efa")))


def test_efa_pool_gets_interfaces_placement_group_and_one_zone() -> None:
    p = efa_plan()
    groups = {pg["name"]: pg["inputs"]["strategy"] for pg in p.of_type("aws:ec2/placementGroup:PlacementGroup")}
    # One per EFA pool: the mutated MIG pool and prod's own EFA pool (tests/component/test_efa.py).
    assert groups == {"gpu-prod-gpu-a100-mig-placement": "cluster", "gpu-prod-gpu-h100-efa-placement": "cluster"}
    lt = p.one(LT, "gpu-prod-gpu-a100-mig-lt")["inputs"]
    assert lt["placement"] == {"groupName": "<computed>"}
    # p4d: 4 network cards, each an `efa` interface (no efa-only on p4d), in the cluster and the EFA group.
    assert lt["networkInterfaces"] == [
        {
            "deleteOnTermination": "true",
            "deviceIndex": 0 if card == 0 else 1,
            "interfaceType": "efa",
            "networkCardIndex": card,
            "securityGroups": ["<computed>", "<computed>"],
        }
        for card in range(4)
    ]
    # Other pools are untouched.
    assert "networkInterfaces" not in p.one(LT, "gpu-prod-gpu-a10g-lt")["inputs"]


def test_replication_adds_configuration_and_hardened_creation_template() -> None:
    p = efa_plan()
    rep = p.one("aws:ecr/replicationConfiguration:ReplicationConfiguration")["inputs"]
    (rule,) = rep["replicationConfiguration"]["rules"]
    assert rule["destinations"] == [{"region": "us-west-2", "registryId": "123456789012"}]
    assert rule["repositoryFilters"] == [{"filter": "gpu-prod/", "filterType": "PREFIX_MATCH"}]
    tpl = p.one("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")["inputs"]
    assert tpl["region"] == "us-west-2" and tpl["appliedFors"] == ["REPLICATION"]
    assert tpl["imageTagMutability"] == "IMMUTABLE" and tpl["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert json.loads(tpl["lifecyclePolicy"])["rules"][0]["selection"]["tagStatus"] == "untagged"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_replanning_is_deterministic(stack: str, plan: Callable[[str], Plan]) -> None:
    again = run_stack(stack)
    assert json.dumps(again, sort_keys=True) == json.dumps(plan(stack).data, sort_keys=True)
