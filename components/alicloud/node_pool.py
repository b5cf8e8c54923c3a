"""AckNodePool: one ACK node pool (cs.NodePool) from a cloud-neutral PoolShape.

Labels and taints come from components/scheduling (PoolShape.labels() / taints()), exactly as the EKS
node pools get them, so model releases, the NVIDIA DaemonSets and the capacity planner select the same
nodes on both clouds. On top, GPU pools carry ACK's driver pin `ack.aliyun.com/nvidia-driver-version`:
ACK installs the NVIDIA driver and its own device plugin on GPU nodes itself.

Scaling belongs to ACK's managed autoscaler (components/alicloud/autoscaling.py): the pool declares
min/max with `scaling_config.enable`, never a node count, so scaling never shows as a diff. GPU pools
use scaling type `gpu` and may sit at 0 nodes (scale-up-from-zero).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_alicloud as alicloud

from components.scheduling import PoolShape

# Node-pool label that pins the NVIDIA driver ACK installs on new nodes (ACK docs "Pin the NVIDIA
# driver via node-pool label"). Applies to nodes added after the change only.
NVIDIA_DRIVER_LABEL = "ack.aliyun.com/nvidia-driver-version"
IMAGE_TYPE = "AliyunLinux3"  # ACK's GPU driver installer supports it; CentOS/Alinux2 are end of life
DISK_CATEGORY = "cloud_essd"


@dataclass(frozen=True, slots=True)
class AckNodePoolArgs:
    cluster_id: pulumi.Input[str]
    shape: PoolShape
    vswitch_ids: pulumi.Input[Sequence[str]]
    """One per zone; the pool spreads over them."""
    instance_types: tuple[str, ...]
    """Ordered fallback list: ACK tries the first type, then the next when a zone is out of stock."""
    disk_size_gib: int
    """System disk; GPU pools get a data disk of the same size for container images."""
    kms_key_id: pulumi.Input[str]
    """Encrypts the system and data disks."""
    min_size: int = 0
    max_size: int = 2
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    nvidia_driver_version: str | None = None
    """GPU pools: the driver version label. Required for GPU pools."""
    tags: Mapping[str, str] = field(default_factory=dict)


def node_labels(shape: PoolShape, nvidia_driver_version: str | None) -> dict[str, str]:
    """The scheduling module's labels, plus the ACK driver pin on GPU pools."""
    labels = shape.labels()
    if shape.is_gpu:
        if not nvidia_driver_version:
            raise ValueError(f"pool {shape.name}: a GPU pool needs nvidia_driver_version")
        labels[NVIDIA_DRIVER_LABEL] = nvidia_driver_version
    return dict(sorted(labels.items()))


def scaling_type(shape: PoolShape, capacity_type: str) -> str:
    """ACK scaling-group type: `gpu` for GPU pools (GPU-aware scale-up), `spot` for CPU spot pools."""
    if shape.is_gpu:
        return "gpu"
    return "spot" if capacity_type == "SPOT" else "cpu"


class AckNodePool(pulumi.ComponentResource):
    node_pool: alicloud.cs.NodePool

    def __init__(self, name: str, args: AckNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:alicloud:NodePool", name, None, opts)
        shape = args.shape
        spot = args.capacity_type == "SPOT"
        self.node_pool = alicloud.cs.NodePool(
            f"{name}-pool",
            cluster_id=args.cluster_id,
            node_pool_name=shape.name,  # set explicitly: otherwise the deprecated `name` gets an auto-name
            vswitch_ids=args.vswitch_ids,
            instance_types=list(args.instance_types),
            instance_charge_type="PostPaid",  # scale-in releases only pay-as-you-go instances
            image_type=IMAGE_TYPE,
            system_disk_category=DISK_CATEGORY,
            system_disk_performance_level="PL1",
            system_disk_size=args.disk_size_gib,
            system_disk_encrypted=True,
            system_disk_kms_key=args.kms_key_id,
            system_disk_encrypt_algorithm="aes-256",
            data_disks=[
                {
                    "category": DISK_CATEGORY,
                    "performance_level": "PL1",
                    "size": args.disk_size_gib,
                    "encrypted": "true",
                    "kms_key_id": args.kms_key_id,
                }
            ]
            if shape.is_gpu
            else [],
            # Metadata only with a token (the IMDSv2 equivalent): a pod cannot lift the node's RAM role
            # credentials with a plain GET.
            instance_metadata_options={"http_tokens": "required"},
            scaling_config={
                "enable": True,  # explicit: a zero-valued scaling_config once re-enabled/disabled scaling (#3821)
                "min_size": args.min_size,
                "max_size": args.max_size,
                "type": scaling_type(shape, args.capacity_type),
            },
            # Spot: cheapest pools across zones, on-demand when spot runs out; on-demand: spread evenly.
            multi_az_policy="COST_OPTIMIZED" if spot else "BALANCE",
            spot_strategy="SpotAsPriceGo" if spot else "NoSpot",
            compensate_with_on_demand=True if spot else None,
            spot_instance_remedy=True if spot else None,
            labels=[{"key": k, "value": v} for k, v in node_labels(shape, args.nvidia_driver_version).items()],
            taints=[{"key": t.key, "value": t.value, "effect": t.effect} for t in shape.taints()],
            # Managed pool: ACK repairs NotReady nodes (restart first) and patches CVEs without
            # rebooting; kubelet upgrades stay ours (they follow the pinned cluster version).
            management={
                "enable": True,
                "auto_repair": True,
                "auto_repair_policy": {"restart_node": True},
                "auto_upgrade": False,
                "auto_vul_fix": True,
                "auto_vul_fix_policy": {"vul_level": "asap", "restart_node": False},
                "max_unavailable": 1,
            },
            tags=dict(args.tags),
            # ACK rejects a second pool with the same name in a cluster ("nodepool name ... is already
            # exist", terraform-provider-alicloud#6502): on replacement delete the old pool first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs(
            {"nodePoolId": self.node_pool.node_pool_id, "scalingGroupId": self.node_pool.scaling_group_id}
        )
