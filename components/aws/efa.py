"""EFA for a managed node group pool: every EFA interface the instance offers, and the security group EFA
traffic needs (docs/karpenter.md#efa).

- Interfaces: one per network card, `components.gpu.catalog.InstanceType.efa_interfaces` (p4d 4, p5 32;
  catalog.yaml names the source). The first is an `efa` interface at device index 0 (it carries the node's
  IP traffic); the others sit at device index 1 of network cards 1..n-1, `efa-only` where the instance
  supports it (`efa_only_secondary`, p5-class: no IP address, no VPC addresses spent) and `efa` otherwise.
- Security group: EFA's OS-bypass traffic (SRD) is not IP and matches no port rule: the interfaces need a
  group that allows all traffic from and to itself. Custom interfaces replace the ENI EKS would put in
  the cluster security group, so the interfaces get the cluster group too.
- The cluster placement group (one per pool, one zone) is created by components/aws/node_pool.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.gpu.catalog import InstanceType


def interface_types(instance: InstanceType) -> list[str]:
    """The interface type per network card, card 0 first."""
    n = instance.efa_interfaces
    if n < 1:
        raise ValueError(f"{instance.name} has no EFA")
    secondary = "efa-only" if instance.efa_only_secondary else "efa"
    return ["efa", *([secondary] * (n - 1))]


def network_interfaces(
    instance: InstanceType, security_group_ids: Sequence[pulumi.Input[str]]
) -> list[aws.ec2.LaunchTemplateNetworkInterfaceArgs]:
    return [
        aws.ec2.LaunchTemplateNetworkInterfaceArgs(
            device_index=0 if card == 0 else 1,
            network_card_index=card,
            interface_type=kind,
            delete_on_termination="true",
            security_groups=list(security_group_ids),
        )
        for card, kind in enumerate(interface_types(instance))
    ]


def efa_security_group(
    name: str, *, vpc_id: pulumi.Input[str], tags: Mapping[str, str], opts: pulumi.ResourceOptions
) -> aws.ec2.SecurityGroup:
    """All traffic from and to the group itself, nothing else (EFA needs both directions)."""
    return aws.ec2.SecurityGroup(
        f"{name}-efa",
        description="EFA: all traffic between the pool's EFA interfaces",
        vpc_id=vpc_id,
        ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="-1", from_port=0, to_port=0, self=True)],
        egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, self=True)],
        tags=dict(tags),
        opts=opts,
    )
