"""The PR comment's cost table and the budget verdict (tools/pr_diff.py), on cost.json documents built here."""

from __future__ import annotations

from typing import Any

import pytest

from tools import pr_diff
from tools.offline.diff import diff_plans
from tools.pr_diff import budget_verdict, render_cost


def _line(group: str, name: str, item: str, peak: float | None, floor: float | None = 0.0) -> dict[str, Any]:
    out: dict[str, Any] = {"group": group, "name": name, "item": item, "monthlyPeak": peak, "monthlyFloor": floor}
    if peak is None:
        out["unpriced"] = "no citable price"
    return out


def _cost(peak: float | None, lines: list[dict[str, Any]], budget: float | None = None, **kw: Any) -> dict[str, Any]:
    known = round(sum(x["monthlyPeak"] or 0 for x in lines), 2)
    return {
        "cloud": "aws",
        "region": "us-east-1",
        "currency": "USD",
        "monthlyFloor": 100.0,
        "monthlyPeak": peak,
        "monthlyPeakKnown": known,
        "lines": lines,
        "models": kw.get("models", []),
        "budget": None if budget is None else {"monthlyPeak": budget},
    }


BASE_LINES = [_line("pool", "system", "m6i.xlarge on-demand", 840.96, 420.48)]
P4D = _line("pool", "gpu-a100", "p4d.24xlarge on-demand", 16029.08)
BASE = _cost(840.96, BASE_LINES)
HEAD = _cost(16870.04, [*BASE_LINES, P4D], budget=10000)


def test_cost_table_exact_text() -> None:
    models = [{"version": "m/v1", "monthlyPeak": 100.0, "perMillionRequests": 2.5}]
    head = _cost(16870.04, [*BASE_LINES, P4D], budget=10000, models=models)
    assert "\n".join(render_cost(BASE, head, budget_verdict("dev", BASE, head))) == "\n".join(
        [
            "**Monthly cost** (USD, us-east-1; floor = pools at minSize, peak = pools at maxSize; docs/cost.md)",
            "",
            "| | base | head | Δ |",
            "|---|---:|---:|---:|",
            "| at floor | $100.00 | $100.00 | = |",
            "| at peak | $840.96 | $16,870.04 | +$16,029.08 |",
            "| budget (peak) | | $10,000.00 | ❌ over the budget of $10,000.00 by $6,870.04 |",
            "",
            "| what changed | peak base → head | Δ |",
            "|---|---|---:|",
            "| pool gpu-a100: p4d.24xlarge on-demand | — → $16,029.08 | +$16,029.08 |",
            "| model m/v1 (share of its pool) | — → $100.00 ($2.50/1M req) | +$100.00 |",
            "",
        ]
    )


def test_raising_the_peak_above_the_budget_fails() -> None:
    v = budget_verdict("dev", BASE, HEAD)
    assert v is not None and v.over and (v.base_peak, v.head_peak) == (840.96, 16870.04)


def test_within_budget_or_not_raised_passes() -> None:
    within = budget_verdict("dev", BASE, _cost(16870.04, [*BASE_LINES, P4D], budget=20000))
    assert within is not None and not within.over and within.reason == "within $20,000.00"
    lowered = budget_verdict("dev", _cost(16870.04, [*BASE_LINES, P4D]), HEAD)  # same peak, budget added
    assert lowered is not None and not lowered.over
    assert lowered.reason == "over the budget of $10,000.00 by $6,870.04; not raised by this PR"


def test_no_budget_no_verdict() -> None:
    assert budget_verdict("dev", BASE, _cost(16870.04, [*BASE_LINES, P4D])) is None


UNPRICED = [*BASE_LINES, _line("pool", "gpu", "ecs.gn7e-c16g1.16xlarge on-demand", None, None)]
UNPRICED_REASON = (
    "the peak is not fully priced (1 line(s) unpriced: pool gpu: ecs.gn7e-c16g1.16xlarge on-demand), so it cannot "
    "be shown to stay within the budget of $10,000.00; price them (components/cost/prices.yaml, or a Capacity "
    "Block's reservation.upfrontFee and durationHours) or remove budget.monthlyPeak"
)


def test_an_unpriced_peak_with_a_budget_fails_closed() -> None:
    head = _cost(None, UNPRICED, budget=10000)
    grew = budget_verdict("ali", BASE, head)
    assert grew is not None and grew.over and grew.head_peak is None and grew.reason == UNPRICED_REASON
    # Unchanged by the PR still fails: an unknown peak is never shown to be within budget.
    same = budget_verdict("ali", _cost(None, UNPRICED), head)
    assert same is not None and same.over and same.reason == UNPRICED_REASON
    assert budget_verdict("ali", BASE, _cost(None, UNPRICED)) is None  # no budget: reported only


def test_the_gate_exits_5_with_the_reason_for_an_unpriced_peak(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    head = _cost(None, UNPRICED, budget=10000)
    plan = {"project": "gpu-platform", "stack": "ali", "resources": [], "outputs": {}, "diagnostics": []}
    result = pr_diff.StackResult("ali", diff_plans(plan, plan), plan, plan, base_cost=head, head_cost=head)
    monkeypatch.setattr(pr_diff, "git", lambda repo, *args: "0" * 40)
    monkeypatch.setattr(pr_diff, "plan_both", lambda *a, **k: [result])
    assert pr_diff.main(["--base", "b", "--head", "h"]) == 0  # without the flag: reported, not failed
    assert pr_diff.main(["--base", "b", "--head", "h", "--fail-over-budget"]) == 5
    out = capsys.readouterr()
    assert f"OVER BUDGET: ali: {UNPRICED_REASON}" in out.err
    assert "> **Over budget: `ali`.**" in out.out


def test_no_cost_on_either_side_renders_nothing() -> None:
    assert render_cost(None, None, None) == []
