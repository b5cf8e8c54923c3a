"""Prod's Karpenter pool and the EC2NodeClass + NodePool built for it outside a Pulumi program: shared by the
module-CRD schema tests (tests/component/test_karpenter.py) and the API-server admission tests
(tests/apiserver/test_karpenter_admission.py), so both check the same objects."""

from __future__ import annotations

from typing import Any

from components.aws import karpenter_objects
from components.aws.karpenter import EKS_CLUSTER_SG_TAG
from components.aws.network import private_subnet_tags
from tests.spec_helpers import mutate, raw_stack


def prod_pools_only() -> dict[str, Any]:
    """Prod's stack file without its models and add-ons: pool shapes depend on nodePools alone."""
    return mutate(mutate(raw_stack("prod"), "models"), "addons")


def prod_node_class(
    name: str,
    *,
    disk_size_gib: int = 200,
    tags: dict[str, str] | None = None,
    capacity_reservation_ids: tuple[str, ...] = (),
) -> dict[str, Any]:
    """An EC2NodeClass with gpu-prod's node role, AMI family, subnet and security-group selectors."""
    return karpenter_objects.node_class(
        name,
        role_name="gpu-prod-karpenter-node",
        ami_type="AL2023_x86_64_NVIDIA",
        subnet_terms=[{"tags": private_subnet_tags("gpu-prod")}],
        security_group_terms=[{"tags": {EKS_CLUSTER_SG_TAG: "gpu-prod"}}],
        disk_size_gib=disk_size_gib,
        tags={"gpu-platform/pool": name} if tags is None else tags,
        capacity_reservation_ids=capacity_reservation_ids,
    )


def prod_objects(shape: Any, capacity_types: tuple[str, ...], zones: tuple[str, ...]) -> list[dict[str, Any]]:
    """[EC2NodeClass, NodePool] of one pool shape, the NodePool over g6.xlarge and g6.2xlarge."""
    return [
        prod_node_class(shape.name),
        karpenter_objects.node_pool(
            shape.name,
            shape,
            instance_types=("g6.xlarge", "g6.2xlarge"),
            capacity_types=capacity_types,
            zones=zones,
            node_class_name=shape.name,
        ),
    ]
