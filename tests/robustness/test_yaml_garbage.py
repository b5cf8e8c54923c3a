"""YAML-level garbage (not mutated valid specs: bytes, broken indentation, anchors and alias bombs, tags,
huge scalars, deep nesting, non-mappings, duplicate keys, spliced fragments of real stack files) through the
stack-file reader, `python -m tools.plan`'s entry and `python -m tools.pr_diff`: a clear error or a plan,
never a traceback, never an internal error, and every example within a time bound
(docs/stack-files.md#what-is-tested)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import STACKS
from tests.time_bound import time_bound
from tools import plan as plan_cli
from tools import pr_diff
from tools.offline.config import PROJECT_DIR
from tools.offline.stack_yaml import StackFileError, loads

REAL_LINES = [line for s in STACKS for line in (PROJECT_DIR / f"Pulumi.{s}.yaml").read_text().splitlines()]
TAGS = ["!!python/object:os.system", "!!python/name:os.system", "!!binary", "!!set", "!!omap", "!foo", "!", "!!int"]
YAML_CHARS = ":-[]{}&*!|>#'\"%@`,? \t\n\\.~0123456789abcxyz\u00e9\u2028\ufeff\x00\x85"


@st.composite
def alias_bomb(draw: st.DrawFn) -> str:
    width, levels = draw(st.integers(2, 12)), draw(st.integers(1, 14))
    lines = [f"b0: &b0 [{', '.join(['x'] * width)}]"]
    lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * width)}]" for i in range(1, levels)]
    return "config:\n  gpu-platform:models:\n" + "".join(f"    {line}\n" for line in lines)


@st.composite
def wide_aliases(draw: st.DrawFn) -> str:
    """Many aliases side by side (one list, or one mapping's values): linear work, or refused at the bound."""
    n = draw(st.integers(1, 20_000))  # 250,000 (refused at the bound) is tests/plan/test_stack_yaml.py
    if draw(st.booleans()):
        return "config:\n  gpu-platform:x: &a [1, 2]\n  gpu-platform:y: [" + ", ".join(["*a"] * n) + "]\n"
    return (
        "config:\n  gpu-platform:x: &a {k: v}\n  gpu-platform:y: {" + ", ".join(f"k{i}: *a" for i in range(n)) + "}\n"
    )


@st.composite
def deep(draw: st.DrawFn) -> str:
    n = draw(st.integers(1, 3000))
    if draw(st.booleans()):
        return "config:\n  gpu-platform:x: " + "[" * n + "]" * draw(st.integers(0, n)) + "\n"
    return "config:\n" + "".join(f"{' ' * (i + 2)}k{i}:\n" for i in range(min(n, 400)))


@st.composite
def spliced(draw: st.DrawFn) -> str:
    """Lines of the real stack files, re-indented, duplicated, dropped and salted with garbage."""
    lines = draw(st.lists(st.sampled_from(REAL_LINES), min_size=1, max_size=40))
    out = []
    for line in lines:
        move = draw(st.sampled_from(["keep", "keep", "indent", "dedent", "tab", "tag", "anchor", "dup", "junk"]))
        if move == "indent":
            line = " " * draw(st.integers(1, 5)) + line
        elif move == "dedent":
            line = line.lstrip()
        elif move == "tab":
            line = line.replace("  ", "\t", 1)
        elif move == "tag" and ": " in line:
            key, _, value = line.partition(": ")
            line = f"{key}: {draw(st.sampled_from(TAGS))} {value}"
        elif move == "anchor" and ": " in line:
            key, _, value = line.partition(": ")
            line = f"{key}: {draw(st.sampled_from(['&a', '*a', '<<: *a', '&a {x: 1}']))} {value}"
        elif move == "dup":
            out.append(line)
        elif move == "junk":
            line += draw(st.text(YAML_CHARS, max_size=8))
        out.append(line)
    head = draw(st.sampled_from(["config:\n", "", "config: [\n", "- config:\n", "---\n", "config:\n  <<: 1\n"]))
    return head + "\n".join(out) + "\n"


@st.composite
def edited(draw: st.DrawFn) -> str:
    """A real stack file with a few line edits: mostly still YAML, so it reaches the CLI rules and the spec."""
    lines = (PROJECT_DIR / f"Pulumi.{draw(st.sampled_from(STACKS))}.yaml").read_text().splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        key, sep, value = line.partition(": ")
        edit = draw(st.sampled_from(["dup", "value", "tag", "indent", "alias", "drop", "key"]))
        if edit == "dup":
            lines.insert(i, line)
        elif edit == "value" and sep:
            lines[i] = f"{key}: {draw(st.sampled_from(['.inf', 'yes', '1.30', '2:00', '~', '[', '{a: 1', '0x1F']))}"
        elif edit == "tag" and sep:
            lines[i] = f"{key}: {draw(st.sampled_from(TAGS))} {value}"
        elif edit == "indent":
            lines[i] = " " + line
        elif edit == "alias" and sep:
            lines[i] = f"{key}: {draw(st.sampled_from(['*nope', '&a ' + value, '*a']))}"
        elif edit == "drop":
            del lines[i]
        elif edit == "key" and sep:
            lines[i] = (
                f"{key.replace('gpu-platform', draw(st.sampled_from(['gpu-platfrom', 'aws', 'x', '1'])))}: {value}"
            )
        if not lines:
            lines = ["config:"]
    return "\n".join(lines) + "\n"


documents = st.one_of(
    edited(),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.text(YAML_CHARS, max_size=300),
    alias_bomb(),
    wide_aliases(),
    deep(),
    spliced(),
    st.sampled_from(["", "~", "[]", "- a\n- b\n", "config:\n", "config: 5\n", "config: {a: 1, a: 2}\n"]),
    st.integers(0, 200_000).map(lambda n: "config:\n  gpu-platform:environment: '" + "x" * n + "'\n"),
    st.text(YAML_CHARS, max_size=40).map(lambda t: f"config:\n  gpu-platform:environment: {t}\n"),
    st.sampled_from(TAGS).map(lambda tag: f"config:\n  gpu-platform:cluster: {tag} {{name: x}}\n"),
)


def _encoded(doc: str, draw_bytes: bool) -> bytes:
    return doc.encode("utf-8", "surrogatepass") if not draw_bytes else doc.encode("latin-1", "replace")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.booleans())
def test_the_reader_refuses_garbage_cleanly(doc: str, latin1: bool) -> None:
    data = _encoded(doc, latin1)
    start = time.perf_counter()
    with time_bound(5):
        try:
            loads("Pulumi.g.yaml", data)
        except StackFileError as err:
            assert str(err).startswith("cannot read Pulumi.g.yaml"), str(err)
            assert "Traceback" not in str(err)
    assert time.perf_counter() - start < 5


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("garbage") / "project"
    root.mkdir()
    for entry in PROJECT_DIR.iterdir():
        if not entry.name.startswith(("Pulumi.", ".", "build")) or entry.name == "Pulumi.yaml":
            (root / entry.name).symlink_to(entry)
    return root


CLEAN_STARTS = ("error: ", "g: invalid stack configuration", "g: error: ", "g: ")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(documents, st.booleans())
def test_tools_plan_answers_garbage_with_a_message(
    project: Path, capsys: pytest.CaptureFixture[str], doc: str, latin1: bool
) -> None:
    (project / "Pulumi.g.yaml").write_bytes(_encoded(doc, latin1))
    capsys.readouterr()
    with time_bound(60):
        code = plan_cli.main(["g", "--project-dir", str(project), "--no-render", "--out", str(project / "out")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code in (0, 2), (code, err)  # 4 would be an internal error: a bug this input found
    if code == 2:
        assert err.startswith(CLEAN_STARTS) and err.strip(), err


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose base commit has this project without stack files; heads add one garbage file."""
    root = tmp_path_factory.mktemp("garbage-repo") / "repo"
    root.mkdir()
    for entry in PROJECT_DIR.iterdir():
        if not entry.name.startswith(("Pulumi.", ".", "build")) or entry.name == "Pulumi.yaml":
            (root / entry.name).symlink_to(entry)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base")
    return root


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.one_of(alias_bomb(), spliced(), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_pr_diff_answers_garbage_with_a_comment(repo: Path, capsys: pytest.CaptureFixture[str], doc: str) -> None:
    (repo / "Pulumi.g.yaml").write_bytes(doc.encode("latin-1", "replace"))
    _git(repo, "add", "Pulumi.g.yaml")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "head")
    capsys.readouterr()
    with time_bound(120):
        code = pr_diff.main(["--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD", "--stack", "g"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in out + err
    assert code in (0, 2), (code, out, err)
    assert pr_diff.MARKER in out
