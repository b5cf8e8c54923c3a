"""Applying an edited stack file: `pulumi up` where a CLI and the stack are configured, else the offline
plan diff (tools/offline) against the last state this tool applied (docs/progressive-delivery.md#apply).

Offline, "applied" is a copy of the stack file and its plan kept in the run's state directory, so each
step's output is the diff the real `pulumi up` would show for that step: one VirtualService update.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tools.release.errors import APPLY_FAILED, INVALID, ReleaseError
from tools.release.stackfile import write_atomic


class InvalidConfig(ReleaseError):
    """The edited stack file does not validate (the plan's ConfigError, or the CLI's checks of the file)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, INVALID)


@dataclass(frozen=True)
class Applied:
    mode: str
    summary: str
    """One line for the decision log (e.g. "1 to update, 0 to create, ...")."""
    detail: str
    """What the apply printed (the plan diff, or the tail of `pulumi up`)."""


class Applier(Protocol):
    mode: str

    def apply(self, project_dir: Path, stack: str) -> Applied: ...


def plan_of(project_dir: Path, stack: str) -> dict[str, Any]:
    """The offline plan of a stack file; an invalid config is an InvalidConfig with its messages."""
    from pulumi.errors import RunError

    from tools.offline.config import PROJECT_DIR, ProjectConfigError, load_stack_config
    from tools.offline.gowire import GoYamlError
    from tools.offline.runner import run_stack

    try:
        return run_stack(stack, PROJECT_DIR, config=load_stack_config(project_dir, stack))
    except (RunError, ProjectConfigError, GoYamlError) as err:
        raise InvalidConfig(str(err)) from None


class OfflineApplier:
    mode = "offline"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def apply(self, project_dir: Path, stack: str) -> Applied:
        from tools.offline.diff import diff_plans, render_text, summary_line

        head = plan_of(project_dir, stack)
        saved = self.state_dir / "applied-plan.json"
        if saved.is_file():
            d = diff_plans(json.loads(saved.read_text()), head)
            summary, detail = summary_line(d), render_text(d)
        else:
            n = len(head.get("resources", []))
            summary = detail = f"first apply of this run's state: {n} resources planned"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(saved, json.dumps(head, sort_keys=True))
        return Applied(self.mode, summary, detail)


class PulumiApplier:
    mode = "pulumi"

    def __init__(self, cli: str, timeout: float = 3600) -> None:
        self.cli = cli
        self.timeout = timeout

    def apply(self, project_dir: Path, stack: str) -> Applied:
        cmd = [self.cli, "up", "--yes", "--non-interactive", "--diff", "--stack", stack, "--cwd", str(project_dir)]
        env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, env=env, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ReleaseError(f"pulumi up -s {stack} did not finish: {err}", APPLY_FAILED) from None
        tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-20:])
        if res.returncode != 0:
            raise ReleaseError(f"pulumi up -s {stack} failed (exit {res.returncode}):\n{tail}", APPLY_FAILED)
        resources = [
            line.strip() for line in res.stdout.splitlines() if line.strip().startswith(("Resources:", "~", "+", "-"))
        ]
        return Applied(self.mode, resources[-1] if resources else "pulumi up done", tail)


def _stack_configured(cli: str, project_dir: Path, stack: str) -> bool:
    """The CLI is logged in to a backend that has this stack (`pulumi stack ls` lists it)."""
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    try:
        res = subprocess.run(
            [cli, "stack", "ls", "--json", "--non-interactive", "--cwd", str(project_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        stacks = json.loads(res.stdout) if res.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return False
    names = {str(s.get("name", "")).rsplit("/", 1)[-1] for s in stacks if isinstance(s, dict)}
    return stack in names


def choose_applier(mode: str, project_dir: Path, stack: str, state_dir: Path) -> Applier:
    """`offline`, `pulumi`, or `auto`: pulumi when the CLI is on PATH and lists the stack, else offline."""
    if mode == "offline":
        return OfflineApplier(state_dir)
    cli = shutil.which("pulumi")
    if mode == "pulumi":
        if cli is None:
            raise ReleaseError("error: --apply pulumi: no `pulumi` CLI on PATH", INVALID)
        return PulumiApplier(cli)
    if cli is not None and _stack_configured(cli, project_dir, stack):
        return PulumiApplier(cli)
    return OfflineApplier(state_dir)
