"""AWS network layer as the engine would receive it, for dev (single NAT) and prod (NAT per zone)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from components.network_plan import subnet_plan
from tests.conftest import Plan

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"


def test_subnet_plan_is_derived_from_cidr_and_zones() -> None:
    plan = subnet_plan("10.20.0.0/16", ("us-west-2a", "us-west-2b", "us-west-2c"))
    assert [(z.private_cidr, z.public_cidr) for z in plan] == [
        ("10.20.0.0/19", "10.20.224.0/22"),
        ("10.20.32.0/19", "10.20.228.0/22"),
        ("10.20.64.0/19", "10.20.232.0/22"),
    ]
    with pytest.raises(ValueError, match="7 zones do not fit the subnet plan"):
        subnet_plan("10.0.0.0/16", tuple(f"z{i}" for i in range(7)))


def test_dev_has_private_and_public_subnets_per_zone_tagged_for_load_balancers(plan: Callable[[str], Plan]) -> None:
    p = plan("dev")
    subnets = {r["name"]: r["inputs"] for r in p.of_type(SUBNET)}
    assert sorted(subnets) == [
        "gpu-dev-private-us-west-2a",
        "gpu-dev-private-us-west-2b",
        "gpu-dev-public-us-west-2a",
        "gpu-dev-public-us-west-2b",
    ]
    priv = subnets["gpu-dev-private-us-west-2a"]
    assert priv["cidrBlock"] == "10.20.0.0/19" and priv["availabilityZone"] == "us-west-2a"
    assert priv["tags"]["kubernetes.io/role/internal-elb"] == "1"
    assert priv["tags"]["kubernetes.io/cluster/gpu-dev"] == "shared"
    pub = subnets["gpu-dev-public-us-west-2b"]
    assert pub["tags"]["kubernetes.io/role/elb"] == "1" and pub["mapPublicIpOnLaunch"] is False


def test_dev_shares_one_nat_and_prod_has_one_per_zone(plan: Callable[[str], Plan]) -> None:
    assert [r["name"] for r in plan("dev").of_type(NAT)] == ["gpu-dev-nat-us-west-2a"]
    assert sorted(r["name"] for r in plan("prod").of_type(NAT)) == [
        "gpu-prod-nat-us-east-1a",
        "gpu-prod-nat-us-east-1b",
        "gpu-prod-nat-us-east-1c",
    ]


def test_private_routes_go_through_nat_and_public_through_igw(plan: Callable[[str], Plan]) -> None:
    p = plan("dev")
    public_rt = p.one("aws:ec2/routeTable:RouteTable", "gpu-dev-public-rt")
    assert public_rt["inputs"]["routes"][0]["cidrBlock"] == "0.0.0.0/0"
    assert "gatewayId" in public_rt["inputs"]["routes"][0]
    for zone in ("us-west-2a", "us-west-2b"):
        rt = p.one("aws:ec2/routeTable:RouteTable", f"gpu-dev-private-rt-{zone}")
        assert set(rt["inputs"]["routes"][0]) == {"cidrBlock", "natGatewayId"}
    nat = p.one(NAT)
    assert nat["options"]["dependsOn"] == [p.one("aws:ec2/internetGateway:InternetGateway")["urn"]]


def test_everything_uses_the_explicit_regional_provider(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    provider = p.one("pulumi:providers:aws", "aws")
    assert provider["inputs"]["region"] == "us-east-1"
    # Provider inputs reach the engine JSON-encoded.
    assert json.loads(provider["inputs"]["defaultTags"])["tags"]["gpu-platform/environment"] == "prod"
    assert all(r["provider"] == provider["urn"] for r in p.resources if r["type"].startswith("aws:"))
    vpc = p.one("aws:ec2/vpc:Vpc")
    assert vpc["inputs"]["cidrBlock"] == "10.40.0.0/16" and vpc["inputs"]["enableDnsHostnames"] is True
    sg = p.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert sg["inputs"]["ingress"] == [] and sg["inputs"]["egress"] == []
