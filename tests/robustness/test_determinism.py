"""Plans are byte-identical across runs and across Python hash seeds (set/dict ordering must never leak
into names or inputs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import STACKS
from tools.offline.config import PROJECT_DIR


def _plan_bytes(stack: str, seed: str, out: Path) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    res = subprocess.run([sys.executable, "-m", "tools.plan", stack, "--out", str(out)], cwd=PROJECT_DIR, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return (out / "plan.json").read_bytes()


@pytest.mark.parametrize("stack", STACKS)
def test_plan_is_identical_across_hash_seeds(stack: str, tmp_path: Path) -> None:
    assert _plan_bytes(stack, "1", tmp_path / "a") == _plan_bytes(stack, "4242", tmp_path / "b")
