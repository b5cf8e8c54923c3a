"""`models[i].analysis`: how `python -m tools.release run` judges a candidate at each rollout step.

At every step the loop waits `stepInterval`, then evaluates each check over the last `intervals`
windows of `interval` each (one Prometheus range query per series, docs/progressive-delivery.md). An
interval where the candidate served fewer than `minRequests` requests proves nothing: it is
inconclusive, never a pass. A check passes when at least `requiredPassing` of its intervals pass, and
fails as soon as too many failed for that to be possible. The PromQL is components/observability/slo.py's
(the SLO alerts' expressions), extended in components/observability/analysis.py.

Its cross-field rule (`model_analysis`) is listed in stacks/spec/rules.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stacks.spec.base import Duration, Problem, Spec
from stacks.spec.errors import show

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec

Metric = Literal["errorRatio", "p99Ms", "gpuSaturation"]
Against = Literal["threshold", "stable"]

# 4 scrapes of the 15s scrape interval the platform's monitors use (components/observability/prometheus.py):
# a rate() over fewer samples swings with every single request.
MIN_INTERVAL_SECONDS = 60
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def seconds(duration: str) -> int:
    """'5m' -> 300 (a stacks.spec.base.Duration: a whole number with s, m or h)."""
    return int(duration[:-1]) * _UNIT_SECONDS[duration[-1]]


class AnalysisCheckSpec(Spec):
    metric: Metric
    """`errorRatio` (share of 5xx), `p99Ms` (P99 latency in ms) or `gpuSaturation` (mean GPU busy
    ratio of the version's pods from DCGM, 0-1)."""
    against: Against = "threshold"
    """`threshold`: the candidate's value must be at most `max`. `stable`: the candidate's value divided
    by the stable version's, in the same interval, must be at most `max` (the stable must have served
    `minRequests` there; at 100% such checks are skipped, the stable serving nothing)."""
    max: float = Field(gt=0)
    """Highest passing value: the metric itself (`threshold`) or the candidate/stable ratio (`stable`)."""
    ignore_below: float = Field(default=0, ge=0)
    """`stable` only: a candidate value at or below this passes whatever the stable measured (a noise
    floor, e.g. 0.001 for an error ratio where the stable served no 5xx at all)."""
    required_passing: int | None = Field(default=None, ge=1)
    """Intervals of the step's `intervals` that must pass. Default: all of them."""


DEFAULT_CHECKS: tuple[AnalysisCheckSpec, ...] = (
    AnalysisCheckSpec(metric="errorRatio", against="stable", max=2, ignore_below=0.001),
    AnalysisCheckSpec(metric="p99Ms", against="stable", max=1.5),
)


class AnalysisSpec(Spec):
    step_interval: Duration = "10m"
    """Time each rollout step runs before it is analysed (the candidate's weight is applied, then the
    loop waits this long)."""
    interval: Duration = "1m"
    """Length of one analysis interval (the range of every `rate()`), at least 1m."""
    intervals: int = Field(default=5, ge=1, le=60)
    """Consecutive intervals, ending at the moment of analysis, that each check is evaluated over."""
    min_requests: int = Field(default=30, ge=1)
    """Requests the candidate must serve in an interval for that interval to count; fewer: inconclusive."""
    max_inconclusive: int = Field(default=2, ge=0, le=20)
    """Inconclusive analyses (too little traffic, no data, Prometheus unreachable) retried at a step,
    one `interval` apart, before the loop rolls back."""
    slo_checks: bool = True
    """Also check the model's `slo` (errorRatio and p99Ms against their thresholds) in every interval."""
    checks: tuple[AnalysisCheckSpec, ...] | None = None
    """Checks besides the SLO's. Default (unset): candidate vs stable, error ratio at most 2x (ignoring
    below 0.1%) and P99 at most 1.5x; `[]`: none."""

    def effective_checks(self) -> tuple[AnalysisCheckSpec, ...]:
        return DEFAULT_CHECKS if self.checks is None else self.checks


def model_analysis(spec: StackSpec) -> Iterator[Problem]:
    """Each model's `analysis` is coherent with itself and with the model's versions."""
    for i, m in enumerate(spec.models):
        if m.analysis is not None:
            yield from analysis_problems(i, m.analysis, [v.name for v in m.versions if v.gpu.time_sliced])


def analysis_problems(i: int, a: AnalysisSpec, time_sliced: Sequence[str]) -> Iterator[Problem]:
    """The rule for `models[i].analysis` of a model whose versions `time_sliced` use time-sliced GPUs
    (tools/release checks the model it runs with it too)."""
    at = ("models", i, "analysis")
    if seconds(a.interval) < MIN_INTERVAL_SECONDS:
        yield (
            (*at, "interval"),
            f"{show(a.interval)} is shorter than 1m; a rate() over fewer than 4 scrapes (15s) swings with "
            "single requests; use '1m' or longer",
        )
    looked_back = seconds(a.interval) * a.intervals
    if looked_back > seconds(a.step_interval):
        yield (
            (*at, "stepInterval"),
            f"{show(a.step_interval)} is shorter than the {a.intervals} x {a.interval} the analysis looks back "
            "over, which would judge traffic from the previous step; raise stepInterval or lower intervals",
        )
    seen: dict[tuple[str, str], int] = {}
    for j, c in enumerate(a.checks or ()):
        loc = (*at, "checks", j)
        key = (c.metric, c.against)
        if key in seen:
            yield (
                loc,
                f"check {c.metric} against {c.against} repeats checks[{seen[key]}]; keep one of them",
            )
        seen.setdefault(key, j)
        if c.required_passing is not None and c.required_passing > a.intervals:
            yield (
                (*loc, "requiredPassing"),
                f"{c.required_passing} is more than the {a.intervals} intervals analysed; use at most {a.intervals}",
            )
        if c.against == "stable":
            if c.max < 1:
                yield (
                    (*loc, "max"),
                    f"{c.max:g} would require the candidate to beat the stable version; use 1 or more "
                    "(1.5: at most 50% worse)",
                )
        else:
            if c.ignore_below:
                yield (
                    (*loc, "ignoreBelow"),
                    "applies only to checks against the stable version; remove it, or set against: stable",
                )
            bound = {"errorRatio": "below 1 (0.01 = 1%)", "gpuSaturation": "at most 1 (0.9 = 90% busy)"}
            if (c.metric == "errorRatio" and c.max >= 1) or (c.metric == "gpuSaturation" and c.max > 1):
                yield (
                    (*loc, "max"),
                    f"{c.max:g} is not a ratio {c.metric} can reach; use a value {bound[c.metric]}",
                )
        if c.metric == "gpuSaturation":
            if time_sliced:
                yield (
                    (*loc, "metric"),
                    f"'gpuSaturation' needs a GPU per pod, but version(s) {', '.join(time_sliced)} use time-sliced "
                    "GPUs, whose utilisation DCGM cannot attribute to one pod; drop this check",
                )
