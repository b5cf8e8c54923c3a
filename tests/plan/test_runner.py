"""The offline runner end to end: files written, deterministic, bad config -> exit 2, diffs."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import STACKS, Plan
from tools.offline.artifacts import plan_json
from tools.offline.diff import diff_plans, render_markdown, render_text
from tools.offline.runner import PROJECT_DIR, run_stack


def _cli(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.plan", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_stacks_exist() -> None:
    assert {"dev", "prod"} <= set(STACKS)


def test_plan_shape(plan: Callable[[str], Plan]) -> None:
    p = plan("dev").data
    assert (p["project"], p["stack"]) == ("gpu-platform", "dev")
    r = p["resources"][0]
    assert set(r) == {"urn", "type", "name", "parent", "custom", "provider", "inputs", "options"}
    assert set(r["options"]) == {
        "protect",
        "retainOnDelete",
        "deleteBeforeReplace",
        "ignoreChanges",
        "replaceOnChanges",
        "aliases",
        "dependsOn",
    }
    assert [x["urn"] for x in p["resources"]] == sorted(x["urn"] for x in p["resources"])
    assert p["outputs"]["clusterName"] == "gpu-dev"
    assert p["outputs"]["vpcId"] == "<computed>"  # unknown until applied, as in a real preview


def test_engine_urns_carry_the_full_type_chain(plan: Callable[[str], Plan]) -> None:
    vpc = plan("dev").one("aws:ec2/vpc:Vpc")
    assert vpc["urn"] == "urn:pulumi:dev::gpu-platform::gpu-platform:aws:Network$aws:ec2/vpc:Vpc::gpu-dev-vpc"
    assert vpc["parent"] == "urn:pulumi:dev::gpu-platform::gpu-platform:aws:Network::gpu-dev"


def test_two_runs_are_byte_identical() -> None:
    assert plan_json(run_stack("dev")) == plan_json(run_stack("dev"))


def test_cli_writes_plan_manifests_and_report(tmp_path: Path) -> None:
    res = _cli("dev", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("stack dev: ")
    assert (tmp_path / "plan.json").is_file() and (tmp_path / "manifests").is_dir()
    report = (tmp_path / "report.md").read_text()
    assert "## Resources by type" in report and "## Component tree" in report
    assert json.loads((tmp_path / "plan.json").read_text())["stack"] == "dev"


def test_bad_stack_file_exits_2_with_messages_and_no_traceback(tmp_path: Path) -> None:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path)
    shutil.copy(PROJECT_DIR / "__main__.py", tmp_path)
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text().replace("maxSize: 2", "maxSze: 2")
    (tmp_path / "Pulumi.bad.yaml").write_text(text.replace("environment: dev", "environment: qa"))
    res = _cli("bad", "--project-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr == (
        "bad: invalid stack configuration (2 problems):\n"
        "  - gpu-platform:environment: 'qa' is not allowed; choose one of 'dev', 'staging' or 'prod'\n"
        "  - gpu-platform:nodePools[1].maxSze: unknown key; did you mean 'maxSize'?\n"
    )
    assert not (tmp_path / "out").exists()


def test_project_dir_program_imports_its_own_packages(tmp_path: Path) -> None:
    # tools.pr_diff plans other revisions with this checkout's CLI and runner: the program must import the
    # tree's components and stacks, so the plan path imports none of them before it runs the program.
    tree = tmp_path / "tree"
    for d in ("components", "stacks", "charts"):
        shutil.copytree(PROJECT_DIR / d, tree / d, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(PROJECT_DIR / name, tree)
    for pkg in ("components", "stacks"):
        init = tree / pkg / "__init__.py"
        init.write_text(init.read_text() + f"\nimport sys\n\nprint('{pkg} from the tree', file=sys.stderr)\n")
    res = _cli("dev", "--project-dir", str(tree), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert "components from the tree" in res.stderr and "stacks from the tree" in res.stderr


def test_unknown_stack_exits_2() -> None:
    res = _cli("nope")
    assert res.returncode == 2 and "no stack file Pulumi.nope.yaml; known stacks:" in res.stderr


def test_diff_of_a_plan_with_itself_is_empty(plan: Callable[[str], Plan]) -> None:
    p = plan("dev").data
    assert render_text(diff_plans(p, p)) == "no changes\n"


def test_diff_shows_property_paths_and_flags_stateful_deletes(plan: Callable[[str], Plan]) -> None:
    base = plan("dev").data
    head = copy.deepcopy(base)
    vpc = next(r for r in head["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    vpc["inputs"]["cidrBlock"] = "10.99.0.0/16"
    repo = {
        **copy.deepcopy(vpc),
        "urn": "urn:x::aws:ecr/repository:Repository::models",
        "type": "aws:ecr/repository:Repository",
        "name": "models",
    }
    base = {**base, "resources": [*base["resources"], repo]}
    d = diff_plans(base, head)
    text = render_text(d)
    assert '~ update  aws:ec2/vpc:Vpc gpu-dev-vpc\n      inputs.cidrBlock: "10.20.0.0/16" => "10.99.0.0/16"' in text
    assert "- delete  aws:ecr/repository:Repository models  [STATEFUL: data would be lost]" in text
    assert "WARNING: 1 protected or stateful resource(s) would be deleted" in text
    unchanged = len(head["resources"]) - 1  # everything but the VPC
    assert f"**1 to update, 1 to delete, {unchanged} unchanged**" in render_markdown(d)


def test_diff_cli_exit_3_on_stateful_delete(tmp_path: Path, plan: Callable[[str], Plan]) -> None:
    base = copy.deepcopy(plan("dev").data)
    base["resources"].append(
        {
            "urn": "urn:x::aws:kms/key:Key::k",
            "type": "aws:kms/key:Key",
            "name": "k",
            "parent": "",
            "custom": True,
            "provider": "",
            "inputs": {},
            "options": {"protect": True},
        }
    )
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "head.json").write_text(json.dumps(plan("dev").data))
    res = _cli("diff", str(tmp_path / "base.json"), str(tmp_path / "head.json"), "--fail-on-stateful-delete")
    assert res.returncode == 3
    assert "[PROTECTED STATEFUL: data would be lost]" in res.stdout
    same = _cli("diff", str(tmp_path / "head.json"), str(tmp_path / "head.json"), "--fail-on-stateful-delete")
    assert (same.returncode, same.stdout) == (0, "no changes\n")


def test_rename_with_alias_is_not_a_replacement(plan: Callable[[str], Plan]) -> None:
    base = plan("dev").data
    head = copy.deepcopy(base)
    vpc = next(r for r in head["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    old_urn = vpc["urn"]
    vpc["urn"] = old_urn.replace("gpu-dev-vpc", "gpu-dev-main-vpc")
    vpc["options"]["aliases"] = [old_urn]
    d = diff_plans(base, head)
    assert [(c.op, c.name) for c in d.changes] == [("rename", "gpu-dev-vpc")]
