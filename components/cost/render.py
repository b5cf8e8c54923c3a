"""The cost section of report.md and of the PR comment, from a CostEstimate (docs/cost.md#report)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from components.cost.estimate import CostEstimate, Line
from components.cost.price_book import Priced, Unpriced

SYMBOLS = {"USD": "$", "CNY": "¥"}
STALE_AFTER_DAYS = 180  # a price older than this gets a warning in the report (docs/cost.md#refreshing)


def money(x: float | None, currency: str) -> str:
    if x is None:
        return "unpriced"
    return f"{'−' if x < 0 else ''}{SYMBOLS.get(currency, currency + ' ')}{abs(x):,.2f}"


def _price(line: Line, currency: str) -> str:
    p = line.price
    if isinstance(p, Unpriced):
        return "—"
    sym = SYMBOLS.get(currency, currency + " ")
    text = f"{sym}{p.hourly:g}/{line.unit}"
    if p.low is not None:
        text = f"{sym}{p.low:g}–{p.hourly:g}/{line.unit} (spot, observed)"
    return text


def _source(p: Priced | Unpriced) -> str:
    if isinstance(p, Unpriced):
        return f"unpriced: {p.reason}" if p.recorded else f"**missing**: {p.reason}"
    extra = "" if p.confidence == "published" else f", {p.confidence}"
    basis = f"; {p.basis}" if p.basis and p.low is None else ""
    return f"{p.source} {p.source_date.isoformat()}{extra}{basis}"


def stale_warning(est: CostEstimate, today: dt.date, max_age_days: int = STALE_AFTER_DAYS) -> str | None:
    oldest = est.oldest_source
    if oldest is None or (today - oldest).days <= max_age_days:
        return None
    return (
        f"Some prices are older than {max_age_days} days (oldest source {oldest.isoformat()}, "
        f"{(today - oldest).days} days): run scripts/refresh_prices.py or update components/cost/prices.yaml."
    )


def render_markdown(est: CostEstimate, today: dt.date, max_age_days: int = STALE_AFTER_DAYS) -> str:
    if est.cloud is None:
        return "## Cost\n\nNothing to price: the stack creates no cloud resources (its cluster is not this stack's).\n"
    c = est.currency
    out = [
        f"## Cost (monthly, {c}, {est.cloud} {est.region})",
        "",
        "Priced from the price book (components/cost/) in the stack's region, 730 hours a month: floor = pools "
        "at minSize plus every add-on, peak = every pool at maxSize. A pool is priced at its first instance type.",
        "",
        "| group | name | item | floor | peak | price | source |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for x in est.lines:
        out.append(
            f"| {x.group} | {x.name} | {x.item} | {money(x.floor, c)} | {money(x.peak, c)} | "
            f"{_price(x, c)} | {_source(x.price)} |"
        )
    out.append(f"| **total** | | | **{money(est.floor, c)}** | **{money(est.peak, c)}** | | |")
    if est.unpriced:
        out += [
            "",
            f"{len(est.unpriced)} line(s) unpriced, so the totals are unknown; the priced lines come to "
            f"{money(est.known_peak, c)} at peak.",
        ]
    if warning := stale_warning(est, today, max_age_days):
        out += ["", f"> [!WARNING]\n> {warning}"]
    if est.models:
        out += [
            "",
            "Model versions: the GPU share of the cheapest eligible pool's node price (already in the pools above), "
            "at min and max replicas, and per 1M requests at one replica's target requests per second.",
            "",
            "| version | pool | at min replicas | at max replicas | per 1M requests |",
            "|---|---|---:|---:|---:|",
        ]
        for m in est.models:
            per_m = "—" if m.per_million_requests is None else money(m.per_million_requests, c)
            rps = "" if m.target_rps is None else f" (at {m.target_rps:g} rps)"
            out.append(
                f"| {m.version} | {m.pool or '—'} | {money(m.floor, c)} ({m.min_replicas}) | "
                f"{money(m.peak, c)} ({m.max_replicas}) | {per_m}{rps} |"
            )
    return "\n".join(out) + "\n"


def totals(cost: dict[str, Any] | None) -> tuple[float | None, float | None]:
    """(floor, peak) of a cost.json dict; (None, None) when there is none."""
    if not cost:
        return None, None
    return cost.get("monthlyFloor"), cost.get("monthlyPeak")
