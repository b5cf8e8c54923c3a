"""checkov (offline, --skip-download, kubernetes framework) over the rendered manifests of the dev and
prod plans: zero failures apart from the checks skipped in .checkov.yaml, each with its reason there.

Manifests come from the stacks' own plans and from the add-ons layer's plans (tests/component/
addons_plan.py) while the cluster layers do not yet hand the platform layer a provider. Helm charts
are opaque offline; their security-relevant values are asserted in tests/component/test_addons.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.component.addons_plan import addons_plan
from tests.conftest import Plan
from tools.offline.artifacts import write_manifests
from tools.offline.runner import PROJECT_DIR

CHECKOV = PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"
CONFIG = PROJECT_DIR / ".checkov.yaml"
STACKS = ("dev", "prod")


def checkov(directory: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}; run `make checkov`", pytrace=False)
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(directory),
            "--config-file",
            str(CONFIG),
            "--framework",
            "kubernetes",
            "--skip-download",
            "-o",
            "json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    summary = {k: sum(r["summary"][k] for r in reports) for k in ("passed", "failed", "resource_count")}
    return {"failures": failed, **summary, "returncode": result.returncode}


def test_skip_list_gives_a_reason_for_every_check() -> None:
    text = CONFIG.read_text()
    cfg = yaml.safe_load(text)
    assert cfg["skip-download"] is True and cfg["framework"] == ["kubernetes"]
    lines = text.splitlines()
    for check in cfg["skip-check"]:
        i = lines.index(f"  - {check}")
        assert lines[i - 1].strip().startswith("#"), f"{check} has no reason comment above it"


def test_checkov_fails_an_unhardened_pod(tmp_path: Path) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "x"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}]},
    }
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    out = checkov(tmp_path)
    assert out["returncode"] == 1
    assert any(f.startswith("CKV_K8S_16 ") for f in out["failures"])  # privileged container
    assert any(f.startswith("CKV_K8S_22 ") for f in out["failures"])  # no read-only root filesystem


def test_rendered_manifests_pass_checkov(tmp_path: Path, plan: Callable[[str], Plan]) -> None:
    for stack in STACKS:
        write_manifests(plan(stack).data, tmp_path / stack / "stack")
        write_manifests(addons_plan(stack), tmp_path / stack / "addons")
    out = checkov(tmp_path)
    assert out["failures"] == [] and out["returncode"] == 0
    # The add-ons alone render 20+ checkable objects per stack (Jobs, namespaces, policies, CRs).
    assert isinstance(out["resource_count"], int) and out["resource_count"] >= 40
