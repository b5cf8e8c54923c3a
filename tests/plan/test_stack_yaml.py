"""Stack files are read as the Pulumi CLI reads them (gopkg.in/yaml.v3 into `any`, then string keys under an
object root), with bounds the CLI lacks; every problem is one message naming the file, line and key
(tools/offline/stack_yaml.py, docs/stack-files.md#how-a-stack-file-is-read)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import STACKS
from tools.offline import stack_yaml
from tools.offline.config import PROJECT_DIR, ProjectConfigError, load_stack_config
from tools.offline.stack_yaml import MAX_BYTES, MAX_DEPTH, MAX_NODES, StackFileError, load_stack_yaml, loads

PROJECT = "name: proj\nruntime: python\n"


def _load(text: str | bytes) -> object:
    return loads("Pulumi.s.yaml", text.encode() if isinstance(text, str) else text)


def _refused(text: str | bytes) -> str:
    with pytest.raises(StackFileError) as err:
        _load(text)
    return str(err.value)


def _stack(tmp_path: Path, text: str | bytes, name: str = "s") -> dict[str, str]:
    (tmp_path / "Pulumi.yaml").write_text(PROJECT)
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return load_stack_config(tmp_path, name).values


def _stack_refused(tmp_path: Path, text: str | bytes) -> str:
    with pytest.raises(ProjectConfigError) as err:
        _stack(tmp_path, text)
    return str(err.value)


# ------------------------------------------------------------------------------------------------
# YAML 1.2 scalars, as yaml.v3 resolves them into `any`


def test_yaml_1_1_forms_are_what_yaml_v3_makes_of_them(tmp_path: Path) -> None:
    values = _stack(
        tmp_path,
        "config:\n"
        "  proj:window: 2:00\n"  # sexagesimal 120 in YAML 1.1
        "  proj:a: yes\n"
        "  proj:b: on\n"
        "  proj:c: No\n"
        "  proj:version: 1.30\n"  # a float: the spec then says to quote it
        "  proj:quoted: '1.30'\n"
        "  proj:octal: 0o17\n"
        "  proj:bool: true\n",
    )
    assert values == {
        "proj:window": "2:00",
        "proj:a": "yes",
        "proj:b": "on",
        "proj:c": "No",
        "proj:version": "1.3",
        "proj:quoted": "1.30",
        "proj:octal": "15",
        "proj:bool": "true",
    }


def test_colons_inside_flow_scalars_are_read_as_yaml_v3_reads_them() -> None:
    """yaml.v3 ends a plain scalar at ':' only before a blank (scannerc.go yaml_parser_scan_plain_scalar), so
    `[acme/models:refs/heads/main]` (Pulumi.prod.yaml registry.ciPushRepos) is one string."""
    assert _load("a: [acme/models:refs/heads/main, 2:00]\nb: {x:y: 1}\n") == {
        "a": ["acme/models:refs/heads/main", "2:00"],
        "b": {"x:y": 1},
    }


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_files_read_the_same_with_either_parser(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (PROJECT_DIR / f"Pulumi.{stack}.yaml").read_bytes()
    fast = loads("f", data)
    monkeypatch.setattr(stack_yaml, "PURE_PARSER", True)
    assert loads("f", data) == fast and isinstance(fast, dict) and fast["config"]


def test_core_tags_resolve_and_a_bom_is_dropped() -> None:
    assert _load("\ufeffa: !!str 5\nb: !!int '7'\nc: !!float 1\nd: !!bool true\ne: !!null ''\nf: ! 5\n") == {
        "a": "5",
        "b": 7,
        "c": 1.0,
        "d": True,
        "e": None,
        "f": "5",
    }


def test_empty_file_is_an_empty_stack(tmp_path: Path) -> None:
    assert _load("") is None
    assert _load("# only a comment\n") is None
    assert _stack(tmp_path, "") == {}
    assert _stack(tmp_path, "config:\n") == {}


def test_merge_keys_written_keys_win_then_the_first_merged_map() -> None:
    doc = _load("base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\nm:\n  <<: [*b, *o]\n  x: 9\n")
    assert doc == {"base": {"x": 1, "y": 2}, "other": {"y": 3, "z": 4}, "m": {"x": 9, "y": 2, "z": 4}}


# ------------------------------------------------------------------------------------------------
# What the CLI refuses too


def test_duplicate_keys_are_refused_with_both_lines(tmp_path: Path) -> None:
    text = "config:\n  proj:env: dev\n  proj:region: x\n  proj:env: prod\n"
    assert _stack_refused(tmp_path, text) == (
        "cannot read Pulumi.s.yaml: line 4, proj:env: mapping key 'proj:env' already defined at line 2; the Pulumi "
        "CLI refuses duplicate keys: keep one"
    )


def test_duplicate_keys_compare_as_written_and_nested() -> None:
    assert _refused("config:\n  proj:a:\n    x: 1\n    'x': 2\n") == (
        "cannot read Pulumi.s.yaml: line 4, proj:a.x: mapping key 'x' already defined at line 3; the Pulumi CLI "
        "refuses duplicate keys: keep one"
    )


def test_syntax_error_names_line_and_key() -> None:
    assert _refused("config:\n  proj:zones: [a, b\n  proj:x: 1\n") == (
        "cannot read Pulumi.s.yaml: line 3, proj:zones: invalid YAML: while parsing a flow sequence, did not find "
        "expected ',' or ']'"
    )
    # libyaml's words, which yaml.v3 (a Go port of libyaml) prints too: "yaml: line 3: mapping values are ..."
    assert _refused("config:\n  proj:a: 1\n   proj:b: 2\n") == (
        "cannot read Pulumi.s.yaml: line 3, config: invalid YAML: mapping values are not allowed in this context"
    )


def test_root_and_config_must_be_mappings(tmp_path: Path) -> None:
    assert _stack_refused(tmp_path, "# a list\n- config\n") == (
        "cannot read Pulumi.s.yaml: line 2, the top level: a list, not a mapping; a stack file is a mapping with a "
        "`config:` key (the CLI: expected project to be an object)"
    )
    assert _stack_refused(tmp_path, "just text\n") == (
        "cannot read Pulumi.s.yaml: line 1, the top level: the scalar 'just text', not a mapping; a stack file is "
        "a mapping with a `config:` key (the CLI: expected project to be an object)"
    )
    assert _stack_refused(tmp_path, "secretsprovider: passphrase\nconfig: 5\n") == (
        "cannot read Pulumi.s.yaml: line 2, config: the scalar '5', not a mapping; write `config:` followed by "
        "indented `<namespace>:<key>: <value>` lines"
    )
    assert _stack_refused(tmp_path, "config:\n  - a\n  - b\n") == (
        "cannot read Pulumi.s.yaml: line 2, config: a list, not a mapping; write `config:` followed by indented "
        "`<namespace>:<key>: <value>` lines"
    )
    assert _stack(tmp_path, "config: ~\n") == {}


def test_keys_must_be_strings() -> None:
    assert _refused("config:\n  1: a\n  true: b\n  '2': c\n") == (
        "cannot read Pulumi.s.yaml (2 problems):\n"
        "  - line 2, 1: mapping key '1' reads as the number 1, and the Pulumi CLI takes string keys only (expected "
        "only string keys); quote it\n"
        "  - line 3, true: mapping key 'true' reads as the boolean true, and the Pulumi CLI takes string keys only "
        "(expected only string keys); quote it"
    )
    assert _refused("? [a]\n: 1\n") == (
        "cannot read Pulumi.s.yaml: line 1, (key): a mapping key must be a string, not a list or mapping"
    )


def test_not_utf8_names_line_and_column(tmp_path: Path) -> None:
    assert _stack_refused(tmp_path, b"config:\n  proj:env: caf\xe9\n") == (
        "cannot read Pulumi.s.yaml: line 2: not UTF-8 text (byte 0xe9 at column 16, in 'proj:env: caf\ufffd'); "
        "save the file as UTF-8"
    )


def test_unknown_anchor() -> None:
    assert _refused("config:\n  proj:a: *nope\n") == (
        "cannot read Pulumi.s.yaml: line 2, proj:a: unknown anchor 'nope' referenced"
    )


# ------------------------------------------------------------------------------------------------
# Stricter than the CLI, on purpose (docs/stack-files.md)


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "config:\n  proj:x:\n" + "".join(f"    {line}\n" for line in lines)


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """12 levels of 10 aliases: 10^12 values expanded. Refused at the level that passes MAX_NODES."""
    start = time.perf_counter()
    message = _stack_refused(tmp_path, _bomb(12))
    elapsed = time.perf_counter() - start
    assert message == (
        "cannot read Pulumi.s.yaml: line 8, proj:x.a5: with its aliases expanded this holds more than 200,000 "
        "values (an alias bomb?); write the values out or use fewer aliases"
    )
    assert elapsed < 1.0, f"{elapsed:.2f}s"


def test_many_aliases_in_one_list_cost_linear_time() -> None:
    """250,000 aliases in one flow sequence (a 1 MB file): refused at the bound in about a second; the
    running totals keep each check O(depth) (summing the open list at every alias took 24 s for 30,000)."""
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 250_000) + "]\n"
    start = time.perf_counter()
    assert _refused(text) == (
        "cannot read Pulumi.s.yaml: line 2, b: with its aliases expanded this holds more than 200,000 values (an "
        "alias bomb?); write the values out or use fewer aliases"
    )
    wide = "a: &a x\nb: [" + ", ".join(["*a"] * 30_000) + "]\n"
    doc = _load(wide)
    elapsed = time.perf_counter() - start
    assert isinstance(doc, dict) and len(doc["b"]) == 30_000
    assert elapsed < 5, f"{elapsed:.1f}s"


def test_aliases_under_the_bound_are_expanded() -> None:
    doc = _load(_bomb(3))
    assert isinstance(doc, dict)
    x = doc["config"]["proj:x"]
    assert len(x["a2"]) == 10 and x["a2"][0] == x["a1"] and len(x["a1"][9]) == 10


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert _refused("a: &x [1, *x]\n") == "cannot read Pulumi.s.yaml: line 1, a[1]: anchor 'x' value contains itself"


def test_deep_nesting_is_refused() -> None:
    flow = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    message = _refused(flow)
    assert message.startswith("cannot read Pulumi.s.yaml: line 1, a") and message.endswith(
        f"nested deeper than {MAX_DEPTH} levels; a stack file needs about 10"
    )
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH + 5)) + f"{'  ' * (MAX_DEPTH + 5)}v\n"
    assert f"nested deeper than {MAX_DEPTH} levels" in _refused(block)


def test_a_large_file_is_refused_before_parsing(tmp_path: Path) -> None:
    text = "config:\n  proj:a: '" + "x" * MAX_BYTES + "'\n"
    assert _stack_refused(tmp_path, text) == (
        f"cannot read Pulumi.s.yaml: {len(text):,} bytes; a stack file is at most {MAX_BYTES:,} bytes here"
    )


def test_unknown_tags_are_refused() -> None:
    assert _refused("config:\n  proj:a: !!python/object:os.system {x: 1}\n  proj:b: !foo 3\n") == (
        "cannot read Pulumi.s.yaml (2 problems):\n"
        "  - line 2, proj:a: tag !!python/object:os.system is not allowed; remove it (the Pulumi CLI ignores it)\n"
        "  - line 3, proj:b: tag !foo is not allowed; remove it (the Pulumi CLI reads a string)"
    )
    assert _refused("a: !!int abc\n") == (
        "cannot read Pulumi.s.yaml: line 1, a: cannot decode 'abc' as a !!int (yaml.v3 refuses it too)"
    )


def test_a_second_document_is_refused() -> None:
    assert _refused("config: {}\n---\nconfig:\n  proj:a: 1\n") == (
        "cannot read Pulumi.s.yaml: line 3, the top level: a second YAML document; a stack file holds one "
        "(the CLI ignores the rest)"
    )


def test_infinite_and_nan_numbers_name_the_key(tmp_path: Path) -> None:
    text = "config:\n  proj:models:\n    - name: a\n      memoryGib: .inf\n      cpu: .NaN\n"
    assert _stack_refused(tmp_path, text) == (
        "cannot read Pulumi.s.yaml (2 problems):\n"
        "  - line 4, proj:models[0].memoryGib: .inf is not a finite number, and the CLI hands config to the "
        "program as JSON, which has no infinity or NaN; write a number\n"
        "  - line 5, proj:models[0].cpu: .NaN is not a finite number, and the CLI hands config to the program as "
        "JSON, which has no infinity or NaN; write a number"
    )


def test_huge_integers_stay_strings_without_a_traceback() -> None:
    assert _load("a: " + "9" * 5000 + "\n") == {"a": "9" * 5000}


def test_pulumi_yaml_goes_through_the_same_reader(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: proj\nname: other\n")
    (tmp_path / "Pulumi.s.yaml").write_text("config: {}\n")
    with pytest.raises(ProjectConfigError) as err:
        load_stack_config(tmp_path, "s")
    assert str(err.value) == (
        "cannot read Pulumi.yaml: line 2, name: mapping key 'name' already defined at line 1; the Pulumi CLI "
        "refuses duplicate keys: keep one"
    )


def test_an_unreadable_file_is_a_stack_file_error(tmp_path: Path) -> None:
    with pytest.raises(StackFileError) as err:
        load_stack_yaml(tmp_path)  # a directory
    assert str(err.value).startswith(f"cannot read {tmp_path.name}: cannot open it: ")


def test_the_pure_parser_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ruamel.yaml.clib the pure-Python parser is used: same values, same refusals (its styles differ)."""
    text = "a: 1.30\nb: '1.30'\nc: |\n  x\nd: !!str 2\ne: [yes, on]\nw: 2:00\nf: &x {g: 1}\nh: *x\n"
    fast = _load(text)
    monkeypatch.setattr(stack_yaml, "PURE_PARSER", True)
    assert (
        _load(text)
        == fast
        == {
            "a": 1.3,
            "b": "1.30",
            "c": "x\n",
            "d": "2",
            "e": ["yes", "on"],
            "w": "2:00",
            "f": {"g": 1},
            "h": {"g": 1},
        }
    )
    assert _refused("a: 1\na: 2\n") == (
        "cannot read Pulumi.s.yaml: line 2, a: mapping key 'a' already defined at line 1; the Pulumi CLI refuses "
        "duplicate keys: keep one"
    )


def test_a_large_file_parses_in_bounded_time() -> None:
    """Close to MAX_BYTES of real-looking stack YAML (8,000 models): parsed and built in seconds."""
    models = "".join(
        f"    - name: m{i}\n      hosts: [m{i}.example.com]\n      versions:\n"
        f"        - {{name: v1, semver: 1.0.0, cpu: 2, memoryGib: 8}}\n"
        for i in range(8000)
    )
    data = ("config:\n  gpu-platform:models:\n" + models).encode()
    assert len(data) < MAX_BYTES
    start = time.perf_counter()
    doc = loads("Pulumi.s.yaml", data)
    elapsed = time.perf_counter() - start
    assert isinstance(doc, dict) and len(doc["config"]["gpu-platform:models"]) == 8000
    assert elapsed < 5, f"{elapsed:.1f}s"


def test_bounds_are_what_the_docs_say() -> None:
    doc = (PROJECT_DIR / "docs" / "stack-files.md").read_text()
    for bound in (f"{MAX_BYTES:,}", str(MAX_DEPTH), f"{MAX_NODES:,}"):
        assert bound in doc, bound
    assert stack_yaml.__doc__ and "docs/stack-files.md" in stack_yaml.__doc__


@pytest.mark.parametrize("stack", STACKS)
def test_spec_tests_see_what_the_program_sees(stack: str) -> None:
    """tests/spec_helpers.py raw_stack reads the stack files with PyYAML (YAML 1.1) for the spec tables; for
    the committed files that is exactly the config the program receives through this reader and the CLI rules."""
    from stacks.spec.parse import raw_from_config
    from tests.spec_helpers import raw_stack

    cfg = load_stack_config(PROJECT_DIR, stack)
    assert raw_from_config(cfg.values, cfg.secret_keys) == raw_stack(stack)
