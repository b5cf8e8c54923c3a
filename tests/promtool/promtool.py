"""Shared helpers: find promtool, render the rule files the fixtures test, run promtool on them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.observability.rules import gpu_recording_rules, platform_alert_rules
from components.observability.slo import SloTarget, Workload, slo_alert_rules
from components.scheduling import POOL_LABEL

FIXTURES = Path(__file__).parent / "fixtures"

# The fixtures' series and expected alerts are written for exactly these inputs (and POOL_LABEL,
# "gpu-platform.io/pool", the label our node pools carry).
SAMPLE_WORKLOAD = Workload(namespace="ml-serving", service="llama3-8b", version="v2")
SAMPLE_SLO = SloTarget(p99_ms=2000, error_ratio=0.01, window="5m", min_rps=0.5)
SAMPLE_PREFIX = "Llama38bV2"
SAMPLE_LABELS = {"model": "llama3-8b", "release_role": "candidate"}


def promtool() -> str:
    """Path of promtool; fails (never skips) when it is missing, since these tests are the rules' proof."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not on PATH. Install it with `apt-get install -y prometheus` "
            "(Debian package `prometheus` ships /usr/bin/promtool), then re-run.",
            pytrace=False,
        )
    return path


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def platform_groups() -> list[dict[str, Any]]:
    return [gpu_recording_rules(POOL_LABEL), platform_alert_rules(POOL_LABEL)]


def slo_groups() -> list[dict[str, Any]]:
    rules = slo_alert_rules(SAMPLE_WORKLOAD, SAMPLE_SLO, name_prefix=SAMPLE_PREFIX, labels=SAMPLE_LABELS)
    return [{"name": "llama3-8b-v2.slo", "rules": rules}]


def write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False, width=1000), encoding="utf-8")
    return path


def write_rule_file(path: Path, groups: Sequence[Mapping[str, Any]]) -> Path:
    """A Prometheus rule file: the same `groups` a PrometheusRule's spec carries."""
    return write_yaml(path, {"groups": list(groups)})


def load_fixture(name: str) -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
