"""The bad-input cases reach the whole spec: every top-level key and every rule has a case that fails with
a message from it, and every message points at a place in the stack file.

The cases are the CASES tables of tests/unit/test_spec_errors*.py (each row: a name, a stack file with
one mistake, the exact message parse_spec must report; each module's own test checks the message). This
file once required at least 60 of them; what the count stood for is asserted instead
(docs/design.md#config-validation): a block or a rule without a case fails here by name, however many cases
the others have.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from stacks.spec import rules, stack
from stacks.spec.base import Problem
from stacks.spec.errors import ConfigError, key_path
from stacks.spec.parse import parse_spec
from stacks.spec.stack import StackSpec
from stacks.workloads import checks
from tests.spec_helpers import Case

UNIT = Path(__file__).resolve().parents[1] / "unit"
MODULES = sorted(p.stem for p in UNIT.glob("test_spec_errors*.py"))
TOP_LEVEL_KEYS = [info.alias or name for name, info in StackSpec.model_fields.items()]
# Checked before parse_spec, by the models-only stack path (stacks/cluster/reference.py); its messages
# are pinned in tests/plan/test_layered.py.
NOT_PARSE_SPEC_KEYS = ("clusterStack",)
ALL_RULES: list[rules.Rule] = [*rules.RULES, *(fn for fn, _ in rules.DEPENDENT)]


def _cases() -> list[tuple[str, Case]]:
    """(module, case) for every row of every table."""
    return [(mod, case) for mod in MODULES for case in importlib.import_module(f"tests.unit.{mod}").CASES]


CASES = _cases()


def _id(mod: str, case: Case) -> str:
    return f"{mod}:{case[0]}"


def _rule_name(rule: rules.Rule) -> str:
    return f"{rule.__module__}.{getattr(rule, '__qualname__', rule)}"


def _messages_by_rule(raw: dict[str, Any]) -> dict[rules.Rule, set[str]]:
    """What each rule reports for a config: parse_spec with every listed rule wrapped to record its problems.

    parse_spec itself runs them, so DEPENDENT rules run only when rules.check would run them."""
    seen: dict[rules.Rule, set[str]] = defaultdict(set)

    def recording(rule: rules.Rule) -> rules.Rule:
        def run(spec: StackSpec) -> Iterable[Problem]:
            found = list(rule(spec))
            seen[rule].update(f"{key_path(loc)}: {msg}" for loc, msg in found)
            return found

        return run

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rules, "RULES", tuple(recording(r) for r in rules.RULES))
        mp.setattr(rules, "DEPENDENT", tuple((recording(r), keys) for r, keys in rules.DEPENDENT))
        try:
            parse_spec(raw)
        except ConfigError:
            pass
    return seen


@functools.cache
def _cases_by_rule() -> dict[rules.Rule, list[str]]:
    out: dict[rules.Rule, list[str]] = defaultdict(list)
    for mod, case in CASES:
        for rule, messages in _messages_by_rule(case[1]).items():
            if case[2] in messages:
                out[rule].append(_id(mod, case))
    return out


def _loc(message: str) -> list[str | int]:
    """'gpu-platform:nodePools[1].gpu.mig: ...' -> ['nodePools', 1, 'gpu', 'mig']."""
    path = message.removeprefix("gpu-platform:").split(": ", 1)[0]
    return [int(t[1:-1]) if t.startswith("[") else t for t in re.findall(r"\[\d+\]|[^.\[\]]+", path)]


def _resolves(raw: dict[str, Any], loc: list[str | int]) -> bool:
    node: Any = raw
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


@pytest.mark.parametrize("mod", MODULES)
def test_every_spec_error_module_has_a_cases_table(mod: str) -> None:
    # The tests below see only the rows of these tables.
    assert getattr(importlib.import_module(f"tests.unit.{mod}"), "CASES", None), mod


@pytest.mark.parametrize("key", [k for k in TOP_LEVEL_KEYS if k not in NOT_PARSE_SPEC_KEYS])
def test_every_top_level_key_has_a_case_whose_message_names_it(key: str) -> None:
    prefix = key_path([key])
    named = [_id(mod, c) for mod, c in CASES if c[2].startswith(prefix) and c[2][len(prefix)] in ".[:"]
    assert named, f"no bad-input case reports a problem under {prefix}; add one to a test_spec_errors*.py table"


def test_the_keys_left_to_other_tests_are_top_level_keys() -> None:
    assert set(NOT_PARSE_SPEC_KEYS) <= set(TOP_LEVEL_KEYS)


@pytest.mark.parametrize("rule", ALL_RULES, ids=_rule_name)
def test_every_listed_rule_reports_the_message_of_a_case(rule: rules.Rule) -> None:
    assert _cases_by_rule().get(rule), (
        f"no bad-input case fails with a message from {_rule_name(rule)}; add one to a test_spec_errors*.py table"
    )


def test_a_case_is_credited_to_the_rule_that_reports_it() -> None:
    # Guards the recording above: a message from a pydantic validator belongs to no rule, and a rule's
    # message belongs to that rule only.
    def credited(case_id: str) -> list[rules.Rule]:
        return [r for r, ids in _cases_by_rule().items() if case_id in ids]

    assert credited("test_spec_errors:bad environment") == []
    assert credited("test_spec_errors:zone outside region") == [stack.zones]
    assert credited("test_spec_errors_models:unknown stable") == [checks.models]


@pytest.mark.parametrize(("mod", "case"), CASES, ids=[_id(m, c) for m, c in CASES])
def test_every_message_points_into_the_stack_file(mod: str, case: Case) -> None:
    """The key path of a message is in the config as written, or (a missing or defaulted key) the block
    it belongs in is."""
    name, raw, message = case
    assert message.startswith("gpu-platform:") and ": " in message, f"{mod}:{name}: {message}"
    loc = _loc(message)
    assert loc and (_resolves(raw, loc) or _resolves(raw, loc[:-1])), f"{mod}:{name}: {loc} is not in the config"
