"""One step's analysis: every check over the last `intervals` intervals, from Prometheus range queries.

The checks are the model's SLO (thresholds) and its `analysis.checks` (stacks/spec/analysis.py); the
queries are components/observability/analysis.py's, i.e. the SLO alerts' PromQL. Per interval:
- the candidate served fewer than `minRequests` requests (or no data): every check is inconclusive;
- a check with no value (no data, NaN), or against the stable version when the stable served fewer than
  `minRequests` or has no value: inconclusive;
- otherwise it passes or fails on its bound.
A check passes with at least `requiredPassing` passing intervals and fails once so many failed that it
no longer can; the step fails if any check fails, else is inconclusive if any check is, else passes.
Prometheus unreachable is inconclusive too: no data is never a pass. At 100% the stable serves nothing to
compare with, so only the threshold checks run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from components.models.names import workload as deployment_name
from components.observability.analysis import GpuKind, duration_seconds, interval_queries
from components.observability.slo import Workload
from stacks.spec.analysis import AnalysisSpec
from stacks.spec.models import ModelSpec, ModelVersionSpec
from tools.release.prom import PrometheusUnavailable, range_points

Verdict = Literal["pass", "fail", "inconclusive"]
RangeQuery = Callable[[str, float, float, float], dict[float, float]]
"""(query, start, end, step) -> {timestamp: value}; tools/release/prom.range_points bound to a URL."""


@dataclass(frozen=True)
class Check:
    metric: str
    against: str
    max: float
    required: int
    ignore_below: float = 0.0

    @property
    def name(self) -> str:
        if self.against == "stable":
            return f"{self.metric} <= {self.max:g} x stable"
        return f"{self.metric} <= {self.max:g}"


@dataclass
class CheckResult:
    check: str
    passed: int
    failed: int
    inconclusive: int
    required: int
    verdict: Verdict


@dataclass
class Interval:
    end: str
    candidate_requests: float | None
    stable_requests: float | None
    values: dict[str, list[float | None]] = field(default_factory=dict)
    """metric -> [candidate, stable]."""
    outcomes: dict[str, str] = field(default_factory=dict)
    """check name -> pass / fail / inconclusive (with why)."""


@dataclass
class StepAnalysis:
    verdict: Verdict
    reason: str
    checks: list[CheckResult]
    intervals: list[Interval]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """Markdown: one row per check, then the measured values per interval."""
        if not self.checks:
            return f"_{self.reason}_\n"
        rows = [
            "| check | passed | failed | inconclusive | required | verdict |",
            "|---|---:|---:|---:|---:|---|",
            *(
                f"| {c.check} | {c.passed} | {c.failed} | {c.inconclusive} | {c.required} | {c.verdict} |"
                for c in self.checks
            ),
            "",
        ]
        metrics = sorted({m for i in self.intervals for m in i.values})
        rows += [
            "| interval end (UTC) | requests candidate / stable | "
            + " | ".join(f"{m} candidate / stable" for m in metrics)
            + " |",
            "|---|---|" + "---|" * len(metrics),
        ]
        for i in self.intervals:
            cells = [f"{_fmt(i.candidate_requests)} / {_fmt(i.stable_requests)}"]
            cells += [" / ".join(_fmt(v) for v in i.values.get(m, [None, None])) for m in metrics]
            rows.append(f"| {i.end} | " + " | ".join(cells) + " |")
        return "\n".join(rows) + "\n"


def _fmt(v: float | None) -> str:
    if v is None:
        return "no data"
    if v == 0 or abs(v) >= 1e5:
        return f"{v:.0f}"
    return f"{v:.5g}"


def checks_of(model: ModelSpec, a: AnalysisSpec) -> list[Check]:
    out: list[Check] = []
    if a.slo_checks:
        out.append(Check("errorRatio", "threshold", model.slo.error_ratio, a.intervals))
        out.append(Check("p99Ms", "threshold", model.slo.p99_ms, a.intervals))
    for c in a.effective_checks():
        required = a.intervals if c.required_passing is None else c.required_passing
        out.append(Check(c.metric, c.against, c.max, required, c.ignore_below))
    return out


def gpu_kind(v: ModelVersionSpec) -> GpuKind | None:
    if v.gpu.time_sliced:
        return None
    return "mig" if v.gpu.mig_profile else "whole"


def _outcome(check: Check, cand: float | None, stable: float | None, stable_requests: float | None, least: int) -> str:
    if cand is None:
        return "inconclusive: no candidate data"
    if check.against == "threshold":
        return "pass" if cand <= check.max else f"fail: {_fmt(cand)} > {check.max:g}"
    if cand <= check.ignore_below:
        return "pass"
    if stable_requests is None or stable_requests < least:
        return f"inconclusive: the stable served {_fmt(stable_requests)} requests < minRequests {least}"
    if stable is None:
        return "inconclusive: no stable data"
    ratio = math.inf if stable == 0 else cand / stable
    if ratio <= check.max:
        return "pass"
    return f"fail: {_fmt(cand)} is {ratio:.2f} x stable {_fmt(stable)}"


def analyse(model: ModelSpec, candidate: str, weight: int, end: float, query: RangeQuery) -> StepAnalysis:
    """Judge `candidate`, at `weight`%, against `model.traffic.stable` over the intervals ending at `end`
    (unix seconds). At 100% the stable serves nothing to compare with: only the threshold checks run."""
    a = model.analysis or AnalysisSpec()
    step = duration_seconds(a.interval)
    start = end - (a.intervals - 1) * step
    stamps = [round(start + k * step, 3) for k in range(a.intervals)]
    checks = [c for c in checks_of(model, a) if weight < 100 or c.against != "stable"]
    if not checks:
        return StepAnalysis("pass", "no check applies at 100% (every check compares with the stable)", [], [])
    versions = {v.name: v for v in model.versions}
    ns = model.namespace or model.name
    series: dict[str, dict[str, dict[float, float]]] = {}
    needed = {c.metric for c in checks}
    try:
        for role, version in (("candidate", candidate), ("stable", model.traffic.stable)):
            if role == "stable" and not any(c.against == "stable" for c in checks):
                needed_here = {"requests"}
            else:
                needed_here = {"requests"} | needed
            queries = interval_queries(
                Workload(ns, model.name, version),
                deployment_name(model.name, version),
                a.interval,
                gpu_kind(versions[version]),
            )
            series[role] = {m: query(q, start, end, step) for m, q in queries.items() if m in needed_here}
    except PrometheusUnavailable as err:
        return StepAnalysis("inconclusive", f"Prometheus: {err}", [], [])

    intervals: list[Interval] = []
    tallies = {c.name: {"pass": 0, "fail": 0, "inconclusive": 0} for c in checks}
    for ts in stamps:
        cand_req = series["candidate"]["requests"].get(ts)
        row = Interval(
            end=datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            candidate_requests=cand_req,
            stable_requests=series["stable"]["requests"].get(ts),
        )
        for metric in sorted(needed):
            row.values[metric] = [
                series["candidate"].get(metric, {}).get(ts),
                series["stable"].get(metric, {}).get(ts),
            ]
        for c in checks:
            if cand_req is None or cand_req < a.min_requests:
                got = "no data" if cand_req is None else f"{cand_req:.0f}"
                outcome = f"inconclusive: {got} requests < minRequests {a.min_requests}"
            else:
                cand, stable = row.values[c.metric]
                outcome = _outcome(c, cand, stable, row.stable_requests, a.min_requests)
            row.outcomes[c.name] = outcome
            tallies[c.name][outcome.split(":")[0]] += 1
        intervals.append(row)

    results: list[CheckResult] = []
    for c in checks:
        t = tallies[c.name]
        verdict: Verdict
        if t["pass"] >= c.required:
            verdict = "pass"
        elif t["fail"] > a.intervals - c.required:
            verdict = "fail"
        else:
            verdict = "inconclusive"
        results.append(CheckResult(c.name, t["pass"], t["fail"], t["inconclusive"], c.required, verdict))
    failed = [r.check for r in results if r.verdict == "fail"]
    unsure = [r.check for r in results if r.verdict == "inconclusive"]
    if failed:
        return StepAnalysis("fail", "failed: " + ", ".join(failed), results, intervals)
    if unsure:
        low = sum(1 for i in intervals if i.candidate_requests is None or i.candidate_requests < a.min_requests)
        why = f"; {low} of {a.intervals} intervals below minRequests {a.min_requests}" if low else ""
        return StepAnalysis(
            "inconclusive", "not enough passing intervals: " + ", ".join(unsure) + why, results, intervals
        )
    return StepAnalysis(
        "pass", f"every check passed in at least its required intervals of {a.intervals}", results, intervals
    )


def prometheus_query(url: str, timeout: float = 10.0) -> RangeQuery:
    def query(q: str, start: float, end: float, step: float) -> dict[float, float]:
        return range_points(url, q, start, end, step, timeout)

    return query
