"""Build raw stack configs from the real stack files and mutate them for bad-input tests."""

from __future__ import annotations

import copy
from typing import Any, TypeAlias

import yaml

from stacks.spec.errors import ConfigError
from stacks.spec.parse import parse_spec
from tools.offline.runner import PROJECT_DIR

_MISSING = object()

Case: TypeAlias = tuple[str, dict[str, Any], str]
"""A bad-input case of a tests/unit/test_spec_errors*.py table: its name (the test id), a raw stack config
(a stack file with one mistake, built with `mutate`) and the exact message parse_spec must report for it."""


def raw_stack(stack: str) -> dict[str, Any]:
    cfg = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in cfg.items() if k.startswith("gpu-platform:")}


def mutate(raw: dict[str, Any], path: str, value: Any = _MISSING) -> dict[str, Any]:
    """Set (or delete, when value is omitted) a dotted path like 'nodePools.1.maxSize'."""
    out = copy.deepcopy(raw)
    parts = path.split(".")
    node: Any = out
    for p in parts[:-1]:
        key: Any = int(p) if p.isdigit() else p
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        node = node[key]
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is _MISSING:
        del node[last]
    else:
        node[last] = value
    return out


def problems(raw: dict[str, Any]) -> list[str]:
    try:
        parse_spec(raw)
    except ConfigError as err:
        return err.problems
    raise AssertionError("config was accepted")


def assert_rejected(case: Case, *, only: bool = False) -> None:
    """parse_spec rejects the case's config and reports the case's exact message among its problems, or,
    with `only`, as its one problem (the mistake trips no other rule)."""
    name, raw, message = case
    found = problems(raw)
    if only:
        assert found == [message], f"{name}: expected only {message!r}, got {found}"
    else:
        assert message in found, f"{name}: expected {message!r} among {found}"
