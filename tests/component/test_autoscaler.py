"""Cluster autoscaler: chart values and flags, priority expander by price, IRSA role limited by tags, #8095 policy."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from components.aws import cluster_autoscaler as autoscaler
from components.scheduling import AWS_ACCELERATOR_LABEL, GPU_RESOURCE, pool_shape
from stacks.spec.base import KUBERNETES_VERSIONS
from tests.conftest import Plan

CHART = "kubernetes:helm.sh/v4:Chart"
TAG = "aws:autoscaling/tag:Tag"
TEMPLATE = "k8s.io/cluster-autoscaler/node-template"
UUID = "1ec6b4d3-9a7f-4c2e-8b1d-0f5e6a7b8c9d"


def _values(p: Plan, cluster: str) -> dict[str, Any]:
    return p.one(CHART, f"{cluster}-cluster-autoscaler")["inputs"]["values"]


def test_image_tag_matches_every_supported_kubernetes_minor() -> None:
    assert sorted(autoscaler.IMAGE_TAGS) == sorted(KUBERNETES_VERSIONS)
    for minor, tag in autoscaler.IMAGE_TAGS.items():
        assert re.fullmatch(rf"v{re.escape(minor)}\.\d+", tag), (minor, tag)
    with pytest.raises(
        ValueError, match=r"no cluster-autoscaler image for Kubernetes 1.30; known: 1.31, 1.32, 1.33, 1.34"
    ):
        autoscaler.image_tag("1.30")


def test_prod_chart_values_and_flags(plan: Callable[[str], Plan]) -> None:
    chart = plan("prod").one(CHART, "gpu-prod-cluster-autoscaler")["inputs"]
    assert (chart["chart"], chart["version"], chart["namespace"]) == ("cluster-autoscaler", "9.59.0", "kube-system")
    values = chart["values"]
    assert values["image"] == {"repository": "registry.k8s.io/autoscaling/cluster-autoscaler", "tag": "v1.33.6"}
    assert values["cloudProvider"] == "aws" and values["awsRegion"] == "us-east-1"
    assert values["autoDiscovery"] == {
        "clusterName": "gpu-prod",
        "tags": ["k8s.io/cluster-autoscaler/enabled", "k8s.io/cluster-autoscaler/gpu-prod"],
    }
    assert values["extraArgs"] == {
        "aws-use-static-instance-list": False,
        "balance-similar-node-groups": False,
        "expander": "priority,least-waste",
        "ignore-daemonsets-utilization": True,
        "max-node-provision-time": "20m",
        "scale-down-delay-after-add": "10m",
        "scale-down-gpu-utilization-threshold": 0.5,
        "scale-down-unneeded-time": "10m",
        "scale-down-utilization-threshold": 0.5,
        "skip-nodes-with-local-storage": False,
        "skip-nodes-with-system-pods": True,
    }
    assert values["rbac"] == {"serviceAccount": {"create": False, "name": "cluster-autoscaler"}}
    assert "gpu-total" not in values["extraArgs"]  # GKE only (CA flag help); per-ASG max sizes bound GPUs on EKS


def test_prod_priorities_prefer_cheaper_gpu_pools(plan: Callable[[str], Plan]) -> None:
    prio = yaml.safe_load(_values(plan("prod"), "gpu-prod")["expanderPriorities"])
    pattern = autoscaler.node_group_pattern
    # catalog $/node-hour: g6.xlarge 0.8048 < g5.2xlarge 1.212 < p4d.24xlarge 21.958 < p4de.24xlarge 27.447 <
    # p5.48xlarge 55.04; system is CPU only; the Karpenter pool gpu-l4-karpenter has no node group to rank;
    # the Capacity Block pool gpu-h200-block has no price (p5e: none on demand, the block's is set at purchase)
    # and shares the floor.
    assert prio == {
        1: [pattern("gpu-prod", "gpu-h200-block"), pattern("gpu-prod", "system")],
        10: [pattern("gpu-prod", "gpu-h100-efa")],
        20: [pattern("gpu-prod", "gpu-a100-reserved")],
        30: [pattern("gpu-prod", "gpu-a100-mig")],
        40: [pattern("gpu-prod", "gpu-a10g")],
        50: [pattern("gpu-prod", "gpu-l4-shared")],
    }


def test_node_group_patterns_match_their_asg_and_no_other() -> None:
    # ASG names as EKS builds them: eks-<node group name prefix + generated suffix>-<uuid>.
    asgs = {
        pool: f"eks-gpu-prod-{pool}-20261122040506789000000001-{UUID}" for pool in ("gpu-l4", "gpu-l4-shared", "system")
    }
    for pool, asg in asgs.items():
        matching = [p for p in asgs if re.search(autoscaler.node_group_pattern("gpu-prod", p), asg)]
        assert matching == [pool]
    assert not re.search(autoscaler.node_group_pattern("gpu-dev", "gpu-l4"), asgs["gpu-l4"])


def test_priority_of_unpriced_gpu_pools_is_the_floor() -> None:
    priced = pool_shape("aws", "cheap", "g6.xlarge")
    unpriced = pool_shape("aws", "nop", "p5e.48xlarge")
    assert unpriced.instance.price_usd_per_hour is None
    assert autoscaler.priorities("c", [unpriced, priced]) == {
        1: [autoscaler.node_group_pattern("c", "nop")],
        10: [autoscaler.node_group_pattern("c", "cheap")],
    }


def test_iam_policy_writes_only_to_owned_node_groups(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    policy = json.loads(
        p.one("aws:iam/rolePolicy:RolePolicy", "gpu-prod-cluster-autoscaler-inline")["inputs"]["policy"]
    )
    assert policy == json.loads(autoscaler.permissions_policy("gpu-prod", "us-east-1"))
    stmts = {s["Sid"]: s for s in policy["Statement"]}
    assert stmts["ScaleOwnedNodeGroups"] == {
        "Sid": "ScaleOwnedNodeGroups",
        "Effect": "Allow",
        "Resource": "*",
        "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
        "Condition": {
            "StringEquals": {
                "aws:ResourceTag/k8s.io/cluster-autoscaler/gpu-prod": "owned",
                "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
            }
        },
    }
    read = stmts["DescribeScalingInputs"]
    assert read["Resource"] == "*" and "Condition" not in read
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in read["Action"])
    assert stmts["DescribeOwnNodeGroups"]["Resource"] == "arn:aws:eks:us-east-1:*:nodegroup/gpu-prod/*/*"
    aws_provider = p.one("pulumi:providers:aws", "aws")["urn"]
    assert all(
        r["provider"] == aws_provider
        for r in p.resources
        if r["type"].startswith("aws:iam/") and "cluster-autoscaler" in r["name"]
    )
    writes = [
        a
        for s in policy["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if not a.split(":")[1].startswith(("Describe", "Get"))
    ]
    assert sorted(writes) == sorted(autoscaler.WRITE_ACTIONS)


def test_role_trusts_only_the_autoscaler_service_account(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    role = p.one("aws:iam/role:Role", "gpu-prod-cluster-autoscaler-role")["inputs"]
    assert role["description"] == "irsa role for kube-system/cluster-autoscaler"
    assert role["assumeRolePolicy"] == "<computed>"  # built from the OIDC provider ARN, known after apply
    issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"
    provider = "arn:aws:iam::444455556666:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
    assert json.loads(autoscaler.trust_policy(provider, issuer)) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
                        "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }
    sa = p.one("kubernetes:core/v1:ServiceAccount", "gpu-prod-cluster-autoscaler")["inputs"]
    assert sa["metadata"]["name"] == "cluster-autoscaler" and sa["metadata"]["namespace"] == "kube-system"
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "<computed>"}
    chart = p.one(CHART, "gpu-prod-cluster-autoscaler")
    assert (
        p.one("kubernetes:core/v1:ServiceAccount", "gpu-prod-cluster-autoscaler")["urn"]
        in chart["options"]["dependsOn"]
    )


def test_dev_uses_the_clusters_minor_and_the_spec_scale_down_keys(plan: Callable[[str], Plan]) -> None:
    values = _values(plan("dev"), "gpu-dev")
    assert values["image"]["tag"] == autoscaler.IMAGE_TAGS["1.33"]
    prio = yaml.safe_load(values["expanderPriorities"])
    assert prio == {
        1: [autoscaler.node_group_pattern("gpu-dev", "system")],
        10: [autoscaler.node_group_pattern("gpu-dev", "gpu-l4")],
    }


# ----------------------------------------------------------------------------------------------------
# kubernetes/autoscaler#8095: the accelerator-label policy per sharing mode, end to end on the plans


def _templates(p: Plan, cluster: str, pool: str) -> dict[str, str]:
    prefix = f"{cluster}-{pool}-asg-"
    return {
        r["inputs"]["tag"]["key"].removeprefix(TEMPLATE + "/"): r["inputs"]["tag"]["value"]
        for r in p.of_type(TAG)
        if r["name"].startswith(prefix) and r["inputs"]["tag"]["key"].startswith(TEMPLATE)
    }


@pytest.mark.parametrize(
    ("pool", "labelled", "resources"),
    [
        ("gpu-a10g", True, {"nvidia.com/gpu": "1"}),  # whole GPUs
        ("gpu-l4-shared", True, {"nvidia.com/gpu": "4"}),  # time-slicing keeps nvidia.com/gpu (1 GPU x 4)
        (
            "gpu-a100-mig",
            False,
            {
                "nvidia.com/mig-1g.5gb": "16",
                "nvidia.com/mig-2g.10gb": "8",
                "nvidia.com/mig-3g.20gb": "8",
                "nvidia.com/gpu": "0",
            },
        ),  # MIG mixed: 8 GPUs x all-balanced
    ],
)
def test_accelerator_label_policy_per_sharing_mode(
    pool: str, labelled: bool, resources: dict[str, str], plan: Callable[[str], Plan]
) -> None:
    p = plan("prod")
    ng = next(r for r in p.of_type("aws:eks/nodeGroup:NodeGroup") if r["name"] == f"gpu-prod-{pool}-ng")
    labels = ng["inputs"]["labels"]
    tmpl = _templates(p, "gpu-prod", pool)
    assert (AWS_ACCELERATOR_LABEL in labels) is labelled
    assert (f"label/{AWS_ACCELERATOR_LABEL}" in tmpl) is labelled
    if labelled:
        assert labels[AWS_ACCELERATOR_LABEL] == labels["gpu-platform.io/gpu-model"]
    assert {k.removeprefix("resources/"): v for k, v in tmpl.items() if k.startswith("resources/")} == resources
    # With the label, CA waits for nvidia.com/gpu: so every labelled pool must advertise some.
    assert (int(resources.get(GPU_RESOURCE, "0")) > 0) is labelled


def test_mig_single_pools_keep_the_label_because_they_advertise_nvidia_gpu() -> None:
    single = pool_shape("aws", "h100", "p5.48xlarge", sharing="mig", mig_strategy="single", mig_layout="all-1g.10gb")
    mixed = pool_shape("aws", "h100m", "p5.48xlarge", sharing="mig", mig_strategy="mixed", mig_layout="all-1g.10gb")
    assert single.sets_accelerator_label and single.gpu_resources == {GPU_RESOURCE: 56}
    assert not mixed.sets_accelerator_label and mixed.gpu_resources == {"nvidia.com/mig-1g.10gb": 56}


# ----------------------------------------------------------------------------------------------------
# Which scale-down threshold judges which pool, and nothing to balance
# (docs/gpu.md#cluster-autoscaler-and-the-accelerator-label-policy-kubernetesautoscaler8095)


SCALE_DOWN_OPTION = "autoscaling-options/scaledownutilizationthreshold"


@pytest.mark.parametrize(
    ("pool", "threshold"),
    [
        ("system", None),  # CPU pool: the global --scale-down-utilization-threshold (0.5)
        ("gpu-a10g", None),  # labelled GPU pools: --scale-down-gpu-utilization-threshold
        ("gpu-l4-shared", None),
        ("gpu-a100-mig", "1.0"),  # MIG mixed: no GPU node to CA, its own plain threshold
    ],
)
def test_mig_mixed_pools_carry_their_own_plain_scale_down_threshold(
    pool: str, threshold: str | None, plan: Callable[[str], Plan]
) -> None:
    p = plan("prod")
    tmpl = _templates(p, "gpu-prod", pool)
    assert tmpl.get(SCALE_DOWN_OPTION) == threshold
    ng = next(r for r in p.of_type("aws:eks/nodeGroup:NodeGroup") if r["name"] == f"gpu-prod-{pool}-ng")
    # CA applies the GPU threshold only to nodes with the accelerator label or nvidia.com/gpu allocatable
    # (GetNodeGpuConfig); a mixed-MIG node has neither, so the plain threshold judges it.
    if threshold is not None:
        assert AWS_ACCELERATOR_LABEL not in ng["inputs"]["labels"]
        assert _templates(p, "gpu-prod", pool)["resources/nvidia.com/gpu"] == "0"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_similar_node_groups_to_balance(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    values = _values(p, f"gpu-{stack}")
    assert values["extraArgs"]["balance-similar-node-groups"] is False
    # ... because every pool is one node group over all the stack's private subnets (one per zone)
    groups = p.of_type("aws:eks/nodeGroup:NodeGroup")
    pools = {g["inputs"]["labels"]["gpu-platform.io/pool"] for g in groups}
    assert len(pools) == len(groups)
