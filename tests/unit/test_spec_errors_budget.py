"""Bad `gpu-platform:budget` config and unpriced prod pools: each case asserts the exact message
(stacks/spec/budget.py, docs/cost.md)."""

from __future__ import annotations

import pytest

from stacks.spec.parse import parse_spec
from tests.spec_helpers import Case, assert_rejected, mutate, raw_stack

PROD = raw_stack("prod")
APROD = raw_stack("alicloud-prod")
EDEV = raw_stack("existing-dev")
P = "gpu-platform:"
H200 = {"name": "gpu-h200", "instanceTypes": ["p5e.48xlarge"], "maxSize": 1}

CASES: list[Case] = [
    (
        "budget currency is not the cloud's",
        mutate(PROD, "budget", {"monthlyPeak": 90000, "currency": "CNY"}),
        f"{P}budget.currency: 'CNY', but aws prices are in USD (components/cost/prices.yaml; no exchange rate is "
        "assumed): set currency: USD and monthlyPeak in USD",
    ),
    (
        "budget on alicloud in USD",
        mutate(APROD, "budget", {"monthlyPeak": 90000}),
        f"{P}budget.currency: 'USD', but alicloud prices are in CNY (components/cost/prices.yaml; no exchange rate "
        "is assumed): set currency: CNY and monthlyPeak in CNY",
    ),
    (
        "budget on an existing cluster",
        mutate(EDEV, "budget", {"monthlyPeak": 1000}),
        f"{P}budget: given while cloud is 'existing'; the price book has no prices for a cluster this stack does "
        "not create: remove budget",
    ),
    (
        "budget not positive",
        mutate(PROD, "budget", {"monthlyPeak": 0}),
        f"{P}budget.monthlyPeak: must be > 0, got 0",
    ),
    (
        "budget usage negative",
        mutate(PROD, "budget", {"usage": {"natDataGbPerMonth": -5}}),
        f"{P}budget.usage.natDataGbPerMonth: must be >= 0, got -5",
    ),
    (
        "prod pool without a price in its region",
        mutate(PROD, "nodePools.4", H200),
        f"{P}nodePools[4].instanceTypes[0]: 'p5e.48xlarge' has no on-demand price in us-east-1 in the price book; "
        "prod stacks must be priced: add it with its source to components/cost/prices.yaml (or run "
        "scripts/refresh_prices.py), or pick a region or instance type the book prices",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_budget_config_is_rejected_with_its_message(case: Case) -> None:
    assert_rejected(case)


def test_a_budget_in_the_clouds_currency_is_accepted() -> None:
    spec = parse_spec(mutate(PROD, "budget", {"monthlyPeak": 60000, "usage": {"natDataGbPerMonth": 500}}))
    assert spec.budget is not None
    assert (spec.budget.monthly_peak, spec.budget.currency, spec.budget.usage.nat_data_gb_per_month) == (
        60000,
        "USD",
        500,
    )


def test_the_same_unpriced_pool_is_accepted_outside_prod() -> None:
    raw = mutate(mutate(PROD, "nodePools.4", H200), "environment", "staging")
    assert [p.name for p in parse_spec(raw).node_pools][-1] == "gpu-h200"


def test_a_recorded_gap_is_not_an_error_in_prod() -> None:
    # alicloud-prod's pools are mostly unpriced, but the book records why (prices.yaml gaps): explicit.
    assert parse_spec(APROD).is_prod
