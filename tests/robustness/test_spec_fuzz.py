"""Random and mutated stack configs either load or fail with the project's ConfigError — never another
exception, never a half-registered plan."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacks.spec.errors import ConfigError
from stacks.spec.parse import parse_spec
from tests.conftest import STACKS
from tests.spec_helpers import raw_stack
from tools.offline.config import config_from_raw
from tools.offline.recording import PlanMocks, RecordingMonitor
from tools.offline.runner import run_stack

BASES = {s: raw_stack(s) for s in STACKS}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=False, width=32),
    st.text(max_size=12),
    st.sampled_from(["", "0.0.0.0/0", "10.0.0.0/8", "mig", "SPOT", "prod"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    raw = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(raw)
        if not paths:  # earlier mutations deleted every key: nothing left to mutate
            break
        path = draw(st.sampled_from(paths))
        parent: Any = raw
        for p in path[:-1]:
            parent = parent[p]
        action = draw(st.sampled_from(["set", "delete", "unknown-key"]))
        if action == "set":
            parent[path[-1]] = draw(values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
    return raw


def _assert_clean(err: ConfigError) -> None:
    assert err.problems, "a ConfigError must carry at least one problem"
    for p in err.problems:
        assert p.startswith("gpu-platform:") and ": " in p, p


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_configs_load_or_raise_config_error(raw: dict[str, Any]) -> None:
    try:
        parse_spec(raw)
    except ConfigError as err:
        _assert_clean(err)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=15), values, max_size=6))
def test_random_configs_raise_config_error(raw: dict[str, Any]) -> None:
    try:
        parse_spec(raw)
    except ConfigError as err:
        _assert_clean(err)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_invalid_config_registers_nothing(raw: dict[str, Any]) -> None:
    """The real program under the runner: a bad config stops before the first registration."""
    monitor = RecordingMonitor(PlanMocks())
    # A models-only stack (clusterStack) is validated against the referenced cluster's pools, which only
    # the program reads; for the others parse_spec is the oracle and valid configs are skipped (fast).
    layered = "clusterStack" in raw
    if not layered:
        try:
            parse_spec(raw)
            return
        except ConfigError:
            pass
    try:
        run_stack("fuzz", config=config_from_raw(raw, "fuzz"), monitor=monitor)
    except ConfigError as err:
        _assert_clean(err)
    else:
        assert layered, "the program accepted a config the spec rejects"
        return
    # A models-only stack reads its cluster stack (a StackReference read) to validate against its pools;
    # nothing may be created.
    assert [r for r in monitor.registered if not r.read] == []
