"""Write an offline plan to disk: plan.json, manifests/ (Kubernetes objects, Helm releases), report.md."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")


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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-")


def _dump(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=120)


def write_manifests(plan: dict[str, Any], out: Path) -> int:
    mdir = out / "manifests"
    if mdir.exists():
        shutil.rmtree(mdir)
    mdir.mkdir(parents=True)
    n = 0
    for obj in kubernetes_objects(plan):
        meta = obj.get("metadata", {})
        name = f"{_slug(obj['kind'])}--{_slug(meta.get('namespace', '_cluster'))}--{_slug(meta.get('name', 'unnamed'))}"
        (mdir / f"{name}.yaml").write_text(_dump(obj))
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


def report_markdown(plan: dict[str, Any]) -> str:
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
    if plan["diagnostics"]:
        lines += ["## Diagnostics", ""] + [f"- {d['severity']}: {d['message']}" for d in plan["diagnostics"]] + [""]
    return "\n".join(lines)


def write_all(plan: dict[str, Any], out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(plan_json(plan))
    n = write_manifests(plan, out)
    (out / "report.md").write_text(report_markdown(plan))
    return n
