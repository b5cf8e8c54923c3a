"""How `run` applies: `auto` picks `pulumi` only when the CLI is on PATH and lists the stack; a failing
`pulumi up` after an edit exits 4 with the step pending, and the next run resumes it.

The CLI here is a stand-in script on PATH that answers `stack ls --json` and `up` the way the Pulumi CLI's
contract says (JSON list of stacks; non-zero exit on a failed update) and logs every call."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.release.scenario import FakeClock, make_project, weight
from tools.release.apply import OfflineApplier, PulumiApplier, choose_applier
from tools.release.errors import APPLY_FAILED, OK, ReleaseError
from tools.release.judge import prometheus_query
from tools.release.loop import Run

CLI = """#!/bin/sh
echo "$*" >> "{log}"
case "$1" in
  stack) echo '[{{"name": "acme/gpu-platform/dev", "current": true}}]' ;;
  up) n=$(grep -c '^up' "{log}"); if [ "$n" = "{fail_at}" ]; then echo "error: update failed" >&2; exit 255; fi
      echo "Resources:"; echo "    ~ 1 updated" ;;
esac
"""


def install_cli(bin_dir: Path, log: Path, fail_at: int = 0) -> None:
    bin_dir.mkdir(exist_ok=True)
    cli = bin_dir / "pulumi"
    cli.write_text(CLI.format(log=log, fail_at=fail_at))
    cli.chmod(cli.stat().st_mode | stat.S_IEXEC)


def test_auto_is_offline_without_a_cli_and_pulumi_when_the_cli_lists_the_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no pulumi there
    assert isinstance(choose_applier("auto", tmp_path, "dev", tmp_path / "state"), OfflineApplier)
    with pytest.raises(ReleaseError, match="^error: --apply pulumi: no `pulumi` CLI on PATH$"):
        choose_applier("pulumi", tmp_path, "dev", tmp_path / "state")
    install_cli(tmp_path / "bin", tmp_path / "calls.log")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert isinstance(choose_applier("auto", tmp_path, "dev", tmp_path / "state"), PulumiApplier)
    assert isinstance(choose_applier("auto", tmp_path, "prod", tmp_path / "state"), OfflineApplier)  # not listed


def test_a_failed_pulumi_up_after_an_edit_exits_4_and_the_next_run_resumes_it(
    prometheus: str, t0: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, "healthy")
    original = (project / "Pulumi.dev.yaml").read_text()
    log = tmp_path / "calls.log"
    install_cli(tmp_path / "bin", log, fail_at=2)  # the first up (the file as it is) works, the second fails
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    clock = FakeClock(t0)

    def run() -> int:
        applier = choose_applier("auto", project, "dev", project / "state")
        assert isinstance(applier, PulumiApplier)
        return Run(
            project, "dev", "llama3-8b", project / "state", prometheus_query(prometheus), applier, clock, out=print
        ).run()

    with pytest.raises(ReleaseError) as failed:
        run()
    assert failed.value.code == APPLY_FAILED
    assert failed.value.message == "pulumi up -s dev failed (exit 255):\nerror: update failed"
    assert (project / "Pulumi.dev.yaml").read_text() == weight(original, 25)
    journal = json.loads((project / "state" / "journal.json").read_text())
    assert journal["pending"]["state"] == "v1|v2|25" and journal["applied"]["state"] == "v1|v2|10"

    assert run() == OK
    ups = [line for line in log.read_text().splitlines() if line.startswith("up")]
    assert (
        ups == [f"up --yes --non-interactive --diff --stack dev --cwd {project}"] * 6
    )  # 10, 25 (failed), 25, 50, 100, finish
    decisions = json.loads((project / "state" / "decisions.json").read_text())["decisions"]
    assert [d["decision"] for d in decisions] == ["apply", "resume", "promote", "promote", "finish"]
    assert decisions[1]["apply"] == {"mode": "pulumi", "summary": "~ 1 updated"}
