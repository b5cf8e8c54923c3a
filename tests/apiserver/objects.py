"""Every Kubernetes object one stack creates, read from its offline plan directory, by source.

- **ours**: `manifests/*.yaml`, the objects the program registers itself;
- **charts**: `manifests/charts/<release>/*.yaml`, every Helm release rendered with its values (written
  by the plan runner); objects without a namespace get the release's, as Helm installs them;
- **injected**: `manifests/injected/<file>`, a workload as istiod's sidecar injector returns it; it
  replaces the object of the same file name (ours, or a chart's).

Rendering needs helm and istioctl from .tools/bin (`make tools`); without them the plan runner writes
neither directory and says why (`charts_skipped`, `injection_skipped`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.apiserver.cluster import object_ref
from tools.offline import kyaml
from tools.offline.artifacts import helm_releases, kubernetes_objects, write_all

Obj = dict[str, Any]


def load_all(text: str) -> list[Obj]:
    """Kubernetes objects of a YAML stream, read as the Kubernetes tools read them (tools/offline/kyaml.py)."""
    return kyaml.load_all(text)


@dataclass
class Item:
    """One object to admit, with where it came from."""

    obj: Obj
    source: str  # "ours" | "charts" | "injected"
    file: str  # path under manifests/
    release: str = ""  # the Helm release of a chart object
    default_namespace: str = "default"  # where a namespaced object without one goes (Helm: the release's)

    @property
    def ref(self) -> str:
        return object_ref(self.obj)


@dataclass
class StackObjects:
    stack: str
    items: list[Item] = field(default_factory=list)
    release_namespaces: dict[str, str] = field(default_factory=dict)  # release -> namespace
    charts_rendered: bool = False  # manifests/charts/ was written by the plan runner
    injected_present: bool = False  # manifests/injected/ was written by the plan runner
    charts_skipped: str = ""  # why the plan runner rendered no chart ("" = rendered, or nothing to render)
    injection_skipped: str = ""  # why it injected no sidecar

    def of(self, source: str) -> list[Item]:
        return [i for i in self.items if i.source == source]


def read_plan_dir(
    stack: str, plan: dict[str, Any], out: Path, cluster_plan: dict[str, Any] | None = None
) -> StackObjects:
    """Write the plan's artifacts to `out` as `python -m tools.plan` does (charts rendered, sidecars
    injected; a models-only stack with its cluster stack's plan) and read every object back."""
    written = write_all(plan, out, cluster_plan=cluster_plan)
    manifests = out / "manifests"
    result = StackObjects(
        stack,
        release_namespaces={r["name"]: r["namespace"] for r in helm_releases(plan)},
        charts_skipped=written.rendered.charts.skipped,
        injection_skipped=written.rendered.injection.skipped,
    )
    by_file: dict[str, Item] = {}
    for path in sorted(manifests.glob("*.yaml")):
        for obj in load_all(path.read_text()):
            by_file[path.name] = Item(obj, "ours", path.name)
    assert len(by_file) == len(kubernetes_objects(plan)), "manifests/*.yaml is not one file per object of the plan"
    charts = manifests / "charts"
    if charts.is_dir():
        result.charts_rendered = True
        for rdir in sorted(p for p in charts.iterdir() if p.is_dir()):
            release = rdir.name
            namespace = result.release_namespaces.get(release, "default")
            for path in sorted(rdir.rglob("*.yaml")):
                rel = str(path.relative_to(manifests))
                for n, obj in enumerate(load_all(path.read_text())):
                    by_file[rel if n == 0 else f"{rel}#{n}"] = Item(obj, "charts", rel, release, namespace)
    injected = manifests / "injected"
    if injected.is_dir():
        result.injected_present = True
        for path in sorted(injected.rglob("*.yaml")):
            name = str(path.relative_to(injected))
            target = name if name in by_file else next((k for k in by_file if k.endswith("/" + name)), name)
            old = by_file.get(target)
            for obj in load_all(path.read_text()):
                by_file[target] = Item(
                    obj,
                    "injected",
                    f"injected/{name}",
                    old.release if old else "",
                    old.default_namespace if old else "default",
                )
    result.items = list(by_file.values())
    return result
