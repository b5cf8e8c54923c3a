"""Every Kubernetes object one stack creates, read from its offline plan directory, by source.

- **ours**: `manifests/*.yaml`, the objects the program registers itself;
- **charts**: `manifests/charts/<release>/*.yaml`, every Helm release rendered with its values (written
  by the plan runner); objects without a namespace get the release's, as Helm installs them;
- **injected**: `manifests/injected/<file>`, a workload as istiod's sidecar injector returns it; it
  replaces the object of the same file name (ours, or a chart's).

Until the plan runner renders the charts, `stopgap_crds()` renders only the CustomResourceDefinitions of
the releases that ship some (helm from .tools/bin, the vendored charts of ../shared/charts), so the
custom resources we write ourselves can be admitted.
"""

from __future__ import annotations

import functools
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.helm import pins
from tests.apiserver.cluster import BIN_DIR, object_ref
from tools.offline.artifacts import helm_releases, kubernetes_objects, write_all

Obj = dict[str, Any]


_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~20x faster on the big CRDs


class _Loader(_Base):
    """YAML 1.1's `=` (the "value" type) is a plain string in Kubernetes' YAML (prometheus-operator CRD enums)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def load_all(text: str) -> list[Obj]:
    return [d for d in yaml.load_all(text, Loader=_Loader) if isinstance(d, dict) and d.get("kind")]


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

    def of(self, source: str) -> list[Item]:
        return [i for i in self.items if i.source == source]


def read_plan_dir(stack: str, plan: dict[str, Any], out: Path) -> StackObjects:
    """Write the plan's artifacts to `out` (as `python -m tools.plan` does) and read every object back."""
    write_all(plan, out)
    manifests = out / "manifests"
    result = StackObjects(stack, release_namespaces={r["name"]: r["namespace"] for r in helm_releases(plan)})
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


CRD_ADDON_CHARTS = frozenset({"base", "kube-prometheus-stack", "eck-operator", "keda", "gpu-operator"})


@functools.cache
def _render_crds(release: str, archive: str, namespace: str, values_json: str, kube_version: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        values = Path(tmp) / "values.yaml"
        values.write_text(yaml.safe_dump(json.loads(values_json)))
        return subprocess.run(
            [
                str(BIN_DIR / "helm"),
                "template",
                release,
                archive,
                "--namespace",
                namespace,
                "--include-crds",
                "--kube-version",
                kube_version,
                "-f",
                str(values),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout


def stopgap_crds(plan: dict[str, Any], kube_version: str) -> list[Item]:
    """The CRDs of this plan's CRD-shipping releases, rendered with helm (`--include-crds`, the
    release's values), until the plan runner writes manifests/charts/."""
    from tests.component.vendored_charts import archive

    out: list[Item] = []
    by_chart = {p.chart: addon for addon, p in pins().items()}
    for rel in helm_releases(plan):
        if rel["chart"] not in CRD_ADDON_CHARTS:
            continue
        addon = by_chart[rel["chart"]]
        values = json.dumps(rel["values"], sort_keys=True)
        rendered = _render_crds(rel["name"], str(archive(addon)), rel["namespace"], values, kube_version)
        for obj in load_all(rendered):
            if obj["kind"] == "CustomResourceDefinition":
                out.append(Item(obj, "charts", f"stopgap/{rel['name']}", rel["name"], rel["namespace"]))
    return out
