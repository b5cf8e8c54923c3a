"""The price book: what an instance-hour, a NAT gateway-hour or a GiB-month costs, per cloud, region and
capacity type, each figure naming its source and date (docs/cost.md#price-book).

Two files, one book: `prices.yaml` (kept by hand: sources, service prices, Alibaba quotes, Capacity Blocks
and the recorded gaps) and `aws_instances.yaml` (written by scripts/refresh_prices.py from public price
files). A figure in both is an error, so there is one source of truth per price. Pure Python, no Pulumi.

A lookup answers `Priced` or `Unpriced`; an Unpriced is `recorded` when the book names the gap and why
(nobody published a price we can cite) and unrecorded when the book simply has no entry — prod stacks
refuse the latter (stacks/spec/budget.py).

    >>> book = load_price_book()
    >>> book.instance("aws", "us-east-1", "p4d.24xlarge", "on-demand").hourly
    21.957642
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Literal, TypeAlias

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

BOOK_PATH = Path(__file__).with_name("prices.yaml")
GENERATED_PATH = Path(__file__).with_name("aws_instances.yaml")
HOURS_PER_MONTH = 730.0  # 8760 h / 12, the convention of the clouds' own monthly estimates

CloudName: TypeAlias = Literal["aws", "alicloud"]
CapacityType: TypeAlias = Literal["on-demand", "spot", "capacity-block", "reserved"]
Confidence: TypeAlias = Literal["published", "third-party", "recalled"]
ServiceItem: TypeAlias = Literal[
    "control_plane_hour",
    "nat_gateway_hour",
    "nat_gateway_gb",
    "public_ipv4_hour",
    "load_balancer_hour",
    "block_storage_gb_month",
    "kms_key_month",
    "log_ingest_gb",
    "log_storage_gb_month",
    "registry_storage_gb_month",
    "registry_instance_month",
]
SERVICE_ITEMS: tuple[ServiceItem, ...] = ServiceItem.__args__

# The spellings the stack spec and the clouds use for a capacity type (stacks/spec/pools.py, EKS, ACK).
CAPACITY_ALIASES: dict[str, CapacityType] = {
    "ON_DEMAND": "on-demand",
    "on-demand": "on-demand",
    "SPOT": "spot",
    "spot": "spot",
    "capacity-block": "capacity-block",
    "CAPACITY_BLOCK": "capacity-block",
    "reserved": "reserved",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Model):
    title: str
    date: dt.date
    confidence: Confidence


class Figure(_Model):
    price: float = Field(gt=0)
    source: str
    note: str | None = None


class Range(_Model):
    low: float = Field(gt=0)
    high: float = Field(gt=0)
    source: str
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError(f"spot range low {self.low} > high {self.high}")
        return self


class RegionPrices(_Model):
    on_demand: Figure | None = None
    spot: Range | None = None  # the observed range on the source's date
    reserved: Figure | None = None  # 1-year, no upfront, effective hourly
    capacity_block: Figure | None = None


class Gaps(_Model):
    instances: str | None = None  # every instance type of the cloud that has no figure: why
    capacity: dict[CapacityType, str] = {}  # a capacity type the book cannot price in any region: why
    services: dict[ServiceItem, str] = {}


class _File(_Model):
    schema_version: int = 1
    generated_by: str | None = None
    currencies: dict[CloudName, str] = {}
    sources: dict[str, Source] = {}
    instances: dict[CloudName, dict[str, dict[str, RegionPrices]]] = {}
    services: dict[CloudName, dict[str, dict[ServiceItem, Figure]]] = {}
    gaps: dict[CloudName, Gaps] = {}


class Priced(_Model):
    """A figure found in the book, per hour (instances) or per unit (services)."""

    hourly: float  # what the estimate multiplies: spot = the observed high, or the on-demand ceiling
    currency: str
    source: str
    source_date: dt.date
    confidence: Confidence
    low: float | None = None  # spot only: the observed low
    basis: str = ""  # how the figure was chosen when it is not the plain list price
    note: str | None = None


class Unpriced(_Model):
    what: str
    reason: str
    recorded: bool  # the book names this gap (explicit); False: the book has no entry at all


Lookup: TypeAlias = Priced | Unpriced


class PriceBook(_Model):
    currencies: dict[CloudName, str]
    sources: dict[str, Source]
    instances: dict[CloudName, dict[str, dict[str, RegionPrices]]]
    services: dict[CloudName, dict[str, dict[ServiceItem, Figure]]]
    gaps: dict[CloudName, Gaps]

    @property
    def date(self) -> dt.date:
        """The oldest source date: the book is as fresh as its stalest figure's source."""
        return min(s.date for s in self.sources.values())

    def age_days(self, today: dt.date) -> int:
        return (today - self.date).days

    def currency(self, cloud: str) -> str:
        return self.currencies.get(cloud, "USD")  # type: ignore[call-overload]

    def _priced(self, cloud: str, fig: Figure, *, basis: str = "") -> Priced:
        src = self.sources[fig.source]
        return Priced(
            hourly=fig.price,
            currency=self.currency(cloud),
            source=fig.source,
            source_date=src.date,
            confidence=src.confidence,
            basis=basis,
            note=fig.note,
        )

    def instance(self, cloud: str, region: str, instance_type: str, capacity: str = "on-demand") -> Lookup:
        """The price of one node-hour of `instance_type` in `region` bought as `capacity` (on-demand, spot,
        capacity-block, reserved; the spec's ON_DEMAND/SPOT are accepted). Spot is the observed range with
        `hourly` at its high end; without an observed range, the on-demand price is the ceiling a spot
        price never exceeds (EKS and ACK cap spot bids at on-demand by default)."""
        kind = CAPACITY_ALIASES.get(capacity)
        what = f"{instance_type} {capacity} in {region}"
        if kind is None:
            return Unpriced(what=what, reason=f"unknown capacity type {capacity!r}", recorded=False)
        row = self.instances.get(cloud, {}).get(instance_type, {}).get(region)  # type: ignore[call-overload]
        if row is not None:
            if kind == "spot" and row.spot is not None:
                src = self.sources[row.spot.source]
                return Priced(
                    hourly=row.spot.high,
                    low=row.spot.low,
                    currency=self.currency(cloud),
                    source=row.spot.source,
                    source_date=src.date,
                    confidence=src.confidence,
                    basis="observed spot range, high end",
                    note=row.spot.note,
                )
            if kind == "spot" and row.on_demand is not None:
                return self._priced(cloud, row.on_demand, basis="no observed spot range: the on-demand ceiling")
            fig = {"on-demand": row.on_demand, "reserved": row.reserved, "capacity-block": row.capacity_block}.get(kind)
            if fig is not None:
                return self._priced(cloud, fig)
        gap = self.gaps.get(cloud)  # type: ignore[call-overload]
        if gap is not None and kind in gap.capacity:
            return Unpriced(what=what, reason=gap.capacity[kind], recorded=True)
        if gap is not None and gap.instances:
            return Unpriced(what=what, reason=gap.instances, recorded=True)
        return Unpriced(what=what, reason="not in the price book (components/cost/)", recorded=False)

    def service(self, cloud: str, region: str, item: ServiceItem) -> Lookup:
        """The price of one unit of a non-compute item (per hour, GB or GB-month, as its name says)."""
        fig = self.services.get(cloud, {}).get(region, {}).get(item)  # type: ignore[call-overload]
        if fig is not None:
            return self._priced(cloud, fig)
        what = f"{item} in {region}"
        gap = self.gaps.get(cloud)  # type: ignore[call-overload]
        if gap is not None and item in gap.services:
            return Unpriced(what=what, reason=gap.services[item], recorded=True)
        return Unpriced(what=what, reason="not in the price book (components/cost/)", recorded=False)

    def regions(self, cloud: str) -> set[str]:
        return {r for by_region in self.instances.get(cloud, {}).values() for r in by_region}  # type: ignore[call-overload]


def _merge(files: list[tuple[str, _File]]) -> tuple[PriceBook, list[str]]:
    errs: list[str] = []
    sources: dict[str, Source] = {}
    instances: dict[str, dict[str, dict[str, RegionPrices]]] = {}
    services: dict[str, dict[str, dict[str, Figure]]] = {}
    currencies: dict[str, str] = {}
    gaps: dict[str, Gaps] = {}
    for name, f in files:
        for k, s in f.sources.items():
            if k in sources:
                errs.append(f"{name}: source {k!r} is defined twice")
            sources[k] = s
        currencies.update(dict(f.currencies.items()))
        gaps.update(dict(f.gaps.items()))
        for cloud, types in f.instances.items():
            for itype, regions in types.items():
                for region, row in regions.items():
                    have = instances.setdefault(cloud, {}).setdefault(itype, {}).get(region)
                    if have is None:
                        instances[cloud][itype][region] = row
                        continue
                    both = [k for k in RegionPrices.model_fields if getattr(have, k) and getattr(row, k)]
                    if both:
                        errs.append(f"{name}: {cloud} {itype} {region} {', '.join(both)} is priced in two files")
                    merged = {k: getattr(have, k) or getattr(row, k) for k in RegionPrices.model_fields}
                    instances[cloud][itype][region] = RegionPrices(**merged)
        for cloud, regions in f.services.items():
            for region, items in regions.items():
                services.setdefault(cloud, {}).setdefault(region, {}).update(dict(items.items()))
    book = PriceBook.model_validate(
        {"currencies": currencies, "sources": sources, "instances": instances, "services": services, "gaps": gaps}
    )
    return book, errs


def consistency_errors(book: PriceBook) -> list[str]:
    """Every figure names a known source; every instance type is one the catalog lists."""
    from components.gpu.catalog import catalog  # the catalog knows which instance types exist

    errs: list[str] = []
    figures: list[tuple[str, Figure | Range]] = []
    for cloud, types in book.instances.items():
        known = set(catalog().instance_names(cloud))
        for itype, regions in types.items():
            if itype not in known:
                errs.append(f"{cloud} {itype}: not an instance type of components/gpu/catalog.yaml")
            for region, row in regions.items():
                for kind in RegionPrices.model_fields:
                    fig = getattr(row, kind)
                    if fig is not None:
                        figures.append((f"{cloud} {itype} {region} {kind}", fig))
    for cloud, regions in book.services.items():
        for region, items in regions.items():
            figures += [(f"{cloud} {region} {item}", fig) for item, fig in items.items()]
    errs += [
        f"{where}: source {fig.source!r} is not in sources" for where, fig in figures if fig.source not in book.sources
    ]
    return errs


@functools.cache
def _read(book_path: Path, generated_path: Path) -> tuple[PriceBook, tuple[str, ...]]:
    """Both files parsed and merged, with the merge's errors; no catalog cross-check (the catalog itself
    reads reference prices from here, components/gpu/catalog.py)."""
    files: list[tuple[str, _File]] = []
    for path in (book_path, generated_path):
        if path.exists():
            try:
                files.append((path.name, _File.model_validate(yaml.safe_load(path.read_text()) or {})))
            except ValidationError as err:
                raise ValueError(f"{path.name} is not a valid price book file:\n{err}") from None
    book, errs = _merge(files)
    return book, tuple(errs)


@functools.cache
def load_price_book(book_path: Path = BOOK_PATH, generated_path: Path = GENERATED_PATH) -> PriceBook:
    """Both files parsed, merged and cross-checked; raises ValueError naming every inconsistency at once."""
    book, merge_errors = _read(book_path, generated_path)
    errs = [*merge_errors, *consistency_errors(book)]
    if errs:
        raise ValueError("the price book is inconsistent:\n  " + "\n  ".join(errs))
    return book


def reload_price_book() -> PriceBook:
    """The book read again from disk after a file changed (scripts/refresh_prices.py): both caches are
    cleared, the parsed files' (_read) as well as the checked book's, or the old files would be returned."""
    _read.cache_clear()
    load_price_book.cache_clear()
    return load_price_book()


# The region whose on-demand price stands for an instance type where no region is known (ranking pools by
# price: the autoscaler priorities, the capacity planner's cheapest pool). None: no USD reference (the
# Alibaba figures are CNY quotes). A stack's cost is always priced in its own region (estimate.py).
REFERENCE_REGION: dict[str, str] = {"aws": "us-east-1"}


def reference_on_demand(cloud: str, instance_type: str) -> tuple[float, str] | None:
    """(USD per node-hour, source key) in the cloud's reference region, or None."""
    region = REFERENCE_REGION.get(cloud)
    if region is None:
        return None
    book, _ = _read(BOOK_PATH, GENERATED_PATH)
    row = book.instances.get(cloud, {}).get(instance_type, {}).get(region)  # type: ignore[call-overload]
    if row is None or row.on_demand is None:
        return None
    return row.on_demand.price, row.on_demand.source
