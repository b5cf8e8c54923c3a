"""Every stack's charts rendered and workloads injected, once per test session (tools/offline/artifacts.py
render_all: helm and istioctl from .tools/bin).

These tests never skip: without the tools they fail with the command that builds them (`make test`
builds them first when missing; CI does too).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tests.conftest import STACKS, plan_of
from tools.offline import artifacts, charts, inject, kyaml
from tools.offline.artifacts import kubernetes_objects

TOOLS = {"helm": charts.helm_binary, "istioctl": inject.istioctl_binary}


def require_tools(*names: str) -> None:
    missing = [n for n in names or tuple(TOOLS) if TOOLS[n]() is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not built in {charts.TOOLS_BIN}: run `make tools` "
            f"(bash scripts/build-tools.sh {' '.join(missing)}); the chart rendering and injection tests need them",
            pytrace=False,
        )


def cluster_stack_of(stack: str) -> str | None:
    return artifacts.referenced_cluster_stack(plan_of(stack).data)


@functools.cache
def rendered(stack: str) -> artifacts.Rendered:
    """The stack's charts rendered and workloads injected (shared: do not modify)."""
    require_tools()
    ref = cluster_stack_of(stack)
    return artifacts.render_all(plan_of(stack).data, cluster_plan=plan_of(ref).data if ref else None)


def stacks_with_releases() -> list[str]:
    return [s for s in STACKS if charts.releases(plan_of(s).data)]


def everything(stack: str) -> dict[str, dict[str, Any]]:
    """What the cluster runs, by path under manifests/: our objects and the charts' objects, each workload
    replaced by its injected form where istiod's injector changes it."""
    r = rendered(stack)
    files = {kyaml.file_name(o): o for o in kubernetes_objects(plan_of(stack).data)} | r.chart_files()
    for path, obj in r.injected_files().items():
        original = path.removeprefix("injected/")
        assert original in files, path
        files[original] = obj
    return files


def origin(path: str, stack: str) -> str:
    """Who answers for an object of `everything`: the Helm release of a chart object (injected or not),
    `injected` for one of our workloads with its sidecar, `ours` for the rest of our objects."""
    if path.startswith("charts/"):
        return path.split("/")[1]
    return "injected" if f"injected/{path}" in rendered(stack).files else "ours"
