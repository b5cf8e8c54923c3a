"""Write an offline plan to disk: plan.json, manifests/ (Kubernetes objects, Helm releases, the charts
rendered, the workloads with their Istio sidecars), report.md.

    manifests/<kind>--<namespace>--<name>.yaml            every object the program registers itself
    manifests/helm/<release>.yaml                          each Helm release: chart, version, repo, values
    manifests/charts/<release>/<kind>--<ns>--<name>.yaml   each release rendered by helm (tools/offline/charts.py)
    manifests/injected/<path of the original>              each workload as istiod's injector returns it
                                                           (tools/offline/inject.py), same path as under manifests/

Rendering needs helm (and istioctl for the sidecars) from .tools/bin (`make tools`); without them the
report says what was not rendered and how to build the tools.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.offline import charts, inject, kyaml
from tools.offline.config import PROJECT_DIR

HELM_TYPES = charts.HELM_TYPES


def plan_json(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=True) + "\n"


def is_manifest(r: dict[str, Any]) -> bool:
    return r["type"].startswith("kubernetes:") and r["custom"] and "apiVersion" in r["inputs"] and "kind" in r["inputs"]


def kubernetes_objects(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Kubernetes object the plan creates, as a manifest (inputs are already engine-shaped)."""
    return [r["inputs"] for r in plan["resources"] if is_manifest(r)]


def helm_releases(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in plan["resources"]:
        if r["type"] in HELM_TYPES:
            i = r["inputs"]
            out.append(
                {
                    "name": i.get("name", r["name"]),
                    "namespace": i.get("namespace", "default"),
                    "chart": i.get("chart"),
                    "version": i.get("version"),
                    "repo": (i.get("repositoryOpts") or {}).get("repo"),
                    "values": i.get("values", {}),
                    "kind": r["type"].rsplit(":", 1)[-1],
                }
            )
    return out


_slug = kyaml.slug
_dump = kyaml.dump


def write_manifests(plan: dict[str, Any], out: Path) -> int:
    mdir = out / "manifests"
    if mdir.exists():
        shutil.rmtree(mdir)
    mdir.mkdir(parents=True)
    n = 0
    for obj in kubernetes_objects(plan):
        (mdir / kyaml.file_name(obj)).write_text(_dump(obj))
        n += 1
    if releases := helm_releases(plan):
        (mdir / "helm").mkdir()
        for rel in releases:
            (mdir / "helm" / f"{_slug(rel['name'])}.yaml").write_text(_dump(rel))
            n += 1
    return n


def _tree(plan: dict[str, Any]) -> list[str]:
    children: dict[str, list[dict[str, Any]]] = {}
    for r in plan["resources"]:
        children.setdefault(r["parent"], []).append(r)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        kids = sorted(children.get(parent, []), key=lambda r: (r["custom"], r["type"], r["name"]))
        for r in kids:
            if r["custom"] and depth > 0 and not children.get(r["urn"]):
                continue  # leaf resources are counted, not listed
            leaves = Counter(k["type"] for k in children.get(r["urn"], []) if k["custom"])
            summary = ", ".join(f"{n}× {t.rsplit(':', 1)[-1]}" for t, n in sorted(leaves.items()))
            lines.append(f"{'  ' * depth}- **{r['name']}** `{r['type']}`" + (f" — {summary}" if summary else ""))
            walk(r["urn"], depth + 1)

    walk("", 0)
    return lines


# ---------------------------------------------------------------------------------------------------
# charts rendered, sidecars injected


@dataclass
class Rendered:
    """The charts of one plan rendered and its workloads injected (tools/offline/charts.py, inject.py)."""

    charts: charts.Rendering
    injection: inject.Injection
    # path under manifests/ -> object: charts/<release>/<file> and injected/<path of the original>
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def chart_files(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.files.items() if k.startswith("charts/")}

    def injected_files(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.files.items() if k.startswith("injected/")}


def referenced_cluster_stack(plan: dict[str, Any], project_dir: Path = PROJECT_DIR) -> str | None:
    """The stack file of this project that a models-only plan's StackReference names (its cluster stack),
    when it is here: `<org>/<this project>/<stack>` with a Pulumi.<stack>.yaml in `project_dir`."""
    for r in plan["resources"]:
        if r["type"] == "pulumi:pulumi:StackReference":
            parts = str(r["inputs"].get("name", "")).split("/")
            if len(parts) == 3 and parts[1] == plan["project"] and (project_dir / f"Pulumi.{parts[2]}.yaml").is_file():
                return parts[2]
    return None


_CACHE: dict[str, Rendered] = {}


def _cache_key(plan: dict[str, Any], cluster_plan: dict[str, Any] | None) -> str:
    h = hashlib.sha256(plan_json(plan).encode())
    if cluster_plan is not None:
        h.update(plan_json(cluster_plan).encode())
    for tool in (charts.helm_binary(), inject.istioctl_binary()):
        h.update(f"{tool}:{tool.stat().st_mtime_ns if tool else ''}".encode())
    return h.hexdigest()


def render_all(
    plan: dict[str, Any], *, cluster_plan: dict[str, Any] | None = None, project_dir: Path = PROJECT_DIR
) -> Rendered:
    """Render the plan's charts and inject its workloads (cached per plan and tools; a copy is returned).

    A models-only plan installs no istiod: its workloads are injected with the config of its cluster
    stack's istiod, rendered from `cluster_plan` or, when not given, from a plan of the cluster stack's
    file in `project_dir` (`referenced_cluster_stack`)."""
    if cluster_plan is None and not charts.releases(plan) and (ref := referenced_cluster_stack(plan, project_dir)):
        from tools.offline.runner import run_stack  # the Pulumi SDK, only when a cluster stack is needed

        cluster_plan = run_stack(ref, project_dir)
    cache = _cache_key(plan, cluster_plan)
    if cache not in _CACHE:
        _CACHE[cache] = _render_all(plan, cluster_plan)
    return copy.deepcopy(_CACHE[cache])


def _render_all(plan: dict[str, Any], cluster_plan: dict[str, Any] | None) -> Rendered:
    rendering = charts.render_plan(plan)
    ours = {kyaml.file_name(o): o for o in kubernetes_objects(plan)}
    files: dict[str, dict[str, Any]] = {}
    for rr in rendering.releases:
        for name, obj in charts.release_files(rr).items():
            files[f"charts/{_slug(rr.release.name)}/{name}"] = obj
    objects = [*ours.values(), *files.values()]
    istiod = [o for rr, o in rendering.objects() if rr.release.chart == "istiod"]
    cfg = inject.injector_config(istiod, f"the istiod release of stack {plan['stack']}")
    if cfg is None and cluster_plan is not None:
        cluster = render_all(cluster_plan).charts
        istiod = [o for rr, o in cluster.objects() if rr.release.chart == "istiod"]
        cfg = inject.injector_config(istiod, f"the istiod release of its cluster stack {cluster_plan['stack']}")
    if cfg is None and rendering.skipped:
        injection = inject.Injection(skipped=f"charts not rendered ({rendering.skipped})")
    else:
        injection = inject.inject_objects(objects, cfg)
    path_of = {inject.key(o): name for name, o in [*ours.items(), *files.items()]}
    for k, obj in sorted(injection.injected.items()):
        files[f"injected/{path_of[k]}"] = obj
    return Rendered(rendering, injection, files)


def render_summary(rendered: Rendered) -> list[str]:
    """What `python -m tools.plan` prints about the charts and sidecars (one line each)."""
    r, inj = rendered.charts, rendered.injection
    if r.skipped:
        charts_line = f"charts NOT rendered: {r.skipped}"
    elif not r.releases and not r.missing:
        charts_line = "charts: none (no Helm releases)"
    else:
        charts_line = (
            f"charts: {len(r.releases)} releases rendered, {sum(len(x.objects) for x in r.releases)} objects "
            f"({', '.join(f'{x.release.name} {len(x.objects)}' for x in r.releases)})"
        )
        if r.missing:
            charts_line += f"; NOT rendered: {', '.join(rel.name for rel, _ in r.missing)} (see report.md)"
    if inj.skipped:
        inject_line = f"sidecars NOT injected: {inj.skipped}"
    else:
        n = len(inj.injected)
        inject_line = f"sidecars: {n} workload{'s' if n != 1 else ''} injected ({inj.source})"
    return [charts_line, inject_line]


def not_rendered(reason: str) -> Rendered:
    return Rendered(charts.Rendering(skipped=reason), inject.Injection(skipped=reason))


def _rendered_lines(rendered: Rendered) -> list[str]:
    lines = ["## Charts rendered", ""]
    r = rendered.charts
    if r.skipped:
        lines += [f"**Charts were not rendered**: {r.skipped}.", ""]
    elif not r.releases and not r.missing:
        lines += ["No Helm releases.", ""]
    else:
        lines += [
            f"`helm template` ({r.helm_version}, .tools/bin/helm) with each release's values, "
            f"`--kube-version {r.kube_version}`, the release namespace, `--include-crds`, `--skip-tests`, and "
            f"`--api-versions` for the {len(r.api_versions)} group/versions (and kinds) of the CRDs the charts install. "
            f"{sum(len(x.objects) for x in r.releases)} objects under `manifests/charts/`.",
            "",
            "| release | namespace | chart | pinned | rendered | objects |",
            "|---|---|---|---|---|---:|",
        ]
        notes: list[str] = []
        for x in r.releases:
            mark = ""
            if x.source.note:
                if x.source.note not in notes:
                    notes.append(x.source.note)
                mark = f" [{notes.index(x.source.note) + 1}]"
            lines.append(
                f"| {x.release.name} | {x.release.namespace} | {x.release.chart} | {x.release.version} | "
                f"{x.source.version}{mark} | {len(x.objects)} |"
            )
        lines += [
            f"| {rel.name} | {rel.namespace} | {rel.chart} | {rel.version} | **not rendered** | 0 |"
            for rel, _ in r.missing
        ]
        lines.append("")
        lines += [f"[{n}] {note}." for n, note in enumerate(notes, 1)]
        lines += [f"- **{rel.name}**: {why}" for rel, why in r.missing]
        placeholders = [(x.release.name, p) for x in r.releases for p in x.placeholders]
        if placeholders:
            lines += ["", "Values the plan cannot know, rendered with placeholders:", ""]
            lines += [f"- {name}: `{p.path}` {p.marker} → `{p.value}`" for name, p in placeholders]
        lines.append("")
    lines += ["## Sidecars injected", ""]
    inj = rendered.injection
    if inj.skipped:
        lines += [f"**Sidecars were not injected**: {inj.skipped}.", ""]
    else:
        lines += [
            f"`istioctl kube-inject` ({inj.istioctl_version}, .tools/bin/istioctl; the release-1.30 snapshot, "
            f"docs/tools.md) with the injection template, values and mesh config of {inj.source}: "
            f"{len(inj.injected)} workloads under `manifests/injected/`.",
            "",
        ]
        if inj.injected:
            lines += ["| workload | namespace | init containers | containers |", "|---|---|---|---|"]
            for (kind, ns, name), obj in sorted(inj.injected.items()):
                spec = (inject.pod_template(obj) or {}).get("spec") or {}
                init = ", ".join(c["name"] for c in spec.get("initContainers") or [])
                cont = ", ".join(c["name"] for c in spec.get("containers") or [])
                lines.append(f"| {kind} {name} | {ns} | {init} | {cont} |")
            lines.append("")
        if inj.not_injected:
            lines += ["Sent to the injector but left alone by its policy: " + ", ".join(inj.not_injected) + ".", ""]
    return lines


def report_markdown(plan: dict[str, Any], rendered: Rendered | None = None) -> str:
    resources = plan["resources"]
    counts = Counter(r["type"] for r in resources)
    lines = [
        f"# Offline plan: {plan['project']} / {plan['stack']}",
        "",
        f"{len(resources)} resources ({sum(1 for r in resources if r['custom'])} custom, "
        f"{sum(1 for r in resources if not r['custom'])} components); "
        f"{sum(1 for r in resources if r['options']['protect'])} protected.",
        "",
        "## Resources by type",
        "",
        "| type | count |",
        "|---|---|",
    ]
    lines += [f"| `{t}` | {n} |" for t, n in sorted(counts.items())]
    lines += ["", "## Component tree", "", *_tree(plan), ""]
    if capacity := plan.get("outputs", {}).get("capacityReport"):  # stacks/gpu_layer.py: per pool + cost
        lines += [str(capacity).rstrip("\n"), ""]
    if cold := plan.get("outputs", {}).get("modelColdStartReport"):  # stacks/workloads/layer.py: per version
        lines += [str(cold).rstrip("\n"), ""]
    if rendered is not None:
        lines += _rendered_lines(rendered)
    if plan["diagnostics"]:
        lines += ["## Diagnostics", ""] + [f"- {d['severity']}: {d['message']}" for d in plan["diagnostics"]] + [""]
    return "\n".join(lines)


@dataclass
class Written:
    manifests: int  # files under manifests/ for the plan's own objects and Helm releases
    rendered: Rendered


def write_all(
    plan: dict[str, Any],
    out: Path,
    *,
    render: bool = True,
    cluster_plan: dict[str, Any] | None = None,
    project_dir: Path = PROJECT_DIR,
) -> Written:
    """plan.json, manifests/ and report.md; with `render`, also the charts rendered and the workloads
    injected (render_all), or the report says why not."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(plan_json(plan))
    n = write_manifests(plan, out)
    rendered = (
        render_all(plan, cluster_plan=cluster_plan, project_dir=project_dir)
        if render
        else not_rendered("rendering was turned off (`--no-render`)")
    )
    for path, obj in rendered.files.items():
        (out / "manifests" / path).parent.mkdir(parents=True, exist_ok=True)
        (out / "manifests" / path).write_text(kyaml.dump_fast(obj))
    (out / "report.md").write_text(report_markdown(plan, rendered))
    return Written(n, rendered)
