"""The drift issue's text from `pulumi refresh --preview-only --json` and `pulumi preview --expect-no-changes
--json` of one stack (.github/workflows/drift.yml, docs/drift.md).

    python -m tools.drift --stack STACK --refresh refresh.json --preview preview.json [--run-url URL] [--out FILE]

Both files are the CLI's preview digest ({"steps": [{"op", "urn", "detailedDiff", "diffReasons", ...}],
"changeSummary"}). A refresh step is drift when the refresh rewrote it to `update` (outputs changed in the
cloud) or `delete` (gone from the cloud); a preview step is drift when the next `pulumi up` would create,
update, delete or replace something although the program did not change.

Exit codes: 0 no drift (nothing written); 1 drift (the issue title on stdout, the body in --out);
2 a file that is not a preview digest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABEL = "drift"  # the workflow finds its one open issue per stack by this label and the title
PREVIEW_OPS = ("create", "update", "delete", "replace")
REFRESH_OPS = ("update", "delete")
SKIP_TYPES = ("pulumi:pulumi:Stack",)


def title(stack: str) -> str:
    return f"Drift: stack {stack}"


def marker(stack: str) -> str:
    return f"<!-- gpu-platform:drift stack={stack} -->"


@dataclass(frozen=True)
class Change:
    name: str
    type: str
    op: str
    properties: tuple[str, ...]


def _name_and_type(urn: str) -> tuple[str, str]:
    # urn:pulumi:<stack>::<project>::<parent types $ joined>$<type>::<name>
    parts = urn.split("::")
    return parts[-1], parts[2].split("$")[-1] if len(parts) >= 4 else "?"


def changes(digest: Mapping[str, Any], ops: tuple[str, ...]) -> list[Change]:
    if not isinstance(digest.get("steps", []), list):
        raise ValueError("not a pulumi preview digest: 'steps' is not a list")
    out: list[Change] = []
    for step in digest.get("steps") or []:
        op = str(step.get("op", ""))
        name, typ = _name_and_type(str(step.get("urn", "")))
        if op not in ops or typ in SKIP_TYPES:
            continue
        props = tuple(sorted(step.get("detailedDiff") or {})) or tuple(sorted(step.get("diffReasons") or []))
        out.append(Change(name, typ, op, props))
    return sorted(out, key=lambda c: (c.type, c.name))


def _table(rows: list[Change], gone: str) -> list[str]:
    lines = ["| resource | type | change | properties |", "|---|---|---|---|"]
    for c in rows:
        op = gone if c.op == "delete" else c.op
        props = ", ".join(f"`{p}`" for p in c.properties)
        lines.append(f"| `{c.name}` | `{c.type}` | {op} | {props} |")
    return lines


def render_issue(stack: str, refresh: list[Change], preview: list[Change], run_url: str = "") -> str:
    out = [
        marker(stack),
        f"## Drift in stack `{stack}`",
        "",
        "The cloud differs from what the stack's state and program say. Found by the scheduled drift check "
        "(.github/workflows/drift.yml) with read-only credentials; nothing was changed."
        + (f" [Run]({run_url})" if run_url else ""),
        "",
    ]
    if refresh:
        out += [
            f"### Changed outside Pulumi: {len(refresh)} resource(s) (`pulumi refresh --preview-only`)",
            "",
            *_table(refresh, "deleted in the cloud"),
            "",
        ]
    if preview:
        out += [
            f"### What the next `pulumi up` would change: {len(preview)} resource(s) "
            "(`pulumi preview --expect-no-changes`)",
            "",
            *_table(preview, "delete"),
            "",
        ]
    out += [
        f"To resolve: put the cloud back with `pulumi up -s {stack}` (the stack file is the source of truth), or "
        f"adopt the change in the stack file and run `pulumi refresh -s {stack}`. Every run updates this issue; "
        "a run that finds no drift closes it (docs/drift.md).",
    ]
    return "\n".join(out) + "\n"


def _read(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a pulumi preview digest (a JSON object)")
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.drift", description="Drift issue text from pulumi JSON.")
    ap.add_argument("--stack", required=True)
    ap.add_argument("--refresh", type=Path, required=True, help="pulumi refresh --preview-only --json output")
    ap.add_argument("--preview", type=Path, required=True, help="pulumi preview --expect-no-changes --json output")
    ap.add_argument("--run-url", default="", help="link to the workflow run")
    ap.add_argument("--out", type=Path, help="write the issue body here")
    args = ap.parse_args(argv)
    try:
        refresh = changes(_read(args.refresh), REFRESH_OPS)
        preview = changes(_read(args.preview), PREVIEW_OPS)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not refresh and not preview:
        print(f"no drift in stack {args.stack}")
        return 0
    body = render_issue(args.stack, refresh, preview, args.run_url)
    if args.out:
        args.out.write_text(body)
    print(title(args.stack))
    return 1


if __name__ == "__main__":
    sys.exit(main())
