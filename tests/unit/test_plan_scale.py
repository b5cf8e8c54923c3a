"""What the plan-time fixes of docs/performance.md must not change: release_args answers per spec (its
indexes are per spec, never shared between specs), and the runner restores the garbage collector's
thresholds."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from stacks.spec.parse import parse_spec
from stacks.workloads.release_args import release_args
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import StackConfig
from tools.offline.runner import run_stack


def test_namespace_sharing_is_read_from_each_spec() -> None:
    raw = raw_stack("prod")
    alone = parse_spec(raw)
    shared = parse_spec(mutate(mutate(raw, "models.0.namespace", "serving"), "models.1.namespace", "serving"))
    # Interleaved on purpose: an index kept from the other spec would give the other answer.
    assert release_args(alone, 0, ()).own_namespace is None
    assert release_args(shared, 0, ()).own_namespace is False
    assert release_args(shared, 1, ()).own_namespace is False
    assert release_args(alone, 1, ()).own_namespace is None
    assert release_args(alone, 0, ()).owns_namespace


def test_gateway_route_is_read_from_each_spec() -> None:
    raw = raw_stack("prod")
    routes = raw["addons"]["istio"]["gateway"]["routes"]
    model = raw["models"][0]["name"]
    assert any(r["name"] == model for r in routes)
    moved = mutate(raw, "addons.istio.gateway.routes", [{**r, "pathPrefix": f"/moved/{r['name']}"} for r in routes])
    before, after = parse_spec(raw), parse_spec(moved)
    route_before = release_args(before, 0, ()).gateway_route
    route_after = release_args(after, 0, ()).gateway_route
    assert route_before is not None and route_after is not None
    assert route_before.path_prefix == f"/v1/models/{model}"
    assert route_after.path_prefix == f"/moved/{model}"


@pytest.fixture
def gc_probe(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: probe\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import gc\nimport pulumi\npulumi.export('thresholds', list(gc.get_threshold()))\n"
        "pulumi.export('enabled', gc.isenabled())\n"
    )
    return tmp_path


@pytest.mark.parametrize("thresholds", [(700, 10, 10), (2000, 20, 50)])
def test_runner_plans_without_full_collections_and_restores_the_thresholds(
    gc_probe: Path, thresholds: tuple[int, int, int]
) -> None:
    cfg = StackConfig(project="probe", stack="probe", values={}, secret_keys=[])
    before = gc.get_threshold()
    try:
        gc.set_threshold(*thresholds)
        plan = run_stack("probe", gc_probe, config=cfg)
        # Young generations as configured, the oldest one out of reach, the collector itself still on.
        assert plan["outputs"] == {"thresholds": [thresholds[0], thresholds[1], 1 << 30], "enabled": True}
        assert gc.get_threshold() == thresholds
    finally:
        gc.set_threshold(*before)


def test_runner_restores_the_thresholds_when_the_program_fails(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: probe\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("raise RuntimeError('program failed')\n")
    cfg = StackConfig(project="probe", stack="probe", values={}, secret_keys=[])
    before = gc.get_threshold()
    with pytest.raises(Exception, match="program failed"):
        run_stack("probe", tmp_path, config=cfg)
    assert gc.get_threshold() == before
