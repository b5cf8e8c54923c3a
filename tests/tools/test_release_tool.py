"""tools.release: stack-file edits (format kept), the plan diff a step causes, and the SLO gate
against a real Prometheus loaded with synthetic Istio series (promtool backfill), not a mock."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.observability.slo import SloTarget, Workload
from tests.release.prometheus import prometheus_with
from tools import release
from tools.offline.runner import PROJECT_DIR


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b), "the edit must not add or drop lines"
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def test_round_trip_keeps_the_stack_file_byte_for_byte(project: Path) -> None:
    text = (project / "Pulumi.dev.yaml").read_text()
    assert release.StackFile.load(project, "dev").text() == text


def test_status_lists_every_model(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert release.main(["--project-dir", str(project), "status", "--stack", "dev"]) == 0
    assert capsys.readouterr().out == "dev llama3-8b: stable v1 90%, candidate v2 10%; next step 25%\n"


def test_promote_next_edits_one_line_and_shows_the_virtual_service_diff(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (project / "Pulumi.dev.yaml").read_text()
    assert release.main(["--project-dir", str(project), "promote", "llama3-8b", "--stack", "dev", "--next"]) == 0
    after = (project / "Pulumi.dev.yaml").read_text()
    assert changed_lines(before, after) == [("        candidateWeight: 10", "        candidateWeight: 25")]
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "llama3-8b: stable v1 90%, candidate v2 10% -> stable v1 75%, candidate v2 25%"
    assert out[1:4] == [
        "~ update  kubernetes:networking.istio.io/v1:VirtualService llama3-8b",
        "      inputs.spec.http[0].route[0].weight: 90 => 75",
        "      inputs.spec.http[0].route[1].weight: 10 => 25",
    ]
    assert out[5].startswith("1 to update, ") and out[5].endswith(" unchanged")


def test_rollback_sets_the_candidate_to_zero_and_keeps_the_stable(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (project / "Pulumi.dev.yaml").read_text()
    assert release.main(["--project-dir", str(project), "rollback", "llama3-8b", "--stack", "dev"]) == 0
    after = (project / "Pulumi.dev.yaml").read_text()
    assert changed_lines(before, after) == [("        candidateWeight: 10", "        candidateWeight: 0")]
    out = capsys.readouterr().out
    assert out.startswith(
        "llama3-8b: rollback, stable v1 90%, candidate v2 10% -> stable v1 100%, candidate v2 0% "
        "(stable was never scaled down)\n~ update  kubernetes:networking.istio.io/v1:VirtualService llama3-8b\n"
    )
    # only the weights change: both Deployments stay, nothing is created or deleted
    assert "Deployment" not in out and "1 to update" in out
    assert release.main(["--project-dir", str(project), "rollback", "llama3-8b", "--stack", "dev"]) == 0
    assert capsys.readouterr().out == "llama3-8b: nothing to roll back (stable v1 100%, candidate v2 0%)\n"


def test_full_rollout_then_finish_makes_the_candidate_stable(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--project-dir", str(project), "promote", "llama3-8b", "--stack", "dev"]
    assert release.main([*args, "--to", "100"]) == 0
    assert release.main([*args, "--next"]) == 0
    out = capsys.readouterr().out
    assert (
        "llama3-8b: rollout finished, stable v1 0%, candidate v2 100% -> stable v2 100% (previous stable stays deployed, warm)"
        in out
    )
    m = release.StackFile.load(project, "dev").model("llama3-8b")
    assert dict(m["traffic"]) == {"stable": "v2", "timeoutSeconds": 120}
    assert [v["name"] for v in m["versions"]] == ["v1", "v2"]


def test_out_of_range_weight_is_refused_and_the_file_untouched(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (project / "Pulumi.dev.yaml").read_text()
    assert release.main(["--project-dir", str(project), "promote", "llama3-8b", "--stack", "dev", "--to", "150"]) == 2
    assert capsys.readouterr().err == "error: weight must be 0-100, got 150\n"
    assert (project / "Pulumi.dev.yaml").read_text() == before


def test_a_step_that_breaks_validation_is_refused_and_restored(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "Pulumi.dev.yaml"
    # a candidate that scales to zero may not take canary traffic: the step from 0 -> 10 is invalid
    text = (
        path.read_text()
        .replace("        candidateWeight: 10", "        candidateWeight: 0")
        .replace(
            "          loadSeconds: 600\n      traffic:",
            "          loadSeconds: 600\n          autoscaling: {minReplicas: 0, maxReplicas: 1}\n      traffic:",
        )
    )
    path.write_text(text)
    assert release.main(["--project-dir", str(project), "promote", "llama3-8b", "--stack", "dev", "--next"]) == 2
    err = capsys.readouterr().err
    assert "refused, the new config is invalid; Pulumi.dev.yaml left unchanged" in err
    assert (
        "versions[1].autoscaling.minReplicas: 0 (scale to zero) for version 'v2', which takes 10% canary traffic" in err
    )
    assert path.read_text() == text


# ------------------------------------------------------------------------------------------------
# The gate against a real Prometheus


SLO = SloTarget(p99_ms=2000, error_ratio=0.01, window="5m", min_rps=0.1)
# namespace -> (requests per second, share of 5xx, all requests faster than le)
SCENARIOS = {
    "llama3-8b": (2.0, 0.0, 250),
    "llama-bad": (2.0, 0.2, 250),
    "llama-slow": (2.0, 0.0, 5000),
    "llama-quiet": (0.02, 0.0, 250),
}
LE = ("100", "250", "1000", "2500", "5000", "10000", "+Inf")


def openmetrics(now: int) -> str:
    """30 minutes of series ending 15s before `now` (the gate queries at the current time over 5m)."""
    lines: list[str] = []
    start, step = now - 1800, 15
    times = range(start, now - 15, step)
    for ns, (rps, bad, fast_le) in SCENARIOS.items():
        base = (
            f'reporter="destination",destination_workload_namespace="{ns}",'
            f'destination_canonical_service="llama3-8b",destination_version="v2"'
        )
        for code, share in (("200", 1 - bad), ("503", bad)):
            if share:
                lines += [
                    f'istio_requests_total{{{base},response_code="{code}"}} {rps * share * (t - start):.3f} {t}'
                    for t in times
                ]
        for le in LE:
            under = le == "+Inf" or float(le) >= fast_le
            lines += [
                f'istio_request_duration_milliseconds_bucket{{{base},le="{le}"}} '
                f"{rps * (t - start) if under else 0:.3f} {t}"
                for t in times
            ]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prometheus_with(openmetrics(int(time.time())), tmp_path_factory.mktemp("prom")) as url:
        yield url


@pytest.mark.parametrize(
    ("namespace", "verdict", "counts"),
    [
        ("llama3-8b", "pass", {"errors": 0, "latency": 0, "traffic": 1}),
        ("llama-bad", "fail", {"errors": 1, "latency": 0, "traffic": 1}),
        ("llama-slow", "fail", {"errors": 0, "latency": 1, "traffic": 1}),
        ("llama-quiet", "inconclusive", {"errors": 0, "latency": 0, "traffic": 0}),
        ("no-such-model", "inconclusive", {"errors": 0, "latency": 0, "traffic": 0}),
    ],
)
def test_gate_verdicts_from_real_prometheus(
    prometheus: str, namespace: str, verdict: str, counts: dict[str, int]
) -> None:
    assert release.evaluate_gate(prometheus, Workload(namespace, "llama3-8b", "v2"), SLO) == (verdict, counts)


def test_promote_passes_the_gate_then_steps(prometheus: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        release.main(
            [
                "--project-dir",
                str(project),
                "promote",
                "llama3-8b",
                "--stack",
                "dev",
                "--next",
                "--prometheus",
                prometheus,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(
        "gate llama3-8b v2 at 10%: pass (series: errors 0, latency 0, traffic 1)\n"
        "llama3-8b: stable v1 90%, candidate v2 10% -> stable v1 75%, candidate v2 25%\n"
    )


@pytest.mark.parametrize(
    ("namespace", "verdict", "why"),
    [
        ("llama-bad", "fail", "SLO breached; roll back with: python -m tools.release rollback llama3-8b --stack dev"),
        ("llama-quiet", "inconclusive", "too little traffic to judge; inconclusive is never a pass"),
    ],
)
def test_promote_refuses_on_fail_and_inconclusive(
    prometheus: str, project: Path, capsys: pytest.CaptureFixture[str], namespace: str, verdict: str, why: str
) -> None:
    path = project / "Pulumi.dev.yaml"
    path.write_text(
        path.read_text().replace("      hosts: [llama3-8b", f"      namespace: {namespace}\n      hosts: [llama3-8b")
    )
    before = path.read_text()
    assert (
        release.main(
            [
                "--project-dir",
                str(project),
                "promote",
                "llama3-8b",
                "--stack",
                "dev",
                "--next",
                "--prometheus",
                prometheus,
            ]
        )
        == 1
    )
    captured = capsys.readouterr()
    assert captured.out.startswith(f"gate llama3-8b v2 at 10%: {verdict} ")
    assert captured.err.startswith(f"promotion refused: {why}")
    assert path.read_text() == before
