"""Karpenter (issue 18): prod's `provisioner: karpenter` pool becomes a NodePool + EC2NodeClass, the
controller's chart, IAM, node role, access entry and interruption queue exist with the right inputs, and
the objects validate against the CRDs of the pinned module (docs/karpenter.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from components.aws import karpenter_iam
from components.aws.cluster_autoscaler import priorities
from components.aws.interruption import INTERRUPTION_EVENTS
from components.gpu import reservations
from components.helm import pin
from components.scheduling import pool_shape as catalog_shape
from stacks.spec.parse import parse_spec
from stacks.spec.pools import pool_shapes
from tests.conftest import Plan
from tests.karpenter_fixtures import prod_node_class, prod_objects, prod_pools_only
from tests.validators import schemas

NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
RELEASE = "kubernetes:helm.sh/v3:Release"
POOL = "gpu-l4-karpenter"


def _shape(name: str = POOL) -> Any:
    (shape,) = [s for s in pool_shapes(parse_spec(prod_pools_only())) if s.name == name]
    return shape


def test_karpenter_pool_is_a_nodepool_not_a_node_group(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    assert not [r for r in p.of_type("aws:eks/nodeGroup:NodeGroup") if POOL in r["name"]]
    spec = p.one(NODEPOOL)["inputs"]["spec"]
    shape = _shape()
    tmpl = spec["template"]["spec"]
    assert spec["template"]["metadata"]["labels"] == shape.labels()
    reqs = {r["key"]: r["values"] for r in tmpl["requirements"]}
    assert reqs == {
        "node.kubernetes.io/instance-type": ["g6.xlarge", "g6.2xlarge"],
        "karpenter.sh/capacity-type": ["spot", "on-demand"],
        "kubernetes.io/arch": ["amd64"],
        "kubernetes.io/os": ["linux"],
        "topology.kubernetes.io/zone": ["us-east-1a", "us-east-1b", "us-east-1c"],
    }
    assert tmpl["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert tmpl["nodeClassRef"] == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": POOL}
    # maxSize 8 of the largest type (g6.2xlarge: 8 vCPU, 32 GiB, 1 GPU).
    assert spec["limits"] == {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": "8"}
    # GPU pool: only empty nodes are consolidated, one at a time; no grace period that overrides PDBs.
    assert spec["disruption"] == {
        "consolidationPolicy": "WhenEmpty",
        "consolidateAfter": "10m",
        "budgets": [{"nodes": "1"}],
    }
    assert "terminationGracePeriod" not in tmpl
    # Created after (so destroyed before) the controller that serves their finalizers, and after the CRDs.
    deps = p.one(NODEPOOL)["options"]["dependsOn"]
    assert any(d.endswith("::karpenter") for d in deps) and any(d.endswith("::karpenter-crd") for d in deps)


def test_ec2nodeclass_is_hardened_and_uses_the_karpenter_node_role(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    spec = p.one(NODECLASS)["inputs"]["spec"]
    assert spec["amiSelectorTerms"] == [{"alias": "al2023@latest"}]
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert spec["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {"volumeSize": "200Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True},
        }
    ]
    # Karpenter adds kubernetes.io/cluster/<cluster>=owned itself; the CRD refuses it in spec.tags.
    assert spec["tags"]["gpu-platform/pool"] == POOL and not any(k.startswith("kubernetes.io/") for k in spec["tags"])
    # Known at plan time: the node role by its fixed name, subnets and security group by their tags.
    assert spec["role"] == "gpu-prod-karpenter-node"
    assert p.one("aws:iam/role:Role", "gpu-prod-karpenter-node-role")["inputs"]["name"] == "gpu-prod-karpenter-node"
    assert spec["subnetSelectorTerms"] == [
        {"tags": {"kubernetes.io/cluster/gpu-prod": "shared", "kubernetes.io/role/internal-elb": "1"}}
    ]
    assert spec["securityGroupSelectorTerms"] == [{"tags": {"aws:eks:cluster-name": "gpu-prod"}}]
    # The private subnets carry exactly those tags (the public ones have kubernetes.io/role/elb instead).
    private = [r["inputs"]["tags"] for r in p.of_type("aws:ec2/subnet:Subnet") if "-private-" in r["name"]]
    assert len(private) == 3 and all(t.items() >= spec["subnetSelectorTerms"][0]["tags"].items() for t in private)
    (entry,) = [r for r in p.of_type("aws:eks/accessEntry:AccessEntry") if "karpenter" in r["name"]]
    assert entry["inputs"]["type"] == "EC2_LINUX" and entry["inputs"]["clusterName"] == "gpu-prod"


def test_controller_charts_are_pinned_on_the_system_pool_with_irsa(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    rels = {r["inputs"]["name"]: r["inputs"] for r in p.of_type(RELEASE)}
    for name in ("karpenter", "karpenter-crd"):
        assert (rels[name]["chart"], rels[name]["version"]) == (f"oci://public.ecr.aws/karpenter/{name}", "1.14.1")
        assert pin(name).version == "1.14.1" and rels[name]["namespace"] == "kube-system"
    values = rels["karpenter"]["values"]
    assert values["nodeSelector"] == {"kubernetes.io/os": "linux", "gpu-platform.io/pool": "system"}
    assert values["settings"] == {"clusterName": "gpu-prod", "interruptionQueue": "gpu-prod-karpenter"}
    assert values["serviceAccount"] == {"create": False, "name": "karpenter"}
    sa = p.one("kubernetes:core/v1:ServiceAccount", "gpu-prod-karpenter-service-account")["inputs"]["metadata"]
    assert sa["annotations"] == {"eks.amazonaws.com/role-arn": "<computed>"}
    role = p.one("aws:iam/role:Role", "gpu-prod-karpenter-controller-role")["inputs"]
    assert role["description"] == "irsa role for kube-system/karpenter"


def test_interruption_queue_and_its_five_rules(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    q = p.one("aws:sqs/queue:Queue")["inputs"]
    assert (q["name"], q["sqsManagedSseEnabled"], q["messageRetentionSeconds"]) == ("gpu-prod-karpenter", True, 300)
    patterns = {
        json.dumps(json.loads(r["inputs"]["eventPattern"]), sort_keys=True)
        for r in p.of_type("aws:cloudwatch/eventRule:EventRule")
        if "karpenter" in r["name"]
    }
    assert patterns == {
        json.dumps({"detail-type": [d], "source": [s]}, sort_keys=True) for s, d in INTERRUPTION_EVENTS.values()
    }
    assert len([r for r in p.of_type("aws:cloudwatch/eventTarget:EventTarget") if "karpenter" in r["name"]]) == 5
    # Named <queue>-<event>: at most 30 + 10 + 12 characters, inside EventBridge's 64 for any cluster name.
    names = {r["inputs"]["name"] for r in p.of_type("aws:cloudwatch/eventRule:EventRule") if "karpenter" in r["name"]}
    assert names == {f"gpu-prod-karpenter-{k}" for k in INTERRUPTION_EVENTS}


def test_controller_policy_is_scoped_to_the_cluster() -> None:
    doc = json.loads(
        karpenter_iam.controller_policy(
            partition="aws",
            region="us-east-1",
            account_id="123456789012",
            cluster_name="gpu-prod",
            node_role_arn="arn:aws:iam::123456789012:role/nodes",
            queue_arn="arn:aws:sqs:us-east-1:123456789012:gpu-prod-karpenter",
        )
    )
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["PassNodeRoleToEc2"]["Resource"] == "arn:aws:iam::123456789012:role/nodes"
    assert by_sid["TerminateOnlyOurs"]["Condition"]["StringEquals"] == {
        "aws:ResourceTag/kubernetes.io/cluster/gpu-prod": "owned"
    }
    assert by_sid["LaunchOnlyTaggedAsOurs"]["Condition"]["StringEquals"] == {
        "aws:RequestTag/kubernetes.io/cluster/gpu-prod": "owned"
    }
    assert by_sid["InterruptionQueue"]["Action"] == ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]
    assert by_sid["DescribeThisCluster"]["Resource"] == "arn:aws:eks:us-east-1:123456789012:cluster/gpu-prod"
    wildcard = [s["Sid"] for s in doc["Statement"] if s["Resource"] == "*"]
    assert wildcard == ["ReadOnlyLookups", "ListInstanceProfiles", "Pricing"]  # no resource-level permissions


def objects(shape: Any, capacity_types: tuple[str, ...]) -> list[dict[str, Any]]:
    return prod_objects(shape, capacity_types, zones=("us-east-1a", "us-east-1b"))


def test_objects_validate_against_the_module_crds() -> None:
    crds = schemas.karpenter_module_crds()
    assert crds, "run `bash scripts/fetch-karpenter.sh` to fetch the karpenter-provider-aws module"
    assert {("karpenter.sh", "v1", "NodePool"), ("karpenter.k8s.aws", "v1", "EC2NodeClass")} <= set(crds)
    for obj in objects(_shape(), ("on-demand", "spot")):
        assert schemas.errors(obj, "1.33") == [], obj["kind"]
    reserved = prod_node_class(
        "gpu-reserved", disk_size_gib=500, tags={}, capacity_reservation_ids=("cr-0123456789abcdef0",)
    )
    assert reserved["spec"]["capacityReservationSelectorTerms"] == [{"id": "cr-0123456789abcdef0"}]
    assert schemas.errors(reserved, "1.33") == []


def test_an_unknown_field_fails_the_module_crd_schema() -> None:
    bad = objects(_shape(), ("spot",))[1]
    bad["spec"]["disruption"]["consolidateWhenIdle"] = True
    assert any("consolidateWhenIdle" in e for e in schemas.errors(bad, "1.33"))


def test_capacity_types_are_rendered_spot_first() -> None:
    pool = objects(_shape(), ("on-demand", "spot"))[1]
    (ct,) = [r for r in pool["spec"]["template"]["spec"]["requirements"] if r["key"] == "karpenter.sh/capacity-type"]
    assert ct["values"] == ["spot", "on-demand"]


def test_capacity_plan_reads_limits_and_the_cheapest_type() -> None:
    shape = _shape()
    assert shape.instance.name == "g6.xlarge"  # 0.8048 $/h beats g6.2xlarge's 0.9776
    cap = reservations.pool_capacity(shape, 0, 8)
    assert (cap.max_nodes, cap.price_usd_per_node_hour) == (8, 0.8048)
    assert cap.note == (
        "karpenter limits cpu 64, memory_gib 256, nvidia.com/gpu 8: 8 nodes of g6.xlarge (cheapest type)"
    )
    # A CPU pool is limited by CPU and memory only: the cheapest (smaller) type fits more nodes than maxSize.
    cpu = catalog_shape(
        "aws", "cpu", "m6i.xlarge", provisioner="karpenter", node_limits={"cpu": 16.0, "memory_gib": 64.0}
    )
    assert reservations.pool_capacity(cpu, 0, 2).max_nodes == 4


def test_the_cluster_autoscaler_does_not_rank_karpenter_pools() -> None:
    shapes = pool_shapes(parse_spec(prod_pools_only()))
    patterns = [pat for pats in priorities("gpu-prod", shapes).values() for pat in pats]
    assert len(patterns) == len([s for s in shapes if s.provisioner == "cluster-autoscaler"])
    assert not [pat for pat in patterns if POOL in pat]
