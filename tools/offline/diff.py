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

from tools.offline.stateful import is_stateful

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
        for key in sorted(set(old) | set(new)):  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            sub = f"{path}.{key}" if path else str(key)  # pyright: ignore[reportUnknownArgumentType]
            _walk(old.get(key), new.get(key), sub, out)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):  # pyright: ignore[reportUnknownArgumentType]
        for i, (a, b) in enumerate(zip(old, new)):  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            _walk(a, b, f"{path}[{i}]", out)
        return
    if old != new:
        out.append((path, old, new))


def property_changes(base: dict[str, Any], head: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []
    _walk(base.get("inputs", {}), head.get("inputs", {}), "inputs", out)
    _walk(base.get("options", {}), {**head.get("options", {}), "aliases": base.get("options", {}).get("aliases")},
          "options", out)
    _walk(base.get("provider"), head.get("provider"), "provider", out)
    return out


def diff_plans(base: dict[str, Any], head: dict[str, Any]) -> PlanDiff:
    old = {r["urn"]: r for r in base["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    renamed: dict[str, str] = {}  # old urn -> new urn
    for urn, r in new.items():
        if urn in old:
            continue
        for alias in r["options"].get("aliases", []):
            target = alias if isinstance(alias, str) else alias.get("urn", "")
            if target in old and target not in new:
                renamed[target] = urn
    changes: list[Change] = []
    unchanged = 0
    for urn in sorted(set(old) | set(new)):
        if urn in renamed:
            continue
        b, h = old.get(urn), new.get(urn)
        if b is None and h is not None:
            source = next((o for o, n in renamed.items() if n == urn), None)
            if source is not None:
                paths = property_changes(old[source], h)
                changes.append(Change("rename", urn, h["type"], h["name"], h["parent"], old_urn=source, paths=paths))
            else:
                changes.append(Change("create", urn, h["type"], h["name"], h["parent"]))
        elif h is None and b is not None:
            changes.append(Change("delete", urn, b["type"], b["name"], b["parent"],
                                  protected=bool(b["options"].get("protect")), stateful=is_stateful(b["type"])))
        elif b is not None and h is not None:
            paths = property_changes(b, h)
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
    return parent.rsplit("::", 1)[-1] if parent else "(stack)"


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
