"""tools.release on careless and hostile stack files: an exact message and exit code, never a traceback,
the file untouched (issue 20). Exit codes: tools/release/errors.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.offline.runner import PROJECT_DIR
from tools.release import main
from tools.release.errors import INVALID, OK

W10 = "        candidateWeight: 10\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


def release(project: Path, *args: str) -> int:
    return main(["--project-dir", str(project), *args])


BROKEN = {
    "dup": (
        b"config:\n  gpu-platform:region: a\n  gpu-platform:region: b\n",
        'Pulumi.dup.yaml (line 3, column 3): found duplicate key "gpu-platform:region" with value "b" '
        '(original value: "a"); the Pulumi CLI refuses duplicate keys too, keep one',
    ),
    "syntax": (
        b"config:\n  gpu-platform:models: [\n",
        "Pulumi.syntax.yaml (line 3, column 1): while parsing a flow node expected the node content, but found "
        "'<stream end>'; fix the YAML",
    ),
    "latin1": (
        b'config:\n  x: "\xe9t\xe9"\n',
        "Pulumi.latin1.yaml (line 2, column 7): byte 0xe9 is not UTF-8; save the file as UTF-8",
    ),
    "list": (b"- config\n", "Pulumi.list.yaml: the file must be a mapping with a `config:` key, got a list"),
    "scalar": (b"hello\n", "Pulumi.scalar.yaml: the file must be a mapping with a `config:` key, got str 'hello'"),
    "configlist": (
        b"config: [1, 2]\n",
        "Pulumi.configlist.yaml: `config:` must be a mapping of keys to values, got a list",
    ),
    "modelsmap": (
        b"config:\n  gpu-platform:models: {name: x}\n",
        "Pulumi.modelsmap.yaml: `gpu-platform:models` must be a list of models, got a mapping",
    ),
    "deep": (
        b"config:\n  gpu-platform:models: " + b"[" * 5000 + b"\n",
        "Pulumi.deep.yaml: [ and { nested 5000 levels deep; a stack file needs a few, at most 64",
    ),
    "deepblock": (
        ("config:\n" + "".join(f"{' ' * (i + 2)}k{i}:\n" for i in range(600))).encode(),
        "Pulumi.deepblock.yaml: nested too deeply for a stack file; flatten it",
    ),
    "huge": (
        b"config:\n  x: '" + b"a" * (1 << 20) + b"'\n",
        "Pulumi.huge.yaml: 1048592 bytes is more than the 1048576 a stack file may have",
    ),
}


def test_one_unreadable_stack_file_does_not_hide_the_others_from_status(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, (data, _) in BROKEN.items():
        (project / f"Pulumi.{name}.yaml").write_bytes(data)
    assert release(project, "status") == INVALID  # something was unreadable: say so in the exit code
    out, err = capsys.readouterr()
    assert out == "dev llama3-8b: stable v1 90%, candidate v2 10%; next step 25%\n"
    assert err.splitlines() == [f"{name}: unreadable: {message}" for name, (_, message) in sorted(BROKEN.items())]


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize(
    "command",
    [
        ["promote", "llama3-8b", "--next"],
        ["rollback", "llama3-8b"],
        ["run", "llama3-8b", "--prometheus", "http://127.0.0.1:9"],
    ],
    ids=["promote", "rollback", "run"],
)
def test_every_command_refuses_an_unreadable_file_with_its_message(
    project: Path, capsys: pytest.CaptureFixture[str], name: str, command: list[str]
) -> None:
    data, message = BROKEN[name]
    path = project / f"Pulumi.{name}.yaml"
    path.write_bytes(data)
    assert release(project, *command, "--stack", name) == INVALID
    assert capsys.readouterr().err == f"error: {message}\n"
    assert path.read_bytes() == data


def test_an_alias_bomb_is_read_without_expanding_it(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["b0: &b0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]" for i in range(1, 12)]
    (project / "Pulumi.bomb.yaml").write_text("config:\n" + "".join(f"  {line}\n" for line in lines))
    assert release(project, "status", "--stack", "bomb") == OK
    assert release(project, "rollback", "llama3-8b", "--stack", "bomb") == INVALID
    assert capsys.readouterr().err == "error: Pulumi.bomb.yaml has no model 'llama3-8b'; models: none\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["promote", "llama3-8b", "--stack", "nope", "--next"],
            "error: no stack 'nope': {dir}/Pulumi.nope.yaml does not exist; stacks: dev",
        ),
        (
            ["rollback", "llama3-8b", "--stack", "../dev"],
            "error: '../dev' is not a stack name (letters, digits, '-', '_' and '.')",
        ),
        (
            ["promote", "mistral", "--stack", "dev", "--to", "5"],
            "error: Pulumi.dev.yaml has no model 'mistral'; models: llama3-8b",
        ),
        (
            ["run", "mistral", "--stack", "dev", "--prometheus", "http://127.0.0.1:9"],
            "error: Pulumi.dev.yaml has no model 'mistral'; models: llama3-8b",
        ),
        (["status", "--stack", "nope"], None),
    ],
    ids=["unknown stack", "path as stack", "unknown model", "run unknown model", "status unknown stack"],
)
def test_unknown_stack_or_model_is_invalid_input_not_a_refused_gate(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str | None
) -> None:
    before = (project / "Pulumi.dev.yaml").read_text()
    assert release(project, *args) == INVALID  # 2, not 1 (1 = the analysis refused)
    err = capsys.readouterr().err
    if message is None:
        assert err == f"nope: unreadable: no stack 'nope': {project}/Pulumi.nope.yaml does not exist; stacks: dev\n"
    else:
        assert err == message.format(dir=project) + "\n"
    assert (project / "Pulumi.dev.yaml").read_text() == before


@pytest.mark.parametrize("bad", ["150", "-3", "ten", "true", "12.5", "null"])
def test_an_invalid_weight_is_shown_and_repaired_with_promote_to(
    project: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    path = project / "Pulumi.dev.yaml"
    good = path.read_text()
    path.write_text(good.replace(W10, f"        candidateWeight: {bad}\n"))
    assert release(project, "status", "--stack", "dev") == OK
    shown = {"150": "150", "-3": "-3", "ten": "'ten'", "true": "True", "12.5": "12.5", "null": "None"}[bad]
    assert capsys.readouterr().out == f"dev llama3-8b: stable v1, candidate v2 at an invalid weight {shown}\n"
    assert release(project, "promote", "llama3-8b", "--stack", "dev", "--next") == INVALID
    assert capsys.readouterr().err == (
        f"error: traffic.candidateWeight {shown} is not a whole number from 0 to 100; repair it with --to WEIGHT\n"
    )
    assert release(project, "promote", "llama3-8b", "--stack", "dev", "--to", "10") == OK
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0] == f"llama3-8b: stable v1, candidate v2 at an invalid weight {shown} -> stable v1 90%, candidate v2 10%"
    )
    assert out[-1] == "wrote Pulumi.dev.yaml; apply with: pulumi up -s dev"
    if bad == "true":
        # the spec reads a YAML boolean as the integer 1 (pydantic's lax mode), so there is a diff from 1
        assert out[1:4] == [
            "~ update  kubernetes:networking.istio.io/v1:VirtualService llama3-8b",
            "      inputs.spec.http[0].route[0].weight: 99 => 90",
            "      inputs.spec.http[0].route[1].weight: 1 => 10",
        ]
    else:
        assert out[1:-1] == ["Pulumi.dev.yaml was invalid before this edit; no diff to show, the plan is valid now"]
    assert path.read_text() == good  # the one line repaired, everything else as it was


SHARED = """\
config:
  gpu-platform:models:
    - name: a
      traffic: &split   # one block for both models
        stable: v1
        candidate: v2
        candidateWeight: 10
    - name: b
      traffic: *split
"""


@pytest.mark.parametrize(
    "command",
    [["promote", "a", "--to", "50"], ["rollback", "b"], ["run", "a", "--prometheus", "http://127.0.0.1:9"]],
    ids=["promote", "rollback", "run"],
)
def test_a_traffic_block_shared_through_an_anchor_is_refused_not_moved_for_both(
    project: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = project / "Pulumi.shared.yaml"
    path.write_text(SHARED)
    assert release(project, *command, "--stack", "shared") == INVALID
    name = command[1]
    assert capsys.readouterr().err == (
        f"error: Pulumi.shared.yaml: the traffic block of model '{name}' is shared through a YAML anchor with another "
        "place (e.g. another model's traffic); changing its weight would move both; write a separate traffic block "
        "for each model, then retry\n"
    )
    assert path.read_text() == SHARED


def test_run_without_an_analysis_block_says_what_to_add(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "Pulumi.dev.yaml"
    text = path.read_text()
    start = text.index("      # `python -m tools.release run")
    path.write_text(text[:start] + text[text.index("  gpu-platform:addons:") :])
    args = ["run", "llama3-8b", "--stack", "dev", "--prometheus", "http://127.0.0.1:9", "--apply", "offline"]
    assert release(project, *args, "--state-dir", str(project / "state")) == INVALID
    assert capsys.readouterr().err == (
        "error: Pulumi.dev.yaml: model 'llama3-8b' has no `analysis:` block; add one to gpu-platform:models[0] "
        "(docs/progressive-delivery.md) to let `run` judge its steps\n"
    )


def test_run_reports_an_invalid_analysis_block_with_the_spec_message(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("        stepInterval: 5m\n", "        stepInterval: 2m\n"))
    args = ["run", "llama3-8b", "--stack", "dev", "--prometheus", "http://127.0.0.1:9", "--apply", "offline"]
    assert release(project, *args, "--state-dir", str(project / "state")) == INVALID
    assert capsys.readouterr().err == (
        "invalid stack configuration (1 problem):\n"
        "  - gpu-platform:models[0].analysis.stepInterval: '2m' is shorter than the 5 x 1m the analysis looks back "
        "over, which would judge traffic from the previous step; raise stepInterval or lower intervals\n"
    )


def test_run_refuses_a_candidate_that_is_not_a_version(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("        candidate: v2\n", "        candidate: v9\n"))
    args = ["run", "llama3-8b", "--stack", "dev", "--prometheus", "http://127.0.0.1:9", "--apply", "offline"]
    assert release(project, *args, "--state-dir", str(project / "state")) == INVALID
    assert capsys.readouterr().err == (
        "invalid stack configuration (1 problem):\n"
        "  - gpu-platform:models[0].traffic.candidate: 'v9' is not a version of this model; choose one of ['v1', 'v2']\n"
    )


@pytest.mark.parametrize("journal", ["{not json", "[]", '{"applied": "v1|v2|10"}', '{"inconclusive": "two"}'])
def test_run_refuses_a_journal_it_did_not_write(
    project: Path, capsys: pytest.CaptureFixture[str], journal: str
) -> None:
    state = project / "state"
    state.mkdir()
    (state / "journal.json").write_text(journal)
    args = ["run", "llama3-8b", "--stack", "dev", "--prometheus", "http://127.0.0.1:9", "--apply", "offline"]
    assert release(project, *args, "--state-dir", str(state)) == INVALID
    err = capsys.readouterr().err
    assert err.startswith(f"error: journal {state / 'journal.json'} is ")
    assert err.endswith("; remove it to start over\n")
    assert (project / "Pulumi.dev.yaml").read_text() == (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
