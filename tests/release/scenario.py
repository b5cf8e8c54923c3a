"""Helpers of the `run` tests: a fake clock, the real offline applier that records the stack file at each
apply, a project copy of Pulumi.dev.yaml in a scenario's namespace, and the expected stack-file texts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tools.offline.runner import PROJECT_DIR
from tools.release.apply import Applied, OfflineApplier
from tools.release.judge import prometheus_query
from tools.release.loop import Hooks, Run

W10 = "        candidateWeight: 10\n"


class FakeClock:
    def __init__(self, start: float) -> None:
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class RecordingApplier:
    """The real offline applier; remembers the stack file as it was at every apply."""

    mode = "offline"

    def __init__(self, state_dir: Path, stack_file: Path) -> None:
        self.inner = OfflineApplier(state_dir)
        self.stack_file = stack_file
        self.texts: list[str] = []

    def apply(self, project_dir: Path, stack: str) -> Applied:
        self.texts.append(self.stack_file.read_text())
        return self.inner.apply(project_dir, stack)


def make_project(tmp_path: Path, namespace: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    assert text.count("      hosts: [llama3-8b") == 1 and text.count(W10) == 1
    text = text.replace("      hosts: [llama3-8b", f"      namespace: {namespace}\n      hosts: [llama3-8b")
    # plus the DCGM check (dev's file leaves it out: its bad-input cases make v1 time-sliced)
    last_check = "          - {metric: p99Ms, against: stable, max: 1.5, requiredPassing: 4}\n"
    assert text.count(last_check) == 1
    text = text.replace(
        last_check, last_check + "          - {metric: gpuSaturation, against: stable, max: 1.5, requiredPassing: 4}\n"
    )
    (project / "Pulumi.dev.yaml").write_text(text)
    return project


def weight(text: str, w: int) -> str:
    return text.replace(W10, f"        candidateWeight: {w}\n")


def finished(text: str) -> str:
    before = "        stable: v1\n        candidate: v2\n" + W10
    assert text.count(before) == 1
    return text.replace(before, "        stable: v2\n")


def make_run(project: Path, url: str, clock: FakeClock, hooks: Hooks | None = None) -> tuple[Run, RecordingApplier]:
    state = project / "state"
    applier = RecordingApplier(state, project / "Pulumi.dev.yaml")
    run = Run(
        project_dir=project,
        stack="dev",
        model="llama3-8b",
        state_dir=state,
        query=prometheus_query(url),
        applier=applier,
        clock=clock,
        hooks=hooks or Hooks(),
        out=lambda line: None,
    )
    return run, applier


def decisions(project: Path) -> list[dict[str, Any]]:
    return json.loads((project / "state" / "decisions.json").read_text())["decisions"]


def checks(entry: dict[str, Any]) -> dict[str, tuple[int, int, int, str]]:
    return {
        c["check"]: (c["passed"], c["failed"], c["inconclusive"], c["verdict"]) for c in entry["analysis"]["checks"]
    }
