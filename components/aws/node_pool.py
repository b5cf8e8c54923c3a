"""NodePool: one EKS managed node group (system or GPU) with its own hardened launch template.

Driven by a `components.scheduling.PoolShape`, so the labels, taints and GPU resources of the nodes, the
autoscaler's scale-from-zero template and the workloads' selectors come from the same place.

What it sets, and why (peers in brackets):
- launch template always (pulumi-eks only builds one for a few options, so IMDS and disk encryption
  stay uncontrolled): IMDSv2 required with hop limit 1, so pods cannot reach the node role's
  credentials [terraform-aws-eks: same; pulumi-eks: off, hop limit 2 when on]; encrypted gp3 root volume
  [terraform-aws-eks: not forced; pulumi-eks: unencrypted gp2]; no SSH key; tags on instances, volumes
  and ENIs; optional EFA (every interface, its security group, a cluster placement group:
  components/aws/efa.py) and an ODCR / Capacity Block target (docs/karpenter.md#reservations).
- managed node group: AMI type, capacity type, instance types, labels, taints, `update_config`
  [pulumi-eks: none, #1147], node auto-repair on GPU pools [pulumi-eks: none]; `desiredSize` ignored so
  the cluster autoscaler owns it; a name prefix so a replacement is created before the old group goes.
- `aws.autoscaling.Tag` on the group's ASG for cluster-autoscaler discovery and scale-from-zero
  [pulumi-eks#658 open; terraform-aws-eks: none] (components/aws/asg_tags.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.aws import efa as efa_parts
from components.aws.asg_tags import NODE_GROUP_NAME_PREFIX_MAX, autoscaler_tags
from components.cost.estimate import CAPACITY_BLOCK_PRICE_TAG
from components.scheduling import PoolShape

# The autoscaler owns the node count; without this every `pulumi up` would reset it (pulumi-eks#321,
# terraform-aws-eks#2961). Engine path (camelCase): the SDK translates only top-level names.
NODE_GROUP_IGNORE_CHANGES = ("scalingConfig.desiredSize",)
ROOT_DEVICE = "/dev/xvda"  # root device of the AL2023 and Bottlerocket EKS AMIs' first volume


@dataclass(frozen=True, slots=True)
class CapacityReservation:
    """The ODCR or Capacity Block every node of the pool launches into (docs/karpenter.md#reservations)."""

    type: Literal["odcr", "capacity-block"]
    id: str
    instance_type: str
    usd_per_hour: float | None = None
    """A Capacity Block's price paid per hour, every instance together (the spec's upfrontFee / durationHours):
    recorded as a launch-template tag the cost estimate reads from the plan (docs/cost.md#capacity-blocks)."""


@dataclass(frozen=True, slots=True)
class NodePoolArgs:
    cluster_name: pulumi.Input[str]
    """Name of the EKS cluster (an Output, so the group waits for the cluster)."""
    autoscaler_cluster_name: str
    """The cluster's name as a plain string, for the `k8s.io/cluster-autoscaler/<cluster>` tag."""
    shape: PoolShape
    node_role_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets. EFA pools are pinned to the first one (a cluster placement group is one zone)."""
    ami_type: str
    """EKS AMI type, checked against the instance family by stacks/spec/pools.py."""
    instance_types: tuple[str, ...]
    disk_size_gib: int
    min_size: int
    max_size: int
    capacity_type: str = "ON_DEMAND"
    efa: bool = False
    """Every EFA interface of the instance (catalog `efa_interfaces`: p4d 4, p5 32), an EFA security group and
    a cluster placement group (components/aws/efa.py)."""
    cluster_security_group_id: pulumi.Input[str] | None = None
    """Needed only with EFA: custom interfaces replace the ENI that EKS would put in the cluster SG."""
    vpc_id: pulumi.Input[str] | None = None
    """Needed only with EFA: the VPC of the EFA security group."""
    zone_index: int | None = None
    """Pin the pool to the private subnet of this zone (index into subnet_ids): a reservation's zone, or the
    first zone for an EFA pool (a cluster placement group is one zone). None: every zone."""
    reservation: CapacityReservation | None = None
    kubernetes_version: str | None = None
    depends_on: Sequence[pulumi.Resource] = ()
    """What the node group must wait for (the CNI/kube-proxy add-ons). Explicit on the node group itself:
    a component's own depends_on does not hold back its children."""
    tags: Mapping[str, str] = field(default_factory=dict)


class NodePool(pulumi.ComponentResource):
    shape: PoolShape
    launch_template: aws.ec2.LaunchTemplate
    node_group: aws.eks.NodeGroup
    placement_group: aws.ec2.PlacementGroup | None
    efa_security_group: aws.ec2.SecurityGroup | None
    asg_name: pulumi.Output[str]

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:NodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        shape = args.shape
        self.shape = shape
        node_tags = {**args.tags, "Name": name, "gpu-platform/pool": shape.name}

        self.placement_group = None
        self.efa_security_group = None
        placement = None
        network_interfaces = None
        subnet_ids: pulumi.Input[Sequence[str]] = args.subnet_ids
        zone_index = args.zone_index if args.zone_index is not None else (0 if args.efa else None)
        if zone_index is not None:
            subnet_ids = pulumi.Output.from_input(args.subnet_ids).apply(lambda ids: [list(ids)[zone_index]])
        if args.efa:
            if args.cluster_security_group_id is None or args.vpc_id is None:
                raise ValueError(f"{name}: efa needs cluster_security_group_id and vpc_id")
            # All nodes of an EFA pool in one low-latency cluster placement group, one zone.
            self.placement_group = aws.ec2.PlacementGroup(
                f"{name}-placement", strategy="cluster", tags=node_tags, opts=child
            )
            placement = aws.ec2.LaunchTemplatePlacementArgs(group_name=self.placement_group.name)
            self.efa_security_group = efa_parts.efa_security_group(name, vpc_id=args.vpc_id, tags=node_tags, opts=child)
            network_interfaces = efa_parts.network_interfaces(
                shape.instance, [args.cluster_security_group_id, self.efa_security_group.id]
            )
        res = args.reservation
        capacity_block = res is not None and res.type == "capacity-block"

        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            name_prefix=f"{name}-",
            description=f"EKS node pool {shape.name}",
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",  # IMDSv2 only
                http_put_response_hop_limit=1,  # a pod (one hop further) cannot read the node's credentials
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",  # strings in this SDK; default aws/ebs key unless the account sets one
                        delete_on_termination="true",
                    ),
                )
            ],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            network_interfaces=network_interfaces,
            placement=placement,
            # A reservation: launch only into it (targeted); a Capacity Block also needs its market type and,
            # as EKS wants it for CAPACITY_BLOCK node groups, the instance type in the template.
            capacity_reservation_specification=(
                aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs(
                    capacity_reservation_target=aws.ec2.LaunchTemplateCapacityReservationSpecificationCapacityReservationTargetArgs(
                        capacity_reservation_id=res.id
                    )
                )
                if res is not None
                else None
            ),
            instance_market_options=(
                aws.ec2.LaunchTemplateInstanceMarketOptionsArgs(market_type="capacity-block")
                if capacity_block
                else None
            ),
            instance_type=res.instance_type if res is not None and capacity_block else None,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=node_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            # The template's own tags (not the instances'): the price paid for its Capacity Block, so the plan
            # carries what the price book cannot know (components/cost/estimate.py reads it).
            tags=(
                {**args.tags, CAPACITY_BLOCK_PRICE_TAG: f"{res.usd_per_hour:.6f}"}
                if res is not None and capacity_block and res.usd_per_hour is not None
                else args.tags
            ),
            opts=child,
        )

        gpu = shape.is_gpu
        ng_prefix = f"{name}-"
        if len(ng_prefix) > NODE_GROUP_NAME_PREFIX_MAX:
            # The provider appends a 26-character suffix and EKS caps the name at 63 characters.
            raise ValueError(
                f"{name}: node group name prefix {ng_prefix!r} is longer than "
                f"{NODE_GROUP_NAME_PREFIX_MAX} characters (EKS node group names are at most 63)"
            )
        self.node_group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            # Prefix, not a fixed name: a replacement (new AMI type, instance types, subnets) is created
            # before the old group is deleted, and the two cannot collide.
            node_group_name_prefix=ng_prefix,
            node_role_arn=args.node_role_arn,
            subnet_ids=subnet_ids,
            ami_type=args.ami_type,
            capacity_type="CAPACITY_BLOCK" if capacity_block else args.capacity_type,
            instance_types=None if capacity_block else list(args.instance_types),
            version=args.kubernetes_version,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)
            ),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.min_size, max_size=args.max_size, desired_size=args.min_size
            ),
            # GPUs are scarce: replace one node at a time, old node first (MINIMAL), so an update never
            # needs twice the GPU quota. CPU pools roll a third at a time.
            update_config=(
                aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1, update_strategy="MINIMAL")
                if gpu
                else aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33)
            ),
            node_repair_config=aws.eks.NodeGroupNodeRepairConfigArgs(enabled=True) if gpu else None,
            labels=shape.labels(),
            taints=[
                aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value or None, effect=t.eks_effect)
                for t in shape.taints()
            ],
            tags={**args.tags, "gpu-platform/pool": shape.name},
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=list(NODE_GROUP_IGNORE_CHANGES), depends_on=list(args.depends_on)
            ),
        )

        self.asg_name = self.node_group.resources.apply(_asg_name)
        for key, value in autoscaler_tags(args.autoscaler_cluster_name, shape, efa=args.efa).items():
            aws.autoscaling.Tag(
                f"{name}-asg-{key.removeprefix('k8s.io/cluster-autoscaler/')}",
                autoscaling_group_name=self.asg_name,
                tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                opts=child,
            )
        self.register_outputs(
            {
                "nodeGroupName": self.node_group.node_group_name,
                "launchTemplateId": self.launch_template.id,
                "asgName": self.asg_name,
            }
        )


def _asg_name(resources: Sequence[aws.eks.outputs.NodeGroupResource]) -> str:
    groups = resources[0].autoscaling_groups if resources else None
    return (groups[0].name or "") if groups else ""
