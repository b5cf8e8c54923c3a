"""Cloud-neutral subnet plan: the same deterministic CIDR split for AWS subnets and Alibaba vSwitches.

The VPC is cut into 8 equal blocks. Zone i gets block i as its private (node + pod) subnet — large,
because the AWS VPC CNI and Terway give pods VPC addresses. The last block is cut into 8 small public
subnets for load balancers and NAT gateways. A /16 gives /19 private (8190 IPs) and /22 public
subnets; at most 6 zones fit (spec rule `network`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class ZoneSubnets:
    zone: str
    index: int
    private_cidr: str
    public_cidr: str


MAX_ZONES = 6


def subnet_plan(vpc_cidr: str, zones: tuple[str, ...]) -> tuple[ZoneSubnets, ...]:
    if len(zones) > MAX_ZONES:
        raise ValueError(f"{len(zones)} zones do not fit the subnet plan (max {MAX_ZONES})")
    vpc = ipaddress.ip_network(vpc_cidr)
    blocks = list(vpc.subnets(prefixlen_diff=3))
    public = list(blocks[-1].subnets(prefixlen_diff=3))
    return tuple(
        ZoneSubnets(zone=z, index=i, private_cidr=str(blocks[i]), public_cidr=str(public[i]))
        for i, z in enumerate(zones)
    )


NatLayout = Literal["single", "perZone"]


def nat_zone_index(zone_index: int, layout: NatLayout) -> int:
    """Index of the zone whose NAT gateway carries the egress of zone `zone_index`.

    `perZone`: each zone its own (a zone outage cuts only that zone's egress); `single`: the first
    zone's NAT serves every zone (cheaper). Both cloud layers place NAT gateways and routes from this.
    """
    return zone_index if layout == "perZone" else 0


def nat_zones(plan: tuple[ZoneSubnets, ...], layout: NatLayout) -> tuple[ZoneSubnets, ...]:
    """The zones that hold a NAT gateway (in their public block)."""
    return tuple(z for z in plan if nat_zone_index(z.index, layout) == z.index)


def split_nodes_pods(private_cidr: str) -> tuple[str, str]:
    """A zone's private block cut in halves: (nodes, pods).

    For CNIs that take pod IPs from their own subnet (Alibaba Terway pod vSwitches): a /19 gives two
    /20s, 4094 node and 4094 pod addresses per zone.
    """
    nodes, pods = ipaddress.ip_network(private_cidr).subnets(prefixlen_diff=1)
    return str(nodes), str(pods)
