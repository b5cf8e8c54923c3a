"""Plans are byte-identical across runs and across Python hash seeds (set/dict ordering must never leak
into names or inputs)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import STACKS, Plan
from tools.offline.artifacts import plan_json
from tools.offline.config import PROJECT_DIR


def _plan_bytes(stack: str, seed: str, out: Path) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    res = subprocess.run(
        [sys.executable, "-m", "tools.plan", stack, "--out", str(out)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    return (out / "plan.json").read_bytes()


@pytest.mark.parametrize("stack", STACKS)
def test_plan_is_identical_across_hash_seeds(stack: str, tmp_path: Path, plan: Callable[[str], Plan]) -> None:
    # The session's in-process plan (this process's random hash seed) against a fresh process with a
    # fixed, different seed: set or dict ordering leaking into names or inputs would differ.
    seed = "4242" if os.environ.get("PYTHONHASHSEED") != "4242" else "1"
    assert plan_json(plan(stack).data).encode() == _plan_bytes(stack, seed, tmp_path)
