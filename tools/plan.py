"""Offline plan runner and credential-free preview diff.

    python -m tools.plan STACK [--out DIR] [--no-render]   run __main__.py for STACK under the recording
                                                           monitor; render its charts and inject its sidecars
    python -m tools.plan diff BASE.json HEAD.json [--markdown] [--fail-on-stateful-delete]

Rendering the charts needs helm, injecting the sidecars istioctl, both from .tools/bin (`make tools`);
without them the plan is written and its output and report.md say what was not rendered and why.

Exit codes: 0 ok; 2 invalid config (messages only, no traceback: the project config rules the CLI applies
before the program starts, then the program's own checks); 3 a protected or stateful resource
would be deleted (with --fail-on-stateful-delete); 2 also when helm refuses to render a chart with the
release's values or istioctl fails to inject (a real install would fail the same way); 4 an internal error:
a bug in the program or the runner, not in the input (one line naming the exception and where it was
raised; GPU_PLATFORM_DEBUG=1 shows the traceback). docs/stack-files.md#errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from pulumi.errors import RunError

from tools.offline import artifacts
from tools.offline.config import PROJECT_DIR, ProjectConfigError
from tools.offline.limits import NameLimitError
from tools.offline.reference_outputs import UnknownStackError

INTERNAL_ERROR = 4
# Stack names as the CLI accepts them (pulumi sdk go/common/tokens/stack_name.go ParseStackName), docs/stack-files.md.
STACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")

# The plan path imports nothing of the program (components, stacks) before running it: with --project-dir
# (tools.pr_diff plans other revisions so) the program must import the tree's packages, not this checkout's.
# tools.offline.diff reads components/stateful.py, so only the diff path imports it.


def _plan(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.plan", description="Offline plan of one stack.")
    ap.add_argument("stack", help="stack name: uses Pulumi.<stack>.yaml")
    ap.add_argument("--out", type=Path, help="output directory (default build/plan/STACK)")
    ap.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_DIR,
        help="directory holding Pulumi.yaml, Pulumi.STACK.yaml and __main__.py (default: this repo)",
    )
    ap.add_argument(
        "--no-render",
        action="store_true",
        help="write plan.json, manifests/ and report.md only: no helm template, no istioctl kube-inject",
    )
    args = ap.parse_args(argv)
    if not STACK_NAME_RE.match(args.stack):
        print(f"error: {args.stack!r} is not a stack name: letters, digits, '-', '_' and '.'", file=sys.stderr)
        return 2
    from tools.offline.runner import run_stack  # imports the Pulumi SDK; the diff path does not need it

    try:
        plan = run_stack(args.stack, args.project_dir.resolve())
    except ProjectConfigError as err:  # what the CLI refuses before the program starts, in its words
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NameLimitError as err:  # a name a provider's Check or the cloud API refuses
        print(f"{args.stack}: {err}", file=sys.stderr)
        return 2
    except RunError as err:  # ConfigError and any other clean program stop
        print(f"{args.stack}: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except UnknownStackError as err:  # a StackReference to a stack with no outputs fixture (the engine: unknown stack)
        print(f"{args.stack}: error: {err}", file=sys.stderr)
        return 2
    out: Path = args.out or PROJECT_DIR / "build" / "plan" / args.stack
    from tools.offline.charts import RenderError
    from tools.offline.inject import InjectError

    try:
        written = artifacts.write_all(plan, out, render=not args.no_render, project_dir=args.project_dir.resolve())
    except (RenderError, InjectError) as err:
        print(f"{args.stack}: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # --out not writable: the caller's input, not a bug
        print(f"error: cannot write the plan to {out}: {err.strerror or err} ({err.filename})", file=sys.stderr)
        return 2
    n_manifests = written.manifests
    cost_lines, cost_errors = _cost(args.stack, args.project_dir.resolve(), plan, out)
    if cost_errors:  # prod without a price: docs/cost.md#prod
        print(f"{args.stack}: " + "\n".join(cost_errors), file=sys.stderr)
        return 2
    res = plan["resources"]
    kinds = Counter(r["type"].split(":")[0] for r in res if r["custom"])
    print(
        f"stack {plan['stack']}: {len(res)} resources "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; "
        f"{sum(1 for r in res if not r['custom'])} components), "
        f"{sum(1 for r in res if r['options']['protect'])} protected, {n_manifests} manifests"
    )
    for line in artifacts.render_summary(written.rendered):
        print(f"  {line}")
    for d in plan["diagnostics"]:
        print(f"  {d['severity']}: {d['message']}")
    for line in cost_lines:
        print(f"  {line}")
    print(f"wrote {out}/plan.json, {out}/manifests/, {out}/report.md")
    return 0


def _cost(stack: str, project_dir: Path, plan: dict[str, Any], out: Path) -> tuple[list[str], list[str]]:
    """Price the plan (components/cost/, docs/cost.md): cost.json and the report's cost section. The
    estimate is the planned tree's (its price book); a tree without components/cost/ is not priced."""
    import datetime as dt

    from tools.offline.stack_yaml import load_stack_yaml

    try:
        from components.cost.report import summary, write_cost
    except ImportError:
        return [], []
    config = load_stack_yaml(project_dir / f"Pulumi.{stack}.yaml").get("config") or {}
    today = dt.datetime.now(dt.UTC).date()
    est, errors = write_cost(
        plan,
        out,
        environment=str(config.get("gpu-platform:environment", "")),
        budget=config.get("gpu-platform:budget"),
        today=today,
    )
    return summary(est, today), errors


def _diff(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.plan diff", description="Diff two offline plans.")
    ap.add_argument("base", type=Path)
    ap.add_argument("head", type=Path)
    ap.add_argument("--markdown", action="store_true", help="markdown for a pull-request comment")
    ap.add_argument(
        "--fail-on-stateful-delete",
        action="store_true",
        help="exit 3 when a protected or stateful resource would be deleted",
    )
    args = ap.parse_args(argv)
    from tools.offline.diff import diff_plans, render_markdown, render_text

    plans = []
    for path in (args.base, args.head):
        try:
            plans.append(json.loads(path.read_bytes()))
        except (OSError, ValueError) as err:  # ValueError: not JSON, not UTF-8
            print(f"error: cannot read plan {path}: {err}", file=sys.stderr)
            return 2
        resources = plans[-1].get("resources") if isinstance(plans[-1], dict) else None
        if not isinstance(resources, list) or not all(isinstance(r, dict) and "urn" in r for r in resources):
            print(f"error: {path} is not a plan of `python -m tools.plan` (no list of resources)", file=sys.stderr)
            return 2
    d = diff_plans(plans[0], plans[1])
    sys.stdout.write(render_markdown(d) if args.markdown else render_text(d))
    return 3 if args.fail_on_stateful_delete and d.dangerous else 0


def internal_error(err: BaseException) -> int:
    """The CLI boundary for what is not the input's fault: one clear line, exit 4, no traceback (the
    problems of a stack file are ConfigErrors and exit 2; tests/robustness/test_yaml_garbage.py)."""
    frames = traceback.extract_tb(err.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    print(
        f"internal error: {type(err).__name__}: {err}{where}\nThis is a bug in gpu-platform or its offline runner, "
        "not a problem with the stack file; rerun with GPU_PLATFORM_DEBUG=1 for the traceback and report it.",
        file=sys.stderr,
    )
    return INTERNAL_ERROR


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["diff"]:
            return _diff(argv[1:])
        return _plan(argv)
    except Exception as err:  # the boundary: every input problem above is a ConfigError-like exit 2
        if os.environ.get("GPU_PLATFORM_DEBUG"):
            raise
        return internal_error(err)


if __name__ == "__main__":
    sys.exit(main())
