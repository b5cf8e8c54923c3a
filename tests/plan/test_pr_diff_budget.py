"""The budget gate end to end (tools/pr_diff.py --fail-over-budget) on real commits of this repo, made in a
temporary clone: a PR that adds a p4d pool to dev shows the pool's monthly delta in the comment and fails
(exit 5) a budget set below the new peak; the same PR with a budget above it passes (docs/cost.md#budget)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from components.cost.price_book import HOURS_PER_MONTH, Priced, load_price_book
from tools.offline.runner import PROJECT_DIR

POOL = "    - name: gpu-a100\n      instanceTypes: [p4d.24xlarge]\n      minSize: 0\n      maxSize: 1\n"
ANCHOR = "    - name: gpu-l4\n      instanceTypes: [g6.xlarge, g6.2xlarge]\n      minSize: 0\n      maxSize: 2\n"
_CACHE = Path(tempfile.mkdtemp(prefix="pr-diff-budget-cache-"))


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, budget: int) -> str:
    dev = repo / "Pulumi.dev.yaml"
    text = dev.read_text()
    assert text.count(ANCHOR) == 1
    text = text.replace(ANCHOR, ANCHOR + POOL) + f"  gpu-platform:budget:\n    monthlyPeak: {budget}\n"
    dev.write_text(text)
    _git(repo, "commit", "-qam", f"dev: a p4d pool, budget {budget}")
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, str]:
    repo = tmp_path_factory.mktemp("clone") / "repo"
    _git(PROJECT_DIR, "clone", "--quiet", str(PROJECT_DIR), str(repo))
    _git(repo, "config", "user.email", "test@example.invalid")
    _git(repo, "config", "user.name", "budget test")
    base = _git(repo, "rev-parse", "HEAD")
    low = _commit(repo, 5000)
    _git(repo, "checkout", "-q", base)
    high = _commit(repo, 500000)
    return repo, base, low, high


def _run(repo: Path, base: str, head: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.pr_diff", "--repo", str(repo), "--base", base, "--head", head]
        + ["--stack", "dev", "--fail-over-budget", "--plan-cache", str(_CACHE), "--keep-plans", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _p4d_month() -> float:
    price = load_price_book().instance("aws", "us-west-2", "p4d.24xlarge", "on-demand")
    assert isinstance(price, Priced)
    return round(price.hourly * HOURS_PER_MONTH, 2)


def test_a_p4d_pool_over_budget_shows_its_delta_and_fails(repo: tuple[Path, str, str, str], tmp_path: Path) -> None:
    clone, base, low, _ = repo
    res = _run(clone, base, low, tmp_path)
    assert res.returncode == 5, res.stderr
    month = f"${_p4d_month():,.2f}"
    assert f"| pool gpu-a100: p4d.24xlarge on-demand | — → {month} | +{month} |" in res.stdout
    head = json.loads((tmp_path / "head" / "dev" / "cost.json").read_text())
    base_cost = json.loads((tmp_path / "base" / "dev" / "cost.json").read_text())
    gp3 = load_price_book().service("aws", "us-west-2", "block_storage_gb_month")
    assert isinstance(gp3, Priced)  # + the pool's 200 GiB root volume (GPU pools' default, stacks/spec/pools.py)
    assert head["monthlyPeak"] == pytest.approx(base_cost["monthlyPeak"] + _p4d_month() + 200 * gp3.hourly, abs=0.02)
    assert f"| pool gpu-a100: node volumes 200 GiB/node | — → ${200 * gp3.hourly:,.2f} |" in res.stdout
    over = head["monthlyPeak"] - 5000
    assert f"| budget (peak) | | $5,000.00 | ❌ over the budget of $5,000.00 by ${over:,.2f} |" in res.stdout
    assert "> **Over budget: `dev`.**" in res.stdout
    assert f"OVER BUDGET: dev: over the budget of $5,000.00 by ${over:,.2f}" in res.stderr


def test_the_same_pool_within_budget_passes(repo: tuple[Path, str, str, str], tmp_path: Path) -> None:
    clone, base, _, high = repo
    res = _run(clone, base, high, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "| budget (peak) | | $500,000.00 | within $500,000.00 |" in res.stdout
