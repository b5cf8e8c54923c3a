"""The price book (components/cost/): regional and capacity-type lookups, sources, recorded and missing gaps,
and the loader's refusals (docs/cost.md#price-book)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cost.price_book import (
    GENERATED_PATH,
    HOURS_PER_MONTH,
    Priced,
    Unpriced,
    load_price_book,
    reload_price_book,
)
from components.gpu.catalog import catalog

BOOK = load_price_book()
GENERATED = yaml.safe_load(GENERATED_PATH.read_text())


def _priced(x: Priced | Unpriced) -> Priced:
    assert isinstance(x, Priced), x
    return x


def test_on_demand_differs_by_region_and_names_its_source() -> None:
    east = _priced(BOOK.instance("aws", "us-east-1", "p4d.24xlarge", "on-demand"))
    tokyo = _priced(BOOK.instance("aws", "ap-northeast-1", "p4d.24xlarge", "ON_DEMAND"))
    assert (east.hourly, east.source, east.source_date) == (21.957642, "karpenter", dt.date(2026, 7, 20))
    assert (tokyo.hourly, tokyo.source) == (
        GENERATED["instances"]["aws"]["p4d.24xlarge"]["ap-northeast-1"]["on_demand"]["price"],
        "ec2info",
    )
    assert tokyo.hourly != east.hourly


def test_spot_is_the_observed_range_with_its_date() -> None:
    spot = _priced(BOOK.instance("aws", "us-west-2", "g6.xlarge", "SPOT"))
    row = GENERATED["instances"]["aws"]["g6.xlarge"]["us-west-2"]["spot"]
    assert (spot.low, spot.hourly, spot.source_date) == (row["low"], row["high"], dt.date(2025, 5, 28))
    assert spot.basis == "observed spot range, high end"


def test_spot_without_an_observed_range_is_capped_at_on_demand() -> None:
    spot = _priced(BOOK.instance("alicloud", "cn-shanghai", "ecs.gn8is.2xlarge", "spot"))
    assert (spot.hourly, spot.currency, spot.confidence) == (14.63, "CNY", "third-party")
    assert spot.basis == "no observed spot range: the on-demand ceiling"


def test_reserved_and_capacity_block() -> None:
    reserved = _priced(BOOK.instance("aws", "us-east-1", "p4d.24xlarge", "reserved"))
    assert reserved.hourly == GENERATED["instances"]["aws"]["p4d.24xlarge"]["us-east-1"]["reserved"]["price"]
    block = _priced(BOOK.instance("aws", "us-east-2", "p5e.48xlarge", "capacity-block"))
    assert (block.hourly, block.source) == (43.26, "aws_capacity_blocks_mirror")


def test_a_capacity_block_elsewhere_is_a_recorded_gap() -> None:
    gap = BOOK.instance("aws", "us-east-1", "p5e.48xlarge", "capacity-block")
    assert isinstance(gap, Unpriced) and gap.recorded and "describe-capacity-block-offerings" in gap.reason


def test_a_region_the_book_lacks_is_an_unrecorded_gap() -> None:
    gap = BOOK.instance("aws", "mars-north-1", "g6.xlarge", "on-demand")
    assert gap == Unpriced(
        what="g6.xlarge on-demand in mars-north-1", reason="not in the price book (components/cost/)", recorded=False
    )


def test_alibaba_without_a_citable_price_is_a_recorded_gap_never_a_number() -> None:
    gap = BOOK.instance("alicloud", "cn-hangzhou", "ecs.gn7i-c8g1.2xlarge", "on-demand")
    assert (
        isinstance(gap, Unpriced) and gap.recorded and gap.reason == "no citable Alibaba list price (docs/cost.md#gaps)"
    )


def test_services_are_priced_per_region() -> None:
    nat = _priced(BOOK.service("aws", "us-east-1", "nat_gateway_hour"))
    assert (nat.hourly, nat.confidence) == (0.045, "recalled")
    assert _priced(BOOK.service("aws", "us-west-2", "control_plane_hour")).hourly == 0.10
    assert isinstance(BOOK.service("aws", "eu-west-1", "nat_gateway_hour"), Unpriced)
    ack = BOOK.service("alicloud", "cn-shanghai", "control_plane_hour")
    assert isinstance(ack, Unpriced) and ack.recorded


def test_every_catalog_aws_type_is_in_the_generated_book() -> None:
    assert sorted(GENERATED["instances"]["aws"]) == catalog().instance_names("aws")


def test_every_catalog_aws_type_except_capacity_block_only_ones_has_us_east_1_on_demand() -> None:
    missing = [t for t in catalog().instance_names("aws") if isinstance(BOOK.instance("aws", "us-east-1", t), Unpriced)]
    assert missing == ["p5e.48xlarge"]  # sold through Capacity Blocks / reservations only


def test_book_date_is_its_oldest_source() -> None:
    assert BOOK.date == min(s.date for s in BOOK.sources.values())
    assert BOOK.age_days(BOOK.date + dt.timedelta(days=10)) == 10
    assert HOURS_PER_MONTH == 730.0


def _write(tmp: Path, book: Mapping[str, Any], generated: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    a, b = tmp / "prices.yaml", tmp / "gen.yaml"
    a.write_text(json.dumps(book))
    b.write_text(json.dumps(generated or {}))
    return a, b


SRC = {"s": {"title": "t", "date": "2026-01-01", "confidence": "published"}}


def test_a_figure_with_an_unknown_source_is_refused(tmp_path: Path) -> None:
    a, b = _write(
        tmp_path, {"instances": {"aws": {"g6.xlarge": {"us-east-1": {"on_demand": {"price": 1, "source": "x"}}}}}}
    )
    with pytest.raises(ValueError, match=r"aws g6.xlarge us-east-1 on_demand: source 'x' is not in sources"):
        load_price_book.__wrapped__(a, b)


def test_a_price_in_both_files_is_refused(tmp_path: Path) -> None:
    row = {"instances": {"aws": {"g6.xlarge": {"us-east-1": {"on_demand": {"price": 1, "source": "s"}}}}}}
    a, b = _write(tmp_path, {"sources": SRC, **row}, row)
    with pytest.raises(ValueError, match="aws g6.xlarge us-east-1 on_demand is priced in two files"):
        load_price_book.__wrapped__(a, b)


def test_an_instance_type_outside_the_catalog_is_refused(tmp_path: Path) -> None:
    a, b = _write(
        tmp_path,
        {"sources": SRC, "instances": {"aws": {"x9.huge": {"us-east-1": {"on_demand": {"price": 1, "source": "s"}}}}}},
    )
    with pytest.raises(ValueError, match="aws x9.huge: not an instance type of components/gpu/catalog.yaml"):
        load_price_book.__wrapped__(a, b)


def test_a_zero_price_or_an_inverted_spot_range_is_refused(tmp_path: Path) -> None:
    a, b = _write(
        tmp_path,
        {
            "sources": SRC,
            "instances": {"aws": {"g6.xlarge": {"us-east-1": {"on_demand": {"price": 0, "source": "s"}}}}},
        },
    )
    with pytest.raises(ValueError, match="greater than 0"):
        load_price_book.__wrapped__(a, b)
    a, b = _write(
        tmp_path,
        {
            "sources": SRC,
            "instances": {"aws": {"g6.xlarge": {"us-east-1": {"spot": {"low": 2, "high": 1, "source": "s"}}}}},
        },
    )
    with pytest.raises(ValueError, match="spot range low 2.0 > high 1.0"):
        load_price_book.__wrapped__(a, b)


def test_reload_parses_the_files_again() -> None:
    """scripts/refresh_prices.py checks the file it wrote: a reload must not return the cached parse."""
    before = load_price_book()
    fresh = reload_price_book()
    assert fresh is not before and fresh == before
    assert load_price_book() is fresh
