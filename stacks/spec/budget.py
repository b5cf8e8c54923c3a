"""`gpu-platform:budget`: the monthly cost a pull request may not push the stack's peak above, the usage the
estimate cannot read from the plan, and the rules that keep prod stacks priced (docs/cost.md).

The estimate itself is made from the plan (components/cost/estimate.py); the PR check compares it with
`monthlyPeak` (tools/pr_diff.py --fail-over-budget).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from components.cost.price_book import CapacityType, Unpriced, load_price_book
from components.gpu.catalog import catalog
from stacks.spec.base import Loc, Problem, Spec
from stacks.spec.errors import show
from stacks.spec.pools import NodePoolSpec

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec


class UsageSpec(Spec):
    """What a month uses of the items priced per GB: the plan cannot know it, so the stack file says it."""

    nat_data_gb_per_month: float = Field(default=0, ge=0)
    """GB through the NAT gateways per month. Default 0: NAT data is left out of the estimate (the report
    names the price per GB)."""
    log_ingest_gb_per_month: float = Field(default=0, ge=0)
    """GB of control-plane logs ingested per month (CloudWatch Logs on AWS); stored for the log group's
    retention. Default 0: left out."""
    registry_storage_gb: float = Field(default=0, ge=0)
    """GB of images kept in the registry. Default 0: left out."""


class BudgetSpec(Spec):
    monthly_peak: float | None = Field(default=None, gt=0)
    """The most the stack may cost per month with every pool at maxSize, in `currency`. A pull request whose
    head plan's peak is above it fails the plan-diff check (exit 5), as does one whose peak cannot be
    priced. Default: no budget, the cost is reported only."""
    currency: Literal["USD", "CNY"] = "USD"
    """Currency of monthlyPeak: the price book's for the stack's cloud (aws USD, alicloud CNY; no exchange
    rate is assumed)."""
    usage: UsageSpec = UsageSpec()
    """Monthly usage of the per-GB items (NAT data, log ingestion, registry storage)."""


def capacity_kind(pool: NodePoolSpec) -> CapacityType:
    """How the pool's nodes are bought, as the price book names it: a Capacity Block reservation, spot
    (Karpenter pools that may only launch spot), or on-demand (also ODCRs: billed at the on-demand rate)."""
    reservation = getattr(pool, "reservation", None)
    if reservation is not None and getattr(reservation, "type", None) == "capacity-block":
        return "capacity-block"
    kinds = tuple(getattr(pool, "capacity_types", ()) or ())
    if kinds:
        return "on-demand" if "on-demand" in kinds else "spot"
    return "spot" if pool.capacity_type == "SPOT" else "on-demand"


def budget_currency(spec: StackSpec) -> Iterator[Problem]:
    budget = spec.budget
    if budget is None or spec.cluster_stack is not None:
        return
    if spec.cloud == "existing":
        yield (
            ("budget",),
            "given while cloud is 'existing'; the price book has no prices for a cluster this stack does not "
            "create: remove budget",
        )
        return
    want = load_price_book().currency(spec.cloud)
    if budget.currency != want:
        yield (
            ("budget", "currency"),
            f"{show(budget.currency)}, but {spec.cloud} prices are in {want} (components/cost/prices.yaml; no "
            f"exchange rate is assumed): set currency: {want} and monthlyPeak in {want}",
        )


def prod_prices_known(spec: StackSpec) -> Iterator[Problem]:
    """A prod stack's pools are priced in its region: a missing price is an error, not a silent null. A gap
    the book records with its reason (e.g. Alibaba list prices nobody publishes) is explicit and allowed;
    the report and the budget gate show it as unpriced."""
    if not spec.is_prod or spec.cloud == "existing" or spec.cluster_stack is not None:
        return
    book = load_price_book()
    for i, pool in enumerate(spec.node_pools):
        kind = capacity_kind(pool)
        for j, typ in enumerate(pool.instance_types):
            if catalog().instance(spec.cloud, typ) is None:
                continue  # pools.pool_catalog reports it
            found = book.instance(spec.cloud, spec.region, typ, kind)
            if isinstance(found, Unpriced) and not found.recorded:
                loc: Loc = ("nodePools", i, "instanceTypes", j)
                yield (
                    loc,
                    f"{show(typ)} has no {kind} price in {spec.region} in the price book; prod stacks must be "
                    "priced: add it with its source to components/cost/prices.yaml (or run "
                    "scripts/refresh_prices.py), or pick a region or instance type the book prices",
                )
