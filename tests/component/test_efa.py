"""EFA complete (issue 18): every EFA interface of the instance in the launch template (p4d 4, p5 32, from
the catalog), efa-only secondaries where the instance takes them, a self-referencing all-traffic security
group, a cluster placement group per pool (components/aws/efa.py, components/aws/node_pool.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from components.aws import efa
from components.gpu.catalog import CATALOG_PATH, catalog
from tests.conftest import Plan

LT = "aws:ec2/launchTemplate:LaunchTemplate"


def _aws(name: str) -> Any:
    inst = catalog().instance("aws", name)
    assert inst is not None
    return inst


def test_interface_types_per_network_card() -> None:
    assert efa.interface_types(_aws("p4d.24xlarge")) == ["efa"] * 4
    assert efa.interface_types(_aws("p5.48xlarge")) == ["efa"] + ["efa-only"] * 31
    assert efa.interface_types(_aws("g6.12xlarge")) == ["efa"]
    with pytest.raises(ValueError, match="g6.xlarge has no EFA"):
        efa.interface_types(_aws("g6.xlarge"))


def test_catalog_efa_counts_are_consistent_and_sourced() -> None:
    raw = yaml.safe_load(CATALOG_PATH.read_text())
    for name, inst in catalog().instances["aws"].items():
        assert (inst.efa_interfaces >= 1) == inst.efa, name
        entry = raw["aws_instance_types"][name]
        if "efa_interfaces" in entry:  # more than the default 1: the source is named
            assert entry["efa_interfaces_source"] in catalog().sources, name
    assert {n: i.efa_interfaces for n, i in catalog().instances["aws"].items() if i.efa_interfaces > 1} == {
        "p4d.24xlarge": 4,
        "p4de.24xlarge": 4,
        "p5.48xlarge": 32,
        "p5e.48xlarge": 32,
    }


def test_prod_efa_pool_takes_all_32_interfaces(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    lt = p.one(LT, "gpu-prod-gpu-h100-efa-lt")["inputs"]
    nics = lt["networkInterfaces"]
    assert len(nics) == 32
    assert nics[0] == {
        "deleteOnTermination": "true",
        "deviceIndex": 0,
        "interfaceType": "efa",
        "networkCardIndex": 0,
        "securityGroups": ["<computed>", "<computed>"],
    }
    assert [(n["deviceIndex"], n["networkCardIndex"], n["interfaceType"]) for n in nics[1:]] == [
        (1, card, "efa-only") for card in range(1, 32)
    ]
    assert lt["placement"] == {"groupName": "<computed>"}
    pg = p.one("aws:ec2/placementGroup:PlacementGroup", "gpu-prod-gpu-h100-efa-placement")["inputs"]
    assert pg["strategy"] == "cluster"
    # Only EFA pools get custom interfaces.
    assert "networkInterfaces" not in p.one(LT, "gpu-prod-gpu-a10g-lt")["inputs"]


def test_efa_security_group_allows_all_traffic_within_itself_only(plan: Callable[[str], Plan]) -> None:
    sg = plan("prod").one("aws:ec2/securityGroup:SecurityGroup", "gpu-prod-gpu-h100-efa-efa")["inputs"]
    rule = {"fromPort": 0, "protocol": "-1", "self": True, "toPort": 0}
    assert sg["ingress"] == [rule] and sg["egress"] == [rule]
    assert sg["vpcId"] == "<computed>"
