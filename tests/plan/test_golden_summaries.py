"""Golden plan summaries: per stack file, the resource count by type and every protected resource.

A change to what a stack creates, or to what is protected, shows up here as a reviewed diff. Regenerate
on purpose with `UPDATE_GOLDEN=1 make unit` and review `git diff tests/golden/`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import STACKS, Plan

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def summary(p: Plan) -> str:
    counts = Counter(r["type"] for r in p.resources)
    lines = [f"# {len(p.resources)} resources", *(f"{n:5d} {t}" for t, n in sorted(counts.items())), "# protected"]
    lines += sorted(f"      {r['type']} {r['name']}" for r in p.resources if r["options"]["protect"])
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("stack", STACKS)
def test_plan_summary_matches_golden(stack: str, plan: Callable[[str], Plan]) -> None:
    path = GOLDEN / f"plan-summary-{stack}.txt"
    got = summary(plan(stack))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(got)
    assert path.exists(), f"no golden summary for {stack}: run UPDATE_GOLDEN=1 and review the new file"
    assert got == path.read_text(), f"plan summary of {stack} changed: review, then UPDATE_GOLDEN=1"
