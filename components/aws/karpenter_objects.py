"""The Karpenter objects of one pool, as plain data: an EC2NodeClass (how a node is launched) and a NodePool
(which nodes, how many, and how they are disrupted). Pure Python, so tests validate them against the CRDs
of the pinned chart and admit them into a real API server (tests/component/test_karpenter.py).

From the pool's `PoolShape` (components/scheduling.py) — the same labels and taints as a managed node
group of the same shape, so the NVIDIA DaemonSets, the model releases and the capacity check see no
difference — and its catalog instance types (docs/karpenter.md#nodepool):

- requirements: exactly the pool's instance types, its capacity types (spot first when both: Karpenter
  launches the cheapest offering, and spot is cheaper), its architecture and the stack's zones;
- limits: the shape's `node_limits` (maxSize nodes of the largest type, per resource);
- disruption: GPU pools consolidate only when a node is empty (a model pod is never moved to save money),
  CPU pools also when underutilised; a budget of one node at a time; no `terminationGracePeriod`, so a
  drain waits for every PodDisruptionBudget instead of evicting a model below it after a timeout;
- EC2NodeClass: the AMI family of the pool's amiType (checked against the instance by the spec, as for
  managed node groups), IMDSv2 with hop limit 1, an encrypted gp3 root volume, the cluster security group
  and the private subnets by selector terms (tags), the Karpenter node role, and a reservation pool's
  ODCR / Capacity Block by id (the NodePool then launches only `reserved` capacity in its zone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.gpu.catalog import InstanceType
from components.scheduling import PoolShape

NODEPOOL_API = "karpenter.sh/v1"
NODECLASS_API = "karpenter.k8s.aws/v1"
ROOT_DEVICE = "/dev/xvda"
# Node lifetime: nodes are replaced (drained, PDBs honoured) after 30 days, so AMIs and kernels stay fresh.
EXPIRE_AFTER = "720h"
CONSOLIDATE_AFTER = "10m"
# `reserved`: an ODCR or Capacity Block the EC2NodeClass selects (capacityReservationSelectorTerms; the chart's
# reservedCapacity feature gate, on in 1.14.1), preferred over spot and on-demand.
CAPACITY_TYPE_ORDER = ("reserved", "spot", "on-demand")


def ami_alias(ami_type: str) -> str:
    """Karpenter's AMI alias for an EKS AMI type: the family (al2023 or bottlerocket); Karpenter picks the
    NVIDIA variant of the family for GPU instances itself. `@latest`: Karpenter's drift replaces nodes
    (disruption budget: one at a time) when EKS publishes a new AMI."""
    family = "bottlerocket" if ami_type.startswith("BOTTLEROCKET") else "al2023"
    return f"{family}@latest"


def _arch(inst: InstanceType) -> str:
    return "amd64" if inst.arch == "x86_64" else "arm64"


def _quantity(resource: str, value: float) -> str:
    if resource == "memory_gib":
        return f"{int(value)}Gi"
    return str(int(value))


def limits(shape: PoolShape) -> dict[str, str]:
    names = {"memory_gib": "memory"}
    return {names.get(r, r): _quantity(r, v) for r, v in sorted(shape.node_limits.items())}


def node_class(
    name: str,
    *,
    role_name: str,
    ami_type: str,
    subnet_terms: Sequence[Mapping[str, Any]],
    security_group_terms: Sequence[Mapping[str, Any]],
    disk_size_gib: int,
    tags: Mapping[str, str],
    capacity_reservation_ids: Sequence[str] = (),
) -> dict[str, Any]:
    reservations = (
        {"capacityReservationSelectorTerms": [{"id": r} for r in capacity_reservation_ids]}
        if capacity_reservation_ids
        else {}
    )
    return {
        "apiVersion": NODECLASS_API,
        "kind": "EC2NodeClass",
        "metadata": {"name": name},
        "spec": {
            "role": role_name,
            "amiSelectorTerms": [{"alias": ami_alias(ami_type)}],
            "subnetSelectorTerms": [dict(t) for t in subnet_terms],
            "securityGroupSelectorTerms": [dict(t) for t in security_group_terms],
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpProtocolIPv6": "disabled",
                "httpPutResponseHopLimit": 1,  # a pod cannot reach the node role's credentials
                "httpTokens": "required",
            },
            "blockDeviceMappings": [
                {
                    "deviceName": ROOT_DEVICE,
                    "ebs": {
                        "volumeSize": f"{disk_size_gib}Gi",
                        "volumeType": "gp3",
                        "encrypted": True,
                        "deleteOnTermination": True,
                    },
                }
            ],
            "detailedMonitoring": True,
            "tags": dict(sorted(tags.items())),
            **reservations,
        },
    }


def node_pool(
    name: str,
    shape: PoolShape,
    *,
    instance_types: Sequence[str],
    capacity_types: Sequence[str],
    zones: Sequence[str],
    node_class_name: str,
) -> dict[str, Any]:
    ordered = [c for c in CAPACITY_TYPE_ORDER if c in capacity_types]
    gpu = shape.is_gpu
    return {
        "apiVersion": NODEPOOL_API,
        "kind": "NodePool",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": dict(sorted(shape.labels().items()))},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class_name},
                    "requirements": [
                        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": list(instance_types)},
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ordered},
                        {"key": "kubernetes.io/arch", "operator": "In", "values": [_arch(shape.instance)]},
                        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(zones)},
                    ],
                    "taints": [
                        {"key": t.key, "effect": t.effect, **({"value": t.value} if t.value else {})}
                        for t in shape.taints()
                    ],
                    "expireAfter": EXPIRE_AFTER,
                },
            },
            "limits": limits(shape),
            "disruption": {
                # GPU nodes: only empty ones go (moving a loaded model costs minutes of warm-up); CPU nodes
                # are also packed tighter when underutilised.
                "consolidationPolicy": "WhenEmpty" if gpu else "WhenEmptyOrUnderutilized",
                "consolidateAfter": CONSOLIDATE_AFTER,
                "budgets": [{"nodes": "1"}],
            },
        },
    }
