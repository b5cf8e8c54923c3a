"""`python -m tools.release run` against a real Prometheus (tests/release/prometheus.py) loaded with the
scripted series of tests/release/series.py: each scenario asserts the decision sequence, the stack file's
bytes at every apply (comments and key order kept: only the edited lines differ), and the decision log.

The clock is injected (a fake that advances when the loop sleeps) and starts at T0, two hours ago, where
the series begin; the applier is the real offline one (the plan diff a `pulumi up` would apply), wrapped
to record the stack file each time it applies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.release.prometheus import closed_port_url
from tests.release.scenario import FakeClock, checks, decisions, finished, make_project, make_run, weight
from tools.offline.runner import PROJECT_DIR
from tools.release import main
from tools.release.errors import LOCKED, OK, REFUSED
from tools.release.loop import Hooks, Lock

ALL_PASS = {
    "errorRatio <= 0.01": (5, 0, 0, "pass"),
    "p99Ms <= 2000": (5, 0, 0, "pass"),
    "errorRatio <= 2 x stable": (5, 0, 0, "pass"),
    "p99Ms <= 1.5 x stable": (5, 0, 0, "pass"),
    "gpuSaturation <= 1.5 x stable": (5, 0, 0, "pass"),
}


def test_healthy_canary_walks_every_step_then_becomes_stable(prometheus: str, t0: int, tmp_path: Path) -> None:
    project = make_project(tmp_path, "healthy")
    original = (project / "Pulumi.dev.yaml").read_text()
    clock = FakeClock(t0)
    run, applier = make_run(project, prometheus, clock)
    assert run.run() == OK
    log = decisions(project)
    assert [(d["decision"], d["from"], d["to"]) for d in log] == [
        ("apply", "stable v1 90%, candidate v2 10%", "stable v1 90%, candidate v2 10%"),
        ("promote", "stable v1 90%, candidate v2 10%", "stable v1 75%, candidate v2 25%"),
        ("promote", "stable v1 75%, candidate v2 25%", "stable v1 50%, candidate v2 50%"),
        ("promote", "stable v1 50%, candidate v2 50%", "stable v1 0%, candidate v2 100%"),
        ("finish", "stable v1 0%, candidate v2 100%", "stable v2 100%"),
    ]
    assert applier.texts == [
        original,
        weight(original, 25),
        weight(original, 50),
        weight(original, 100),
        finished(original),
    ]
    assert (project / "Pulumi.dev.yaml").read_text() == finished(original)
    assert clock.slept == [300, 300, 300, 300]  # stepInterval 5m before each analysis
    for entry in log[1:4]:
        assert checks(entry) == ALL_PASS
    # at 100% the stable serves nothing to compare with: only the threshold checks run
    assert checks(log[4]) == {name: r for name, r in ALL_PASS.items() if "stable" not in name}
    assert log[4]["analysis"]["intervals"][0]["stable_requests"] == 0
    # the numbers behind a decision: 2 rps = 120 requests a minute, p99 inside the (100, 250] bucket
    first = log[1]["analysis"]["intervals"][0]
    assert first["candidate_requests"] == pytest.approx(120) and first["stable_requests"] == pytest.approx(240)
    assert first["values"]["p99Ms"] == [pytest.approx(248.5), pytest.approx(248.5)]
    assert first["values"]["gpuSaturation"] == [pytest.approx(0.55), pytest.approx(0.5)]
    # each step is one VirtualService weight change (the offline plan diff); nothing is created or deleted
    for entry in log[1:4]:
        assert entry["apply"]["mode"] == "offline"
        assert re.fullmatch(r"1 to update, \d+ unchanged", entry["apply"]["summary"]), entry["apply"]
    summary = (project / "state" / "summary.md").read_text()
    assert "| p99Ms <= 1.5 x stable | 5 | 0 | 0 | 4 | pass |" in summary


def test_latency_regression_only_relative_to_stable_rolls_back(prometheus: str, t0: int, tmp_path: Path) -> None:
    project = make_project(tmp_path, "latency-regression")
    original = (project / "Pulumi.dev.yaml").read_text()
    run, applier = make_run(project, prometheus, FakeClock(t0))
    assert run.run() == REFUSED
    log = decisions(project)
    assert [d["decision"] for d in log] == ["apply", "rollback"]
    assert applier.texts == [original, weight(original, 0)]
    assert checks(log[1]) == {
        **ALL_PASS,
        "p99Ms <= 1.5 x stable": (0, 5, 0, "fail"),  # ~992 ms vs ~248 ms: 4x the stable
    }
    assert log[1]["reason"] == "analysis at 10%: fail (failed: p99Ms <= 1.5 x stable)"
    interval = log[1]["analysis"]["intervals"][0]
    assert interval["values"]["p99Ms"] == [pytest.approx(992.5), pytest.approx(248.5)]
    assert interval["outcomes"]["p99Ms <= 2000"] == "pass"  # the absolute SLO alone would have promoted it
    assert interval["outcomes"]["p99Ms <= 1.5 x stable"] == "fail: 992.5 is 3.99 x stable 248.5"


def test_error_spike_rolls_back_at_the_second_step_and_a_rerun_does_not_retry(
    prometheus: str, t0: int, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "error-spike")
    original = (project / "Pulumi.dev.yaml").read_text()
    clock = FakeClock(t0)
    run, applier = make_run(project, prometheus, clock)
    assert run.run() == REFUSED
    log = decisions(project)
    assert [d["decision"] for d in log] == ["apply", "promote", "rollback"]
    assert applier.texts == [original, weight(original, 25), weight(original, 0)]
    assert checks(log[2])["errorRatio <= 0.01"] == (0, 5, 0, "fail")
    assert checks(log[2])["errorRatio <= 2 x stable"] == (0, 5, 0, "fail")
    assert log[2]["analysis"]["intervals"][0]["values"]["errorRatio"] == [pytest.approx(0.2), 0]
    assert log[2]["reason"] == "analysis at 25%: fail (failed: errorRatio <= 0.01, errorRatio <= 2 x stable)"
    # the file is at 0 with the candidate it rolled back: a second run does not start it again
    rerun, again = make_run(project, prometheus, clock)
    assert rerun.run() == REFUSED
    assert again.texts == [] and len(decisions(project)) == 3


def test_flapping_metric_passes_one_blip_then_fails_on_alternating_intervals(
    prometheus: str, t0: int, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "flapping")
    original = (project / "Pulumi.dev.yaml").read_text()
    run, applier = make_run(project, prometheus, FakeClock(t0))
    assert run.run() == REFUSED
    log = decisions(project)
    assert [d["decision"] for d in log] == ["apply", "promote", "rollback"]
    assert applier.texts == [original, weight(original, 25), weight(original, 0)]
    assert checks(log[1])["errorRatio <= 0.01"] == (4, 1, 0, "pass")  # requiredPassing 4: one blip tolerated
    assert checks(log[2])["errorRatio <= 0.01"] == (2, 3, 0, "fail")
    assert checks(log[2])["errorRatio <= 2 x stable"] == (2, 3, 0, "fail")


def test_too_little_traffic_is_inconclusive_then_rolls_back(prometheus: str, t0: int, tmp_path: Path) -> None:
    project = make_project(tmp_path, "too-little-traffic")
    original = (project / "Pulumi.dev.yaml").read_text()
    clock = FakeClock(t0)
    run, applier = make_run(project, prometheus, clock)
    assert run.run() == REFUSED
    log = decisions(project)
    assert [d["decision"] for d in log] == ["apply", "retry", "retry", "rollback"]
    assert applier.texts == [original, weight(original, 0)]
    assert clock.slept == [300, 60, 60]  # the step, then one interval before each retry
    assert checks(log[1])["errorRatio <= 0.01"] == (0, 0, 5, "inconclusive")
    assert log[1]["analysis"]["intervals"][0]["outcomes"]["errorRatio <= 0.01"] == (
        "inconclusive: 12 requests < minRequests 30"
    )
    assert log[3]["reason"].startswith("inconclusive 3 times (not enough passing intervals: ")
    assert log[3]["reason"].endswith("5 of 5 intervals below minRequests 30); inconclusive is never a pass")


def test_prometheus_down_is_inconclusive_with_bounded_retries_then_rolls_back(t0: int, tmp_path: Path) -> None:
    project = make_project(tmp_path, "healthy")
    original = (project / "Pulumi.dev.yaml").read_text()
    url = closed_port_url()
    clock = FakeClock(t0)
    run, applier = make_run(project, url, clock)
    assert run.run() == REFUSED
    log = decisions(project)
    assert [d["decision"] for d in log] == ["apply", "retry", "retry", "rollback"]
    assert applier.texts == [original, weight(original, 0)]
    assert log[1]["reason"] == (
        f"analysis at 10%: inconclusive (Prometheus: {url} unreachable: [Errno 111] Connection refused); "
        "retry 1 of 2 in 1m"
    )
    assert log[3]["reason"] == (
        f"inconclusive 3 times (Prometheus: {url} unreachable: [Errno 111] Connection refused); "
        "inconclusive is never a pass"
    )


class Crash(BaseException):
    """Stands for the process dying: nothing in the loop catches it."""


def test_a_crash_between_edit_and_apply_resumes_by_applying_the_edited_step(
    prometheus: str, t0: int, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "healthy")
    original = (project / "Pulumi.dev.yaml").read_text()
    clock = FakeClock(t0)

    def crash(state: str) -> None:
        raise Crash(state)

    run, applier = make_run(project, prometheus, clock, Hooks(after_edit=crash))
    with pytest.raises(Crash):
        run.run()
    # edited, never applied: the file says 25, the journal keeps the step pending
    assert (project / "Pulumi.dev.yaml").read_text() == weight(original, 25)
    journal = json.loads((project / "state" / "journal.json").read_text())
    assert journal["pending"]["state"] == "v1|v2|25" and journal["applied"]["state"] == "v1|v2|10"
    assert [d["decision"] for d in decisions(project)] == ["apply"]

    resumed, applier = make_run(project, prometheus, clock)
    assert resumed.run() == OK
    log = decisions(project)
    assert [d["decision"] for d in log] == ["apply", "resume", "promote", "promote", "finish"]
    assert (
        log[1]["reason"] == "the previous run stopped between editing the stack file and applying it; applying it now"
    )
    # the resume applies the 10 -> 25 change the crash left unapplied (the VirtualService update)
    assert re.fullmatch(r"1 to update, \d+ unchanged", log[1]["apply"]["summary"])
    assert applier.texts == [weight(original, 25), weight(original, 50), weight(original, 100), finished(original)]


def test_an_edit_during_the_wait_is_applied_and_judged_instead(prometheus: str, t0: int, tmp_path: Path) -> None:
    project = make_project(tmp_path, "healthy")
    original = (project / "Pulumi.dev.yaml").read_text()
    path = project / "Pulumi.dev.yaml"

    class EditingClock(FakeClock):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if len(self.slept) == 1:  # a merged pull request moves the weight to 50 during the first wait
                path.write_text(weight(original, 50))

    run, applier = make_run(project, prometheus, EditingClock(t0))
    assert run.run() == OK
    log = decisions(project)
    assert [(d["decision"], d["to"]) for d in log] == [
        ("apply", "stable v1 90%, candidate v2 10%"),
        ("apply", "stable v1 50%, candidate v2 50%"),  # never judged at 10% with the file at 50%
        ("promote", "stable v1 0%, candidate v2 100%"),
        ("finish", "stable v2 100%"),
    ]
    assert log[2]["weight"] == 50
    assert applier.texts == [original, weight(original, 50), weight(original, 100), finished(original)]


CRASHER = """
import os, sys
from pathlib import Path
from tests.release.scenario import FakeClock, make_run
from tools.release.loop import Hooks
project, url, t0 = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
run, _ = make_run(project, url, FakeClock(t0), Hooks(after_edit=lambda state: os._exit(137)))
run.run()
"""


def test_a_process_killed_between_edit_and_apply_leaves_the_step_pending_and_the_lock_free(
    prometheus: str, t0: int, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "healthy")
    original = (project / "Pulumi.dev.yaml").read_text()
    res = subprocess.run(
        [sys.executable, "-c", CRASHER, str(project), prometheus, str(t0)],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 137, res.stderr  # os._exit: no finally, no atexit, like a kill
    assert (project / "Pulumi.dev.yaml").read_text() == weight(original, 25)
    journal = json.loads((project / "state" / "journal.json").read_text())
    assert journal["pending"]["state"] == "v1|v2|25" and journal["applied"]["state"] == "v1|v2|10"
    assert (project / "state" / "lock").read_text().startswith("pid ")  # the dead run's note stays...
    with Lock(project / "state" / "lock"):  # ...but the kernel dropped its flock
        pass
    resumed, applier = make_run(project, prometheus, FakeClock(t0 + 300))
    assert resumed.run() == OK
    assert [d["decision"] for d in decisions(project)] == ["apply", "resume", "promote", "promote", "finish"]
    assert applier.texts == [weight(original, 25), weight(original, 50), weight(original, 100), finished(original)]


def test_a_second_run_is_refused_while_the_lock_is_held(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path, "healthy")
    before = (project / "Pulumi.dev.yaml").read_text()
    state = project / "state"
    args = ["--project-dir", str(project), "run", "llama3-8b", "--stack", "dev", "--prometheus", closed_port_url()]
    with Lock(state / "lock"):
        assert main([*args, "--state-dir", str(state), "--apply", "offline"]) == LOCKED
    err = capsys.readouterr().err
    assert err.startswith(f"error: another run holds {state / 'lock'} (pid ")
    assert err.endswith("); wait for it to finish, nothing was changed\n")
    assert (project / "Pulumi.dev.yaml").read_text() == before
    assert not (state / "decisions.json").exists()
