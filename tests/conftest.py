"""Shared fixtures: offline plans of every stack file (run once per session), resource queries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.offline.runner import PROJECT_DIR, run_stack

STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


class Plan:
    """A recorded plan with small query helpers for assertions."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.resources: list[dict[str, Any]] = data["resources"]

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]

    def one(self, type_: str, name: str | None = None) -> dict[str, Any]:
        found = [r for r in self.of_type(type_) if name is None or r["name"] == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r['name'] for r in found]}"
        return found[0]

    def children(self, parent_urn: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["parent"] == parent_urn]

    @property
    def outputs(self) -> dict[str, Any]:
        return self.data["outputs"]


_CACHE: dict[str, Plan] = {}


def plan_of(stack: str) -> Plan:
    if stack not in _CACHE:
        _CACHE[stack] = Plan(run_stack(stack))
    return _CACHE[stack]


@pytest.fixture(scope="session")
def plan() -> Callable[[str], Plan]:
    return plan_of


@pytest.fixture(scope="session")
def project_dir() -> Path:
    return PROJECT_DIR
