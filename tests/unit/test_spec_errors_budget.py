"""Bad `gpu-platform:budget` config and unpriced prod pools: each case asserts the exact message
(stacks/spec/budget.py, docs/cost.md)."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.spec.budget import BudgetSpec
from stacks.spec.errors import ConfigError
from stacks.spec.parse import parse_spec
from tests.spec_helpers import Case, assert_rejected, mutate, raw_stack

PROD = raw_stack("prod")
APROD = raw_stack("alicloud-prod")
EDEV = raw_stack("existing-dev")
P = "gpu-platform:"
H200 = {"name": "gpu-h200", "instanceTypes": ["p5e.48xlarge"], "maxSize": 1}
N = len(PROD["nodePools"])  # the case appends a pool


def _with_h200(raw: dict[str, Any]) -> dict[str, Any]:
    return raw | {"nodePools": [*raw["nodePools"], H200]}


def _problems(raw: dict[str, Any]) -> list[str]:
    """Problems of a config (other rules may flag the shared stack file; these tests look at budget's)."""
    try:
        parse_spec(raw)
    except ConfigError as err:
        return err.problems
    return []


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
        f"{P}budget.monthlyPeak: must be > 0.0, got 0",
    ),
    (
        "budget usage negative",
        mutate(PROD, "budget", {"usage": {"natDataGbPerMonth": -5}}),
        f"{P}budget.usage.natDataGbPerMonth: must be >= 0.0, got -5",
    ),
    (
        "prod pool without a price in its region",
        _with_h200(PROD),
        f"{P}nodePools[{N}].instanceTypes[0]: 'p5e.48xlarge' has no on-demand price in us-east-1 in the price book; "
        "prod stacks must be priced: add it with its source to components/cost/prices.yaml (or run "
        "scripts/refresh_prices.py), or pick a region or instance type the book prices",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_budget_config_is_rejected_with_its_message(case: Case) -> None:
    assert_rejected(case)


def test_a_budget_in_the_clouds_currency_is_accepted() -> None:
    budget = BudgetSpec.model_validate({"monthlyPeak": 60000, "usage": {"natDataGbPerMonth": 500}})
    assert (budget.monthly_peak, budget.currency, budget.usage.nat_data_gb_per_month) == (60000, "USD", 500)
    assert not [p for p in _problems(mutate(PROD, "budget", budget.model_dump(by_alias=True))) if "budget" in p]


def test_the_same_unpriced_pool_is_accepted_outside_prod() -> None:
    raw = mutate(_with_h200(PROD), "environment", "staging")
    assert not [p for p in _problems(raw) if "price book" in p]


def test_a_recorded_gap_is_not_an_error_in_prod() -> None:
    # alicloud-prod's pools are mostly unpriced, but the book records why (prices.yaml gaps): explicit.
    assert APROD["environment"] == "prod"
    assert not [p for p in _problems(APROD) if "price book" in p]
