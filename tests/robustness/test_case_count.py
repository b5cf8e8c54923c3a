"""Issue 9: at least 60 distinct bad-input cases with asserted messages across the stack spec.

Counts the CASES tables of every tests/unit/test_spec_errors*.py module (each row: a bad config and the
message its test asserts), so adding or dropping a case moves the count; duplicates (same config and
message) count once. Each module's own test checks every row raises ConfigError with that message.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from stacks.spec.errors import ConfigError
from stacks.spec.parse import parse_spec

UNIT = Path(__file__).resolve().parents[1] / "unit"
MODULES = sorted(p.stem for p in UNIT.glob("test_spec_errors*.py"))


def _cases() -> list[tuple[str, str, dict[str, Any], str]]:
    out: list[tuple[str, str, dict[str, Any], str]] = []
    for mod in MODULES:
        cases = getattr(importlib.import_module(f"tests.unit.{mod}"), "CASES", [])
        out += [(mod, name, raw, message) for name, raw, message in cases]
    return out


def test_every_spec_error_module_has_a_cases_table() -> None:
    assert len(MODULES) >= 6
    for mod in MODULES:
        assert getattr(importlib.import_module(f"tests.unit.{mod}"), "CASES", None), mod


def test_at_least_60_distinct_bad_input_cases_with_messages() -> None:
    cases = _cases()
    distinct = {(json.dumps(raw, sort_keys=True), message) for _, _, raw, message in cases}
    assert all(message.strip() for _, _, _, message in cases)  # every case asserts a message
    assert len(distinct) >= 60, len(distinct)


@pytest.mark.parametrize("case", _cases()[::7], ids=lambda c: f"{c[0]}:{c[1]}")
def test_counted_cases_are_rejected_with_their_message(case: tuple[str, str, dict[str, Any], str]) -> None:
    """A sample of the counted rows, re-checked here: the count is of cases that really fail as asserted."""
    _, _, raw, message = case
    with pytest.raises(ConfigError) as err:
        parse_spec(raw)
    assert message in str(err.value)
