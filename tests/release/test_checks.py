"""Which checks a step runs (tools/release/judge.checks_of): the SLO thresholds unless `sloChecks: false`,
then `checks`, or when it is unset the candidate-vs-stable defaults; requiredPassing defaults to all."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.spec.models import ModelSpec
from tests.spec_helpers import raw_stack
from tools.release.judge import Check, checks_of

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
