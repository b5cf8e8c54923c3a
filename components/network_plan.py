"""Cloud-neutral subnet plan: the same deterministic CIDR split for AWS subnets and Alibaba vSwitches.

The VPC is cut into 8 equal blocks. Zone i gets block i as its private (node + pod) subnet — large,
because the AWS VPC CNI and Terway give pods VPC addresses. The last block is cut into 8 small public
subnets for load balancers and NAT gateways. A /16 gives /19 private (8190 IPs) and /22 public
subnets; at most 6 zones fit (spec rule `network`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


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
