"""The pieces .github/workflows/release-run.yml runs, run for real: `tools.release raised` on a git history,
and the workflow's own `--after-step` command committing and pushing every applied step to a bare remote
while the loop walks the healthy scenario (Prometheus and clock as in test_run_scenarios.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.release.scenario import FakeClock, finished, make_project, make_run, weight
from tools.offline.runner import PROJECT_DIR
from tools.release import main
from tools.release.errors import OK
from tools.release.loop import Hooks, shell_after_step

WORKFLOW = PROJECT_DIR / ".github" / "workflows" / "release-run.yml"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(PROJECT_DIR / name, r / name)
    return r


def raised(repo: Path, base: str, capsys: pytest.CaptureFixture[str]) -> tuple[list[dict[str, str]], str]:
    assert main(["--project-dir", str(repo), "raised", "--base", base]) == OK
    out, err = capsys.readouterr()
    return json.loads(out), err


def test_raised_lists_the_models_whose_candidate_weight_rose(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dev = repo / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("        candidateWeight: 10\n", "        candidateWeight: 0\n"))
    base = commit_all(repo, "candidate at 0")
    dev.write_text(dev.read_text().replace("        candidateWeight: 0\n", "        candidateWeight: 10\n"))
    # prod's llama3-8b has no analysis block: raised too, reported, not run
    prod = repo / "Pulumi.prod.yaml"
    assert prod.read_text().count("        candidateWeight: 10\n") == 1
    prod.write_text(prod.read_text().replace("        candidateWeight: 10\n", "        candidateWeight: 25\n"))
    commit_all(repo, "raise")
    found, err = raised(repo, base, capsys)
    assert found == [{"stack": "dev", "model": "llama3-8b"}]
    assert "prod llama3-8b: candidate v2 raised to 25% without an analysis block; not run" in err


def test_a_lowered_weight_or_an_unrelated_edit_starts_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = commit_all(repo, "start")
    dev = repo / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("        candidateWeight: 10\n", "        candidateWeight: 5\n"))
    (repo / "Pulumi.prod.yaml").write_text((repo / "Pulumi.prod.yaml").read_text() + "# a comment\n")
    commit_all(repo, "lower")
    assert raised(repo, base, capsys) == ([], "")


def after_step_command() -> str:
    found = re.search(r"--after-step '(.+)'\n", WORKFLOW.read_text())
    assert found, "release-run.yml runs the loop with --after-step '<command>'"
    return found.group(1)


def test_the_workflow_commits_and_pushes_every_applied_weight(
    prometheus: str,
    t0: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = make_project(tmp_path, "healthy")
    original = (project / "Pulumi.dev.yaml").read_text()
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    (project / ".gitignore").write_text("state/\n")
    git(project, "init", "-q", "-b", "release/dev/llama3-8b")
    git(project, "remote", "add", "origin", str(remote))
    start = commit_all(project, "main")
    for key, value in {
        "MODEL": "llama3-8b",
        "STACK": "dev",
        "GIT_AUTHOR_NAME": "bot",
        "GIT_COMMITTER_NAME": "bot",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "bot@example.com")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "bot@example.com")
    monkeypatch.chdir(project)
    command = after_step_command()
    hooks = Hooks(after_step=shell_after_step(command, project / "Pulumi.dev.yaml", project / "state"))
    run, _ = make_run(project, prometheus, FakeClock(t0), hooks)
    assert run.run() == OK
    log = git(remote, "log", "--reverse", "--format=%H %s", f"{start}..release/dev/llama3-8b").splitlines()
    # the first decision applies the file as it is: nothing to commit; then one commit per weight
    assert [line.split(" ", 1)[1].split(": ", 1)[0] for line in log] == ["release llama3-8b on dev"] * 4
    assert [re.sub(r"^\S+ ", "", line.split(": ", 1)[1]).split(":")[0] for line in log] == [
        "promote",
        "promote",
        "promote",
        "finish",
    ]
    files = [git(remote, "show", f"{line.split()[0]}:Pulumi.dev.yaml") for line in log]
    assert files == [weight(original, 25), weight(original, 50), weight(original, 100), finished(original)]
