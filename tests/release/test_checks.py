"""Which checks a step runs (tools/release/judge.checks_of): the SLO thresholds unless `sloChecks: false`,
then `checks`, or when it is unset the candidate-vs-stable defaults; requiredPassing defaults to all."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.spec.models import ModelSpec
from tests.spec_helpers import raw_stack
from tools.release.judge import Check, analyse, checks_of, prometheus_query

MODEL = raw_stack("dev")["models"][0]


def model_with(analysis: dict[str, Any]) -> ModelSpec:
    return ModelSpec.model_validate({**MODEL, "analysis": analysis, "slo": {"p99Ms": 3000, "errorRatio": 0.02}})


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        (
            {},
            [
                Check("errorRatio", "threshold", 0.02, 5),
                Check("p99Ms", "threshold", 3000, 5),
                Check("errorRatio", "stable", 2, 5, 0.001),
                Check("p99Ms", "stable", 1.5, 5),
            ],
        ),
        (
            {"checks": [], "intervals": 3},
            [Check("errorRatio", "threshold", 0.02, 3), Check("p99Ms", "threshold", 3000, 3)],
        ),
        (
            {
                "sloChecks": False,
                "checks": [{"metric": "gpuSaturation", "against": "stable", "max": 1.3, "requiredPassing": 4}],
            },
            [Check("gpuSaturation", "stable", 1.3, 4)],
        ),
    ],
    ids=["defaults", "slo only", "own checks only"],
)
def test_checks_of_a_step(analysis: dict[str, Any], expected: list[Check]) -> None:
    m = model_with(analysis)
    assert m.analysis is not None
    assert checks_of(m, m.analysis) == expected


def test_check_names_say_what_passes() -> None:
    assert Check("p99Ms", "stable", 1.5, 5).name == "p99Ms <= 1.5 x stable"
    assert Check("errorRatio", "threshold", 0.01, 5).name == "errorRatio <= 0.01"


def test_a_relative_check_needs_the_stable_to_have_served_min_requests(prometheus: str, t0: int) -> None:
    # roles swapped in the too-little-traffic series: the judged version serves 4 rps, the "stable" 0.2 rps
    m = ModelSpec.model_validate(
        {
            **MODEL,
            "namespace": "too-little-traffic",
            "traffic": {"stable": "v2", "candidate": "v1", "candidateWeight": 10},
            "analysis": {"sloChecks": False, "checks": [{"metric": "p99Ms", "against": "stable", "max": 1.5}]},
        }
    )
    result = analyse(m, "v1", 10, t0 + 300, prometheus_query(prometheus))
    assert result.verdict == "inconclusive"
    assert [i.outcomes["p99Ms <= 1.5 x stable"] for i in result.intervals] == [
        "inconclusive: the stable served 12 requests < minRequests 30"
    ] * 5
    # at 100% there is nothing to compare with: no check runs, the step passes on the thresholds alone
    assert analyse(m, "v1", 100, t0 + 300, prometheus_query(prometheus)).verdict == "pass"
