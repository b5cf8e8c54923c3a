"""Careless and hostile stack files through `python -m tools.plan` (its entry, in process): config namespaces,
secrets, the messages that used to miss, layered stacks, and the CLI boundary (exit 2 for input, exit 4 for
an internal error, never a traceback). docs/stack-files.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tools import plan as plan_cli
from tools import pr_diff
from tools.offline.config import PROJECT_DIR

DEV = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
MODELS_DEV = (PROJECT_DIR / "Pulumi.models-dev.yaml").read_text()
DIGEST_1 = "1" * 64


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """This project with the stack files a test writes: everything else is a link to the checkout."""
    root = tmp_path / "project"
    root.mkdir()
    for entry in PROJECT_DIR.iterdir():
        if not entry.name.startswith(("Pulumi.", ".", "build")) or entry.name == "Pulumi.yaml":
            (root / entry.name).symlink_to(entry)
    return root


def _plan(project: Path, text: str, capsys: pytest.CaptureFixture[str], name: str = "t") -> tuple[int, str, str]:
    (project / f"Pulumi.{name}.yaml").write_text(text)
    code = plan_cli.main([name, "--project-dir", str(project), "--no-render", "--out", str(project / "out")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


# ------------------------------------------------------------------------------------------------
# Config namespaces


def test_a_misspelled_project_namespace_is_an_error_with_did_you_mean(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _plan(project, _edit(DEV, "  gpu-platform:addons:", "  gpu-platfrom:addons:"), capsys)
    assert code == 2
    assert err == (
        "t: invalid stack configuration (1 problem):\n"
        "  - gpu-platfrom:addons: unknown config namespace 'gpu-platfrom', so nothing reads this key; did you mean "
        "'gpu-platform:addons'?\n"
    )


def test_an_unknown_namespace_lists_what_is_read(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _plan(project, DEV + "  team:owner: ml-platform\n", capsys)
    assert code == 2
    assert err == (
        "t: invalid stack configuration (1 problem):\n"
        "  - team:owner: unknown config namespace 'team', so nothing reads this key; this program reads "
        "gpu-platform:* and gpu-platform-secrets:* keys; remove it\n"
    )


def test_provider_namespaces_are_warned_about_and_secure_secrets_accepted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DEV + "  aws:region: eu-west-1\n  gpu-platform-secrets:slackWebhook:\n    secure: v1:bm9uY2U=:Y2lwaGVy\n"
    code, out, err = _plan(project, text, capsys)
    assert (code, err) == (0, "")
    assert (
        "  warning: aws:region: ignored by gpu-platform: it configures the aws default provider, but every aws "
        "resource here uses an explicit provider built from gpu-platform:* keys (region, tags) "
        "(docs/stack-files.md#namespaces-and-secrets)\n"
    ) in out
    plan = json.loads((project / "out" / "plan.json").read_text())
    assert "eu-west-1" not in json.dumps(plan)  # ignored indeed
    # What the warning claims: no cloud or Kubernetes resource falls back to a default provider.
    assert not [
        r["urn"]
        for r in plan["resources"]
        if r["custom"] and r["type"].startswith(("aws:", "kubernetes:")) and not r["provider"]
    ]


# ------------------------------------------------------------------------------------------------
# Secrets


def test_a_plain_text_secret_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = DEV + "  gpu-platform-secrets:pagerdutyRoutingKey: 0123456789abcdef\n"
    code, _, err = _plan(project, text, capsys)
    assert code == 2
    assert err == (
        "t: invalid stack configuration (1 problem):\n"
        "  - gpu-platform-secrets:pagerdutyRoutingKey: given in plain text, but every gpu-platform-secrets: key is "
        "a secret (Alertmanager receiver keys, the Grafana admin password, kubeconfigs) and a plain value is "
        "committed unencrypted with the stack file; remove it and store it encrypted: pulumi config set --secret "
        "gpu-platform-secrets:pagerdutyRoutingKey <value>\n"
    )


def test_a_plain_text_kubeconfig_is_refused_before_anything_registers(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = (PROJECT_DIR / "Pulumi.existing-dev.yaml").read_text()
    text = re.sub(r"  gpu-platform-secrets:kubeconfig:\n    secure: \S+\n", "", existing)
    text += "  gpu-platform-secrets:kubeconfig: |\n    apiVersion: v1\n    kind: Config\n"
    code, _, err = _plan(project, text, capsys)
    assert code == 2
    assert "  - gpu-platform-secrets:kubeconfig: given in plain text, but every gpu-platform-secrets: key" in err


# ------------------------------------------------------------------------------------------------
# Messages that used to miss


def test_an_unquoted_kubernetes_version_says_to_quote_it(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _edit(DEV, "    network:\n", "    kubernetesVersion: 1.30\n    network:\n")
    code, _, err = _plan(project, text, capsys)
    assert code == 2
    assert err == (
        "t: invalid stack configuration (1 problem):\n"
        "  - gpu-platform:cluster.kubernetesVersion: expected a string, got the number 1.3; quote it in the stack "
        "file: unquoted, YAML reads digits as a number and drops trailing zeros (1.30 is read as 1.3), so write "
        "'1.30'\n"
    )


def test_a_bad_digest_is_shown_whole_with_what_a_digest_is(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = "A" + "1" * 62  # uppercase, 63 hex digits
    text = _edit(DEV, f"vllm-openai@sha256:{DIGEST_1}", f"vllm-openai@sha256:{bad}")
    code, _, err = _plan(project, text, capsys)
    assert code == 2
    assert err == (
        "t: invalid stack configuration (1 problem):\n"
        "  - gpu-platform:models[0].versions[0].image: '111122223333.dkr.ecr.us-west-2.amazonaws.com/serving/"
        f"vllm-openai@sha256:{bad}': the digest after '@sha256:' must be lowercase, 64 hex digits; this one has "
        "63 characters and uppercase letters (copy it again, e.g. with 'crane digest <ref>')\n"
    )


def test_an_infinite_memory_names_the_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _plan(project, DEV.replace("          memoryGib: 8\n", "          memoryGib: .inf\n", 1), capsys)
    assert code == 2
    assert err == (
        "error: cannot read Pulumi.t.yaml: line 39, gpu-platform:models[0].versions[0].memoryGib: .inf is not a "
        "finite number, and the CLI hands config to the program as JSON, which has no infinity or NaN; write a "
        "number\n"
    )
    # Quoted, it reaches the spec as text: refused there, by key, instead of failing the capacity check.
    code, _, err = _plan(project, DEV.replace("          memoryGib: 8\n", "          memoryGib: 'inf'\n", 1), capsys)
    assert code == 2
    assert err == (
        "t: invalid stack configuration (1 problem):\n"
        "  - gpu-platform:models[0].versions[0].memoryGib: expected a finite number, got 'inf'; write a number "
        "such as 16\n"
    )


def test_a_null_cluster_stack_is_not_read_as_a_name(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = re.sub(r"(?m)^  gpu-platform:clusterStack: .*$", "  gpu-platform:clusterStack: null", MODELS_DEV)
    code, _, err = _plan(project, text, capsys)
    assert code == 2
    assert err == (
        "t: invalid stack configuration (1 problem):\n"
        "  - gpu-platform:clusterStack: no value (null or empty in the stack file); name the cluster stack as "
        "<organization>/<project>/<stack>, e.g. organization/gpu-platform/prod, or remove the key for a stack that "
        "builds its own cluster\n"
    )
    assert "'null'" not in err


# ------------------------------------------------------------------------------------------------
# Layered stacks and the CLI boundary


def test_a_cluster_stack_that_does_not_exist_is_the_engines_unknown_stack(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = re.sub(
        r"(?m)^  gpu-platform:clusterStack: .*$",
        "  gpu-platform:clusterStack: organization/gpu-platform/qa",
        MODELS_DEV,
    )
    code, _, err = _plan(project, text, capsys)
    assert code == 2
    assert err == (
        't: error: unknown stack "organization/gpu-platform/qa": the offline runner has no outputs for this stack '
        "reference (the engine fails the same way when the stack does not exist); fix gpu-platform:clusterStack, "
        "or write tools/offline/stack_outputs/gpu-platform+qa.json with `python -m tools.offline.stack_outputs "
        "STACK-FILE ORGANIZATION/PROJECT/STACK`\n"
    )


def test_a_bad_stack_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_cli.main(["../dev", "--no-render"]) == 2
    assert capsys.readouterr().err == "error: '../dev' is not a stack name: letters, digits, '-', '_' and '.'\n"


def test_a_planted_internal_error_is_reported_as_one(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (not bad input) still fails loudly: exit 4, its type, message and where, and no traceback."""

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr("stacks.cluster.layer.build", broken)
    code, _, err = _plan(project, DEV, capsys)
    assert code == plan_cli.INTERNAL_ERROR == 4
    assert re.fullmatch(
        r"internal error: ZeroDivisionError: planted at .*/tests/plan/test_stack_yaml_cli\.py:\d+\n"
        r"This is a bug in gpu-platform or its offline runner, not a problem with the stack file; rerun with "
        r"GPU_PLATFORM_DEBUG=1 for the traceback and report it\.\n",
        err,
    ), err
    monkeypatch.setenv("GPU_PLATFORM_DEBUG", "1")
    with pytest.raises(ZeroDivisionError, match="planted"):
        plan_cli.main(["t", "--project-dir", str(project), "--no-render", "--out", str(project / "out")])


def test_plan_diff_refuses_files_that_are_not_plans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.json").write_text("[1")
    (tmp_path / "b.json").write_text('{"resources": [1]}')
    assert plan_cli.main(["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot read plan {tmp_path / 'a.json'}: Expecting ")
    assert plan_cli.main(["diff", str(tmp_path / "b.json"), str(tmp_path / "b.json")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'b.json'} is not a plan of `python -m tools.plan` (no list of resources)\n"
    )


def test_pr_diff_stops_a_plan_that_runs_too_long(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack file that hangs the runner is stopped and reported in the comment, not waited on."""
    (project / "Pulumi.t.yaml").write_text(DEV)
    monkeypatch.setattr(pr_diff, "PLAN_TIMEOUT_SECONDS", 0.05)
    assert pr_diff.run_plan(project, "t", tmp_path / "out") == (
        None,
        "the offline plan of t did not finish in 0.05 s and was stopped",
    )


def test_pr_diff_reports_git_errors_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert pr_diff.main(["--repo", str(tmp_path), "--base", "HEAD", "--head", "HEAD"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: git rev-parse HEAD: fatal: not a git repository") and "Traceback" not in err


def test_an_unwritable_out_directory_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    assert plan_cli.main(["dev", "--no-render", "--out", str(tmp_path / "file" / "x")]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot write the plan to {tmp_path / 'file' / 'x'}: Not a directory ({tmp_path / 'file' / 'x'})\n"
    )
