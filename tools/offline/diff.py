"""Credential-free preview diff: compare two offline plans resource by resource.

Keys on engine URNs; a head resource whose aliases name a base URN is the same resource renamed (no
delete/create), as the engine would treat it. Shows property-level paths (old -> new), and flags the
deletion of protected or stateful resources.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from components.stateful import is_stateful

MAX_VALUE = 60


@dataclass
class Change:
    op: str  # create | delete | update | rename
    urn: str
    type: str
    name: str
    parent: str
    old_urn: str = ""
    paths: list[tuple[str, Any, Any]] = field(default_factory=list)
    protected: bool = False
    stateful: bool = False

    @property
    def dangerous(self) -> bool:
        return self.op == "delete" and (self.protected or self.stateful)


@dataclass
class PlanDiff:
    changes: list[Change]
    unchanged: int

    @property
    def dangerous(self) -> list[Change]:
        return [c for c in self.changes if c.dangerous]

    def count(self, op: str) -> int:
        return sum(1 for c in self.changes if c.op == op)


def _walk(old: Any, new: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            _walk(old.get(key), new.get(key), sub, out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(a, b, f"{path}[{i}]", out)
        return
    if old != new:
        out.append((path, old, new))


def property_changes(base: dict[str, Any], head: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []
    _walk(base.get("inputs", {}), head.get("inputs", {}), "inputs", out)
    _walk(
        base.get("options", {}),
        {**head.get("options", {}), "aliases": base.get("options", {}).get("aliases")},
        "options",
        out,
    )
    _walk(base.get("provider"), head.get("provider"), "provider", out)
    return out


def _urn_parts(urn: str) -> tuple[str, str, str, str]:
    """urn:pulumi:<stack>::<project>::<qualified type>::<name> -> (stack, project, qualified, name)."""
    parts = urn.split("::", 3)
    if len(parts) != 4:  # not an engine URN (hand-made fixtures): treat it as a bare name
        return "", "", "", urn
    head, project, qualified, name = parts
    return head.rsplit(":", 1)[-1], project, qualified, name


def alias_urns(plan: dict[str, Any]) -> dict[str, list[str]]:
    """URN -> the URNs its aliases name, as the engine resolves them.

    The SDK sends alias *specs* (`{"spec": {"name": ...}}`) and leaves children's aliases to the engine,
    which gives every child of an aliased parent an alias under each of the parent's old URNs (with the
    parent's name prefix swapped in the child's name). Without this, renaming a component shows as
    deleting and re-creating everything inside it.
    """
    by_urn = {r["urn"]: r for r in plan["resources"]}
    out: dict[str, list[str]] = {}

    def resolve(urn: str) -> list[str]:
        if urn in out:
            return out[urn]
        r = by_urn[urn]
        stack, project, _, name = _urn_parts(urn)
        parent = r.get("parent", "")
        found: list[str] = []
        for alias in r["options"].get("aliases") or []:
            if isinstance(alias, str):
                found.append(alias)
                continue
            if "urn" in alias:
                found.append(alias["urn"])
                continue
            spec = alias.get("spec", alias)
            a_parent = "" if spec.get("noParent") else (spec.get("parentUrn") or parent)
            a_type = spec.get("type") or r["type"]
            qualified = f"{_urn_parts(a_parent)[2]}${a_type}" if a_parent else a_type
            found.append(
                f"urn:pulumi:{spec.get('stack') or stack}::{spec.get('project') or project}::"
                f"{qualified}::{spec.get('name') or name}"
            )
        if parent in by_urn:
            parent_name = _urn_parts(parent)[3]
            for p_alias in resolve(parent):
                _, _, p_qualified, p_alias_name = _urn_parts(p_alias)
                child = p_alias_name + name[len(parent_name) :] if name.startswith(parent_name) else name
                found.append(f"urn:pulumi:{stack}::{project}::{p_qualified}${r['type']}::{child}")
        out[urn] = found
        return found

    for urn in by_urn:
        resolve(urn)
    return out


def diff_plans(base: dict[str, Any], head: dict[str, Any]) -> PlanDiff:
    old = {r["urn"]: r for r in base["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    renamed: dict[str, str] = {}  # old urn -> new urn
    aliases = alias_urns(head)
    for urn in new:
        if urn in old:
            continue
        for target in aliases.get(urn, []):
            if target in old and target not in new:
                renamed[target] = urn
    back = {n: o for o, n in renamed.items()}

    def as_base(r: dict[str, Any]) -> dict[str, Any]:
        # References to renamed resources are the same references to the engine: compare them by old URN.
        if not back:
            return r
        opts = dict(r.get("options", {}))
        if "dependsOn" in opts:
            opts["dependsOn"] = [back.get(d, d) for d in opts["dependsOn"]]
        provider = r.get("provider")
        return {**r, "provider": back.get(provider, provider) if provider else provider, "options": opts}

    changes: list[Change] = []
    unchanged = 0
    for urn in sorted(set(old) | set(new)):
        if urn in renamed:
            continue
        b, h = old.get(urn), new.get(urn)
        if b is None and h is not None:
            source = next((o for o, n in renamed.items() if n == urn), None)
            if source is not None:
                paths = property_changes(old[source], as_base(h))
                changes.append(Change("rename", urn, h["type"], h["name"], h["parent"], old_urn=source, paths=paths))
            else:
                changes.append(Change("create", urn, h["type"], h["name"], h["parent"]))
        elif h is None and b is not None:
            changes.append(
                Change(
                    "delete",
                    urn,
                    b["type"],
                    b["name"],
                    b["parent"],
                    protected=bool(b["options"].get("protect")),
                    stateful=is_stateful(b["type"]),
                )
            )
        elif b is not None and h is not None:
            paths = property_changes(b, as_base(h))
            if paths:
                changes.append(Change("update", urn, h["type"], h["name"], h["parent"], paths=paths))
            else:
                unchanged += 1
    return PlanDiff(changes=changes, unchanged=unchanged)


def show_value(value: Any) -> str:
    """Short, one-line rendering; long values are elided with a content hash so reviewers can still
    tell two long values apart."""
    if value is None:
        return "(none)"
    text = json.dumps(value, sort_keys=True)
    if len(text) <= MAX_VALUE:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[:40]}… ({len(text)} chars, sha256:{digest})"


_SYMBOL = {"create": "+", "delete": "-", "update": "~", "rename": ">"}


def _flags(c: Change) -> str:
    flags = []
    if c.protected:
        flags.append("PROTECTED")
    if c.stateful:
        flags.append("STATEFUL")
    return f"  [{' '.join(flags)}: data would be lost]" if flags and c.op == "delete" else ""


def summary_line(d: PlanDiff) -> str:
    if not d.changes:
        return "no changes"
    parts = [f"{d.count(op)} to {op}" for op in ("create", "update", "delete", "rename") if d.count(op)]
    return ", ".join(parts) + f", {d.unchanged} unchanged"


def render_text(d: PlanDiff) -> str:
    if not d.changes:
        return "no changes\n"
    lines: list[str] = []
    for c in d.changes:
        head = f"{_SYMBOL[c.op]} {c.op:<7} {c.type} {c.name}{_flags(c)}"
        if c.op == "rename":
            head += f"  (alias of {c.old_urn.rsplit('::', 1)[-1]}: no replacement)"
        lines.append(head)
        lines += [f"      {p}: {show_value(a)} => {show_value(b)}" for p, a, b in c.paths]
    lines.append("")
    lines.append(summary_line(d))
    if d.dangerous:
        lines.append(f"WARNING: {len(d.dangerous)} protected or stateful resource(s) would be deleted")
    return "\n".join(lines) + "\n"


def _component(parent: str) -> str:
    # Name and type: several components often share one name (the cluster name).
    if not parent:
        return "(stack)"
    _, _, qualified, name = _urn_parts(parent)
    return f"{name} `{qualified.rsplit('$', 1)[-1]}`"


def render_markdown(d: PlanDiff, title: str = "Offline plan diff") -> str:
    out = [f"### {title}", "", f"**{summary_line(d)}**", ""]
    if d.dangerous:
        out += ["> [!CAUTION]", f"> {len(d.dangerous)} protected or stateful resource(s) would be deleted:"]
        out += [f"> - `{c.type}` **{c.name}**" for c in d.dangerous]
        out.append("")
    groups: dict[str, list[Change]] = {}
    for c in d.changes:
        groups.setdefault(_component(c.parent), []).append(c)
    for comp in sorted(groups):
        out += [f"#### {comp}", "", "| | resource | type | changes |", "|---|---|---|---|"]
        for c in groups[comp]:
            detail = "<br>".join(f"`{p}`: `{show_value(a)}` → `{show_value(b)}`" for p, a, b in c.paths)
            out.append(f"| {_SYMBOL[c.op]} {c.op} | {c.name}{_flags(c)} | `{c.type}` | {detail} |")
        out.append("")
    return "\n".join(out)
