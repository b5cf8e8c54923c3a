"""GpuNetwork: AwsNetwork (components/aws/network.py) with TypedDict args, for other languages.

No `from __future__ import annotations`: the schema analyzer reads the `args` annotation as a live type.
"""

from enum import Enum
from typing import NotRequired, TypedDict

import pulumi

from components.aws.network import AwsNetwork, AwsNetworkArgs


class NatGateways(str, Enum):  # noqa: UP042 -- the schema analyzer (pulumi.provider) reads str+Enum
    # An Enum, not a Literal: the schema analyzer maps Enums to schema enums and rejects Literals.
    SINGLE = "single"
    """One NAT gateway in the first zone (cheaper; dev)."""
    PER_ZONE = "perZone"
    """One NAT gateway per zone: a zone outage keeps egress (prod)."""


class GpuNetworkArgs(TypedDict):
    # Plain (not Input) values on purpose: subnets are planned from the CIDR and zones before any
    # resource is registered (nothing that shapes the graph waits on an output: docs/design.md#graph-shape).
    clusterName: str
    """Used in Name tags and the kubernetes.io/cluster/<name> subnet tag."""
    vpcCidr: str
    """VPC CIDR; private node subnets take the first blocks, public subnets a small block at the end."""
    zones: list[str]
    """Availability zones, at least two."""
    natGateways: NotRequired[NatGateways]
    """Default: single."""
    tags: NotRequired[dict[str, str]]
    """Extra tags on every resource."""


class GpuNetwork(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    """The VPC id."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnets (nodes), one per zone."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Public subnets (NAT gateways, internet-facing load balancers), one per zone."""

    def __init__(self, name: str, args: GpuNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplatform:index:GpuNetwork", name, None, opts)
        net = AwsNetwork(
            name,
            AwsNetworkArgs(
                cluster_name=args["clusterName"],
                vpc_cidr=args["vpcCidr"],
                zones=tuple(args["zones"]),
                nat_gateways="perZone" if args.get("natGateways") == NatGateways.PER_ZONE else "single",
                tags=dict(args.get("tags", {})),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.vpc_id = net.vpc.id
        self.private_subnet_ids = net.private_subnet_ids
        self.public_subnet_ids = net.public_subnet_ids
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
            }
        )
