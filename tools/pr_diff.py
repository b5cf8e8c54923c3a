"""Pull-request plan diff: offline plans of every stack at two git revisions, one markdown comment body.

    python -m tools.pr_diff [--base REV] [--head REV] [--out FILE] [--keep-plans DIR] [--fail-on-stateful-delete]

Defaults: base = merge-base of origin/main and HEAD, head = HEAD. Each revision is checked out into a
temporary `git worktree` (the caller's work tree is never touched) and every `Pulumi.<stack>.yaml` found at
either revision is planned there with this checkout's runner, in a subprocess per stack so the two
revisions' modules never share an interpreter. Credential-free: nothing but git and the offline runner.

Exit codes: 0 ok; 2 a plan failed at head (its error is in the comment), or git could not produce a
revision; 3 a protected or stateful resource would be deleted (with --fail-on-stateful-delete); 4 an
internal error (tools/plan.py internal_error: one line, no traceback; GPU_PLATFORM_DEBUG=1 shows it);
5 a stack's monthly peak cost rose above its `gpu-platform:budget.monthlyPeak`, or a stack with a budget has
an unpriced peak, so the budget cannot be proven (with --fail-over-budget; docs/cost.md#budget).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.cost.render import money as _cur  # one money format for report.md and the PR comment
from tools.offline.config import PROJECT_DIR
from tools.offline.diff import PlanDiff, diff_plans, render_markdown
from tools.plan import internal_error

PLAN_TIMEOUT_SECONDS = 600  # a plan takes seconds; a stack file that hangs the runner is stopped, not waited on
MARKER = "<!-- gpu-platform:plan-diff -->"  # the comment workflow finds (and edits) its own comment by it


@dataclass
class StackResult:
    stack: str
    diff: PlanDiff | None
    base_plan: dict[str, Any] | None
    head_plan: dict[str, Any] | None
    error: str = ""  # head plan failed: the runner's message
    note: str = ""  # new / removed stack file, base failed
    base_cost: dict[str, Any] | None = None  # cost.json of each side (components/cost/report.py)
    head_cost: dict[str, Any] | None = None


def git(repo: Path, *args: str) -> str:
    res = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout.strip()


def default_base(repo: Path) -> str:
    for ref in ("origin/main", "main"):
        try:
            return git(repo, "merge-base", ref, "HEAD")
        except RuntimeError:
            continue
    raise RuntimeError("no origin/main or main to diff against; pass --base")


@contextmanager
def worktree(repo: Path, rev: str, where: Path) -> Iterator[Path]:
    path = where / git(repo, "rev-parse", "--short=12", rev)
    git(repo, "worktree", "add", "--detach", "--force", str(path), rev)
    try:
        yield path
    finally:
        git(repo, "worktree", "remove", "--force", str(path))


def stacks_in(tree: Path) -> set[str]:
    return {p.name[len("Pulumi.") : -len(".yaml")] for p in tree.glob("Pulumi.*.yaml")}


def run_plan(tree: Path, stack: str, out: Path) -> tuple[dict[str, Any] | None, str]:
    """(plan, "") or (None, error). The runner and CLI are this checkout's; the program is the tree's."""
    try:
        res = subprocess.run(
            [sys.executable, "-m", "tools.plan", stack, "--project-dir", str(tree), "--out", str(out)],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PLAN_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return None, f"the offline plan of {stack} did not finish in {PLAN_TIMEOUT_SECONDS} s and was stopped"
    if res.returncode != 0:
        return None, (res.stderr.strip() or res.stdout.strip() or f"exit {res.returncode}")
    return json.loads((out / "plan.json").read_text()), ""


def read_cost(out: Path) -> dict[str, Any] | None:
    """The cost.json the runner wrote next to plan.json; None for a tree without components/cost/."""
    path = out / "cost.json"
    return json.loads(path.read_text()) if path.exists() else None


def _empty(stack: str) -> dict[str, Any]:
    return {"project": "", "stack": stack, "resources": [], "outputs": {}, "diagnostics": []}


def runner_key() -> str:
    """Content hash of this checkout's runner: a cached plan is reused only with the same runner."""
    digest = hashlib.sha256()
    for path in sorted([*(PROJECT_DIR / "tools" / "offline").glob("*.py"), PROJECT_DIR / "tools" / "plan.py"]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cached_plan(cache: Path | None, rev: str, tree: Path, stack: str, out: Path) -> tuple[dict[str, Any] | None, str]:
    """Plans are deterministic for a commit and a runner, so a successful one can be reused (local reruns,
    tests that diff the same commits several times)."""
    if cache is None:
        return run_plan(tree, stack, out)
    hit = cache / f"{rev}-{runner_key()}" / stack
    if not (hit / "plan.json").exists():
        plan, err = run_plan(tree, stack, hit)
        if plan is None:
            return plan, err
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(hit / "plan.json", out / "plan.json")  # --keep-plans still gets every plan
    if (hit / "cost.json").exists():
        shutil.copy(hit / "cost.json", out / "cost.json")
    return json.loads((hit / "plan.json").read_text()), ""


def plan_both(
    repo: Path, base: str, head: str, work: Path, only: set[str] | None = None, cache: Path | None = None
) -> list[StackResult]:
    plans: dict[str, dict[str, tuple[dict[str, Any] | None, str]]] = {"base": {}, "head": {}}
    names: set[str] = set()
    for side, rev in (("base", base), ("head", head)):
        with worktree(repo, rev, work) as tree:
            found = {s for s in stacks_in(tree) if only is None or s in only}
            names |= found
            for stack in sorted(found):
                plans[side][stack] = cached_plan(cache, rev, tree, stack, work / side / stack)
    results: list[StackResult] = []
    for stack in sorted(names):
        b, b_err = plans["base"].get(stack, (None, ""))
        h, h_err = plans["head"].get(stack, (None, ""))
        note = ""
        if stack not in plans["base"]:
            note = "new stack file: every resource is a create"
        elif stack not in plans["head"]:
            note = "stack file removed: every resource is a delete"
        elif b is None:
            note = f"the base plan failed, so everything shows as new: {b_err.splitlines()[0] if b_err else ''}"
        if stack in plans["head"] and h is None:
            results.append(StackResult(stack, None, b, None, error=h_err))
            continue
        d = diff_plans(b or _empty(stack), h or _empty(stack))
        costs = [read_cost(work / side / stack) if plans[side].get(stack, (None, ""))[0] else None for side in plans]
        results.append(StackResult(stack, d, b, h, note=note, base_cost=costs[0], head_cost=costs[1]))
    return results


# -- monthly cost and the budget gate (components/cost/, docs/cost.md) --------------------------------------


def _cost_delta(a: float | None, b: float | None, currency: str, *, new: bool = False) -> str:
    if a is None or b is None:
        return "new" if new and b is not None else ("=" if a == b else "unknown")
    d = round(b - a, 2)
    return "=" if d == 0 else ("+" if d > 0 else "−") + _cur(abs(d), currency)


@dataclass(frozen=True)
class BudgetVerdict:
    stack: str
    budget: float
    currency: str
    base_peak: float | None
    head_peak: float | None
    over: bool
    reason: str


def budget_verdict(stack: str, base: dict[str, Any] | None, head: dict[str, Any] | None) -> BudgetVerdict | None:
    """Whether this PR raises the stack's monthly peak above the head stack file's budget. A peak that is
    over but not raised (the budget was lowered, or nothing changed) is reported, not failed; a head with
    unpriced lines always fails (fail closed: its peak cannot be shown to be within budget). None: no budget."""
    budget = ((head or {}).get("budget") or {}).get("monthlyPeak")
    if head is None or not isinstance(budget, (int, float)):
        return None
    cur = str(head.get("currency", "USD"))
    b_peak, h_peak = (base or {}).get("monthlyPeak"), head.get("monthlyPeak")
    if h_peak is None:
        # Fail closed: an unknown peak cannot be shown to stay within any budget, whether or not this PR
        # changed it (an unpriced line hides its cost; docs/cost.md#budget).
        gaps = [_line_key(x) for x in head.get("lines", []) if "unpriced" in x]
        reason = (
            f"the peak is not fully priced ({len(gaps)} line(s) unpriced: {'; '.join(gaps) or 'unknown'}), so it "
            f"cannot be shown to stay within the budget of {_cur(budget, cur)}; price them "
            "(components/cost/prices.yaml, or a Capacity Block's reservation.upfrontFee and durationHours) or "
            "remove budget.monthlyPeak"
        )
        return BudgetVerdict(stack, float(budget), cur, b_peak, None, True, reason)
    raised = b_peak is None or h_peak > b_peak
    if h_peak <= budget:
        return BudgetVerdict(stack, float(budget), cur, b_peak, h_peak, False, f"within {_cur(budget, cur)}")
    over_by = f"over the budget of {_cur(budget, cur)} by {_cur(h_peak - budget, cur)}"
    if not raised:
        return BudgetVerdict(stack, float(budget), cur, b_peak, h_peak, False, f"{over_by}; not raised by this PR")
    return BudgetVerdict(stack, float(budget), cur, b_peak, h_peak, True, over_by)


def _line_key(line: dict[str, Any]) -> str:
    return f"{line['group']} {line['name']}: {line['item']}"


def render_cost(base: dict[str, Any] | None, head: dict[str, Any] | None, verdict: BudgetVerdict | None) -> list[str]:
    """Base -> head monthly cost of one stack (cost.json of each side); [] when neither has one."""
    if base is None and head is None:
        return []
    ref = head or base or {}
    cur = str(ref.get("currency", "USD"))
    if ref.get("cloud") is None:
        return []
    b, h = base or {}, head or {}
    out = [
        f"**Monthly cost** ({cur}, {ref.get('region')}; floor = pools at minSize, peak = pools at maxSize; docs/cost.md)",
        "",
        "| | base | head | Δ |",
        "|---|---:|---:|---:|",
    ]
    for label, key in (("at floor", "monthlyFloor"), ("at peak", "monthlyPeak")):
        bv, hv = b.get(key), h.get(key)
        out.append(
            f"| {label} | {_cur(bv, cur) if base else '—'} | {_cur(hv, cur) if head else '—'} | "
            f"{_cost_delta(bv, hv, cur, new=base is None)} |"
        )
    if verdict is not None:
        mark = "❌ " if verdict.over else ""
        out.append(f"| budget (peak) | | {_cur(verdict.budget, cur)} | {mark}{verdict.reason} |")
    b_lines = {_line_key(x): x for x in b.get("lines", [])}
    h_lines = {_line_key(x): x for x in h.get("lines", [])}
    changed = [k for k in sorted(set(b_lines) | set(h_lines)) if _peak_of(b_lines.get(k)) != _peak_of(h_lines.get(k))]
    b_models = {m["version"]: m for m in b.get("models", [])}
    h_models = {m["version"]: m for m in h.get("models", [])}
    models = [v for v in sorted(set(b_models) | set(h_models)) if b_models.get(v) != h_models.get(v)]
    if changed or models:
        out += ["", "| what changed | peak base → head | Δ |", "|---|---|---:|"]
        for k in changed:
            bl, hl = b_lines.get(k), h_lines.get(k)
            out.append(
                f"| {k} | {_peak_cell(bl, cur)} → {_peak_cell(hl, cur)} | "
                f"{_cost_delta(_peak_of(bl) if bl else 0.0, _peak_of(hl) if hl else 0.0, cur)} |"
            )
        for v in models:
            bm, hm = b_models.get(v), h_models.get(v)
            out.append(
                f"| model {v} (share of its pool) | {_model_cell(bm, cur)} → {_model_cell(hm, cur)} | "
                f"{_cost_delta((bm or {}).get('monthlyPeak') if bm else 0.0, (hm or {}).get('monthlyPeak') if hm else 0.0, cur)} |"
            )
    out.append("")
    return out


def _peak_of(line: dict[str, Any] | None) -> float | None:
    return None if line is None else line.get("monthlyPeak")


def _peak_cell(line: dict[str, Any] | None, cur: str) -> str:
    if line is None:
        return "—"
    return "unpriced" if "unpriced" in line else _cur(line.get("monthlyPeak"), cur)


def _model_cell(m: dict[str, Any] | None, cur: str) -> str:
    if m is None:
        return "—"
    per = m.get("perMillionRequests")
    return _cur(m.get("monthlyPeak"), cur) + ("" if per is None else f" ({_cur(per, cur)}/1M req)")


# -- capacity / cost --------------------------------------------------------------------------------------


def _capacity(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    cap = (plan or {}).get("outputs", {}).get("capacity")
    return cap if isinstance(cap, dict) else None


def _gpus(cap: dict[str, Any], nodes_key: str) -> int | None:
    total = 0
    for pool in (cap.get("pools") or {}).values():
        per, nodes = pool.get("gpusPerNode"), pool.get(nodes_key)
        if not isinstance(per, (int, float)) or not isinstance(nodes, (int, float)):
            return None
        total += int(per) * int(nodes)
    return total


def _money(x: Any) -> str:
    return f"${x:,.2f}" if isinstance(x, (int, float)) else "unknown"


def _delta(a: Any, b: Any, money: bool) -> str:
    if a is None and isinstance(b, (int, float)):
        return "new"
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return "" if a == b else "changed"
    d = b - a
    if d == 0:
        return "="
    sign = "+" if d > 0 else "−"
    return f"{sign}{_money(abs(d)) if money else f'{abs(d):g}'}"


CAPACITY_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("$/h at min size", "usdPerHourAtMin", True),
    ("$/h at peak (planned releases)", "usdPerHourAtPeak", True),
    ("$/h at max size", "usdPerHourAtMax", True),
)
GPU_ROWS: tuple[tuple[str, str], ...] = (
    ("GPUs at min size", "minNodes"),
    ("GPUs at peak", "nodesAtPeak"),
    ("GPUs at max size", "maxNodes"),
)


def _size(pool: dict[str, Any]) -> str:
    return f"{pool.get('minNodes', '?')}–{pool.get('maxNodes', '?')}" if pool else "—"


def render_capacity(base: dict[str, Any] | None, head: dict[str, Any] | None) -> list[str]:
    """Base -> head of the `capacity` stack output; [] when neither plan has one."""
    b, h = _capacity(base), _capacity(head)
    if b is None and h is None:
        return []
    b, h = b or {}, h or {}
    rows: list[tuple[str, str, str, str]] = []
    for label, key, money in CAPACITY_ROWS:
        rows.append(
            (
                label,
                _money(b.get(key)) if b else "—",
                _money(h.get(key)) if h else "—",
                _delta(b.get(key), h.get(key), money),
            )
        )
    for label, key in GPU_ROWS:
        gb, gh = (_gpus(b, key) if b else None), (_gpus(h, key) if h else None)
        rows.append((label, "—" if gb is None else str(gb), "—" if gh is None else str(gh), _delta(gb, gh, False)))
    out = [
        "**Capacity** (from the `capacity` output; $/h at the catalog's reference price, us-east-1 on-demand: "
        "the monthly cost above is the one priced in the stack's region)",
        "",
        "| | base | head | Δ |",
        "|---|---:|---:|---:|",
    ]
    out += [f"| {label} | {x} | {y} | {d} |" for label, x, y, d in rows]
    pools_b, pools_h = b.get("pools") or {}, h.get("pools") or {}
    changed = [p for p in sorted(set(pools_b) | set(pools_h)) if pools_b.get(p) != pools_h.get(p)]
    if changed:
        out += ["", "| pool | GPU | nodes min–max (base → head) | $/h at max (base → head) |", "|---|---|---|---|"]
        for p in changed:
            pb, ph = pools_b.get(p) or {}, pools_h.get(p) or {}
            gpu = ph.get("gpuModel") or pb.get("gpuModel") or "—"
            out.append(
                f"| {p} | {gpu} | {_size(pb)} → {_size(ph)} | "
                f"{_money(pb.get('usdPerHourAtMax')) if pb else '—'} → "
                f"{_money(ph.get('usdPerHourAtMax')) if ph else '—'} |"
            )
    out.append("")
    return out


# -- the comment ------------------------------------------------------------------------------------------


def render_comment(results: list[StackResult], base: str, head: str) -> str:
    dangerous = sum(len(r.diff.dangerous) for r in results if r.diff)
    failed = [r.stack for r in results if r.error]
    out = [
        MARKER,
        "## Offline plan diff",
        "",
        f"Base `{base[:12]}` → head `{head[:12]}`, {len(results)} stack(s). Credential-free: the program run "
        "under the recording monitor, not a cloud preview (no provider defaults, replacements or drift).",
        "",
    ]
    over = [v for r in results if (v := budget_verdict(r.stack, r.base_cost, r.head_cost)) and v.over]
    if over:
        out += [
            "> [!CAUTION]",
            f"> **Over budget: {', '.join(f'`{v.stack}`' for v in over)}.** The monthly peak cost rose above "
            "`gpu-platform:budget.monthlyPeak`, or cannot be priced against it; this check fails until the cost or the budget changes.",
            "",
        ]
    if dangerous:
        out += [
            "> [!CAUTION]",
            f"> **{dangerous} protected or stateful resource(s) would be deleted.** Data would be lost; "
            "this check fails until the change is reverted or made deliberately.",
            "",
        ]
    if failed:
        out += ["> [!WARNING]", f"> The plan failed at head for: {', '.join(failed)}.", ""]
    for r in results:
        if r.error:
            out += [f"### Stack `{r.stack}`: plan failed", "", "```", r.error, "```", ""]
            continue
        assert r.diff is not None
        body = render_markdown(r.diff, title=f"Stack `{r.stack}`")
        out += [body.rstrip("\n"), ""]
        if r.note:
            out += [f"_{r.note}_", ""]
        out += render_cost(r.base_cost, r.head_cost, budget_verdict(r.stack, r.base_cost, r.head_cost))
        out += render_capacity(r.base_plan, r.head_plan)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except RuntimeError as err:  # git: an unknown revision, no repository, a worktree that cannot be added
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # the boundary: stack files are read by the plan subprocess, never here
        if os.environ.get("GPU_PLATFORM_DEBUG"):
            raise
        return internal_error(err)


def _main(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tools.pr_diff",
        description="Offline plan diff of every stack between two git revisions, as one PR comment body.",
    )
    ap.add_argument("--repo", type=Path, default=PROJECT_DIR, help="git repository (default: this checkout)")
    ap.add_argument("--base", help="base revision (default: merge-base of origin/main and HEAD)")
    ap.add_argument("--head", default="HEAD", help="head revision (default: HEAD)")
    ap.add_argument("--out", type=Path, help="also write the comment body to this file")
    ap.add_argument(
        "--keep-plans",
        type=Path,
        metavar="DIR",
        help="keep the plans in DIR/{base,head}/STACK/ (default: a temporary directory)",
    )
    ap.add_argument(
        "--stack",
        action="append",
        dest="stacks",
        metavar="STACK",
        help="only this stack (repeatable; default: every Pulumi.<stack>.yaml at either revision)",
    )
    ap.add_argument(
        "--fail-on-stateful-delete",
        action="store_true",
        help="exit 3 when a protected or stateful resource would be deleted",
    )
    ap.add_argument(
        "--fail-over-budget",
        action="store_true",
        help="exit 5 when a stack's monthly peak cost rises above its gpu-platform:budget.monthlyPeak or, with a "
        "budget, cannot be priced",
    )
    ap.add_argument(
        "--plan-cache",
        type=Path,
        metavar="DIR",
        help="reuse plans of the same commit and runner from DIR (local reruns; not in CI)",
    )
    args = ap.parse_args(argv)
    repo = args.repo.resolve()
    base = git(repo, "rev-parse", args.base or default_base(repo))
    head = git(repo, "rev-parse", args.head)
    only = set(args.stacks) if args.stacks else None
    if args.keep_plans:
        args.keep_plans.mkdir(parents=True, exist_ok=True)
        results = plan_both(repo, base, head, args.keep_plans.resolve(), only, args.plan_cache)
    else:
        with tempfile.TemporaryDirectory(prefix="pr-diff-") as tmp:
            results = plan_both(repo, base, head, Path(tmp), only, args.plan_cache)
    body = render_comment(results, base, head)
    sys.stdout.write(body)
    if args.out:
        args.out.write_text(body)
    if any(r.error for r in results):
        return 2
    if args.fail_on_stateful_delete and any(r.diff and r.diff.dangerous for r in results):
        print("\nWARNING: a protected or stateful resource would be deleted (see the comment above)", file=sys.stderr)
        return 3
    over = [v for r in results if (v := budget_verdict(r.stack, r.base_cost, r.head_cost)) and v.over]
    if args.fail_over_budget and over:
        for v in over:
            print(f"\nOVER BUDGET: {v.stack}: {v.reason}", file=sys.stderr)
        return 5
    return 0


if __name__ == "__main__":
    sys.exit(main())
