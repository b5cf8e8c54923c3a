"""YAML-level garbage through tools.release (status, promote, rollback, and the model check `run` starts
with): exit 0 or 2 with a one-line reason, never a traceback, never the internal-error exit 5, never an
edit of a file it refused, each example within a time bound."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.time_bound import time_bound
from tools.offline.runner import PROJECT_DIR
from tools.release import main
from tools.release.errors import INVALID, OK, ReleaseError
from tools.release.loop import typed_model
from tools.release.stackfile import StackFile

DEV = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
MODEL_LINES = DEV[DEV.index("  gpu-platform:models:") : DEV.index("  gpu-platform:addons:")].splitlines()
YAML_BITS = [
    "&a ",
    "*a",
    "!!binary ",
    "!!set ",
    "? ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "|",
    ">",
    "'",
    '"',
    "#",
    "\t",
    "~",
]
VALUES = ["150", "-1", "null", "true", "[]", "{}", "'10'", "1e9", ".inf", "*a", "&a 5", "!!str 10", "v9", ""]


@st.composite
def edited_models(draw: st.DrawFn) -> str:
    """dev's models block with values replaced, lines dropped, duplicated or salted with YAML syntax."""
    out: list[str] = []
    for line in MODEL_LINES:
        move = draw(st.sampled_from(["keep"] * 6 + ["value", "drop", "dup", "salt", "indent"]))
        if move == "value" and ": " in line:
            line = line.split(": ", 1)[0] + ": " + draw(st.sampled_from(VALUES))
        elif move == "drop":
            continue
        elif move == "dup":
            out.append(line)
        elif move == "salt":
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(st.sampled_from(YAML_BITS)) + line[at:]
        elif move == "indent":
            line = " " + line
        out.append(line)
    return "config:\n" + "\n".join(out) + "\n"


@st.composite
def bomb(draw: st.DrawFn) -> str:
    width, levels = draw(st.integers(2, 10)), draw(st.integers(1, 12))
    lines = [f"b0: &b0 [{', '.join(['x'] * width)}]"]
    lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * width)}]" for i in range(1, levels)]
    # the bomb sits inside a model, where `run` converts the model for validation
    return (
        "config:\n  gpu-platform:models:\n    - name: llama3-8b\n      traffic: {stable: v1, candidate: v2, candidateWeight: 10}\n"
        + "".join(f"      {line}\n" for line in lines)
    )


garbage = st.one_of(
    edited_models(),
    bomb(),
    st.text(alphabet=":-[]{}&*!|>#'\"%@`,? \t\n\\.~0123456789abcxyz\u00e9\ufeff\x00", max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=garbage)
def test_garbage_gets_a_reason_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    path = tmp_path / "Pulumi.g.yaml"
    data = text.encode("utf-8", "surrogateescape")
    path.write_bytes(data)
    project = ["--project-dir", str(tmp_path)]
    with time_bound(20):
        codes = [
            main([*project, "status", "--stack", "g"]),
            main([*project, "promote", "llama3-8b", "--stack", "g", "--to", "101"]),
            main([*project, "rollback", "missing-model", "--stack", "g"]),
        ]
        try:
            sf = StackFile.load(tmp_path, "g")
            for m in sf.models():
                try:
                    typed_model(sf, m)
                except ReleaseError as err:
                    assert err.code == INVALID and err.message
        except ReleaseError as err:
            assert err.code == INVALID and err.message.startswith("error: Pulumi.g.yaml")
    out, err = capsys.readouterr()
    assert set(codes) <= {OK, INVALID}, (codes, err)
    assert "Traceback" not in out + err and "error: unexpected " not in err, err
    assert path.read_bytes() == data  # every call above refuses before writing
