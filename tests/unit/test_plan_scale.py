"""What the plan-time fixes of docs/performance.md must not change: release_args answers per spec (its
indexes are per spec, never shared between specs), and the runner restores the garbage collector."""

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
        "import gc\nimport pulumi\npulumi.export('gcDuringProgram', gc.isenabled())\n"
    )
    return tmp_path


@pytest.mark.parametrize("enabled", [True, False])
def test_runner_runs_the_program_without_cyclic_gc_and_restores_it(gc_probe: Path, enabled: bool) -> None:
    cfg = StackConfig(project="probe", stack="probe", values={}, secret_keys=[])
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        plan = run_stack("probe", gc_probe, config=cfg)
        assert plan["outputs"] == {"gcDuringProgram": False}
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_runner_restores_gc_when_the_program_fails(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: probe\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("raise RuntimeError('program failed')\n")
    cfg = StackConfig(project="probe", stack="probe", values={}, secret_keys=[])
    assert gc.isenabled()
    with pytest.raises(Exception, match="program failed"):
        run_stack("probe", tmp_path, config=cfg)
    assert gc.isenabled()
