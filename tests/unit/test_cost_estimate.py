"""Price arithmetic per resource kind (components/cost/estimate.py) on small plans built here, the prod
refusal and the report's cost section (components/cost/render.py, report.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from components.cost.estimate import CAPACITY_BLOCK_PRICE_TAG, PAID_SOURCE, Usage, estimate
from components.cost.price_book import Priced, load_price_book
from components.cost.render import render_markdown
from components.cost.report import write_cost

BOOK = load_price_book()
H = 730.0


def _r(type_: str, name: str, inputs: dict[str, Any], parent: str = "p") -> dict[str, Any]:
    return {"custom": True, "type": type_, "name": name, "inputs": inputs, "parent": parent}


def _p(cloud: str, region: str, item: str) -> float:
    x = BOOK.service(cloud, region, item)  # type: ignore[arg-type]
    assert isinstance(x, Priced)
    return x.hourly


def _od(region: str, t: str, kind: str = "on-demand") -> float:
    x = BOOK.instance("aws", region, t, kind)
    assert isinstance(x, Priced)
    return x.hourly


def aws_plan(region: str = "us-west-2") -> dict[str, Any]:
    return {
        "stack": "t",
        "resources": [
            _r("pulumi:providers:aws", "aws", {"region": region}),
            _r(
                "aws:eks/nodeGroup:NodeGroup",
                "ng",
                {
                    "instanceTypes": ["g6.xlarge", "g6.2xlarge"],
                    "capacityType": "SPOT",
                    "scalingConfig": {"minSize": 1, "maxSize": 3},
                    "labels": {"gpu-platform.io/pool": "gpu"},
                },
                parent="pool-gpu",
            ),
            _r(
                "aws:ec2/launchTemplate:LaunchTemplate",
                "lt",
                {"blockDeviceMappings": [{"ebs": {"volumeSize": 200}}]},
                parent="pool-gpu",
            ),
            _r("aws:eks/cluster:Cluster", "eks", {}),
            _r("aws:ec2/natGateway:NatGateway", "nat-a", {}),
            _r("aws:ec2/natGateway:NatGateway", "nat-b", {}),
            _r("aws:ec2/eip:Eip", "eip", {}),
            _r("aws:kms/key:Key", "k1", {}),
            _r("aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": 90}),
            _r("aws:ecr/repository:Repository", "repo", {}),
            _r(
                "kubernetes:helm.sh/v3:Release",
                "gw",
                {"values": {"service": {"type": "LoadBalancer"}}},
            ),
            _r(
                "kubernetes:helm.sh/v3:Release",
                "prom",
                {
                    "values": {
                        "prometheus": {
                            "replicas": 2,
                            "storageSpec": {
                                "volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "50Gi"}}}}
                            },
                        }
                    }
                },
            ),
        ],
        "outputs": {},
    }


USAGE = Usage(nat_data_gb_per_month=100, log_ingest_gb_per_month=10, registry_storage_gb=40)


def _lines(est: Any) -> dict[str, Any]:
    return {f"{x.name}|{x.item}": x for x in est.lines}


def test_spot_pool_is_priced_at_the_observed_high_and_its_volumes_per_node() -> None:
    lines = _lines(estimate(aws_plan(), USAGE))
    spot = _od("us-west-2", "g6.xlarge", "spot")
    node = lines["gpu|g6.xlarge spot"]
    assert (node.floor, node.peak) == (pytest.approx(1 * H * spot), pytest.approx(3 * H * spot))
    disk = lines["gpu|node volumes 200 GiB/node"]
    gp3 = _p("aws", "us-west-2", "block_storage_gb_month")
    assert (disk.floor, disk.peak) == (pytest.approx(200 * gp3), pytest.approx(600 * gp3))


def test_every_add_on_kind_is_priced_from_its_unit() -> None:
    lines = _lines(estimate(aws_plan(), USAGE))
    r = "us-west-2"
    expected = {
        "control plane|control_plane_hour": H * _p("aws", r, "control_plane_hour"),
        "NAT gateways ×2|nat_gateway_hour": 2 * H * _p("aws", r, "nat_gateway_hour"),
        "NAT data (budget.usage)|nat_gateway_gb": 100 * _p("aws", r, "nat_gateway_gb"),
        "public IPv4 ×1|public_ipv4_hour": H * _p("aws", r, "public_ipv4_hour"),
        "load balancers ×1|load_balancer_hour": H * _p("aws", r, "load_balancer_hour"),
        "add-on volumes|block_storage_gb_month": 2 * 50 * _p("aws", r, "block_storage_gb_month"),
        "KMS keys ×1|kms_key_month": _p("aws", r, "kms_key_month"),
        "log ingestion (budget.usage)|log_ingest_gb": 10 * _p("aws", r, "log_ingest_gb"),
        "log storage over retention|log_storage_gb_month": 10 * 3 * _p("aws", r, "log_storage_gb_month"),
        "registry storage (budget.usage)|registry_storage_gb_month": 40 * _p("aws", r, "registry_storage_gb_month"),
    }
    got = {k: v.peak for k, v in lines.items() if v.group == "add-on"}
    assert got == pytest.approx(expected)
    assert all(lines[k].floor == lines[k].peak for k in expected)  # add-ons run at floor too


def test_totals_add_up_and_the_region_changes_the_price() -> None:
    west, east = estimate(aws_plan("us-west-2"), USAGE), estimate(aws_plan("us-east-1"), USAGE)
    assert west.peak == round(sum(x.peak or 0.0 for x in west.lines), 2)
    assert (west.cloud, west.region, west.currency) == ("aws", "us-west-2", "USD")
    assert _lines(west)["gpu|g6.xlarge spot"].peak != _lines(east)["gpu|g6.xlarge spot"].peak


def test_one_unpriced_line_makes_the_totals_unknown_not_smaller() -> None:
    plan = aws_plan("eu-central-1")  # instances priced there, the recalled service prices are not
    est = estimate(plan, USAGE)
    assert est.peak is None and est.floor is None
    assert est.known_peak == round(sum(x.peak or 0 for x in est.lines), 2) > 0
    assert {x.item for x in est.unrecorded} >= {"control_plane_hour", "nat_gateway_hour"}


def test_alicloud_pools_use_spot_strategy_and_disks() -> None:
    plan = {
        "stack": "a",
        "resources": [
            _r("pulumi:providers:alicloud", "ali", {"region": "cn-shanghai"}),
            _r(
                "alicloud:cs/nodePool:NodePool",
                "np",
                {
                    "nodePoolName": "l20",
                    "instanceTypes": ["ecs.gn8is.2xlarge"],
                    "spotStrategy": "SpotAsPriceGo",
                    "scalingConfig": {"minSize": 0, "maxSize": 2},
                    "systemDiskSize": 50,
                    "dataDisks": [{"size": 200}],
                },
            ),
        ],
    }
    est = estimate(plan)
    node, disk = est.lines
    # The book has no observed spot range for it: spot is priced at the on-demand ceiling (price_book.py instance).
    on_demand = BOOK.instances["alicloud"]["ecs.gn8is.2xlarge"]["cn-shanghai"].on_demand
    assert on_demand is not None
    assert (node.item, node.peak, est.currency) == (
        "ecs.gn8is.2xlarge spot",
        pytest.approx(2 * H * on_demand.price),
        "CNY",
    )
    assert disk.item == "node volumes 250 GiB/node" and disk.peak is None and disk.price.recorded  # type: ignore[union-attr]


def _karpenter_plan(capacity_types: list[str]) -> dict[str, Any]:
    return {
        "stack": "k",
        "resources": [
            _r("pulumi:providers:aws", "aws", {"region": "us-east-1"}),
            _r(
                "kubernetes:karpenter.sh/v1:NodePool",
                "kp",
                {
                    "spec": {
                        "limits": {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": "8"},
                        "template": {
                            "metadata": {"labels": {"gpu-platform.io/pool": "l4-k"}},
                            "spec": {
                                "requirements": [
                                    {"key": "node.kubernetes.io/instance-type", "values": ["g6.xlarge", "g6.2xlarge"]},
                                    {"key": "karpenter.sh/capacity-type", "values": capacity_types},
                                ]
                            },
                        },
                    }
                },
            ),
        ],
    }


# Karpenter's `reserved` is an ODCR (or Capacity Block) the NodePool selects: billed at the on-demand rate.
@pytest.mark.parametrize("capacity_types", [["spot", "on-demand"], ["reserved"], ["reserved", "on-demand"]])
def test_karpenter_pool_peak_fills_its_limits_with_the_dearest_type(capacity_types: list[str]) -> None:
    (line,) = estimate(_karpenter_plan(capacity_types)).lines
    # g6.xlarge: 8 GPUs / 1 -> 8 nodes (cpu 64/4 = 16, memory 256/16 = 16); g6.2xlarge: 64/8 = 8, 256/32 = 8.
    assert (line.item, line.floor, line.peak) == (
        "g6.2xlarge on-demand",
        0.0,
        pytest.approx(8 * H * _od("us-east-1", "g6.2xlarge")),
    )


def test_a_spot_only_karpenter_pool_is_priced_as_spot() -> None:
    (line,) = estimate(_karpenter_plan(["spot"])).lines
    assert line.item.endswith(" spot")


def test_model_version_per_million_requests_at_target_rps() -> None:
    plan = aws_plan("us-east-1")
    plan["outputs"] = {"capacity": {"pools": {"gpu": {"gpuResourcesPerNode": {"nvidia.com/gpu": 1}, "gpusPerNode": 1}}}}
    plan["resources"] += [
        _r(
            "kubernetes:apps/v1:Deployment",
            "m-v1",
            {
                "metadata": {
                    "name": "m-v1",
                    "namespace": "m",
                    "annotations": {"gpu-platform.io/model": "m"},
                    "labels": {"version": "v1"},
                },
                "spec": {
                    "template": {
                        "spec": {
                            "nodeSelector": {"gpu-platform.io/pool": "gpu"},
                            "containers": [{"resources": {"requests": {"nvidia.com/gpu": "1"}}}],
                        }
                    }
                },
            },
        ),
        _r(
            "kubernetes:keda.sh/v1alpha1:ScaledObject",
            "m-v1",
            {
                "metadata": {"namespace": "m"},
                "spec": {
                    "scaleTargetRef": {"name": "m-v1"},
                    "minReplicaCount": 1,
                    "maxReplicaCount": 4,
                    "triggers": [{"name": "rps", "metadata": {"threshold": "5"}}],
                },
            },
        ),
    ]
    (m,) = estimate(plan).models
    hourly = _od("us-east-1", "g6.xlarge", "spot")
    assert (m.version, m.pool, m.min_replicas, m.max_replicas) == ("m/v1", "gpu", 1, 4)
    assert m.per_million_requests == pytest.approx(hourly / (5 * 3600) * 1e6)
    assert m.peak == pytest.approx(4 * H * hourly)


def test_prod_with_a_price_the_book_lacks_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "report.md").write_text("# report\n")
    est, errors = write_cost(
        aws_plan("eu-central-1"), tmp_path, environment="prod", budget=None, today=dt.date(2026, 11, 30)
    )
    assert (
        "no price for control_plane_hour in eu-central-1 (add-on control plane) in the price book; prod stacks must be "
        "priced: add it with its source to components/cost/prices.yaml or record the gap with its reason"
    ) in errors
    assert len(errors) == len(est.unrecorded) == len([x for x in est.lines if x.group == "add-on"]) + 1  # + gp3
    assert json.loads((tmp_path / "cost.json").read_text())["monthlyPeak"] is None
    _, dev_errors = write_cost(
        aws_plan("eu-central-1"), tmp_path, environment="dev", budget=None, today=dt.date(2026, 11, 30)
    )
    assert dev_errors == []


def test_report_section_text() -> None:
    plan = {
        "stack": "s",
        "resources": [
            _r("pulumi:providers:aws", "aws", {"region": "us-east-1"}),
            _r("aws:eks/cluster:Cluster", "eks", {}),
            _r("aws:kms/key:Key", "k", {}),
        ],
    }
    text = render_markdown(estimate(plan), dt.date(2026, 12, 1))
    assert text == (
        "## Cost (monthly, USD, aws us-east-1)\n\n"
        "Priced from the price book (components/cost/) in the stack's region, 730 hours a month: floor = pools at "
        "minSize plus every add-on, peak = every pool at maxSize. A pool is priced at its first instance type.\n\n"
        "| group | name | item | floor | peak | price | source |\n"
        "|---|---|---|---:|---:|---|---|\n"
        "| add-on | control plane | control_plane_hour | $73.00 | $73.00 | $0.1/hour | aws_pages_recalled 2026-11-30, recalled |\n"
        "| add-on | KMS keys ×1 | kms_key_month | $1.00 | $1.00 | $1/key-month | aws_pages_recalled 2026-11-30, recalled |\n"
        "| **total** | | | **$74.00** | **$74.00** | | |\n"
    )
    stale = render_markdown(estimate(plan), dt.date(2027, 12, 1))
    assert stale.endswith(
        "> [!WARNING]\n> Some prices are older than 180 days (oldest source 2026-11-30, 366 days): run "
        "scripts/refresh_prices.py or update components/cost/prices.yaml.\n"
    )


def test_capacity_block_node_group_is_priced_as_a_capacity_block() -> None:
    """components/aws/node_pool.py: capacityType CAPACITY_BLOCK, the instance type on the launch template."""
    plan = {
        "stack": "cb",
        "resources": [
            _r("pulumi:providers:aws", "aws", {"region": "us-east-2"}),
            _r(
                "aws:eks/nodeGroup:NodeGroup",
                "ng",
                {
                    "capacityType": "CAPACITY_BLOCK",
                    "scalingConfig": {"minSize": 2, "maxSize": 2},
                    "labels": {"gpu-platform.io/pool": "h200"},
                },
                parent="pool-h200",
            ),
            _r(
                "aws:ec2/launchTemplate:LaunchTemplate",
                "lt",
                {"instanceType": "p5e.48xlarge", "instanceMarketOptions": {"marketType": "capacity-block"}},
                parent="pool-h200",
            ),
        ],
    }
    (line,) = estimate(plan).lines
    block = BOOK.instances["aws"]["p5e.48xlarge"]["us-east-2"].capacity_block  # the book's per-instance rate
    assert block is not None
    assert (line.item, line.floor) == ("p5e.48xlarge capacity-block", pytest.approx(2 * H * block.price))
    elsewhere = estimate(
        plan | {"resources": [_r("pulumi:providers:aws", "aws", {"region": "us-east-1"}), *plan["resources"][1:]]}
    )
    (gap,) = elsewhere.lines
    assert gap.peak is None and gap.price.recorded  # type: ignore[union-attr]


def test_capacity_block_with_the_price_paid_is_priced_from_its_launch_template_tag() -> None:
    # us-east-1: the book has no block rate there (a recorded gap); the tag set from the reservation's
    # upfrontFee / durationHours (components/aws/node_pool.py) prices the whole block, floor = peak.
    lt = {
        "instanceType": "p5e.48xlarge",
        "instanceMarketOptions": {"marketType": "capacity-block"},
        "tags": {CAPACITY_BLOCK_PRICE_TAG: "86.520000"},
    }
    plan = {
        "stack": "t",
        "resources": [
            _r("pulumi:providers:aws", "aws", {"region": "us-east-1"}),
            _r(
                "aws:eks/nodeGroup:NodeGroup",
                "ng",
                {
                    "capacityType": "CAPACITY_BLOCK",
                    "scalingConfig": {"minSize": 0, "maxSize": 2},
                    "labels": {"gpu-platform.io/pool": "h200"},
                },
                parent="pool-h200",
            ),
            _r("aws:ec2/launchTemplate:LaunchTemplate", "lt", lt, parent="pool-h200"),
        ],
    }
    est = estimate(plan)
    (line,) = est.lines
    assert (line.item, line.unit) == ("p5e.48xlarge capacity-block (paid)", "block-hour")
    assert line.floor == line.peak == pytest.approx(H * 86.52) and est.peak == round(H * 86.52, 2)
    assert isinstance(line.price, Priced) and line.price.source == PAID_SOURCE
    doc = est.to_json()["lines"][0]
    assert (doc["source"], "sourceDate" in doc, est.oldest_source) == (PAID_SOURCE, False, None)
    # The tag is read only for a Capacity Block: on an on-demand group it changes nothing.
    od = json.loads(json.dumps(plan))
    od["resources"][1]["inputs"] = {"instanceTypes": ["p5.48xlarge"], "scalingConfig": {"minSize": 0, "maxSize": 2}}
    od["resources"][2]["inputs"] = {"tags": {CAPACITY_BLOCK_PRICE_TAG: "86.520000"}}
    (plain,) = estimate(od).lines
    assert (plain.item, plain.price) == ("p5.48xlarge on-demand", BOOK.instance("aws", "us-east-1", "p5.48xlarge"))
