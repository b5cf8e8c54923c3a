"""Glue for the offline plan (tools/plan.py): price a plan, write cost.json next to plan.json, append the cost
section to report.md, and refuse a prod plan with a price the book lacks (docs/cost.md#report)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.cost.estimate import CostEstimate, Usage, estimate
from components.cost.price_book import Unpriced
from components.cost.render import money, render_markdown, stale_warning


def usage_from_budget(budget: Mapping[str, Any] | None) -> Usage:
    """`gpu-platform:budget.usage` as the stack file writes it (validated by stacks/spec/budget.py)."""
    raw = (budget or {}).get("usage") or {}
    return Usage(
        nat_data_gb_per_month=float(raw.get("natDataGbPerMonth", 0)),
        log_ingest_gb_per_month=float(raw.get("logIngestGbPerMonth", 0)),
        registry_storage_gb=float(raw.get("registryStorageGb", 0)),
    )


def write_cost(
    plan: Mapping[str, Any],
    out: Path,
    *,
    environment: str,
    budget: Mapping[str, Any] | None,
    today: dt.date,
) -> tuple[CostEstimate, list[str]]:
    """(the estimate, errors). Errors: a prod stack with a line the book has neither a price nor a recorded
    gap for; cost.json and the report are written either way, so the reason is visible."""
    est = estimate(plan, usage_from_budget(budget))
    doc = est.to_json() | {"environment": environment, "budget": dict(budget or {}) or None}
    (out / "cost.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    report = out / "report.md"
    if report.exists():
        report.write_text(report.read_text().rstrip("\n") + "\n\n" + render_markdown(est, today))
    errors: list[str] = []
    if environment == "prod":
        errors = [
            f"no price for {line.price.what} ({line.group} {line.name}) in the price book; prod stacks must be "
            "priced: add it with its source to components/cost/prices.yaml or record the gap with its reason"
            for line in est.unrecorded
            if isinstance(line.price, Unpriced)
        ]
    return est, errors


def summary(est: CostEstimate, today: dt.date) -> list[str]:
    """The lines tools/plan.py prints."""
    if est.cloud is None:
        return []
    c = est.currency
    text = f"cost: {money(est.floor, c)} per month at floor, {money(est.peak, c)} at peak ({c}, {est.region})"
    if est.unpriced:
        text += f"; {len(est.unpriced)} line(s) unpriced, priced lines {money(est.known_peak, c)} at peak"
    lines = [text]
    if warning := stale_warning(est, today):
        lines.append(f"warning: {warning}")
    return lines
