"""checkov (offline, --skip-download, kubernetes framework) over the rendered manifests: zero failures apart
from the checks skipped in .checkov.yaml, each with its reason there.

- Our objects: the dev and prod plans and the add-ons layer's plans (tests/component/addons_plan.py).
- Everything each stack runs (tests/rendered.py `everything`): our objects, every object its charts
  render, each workload as istiod's injector returns it; one checkov run per stack, so graph checks
  (NetworkPolicy to pod, RoleBinding to ClusterRole) see one cluster at a time. Findings on chart and
  injected objects are accepted per object by the `# ==` blocks of .checkov.yaml (checkov's config
  cannot skip per object; `accepted_findings()` reads them), never on our own objects.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.component.addons_plan import addons_plan
from tests.conftest import STACKS as ALL_STACKS
from tests.conftest import Plan, plan_of
from tests.rendered import everything, origin
from tools.offline import kyaml
from tools.offline.artifacts import write_manifests
from tools.offline.runner import PROJECT_DIR

CHECKOV = PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"
CONFIG = PROJECT_DIR / ".checkov.yaml"
STACKS = ("dev", "prod")


def checkov(directory: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}; run `make checkov`", pytrace=False)
    result = _run_checkov(directory)
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    summary = {k: sum(r["summary"][k] for r in reports) for k in ("passed", "failed", "resource_count")}
    return {"failures": failed, **summary, "returncode": result.returncode}


def _run_checkov(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
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
        timeout=900,
        check=False,
    )


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


# ---------------------------------------------------------------------------------------------------
# everything a stack runs: ours, the charts', the injected workloads (issue 14)

_HEADER = re.compile(r"^# == (CKV2?_K8S_\d+): (.+) ==$")
_OBJECT = re.compile(r"^#  - (\S+) (\S+) (\S+)/(\S+)$")


@dataclass
class Accepted:
    """One `# ==` block of .checkov.yaml: a check accepted on the listed chart or injected objects."""

    check: str
    title: str
    reason: list[str] = field(default_factory=list)
    objects: list[tuple[str, str, str, str]] = field(default_factory=list)  # release, Kind, namespace, name

    def covers(self, release: str, kind: str, namespace: str, name: str) -> tuple[str, str, str, str] | None:
        for entry in self.objects:
            r, k, ns, n = entry
            if r == release and k == kind and fnmatch.fnmatchcase(namespace, ns) and fnmatch.fnmatchcase(name, n):
                return entry
        return None


def accepted_findings(text: str | None = None) -> list[Accepted]:
    """The `# ==` blocks of .checkov.yaml, in order."""
    blocks: list[Accepted] = []
    for line in (text if text is not None else CONFIG.read_text()).splitlines():
        if m := _HEADER.match(line):
            blocks.append(Accepted(m.group(1), m.group(2)))
        elif blocks and (m := _OBJECT.match(line)):
            blocks[-1].objects.append((m.group(1), m.group(2), m.group(3), m.group(4)))
        elif blocks and line.startswith("#") and not blocks[-1].objects:
            if text := line.lstrip("#").strip():
                blocks[-1].reason.append(text)
        elif blocks and blocks[-1].objects and line.strip() and not line.startswith("#"):
            break  # the config proper goes on: no more blocks
    return blocks


@dataclass(frozen=True)
class Finding:
    stack: str
    check: str
    release: str  # a chart's release, `injected` or `ours` (tests/rendered.py `origin`)
    kind: str
    namespace: str
    name: str
    path: str

    def __str__(self) -> str:
        return f"{self.stack}: {self.check} {self.release} {self.kind} {self.namespace}/{self.name} ({self.path})"


def _generic(text: str, cluster: str) -> str:
    return text.replace(f"{cluster}-", "<cluster>-") if cluster else text


def stack_findings(stack: str, directory: Path) -> tuple[list[Finding], int]:
    """checkov over everything `stack` runs, written to `directory`: its failed checks and resource count."""
    objects = everything(stack)
    for path, obj in objects.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(kyaml.dump_fast(obj))
    result = _run_checkov(directory)
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    cluster = str(plan_of(stack).data["outputs"].get("clusterName") or "")
    found: set[Finding] = set()
    for r in reports:
        for c in r.get("results", {}).get("failed_checks", []):
            path = c["file_path"].lstrip("/")
            obj = objects[path]
            meta = obj["metadata"]
            found.add(
                Finding(
                    stack,
                    c["check_id"],
                    _generic(origin(path, stack), cluster),
                    obj["kind"],
                    meta.get("namespace") or "_cluster",
                    _generic(meta["name"], cluster),
                    path,
                )
            )
    count = sum(r["summary"]["resource_count"] for r in reports)
    return sorted(found, key=str), count


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[Finding], int]]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}; run `make checkov`", pytrace=False)
    for stack in ALL_STACKS:
        everything(stack)  # render (helm, istioctl) before the threads start
    root = tmp_path_factory.mktemp("checkov-stacks")
    with ThreadPoolExecutor(max_workers=max(1, min(len(ALL_STACKS), os.cpu_count() or 1))) as pool:
        futures = {s: pool.submit(stack_findings, s, root / s) for s in ALL_STACKS}
        return {s: f.result() for s, f in futures.items()}


def test_accepted_findings_are_well_formed() -> None:
    blocks = accepted_findings()
    assert blocks, "no `# ==` blocks in .checkov.yaml"
    seen: set[tuple[str, tuple[str, str, str, str]]] = set()
    for b in blocks:
        assert b.reason, f"{b.check} ({b.title}) gives no reason"
        assert b.objects, f"{b.check} ({b.title}) names no object"
        for o in b.objects:
            assert o[0] != "ours", f"{b.check}: our own objects are fixed, not accepted"
            assert (b.check, o) not in seen, f"{b.check} {o} is listed twice"
            seen.add((b.check, o))
    planted = "skip-check:\n  - X\n# == CKV_K8S_8: probes ==\n# a reason\n#  - r Kind ns/n*\n"
    (b,) = accepted_findings(planted)
    assert (b.check, b.reason, b.objects) == ("CKV_K8S_8", ["a reason"], [("r", "Kind", "ns", "n*")])
    assert b.covers("r", "Kind", "ns", "name") and not b.covers("r", "Kind", "other", "name")


@pytest.mark.tools
def test_everything_each_stack_runs_passes_checkov_but_the_accepted_findings(
    findings: dict[str, tuple[list[Finding], int]],
) -> None:
    blocks = accepted_findings()
    used: set[tuple[str, tuple[str, str, str, str]]] = set()
    failures: list[str] = []
    for stack, (found, count) in findings.items():
        assert count > 0, stack
        for f in found:
            entry = next(
                (e for b in blocks if b.check == f.check and (e := b.covers(f.release, f.kind, f.namespace, f.name))),
                None,
            )
            if entry is None:
                failures.append(str(f))
            else:
                used.add((f.check, entry))
    assert failures == []
    stale = [f"{b.check} {' '.join(o)}" for b in blocks for o in b.objects if (b.check, o) not in used]
    assert stale == [], "accepted in .checkov.yaml but no stack has the finding any more: remove them"
