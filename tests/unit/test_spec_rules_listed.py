"""Every rule of the stack spec is listed in stacks/spec/rules.py, and everything listed there is a rule.

rules.py registers nothing by import: a rule is a public function `(spec: StackSpec) -> Iterator[Problem]`
next to its config block, and check() runs only what RULES and DEPENDENT name. A rule written but not
listed would never run; this test finds it by signature.
"""

from __future__ import annotations

import collections.abc
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import pytest

import stacks.spec
from stacks.spec import rules
from stacks.spec.base import Problem
from stacks.spec.stack import StackSpec
from stacks.workloads import checks

# The modules rules live in: every module of the spec package (one per config block) and the models
# block's rule next to the workloads layer.
MODULES: tuple[ModuleType, ...] = (
    *(importlib.import_module(f"stacks.spec.{m.name}") for m in pkgutil.iter_modules(stacks.spec.__path__)),
    checks,
)


def is_rule(fn: Callable[..., Any]) -> bool:
    """Takes exactly one StackSpec and returns an iterator (or iterable) of problems."""
    # The block modules import StackSpec only for type checking (it imports them), so supply it here.
    hints = typing.get_type_hints(fn, localns={"StackSpec": StackSpec})
    params = list(inspect.signature(fn).parameters.values())
    returns = hints.get("return")
    return (
        len(params) == 1
        and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD)
        and hints.get(params[0].name) is StackSpec
        and typing.get_origin(returns) in (collections.abc.Iterator, collections.abc.Iterable)
        and typing.get_args(returns) == (Problem,)
    )


def public_functions(module: ModuleType) -> list[Callable[..., Any]]:
    return [
        fn
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and fn.__module__ == module.__name__
    ]


def rule_functions() -> set[Callable[..., Any]]:
    return {fn for module in MODULES for fn in public_functions(module) if is_rule(fn)}


def listed(
    rule_list: Iterable[rules.Rule] = rules.RULES,
    dependent: Iterable[tuple[rules.Rule, tuple[str, ...]]] = rules.DEPENDENT,
) -> list[rules.Rule]:
    return [*rule_list, *(fn for fn, _ in dependent)]


def name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def unlisted_rules(listed_rules: Iterable[rules.Rule]) -> list[str]:
    return sorted(name(fn) for fn in rule_functions() - set(listed_rules))


def test_the_scan_finds_the_rules_of_every_block() -> None:
    # Guards the scan itself: if it found nothing, "every rule is listed" would hold vacuously.
    modules = {fn.__module__ for fn in rule_functions()}
    blocks = ("stack", "cluster", "pools", "registry", "addons")
    assert {f"stacks.spec.{b}" for b in blocks} | {checks.__name__} <= modules


def test_every_rule_is_listed() -> None:
    assert unlisted_rules(listed()) == [], "add these to RULES (or DEPENDENT) in stacks/spec/rules.py"


@pytest.mark.parametrize("fn", listed(), ids=name)
def test_everything_listed_is_a_public_rule_of_a_block(fn: rules.Rule) -> None:
    found = fn in rule_functions()
    assert found, f"{name(fn)} is not a public `(spec: StackSpec) -> Iterator[Problem]` function of " + ", ".join(
        m.__name__ for m in MODULES
    )


def test_each_rule_is_listed_once() -> None:
    names = [name(fn) for fn in listed()]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


@pytest.mark.parametrize("index", [0, len(rules.RULES) - 1])
def test_a_rule_dropped_from_the_list_is_reported(index: int) -> None:
    shortened = rules.RULES[:index] + rules.RULES[index + 1 :]
    assert name(rules.RULES[index]) in unlisted_rules(listed(shortened))


def test_a_dependent_rule_dropped_from_the_list_is_reported() -> None:
    assert {name(fn) for fn, _ in rules.DEPENDENT} <= set(unlisted_rules(listed(dependent=())))
