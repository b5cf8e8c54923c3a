"""AlicloudNetwork: VPC, node (and Terway pod) vSwitches per zone, enhanced NAT gateway(s) with EIP and
SNAT, and a route table per zone sending egress through its NAT.

The CIDRs and the NAT layout come from the cloud-neutral plan (components/network_plan.py), the same
one the AWS network uses, so one spec gives the same address plan on both clouds:

- zone i's private block holds the nodes — with Terway cut in halves, nodes | pods, because Terway gives
  every pod a VPC address from a pod vSwitch in the node's zone;
- zone i's public block becomes a small `nat` vSwitch that holds only the NAT gateway (an enhanced NAT
  gateway lives in a vSwitch and takes an address there);
- nothing gets a public IP: egress leaves through SNAT on the NAT gateway's EIP.

Alibaba has no internet gateway and no "public subnet": a vSwitch reaches the internet only through a
NAT gateway (or an EIP on an instance), so the node vSwitches stay private by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_alicloud as alicloud

from components.network_plan import NatLayout, nat_zone_index, nat_zones, split_nodes_pods, subnet_plan


@dataclass(frozen=True, slots=True)
class AlicloudNetworkArgs:
    cluster_name: str
    """Prefix of the physical names (vpc_name, vswitch_name, nat_gateway_name...)."""
    vpc_cidr: str
    zones: tuple[str, ...]
    network_plugin: Literal["terway", "flannel"] = "terway"
    """`terway`: a pod vSwitch per zone next to the node vSwitch. `flannel`: node vSwitches only."""
    nat_gateways: NatLayout = "single"
    """`single`: one NAT in the first zone (cheaper, dev). `perZone`: a zone outage keeps egress (prod)."""
    eip_bandwidth_mbps: int = 200
    """Peak bandwidth of each NAT EIP (pay-by-traffic: the cap, not a charge). Image pulls of multi-GB
    CUDA images are the heavy user."""
    tags: Mapping[str, str] = field(default_factory=dict)


class AlicloudNetwork(pulumi.ComponentResource):
    vpc: alicloud.vpc.Network
    node_vswitches: list[alicloud.vpc.Switch]
    pod_vswitches: list[alicloud.vpc.Switch]
    nat_gateways: list[alicloud.vpc.NatGateway]
    node_vswitch_ids: pulumi.Output[list[str]]
    pod_vswitch_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AlicloudNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:alicloud:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan = subnet_plan(args.vpc_cidr, args.zones)
        tags = dict(args.tags)
        cn = args.cluster_name

        self.vpc = alicloud.vpc.Network(
            f"{name}-vpc", vpc_name=cn, cidr_block=args.vpc_cidr, description=f"ACK cluster {cn}", tags=tags, opts=child
        )
        vpc_id = self.vpc.id

        def vswitch(role: str, zone: str, cidr: str) -> alicloud.vpc.Switch:
            return alicloud.vpc.Switch(
                f"{name}-{role}-{zone}",
                vswitch_name=f"{cn}-{role}-{zone}",
                vpc_id=vpc_id,
                zone_id=zone,
                cidr_block=cidr,
                description=f"{role} of ACK cluster {cn}",
                tags=tags,
                opts=child,
            )

        # -- NAT gateways with their EIP (one, or one per zone) ---------------------------------------
        nat_by_zone: dict[
            int, tuple[alicloud.vpc.NatGateway, alicloud.ecs.EipAddress, alicloud.ecs.EipAssociation]
        ] = {}
        for z in nat_zones(plan, args.nat_gateways):
            nat_vsw = vswitch("nat", z.zone, z.public_cidr)
            nat = alicloud.vpc.NatGateway(
                f"{name}-nat-{z.zone}",
                nat_gateway_name=f"{cn}-nat-{z.zone}",
                vpc_id=vpc_id,
                vswitch_id=nat_vsw.id,
                # "Normal" NAT gateways can no longer be created; nat_type and network_type are immutable.
                nat_type="Enhanced",
                network_type="internet",
                payment_type="PayAsYouGo",
                internet_charge_type="PayByLcu",
                description=f"egress of ACK cluster {cn}",
                tags=tags,
                opts=child,
            )
            eip = alicloud.ecs.EipAddress(
                f"{name}-nat-{z.zone}",
                address_name=f"{cn}-nat-{z.zone}",
                bandwidth=str(args.eip_bandwidth_mbps),
                internet_charge_type="PayByTraffic",
                payment_type="PayAsYouGo",
                isp="BGP",
                description=f"SNAT address of ACK cluster {cn}",
                tags=tags,
                opts=child,
            )
            assoc = alicloud.ecs.EipAssociation(
                f"{name}-nat-{z.zone}", allocation_id=eip.id, instance_id=nat.id, instance_type="Nat", opts=child
            )
            nat_by_zone[z.index] = (nat, eip, assoc)
        self.nat_gateways = [nat_by_zone[i][0] for i in sorted(nat_by_zone)]

        # -- node / pod vSwitches, their route table and SNAT ------------------------------------------
        self.node_vswitches, self.pod_vswitches = [], []
        for z in plan:
            if args.network_plugin == "terway":
                nodes_cidr, pods_cidr = split_nodes_pods(z.private_cidr)
            else:
                nodes_cidr, pods_cidr = z.private_cidr, None
            sources = [vswitch("nodes", z.zone, nodes_cidr)]
            self.node_vswitches.append(sources[0])
            if pods_cidr is not None:
                sources.append(vswitch("pods", z.zone, pods_cidr))
                self.pod_vswitches.append(sources[1])

            nat, eip, assoc = nat_by_zone[nat_zone_index(z.index, args.nat_gateways)]
            # A custom route table per zone makes the NAT choice explicit: the enhanced NAT gateway only
            # adds its 0.0.0.0/0 route to the system table when none exists, so with NAT per zone the
            # second zone would silently egress through the first.
            rt = alicloud.vpc.RouteTable(
                f"{name}-rt-{z.zone}",
                vpc_id=vpc_id,
                route_table_name=f"{cn}-{z.zone}",
                associate_type="VSwitch",
                description=f"zone {z.zone} of ACK cluster {cn}",
                tags=tags,
                opts=child,
            )
            alicloud.vpc.RouteEntry(
                f"{name}-default-{z.zone}",
                route_table_id=rt.id,
                destination_cidrblock="0.0.0.0/0",
                nexthop_type="NatGateway",
                nexthop_id=nat.id,
                opts=child,
            )
            for vsw in sources:
                role = "nodes" if vsw is sources[0] else "pods"
                alicloud.vpc.RouteTableAttachment(
                    f"{name}-rt-{role}-{z.zone}", route_table_id=rt.id, vswitch_id=vsw.id, opts=child
                )
                alicloud.vpc.SnatEntry(
                    f"{name}-snat-{role}-{z.zone}",
                    snat_entry_name=f"{cn}-{role}-{z.zone}",
                    snat_table_id=nat.snat_table_ids,
                    source_vswitch_id=vsw.id,
                    snat_ip=eip.ip_address,
                    # The EIP must be bound to the NAT before it can serve as a SNAT address.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[assoc]),
                )

        self.node_vswitch_ids = pulumi.Output.all(*[s.id for s in self.node_vswitches])
        self.pod_vswitch_ids = pulumi.Output.all(*[s.id for s in self.pod_vswitches])
        self.register_outputs(
            {
                "vpcId": vpc_id,
                "nodeVswitchIds": self.node_vswitch_ids,
                "podVswitchIds": self.pod_vswitch_ids,
                "natGatewayIds": [n.id for n in self.nat_gateways],
            }
        )
