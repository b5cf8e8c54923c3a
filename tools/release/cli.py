"""Command line of `python -m tools.release` (docs/progressive-delivery.md, docs/models.md#rollouts).

    python -m tools.release status [--stack S]
    python -m tools.release promote MODEL --stack S (--next | --to WEIGHT) [--prometheus URL]
    python -m tools.release rollback MODEL --stack S
    python -m tools.release run MODEL --stack S --prometheus URL [--apply auto|pulumi|offline] [--state-dir D]
        [--after-step CMD]
    python -m tools.release raised --base SHA [--head SHA]

- promote: with `--prometheus`, first judges the candidate at its current weight with
  components/observability/slo.gate_queries (the very PromQL of its SLO alerts): "pass" promotes;
  "fail" and "inconclusive" (too little traffic to judge — never a pass) refuse. Then edits
  `traffic.candidateWeight` (comments and formatting of the stack file kept: ruamel.yaml round trip),
  re-runs the offline plan and prints the diff it causes. An invalid result (e.g. the new step does not
  fit the pools) restores the file. `--next` at 100% finishes the rollout: the candidate becomes the
  stable version; the old stable keeps running (warm) until it is removed from `versions`. `--to` also
  repairs a weight the file holds that is not valid.
- rollback: candidate weight 0. The stable version never stopped serving, so this is one VirtualService
  change, not a cold GPU start.
- run: the loop of tools/release/loop.py over the model's `analysis:` block.
- raised: the releases a merge started (tools/release/raised.py), for .github/workflows/release-run.yml.
Exit codes (tools/release/errors.py): 0 done; 1 the analysis refused (gate refused, run rolled back);
2 invalid request or input (unknown stack or model, unreadable stack file, bad weight, invalid result,
shared traffic block), nothing changed; 3 another run holds the lock; 4 apply failed after the edit
(the next `run` resumes it); 5 unexpected error (a bug), reported in one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from components.observability.slo import GateVerdict, SloTarget, Workload, gate_queries, gate_verdict
from tools.offline.config import PROJECT_DIR
from tools.release.apply import InvalidConfig, choose_applier, plan_of
from tools.release.errors import INTERNAL, INVALID, OK, REFUSED, ReleaseError
from tools.release.judge import prometheus_query
from tools.release.loop import Hooks, Run, shell_after_step
from tools.release.prom import PrometheusUnavailable, instant_series
from tools.release.raised import raised
from tools.release.stackfile import StackFile, iter_stacks, next_weight, split, traffic_of, weight_of


def evaluate_gate(
    prometheus: str, workload: Workload, slo: SloTarget, timeout: float = 10.0
) -> tuple[GateVerdict, dict[str, int]]:
    """Run the gate's instant queries against Prometheus' HTTP API and decide (slo.gate_verdict)."""
    counts = {name: instant_series(prometheus, query, timeout) for name, query in gate_queries(workload, slo).items()}
    return gate_verdict(counts), counts


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _slo(m: CommentedMap) -> SloTarget:
    s = m.get("slo")
    s = s if isinstance(s, dict) else {}
    try:
        return SloTarget(
            p99_ms=_number(s.get("p99Ms"), 2000),
            error_ratio=_number(s.get("errorRatio"), 0.01),
            window=str(s.get("window", "5m")),
            min_rps=_number(s.get("minRps"), 0.1),
        )
    except ValueError as err:
        raise ReleaseError(f"error: model {m.get('name')!r} slo: {err}") from None


def _apply(sf: StackFile, stack: str, project_dir: Path, describe: str) -> int:
    """Save the edited stack file, print the plan diff it causes; restore the file if the plan fails."""
    from tools.offline.diff import diff_plans, render_text

    original = sf.path.read_bytes()
    try:
        base: dict[str, Any] | None = plan_of(project_dir, stack)
    except InvalidConfig:
        base = None  # the file is invalid before the edit (e.g. a weight being repaired): no baseline
    sf.save()
    try:
        head = plan_of(project_dir, stack)
    except InvalidConfig as err:
        sf.path.write_bytes(original)
        print(f"{describe}: refused, the new config is invalid; {sf.path.name} left unchanged\n{err}", file=sys.stderr)
        return INVALID
    print(describe)
    if base is None:
        print(f"{sf.path.name} was invalid before this edit; no diff to show, the plan is valid now")
    else:
        sys.stdout.write(render_text(diff_plans(base, head)))
    print(f"wrote {sf.path.name}; apply with: pulumi up -s {stack}")
    return OK


def cmd_status(args: argparse.Namespace) -> int:
    code = OK
    for stack, sf in iter_stacks(args.project_dir, args.stack):
        if isinstance(sf, ReleaseError):
            print(f"{stack}: unreadable: {sf.message.removeprefix('error: ')}", file=sys.stderr)
            code = INVALID
            continue
        for m in sf.models():
            try:
                t = traffic_of(sf, m)
            except ReleaseError as err:
                print(f"{stack} {m.get('name')}: {err.message.removeprefix('error: ')}", file=sys.stderr)
                code = INVALID
                continue
            nxt = next_weight(m) if t.get("candidate") and weight_of(t) is not None else None
            tail = f"; next step {nxt}%" if nxt is not None else ""
            print(f"{stack} {m.get('name')}: {split(t)}{tail}")
    return code


def cmd_promote(args: argparse.Namespace) -> int:
    sf = StackFile.load(args.project_dir, args.stack)
    m = sf.model(args.model)
    t = sf.editable_traffic(m)
    cand = t.get("candidate")
    if not cand:
        print(f"error: model {args.model!r} has no candidate to promote; add traffic.candidate", file=sys.stderr)
        return INVALID
    current = weight_of(t)
    if current is None and args.next:
        raise ReleaseError(
            f"error: traffic.candidateWeight {t.get('candidateWeight')!r} is not a whole number from 0 to 100; "
            f"repair it with --to WEIGHT"
        )
    if args.prometheus:
        ns = str(m.get("namespace") or m.get("name"))
        try:
            verdict, counts = evaluate_gate(args.prometheus, Workload(ns, str(m.get("name")), str(cand)), _slo(m))
        except PrometheusUnavailable as err:
            verdict, counts = "inconclusive", {}
            print(f"gate {args.model}: {err}", file=sys.stderr)
        except ValueError as err:
            raise ReleaseError(f"error: {err}") from None
        print(
            f"gate {args.model} {cand} at {current}%: {verdict} (series: "
            + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none, Prometheus did not answer")
            + ")"
        )
        if verdict != "pass":
            why = (
                "Prometheus did not answer; inconclusive is never a pass — check --prometheus and retry"
                if not counts
                else "too little traffic to judge; inconclusive is never a pass — wait for traffic or raise it "
                "with a header route"
                if verdict == "inconclusive"
                else f"SLO breached; roll back with: python -m tools.release rollback {args.model} --stack {args.stack}"
            )
            print(f"promotion refused: {why}", file=sys.stderr)
            return REFUSED
    before = split(t)
    if args.next and current is not None and current >= 100:
        t["stable"] = cand
        del t["candidate"]
        if "candidateWeight" in t:
            del t["candidateWeight"]
        return _apply(
            sf,
            args.stack,
            args.project_dir,
            f"{args.model}: rollout finished, {before} -> {split(t)} (previous stable stays deployed, warm)",
        )
    target = next_weight(m) if args.next else args.to
    if target is None or not 0 <= target <= 100:
        print(f"error: weight must be 0-100, got {target}", file=sys.stderr)
        return INVALID
    t["candidateWeight"] = target
    return _apply(sf, args.stack, args.project_dir, f"{args.model}: {before} -> {split(t)}")


def cmd_rollback(args: argparse.Namespace) -> int:
    sf = StackFile.load(args.project_dir, args.stack)
    m = sf.model(args.model)
    t = sf.editable_traffic(m)
    if not t.get("candidate") or weight_of(t) == 0:
        print(f"{args.model}: nothing to roll back ({split(t)})")
        return OK
    before = split(t)
    t["candidateWeight"] = 0
    return _apply(
        sf,
        args.stack,
        args.project_dir,
        f"{args.model}: rollback, {before} -> {split(t)} (stable was never scaled down)",
    )


def cmd_run(args: argparse.Namespace) -> int:
    StackFile.load(args.project_dir, args.stack).model(args.model)  # unknown stack/model: exit 2 before locking
    state_dir = args.state_dir or args.project_dir / "build" / "release" / args.stack / args.model
    applier = choose_applier(args.apply, args.project_dir, args.stack, state_dir)
    hooks = Hooks()
    if args.after_step:
        hooks.after_step = shell_after_step(args.after_step, args.project_dir / f"Pulumi.{args.stack}.yaml", state_dir)
    return Run(
        project_dir=args.project_dir,
        stack=args.stack,
        model=args.model,
        state_dir=state_dir,
        query=prometheus_query(args.prometheus),
        applier=applier,
        hooks=hooks,
    ).run()


def cmd_raised(args: argparse.Namespace) -> int:
    print(json.dumps(raised(args.project_dir, args.base, args.head)))
    return OK


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m tools.release", description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="directory of the stack files")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("status", help="traffic split of every model")
    st.add_argument("--stack")
    pr = sub.add_parser("promote", help="raise the candidate's weight (gated with --prometheus)")
    pr.add_argument("model")
    pr.add_argument("--stack", required=True)
    how = pr.add_mutually_exclusive_group(required=True)
    how.add_argument("--to", type=int, help="set the candidate weight (also repairs an invalid one)")
    how.add_argument("--next", action="store_true", help="next of rolloutSteps; at 100 finish the rollout")
    pr.add_argument("--prometheus", help="Prometheus URL: gate on the candidate's SLO first")
    rb = sub.add_parser("rollback", help="candidate weight to 0")
    rb.add_argument("model")
    rb.add_argument("--stack", required=True)
    rn = sub.add_parser("run", help="walk the rollout steps, analysing each (the model's analysis: block)")
    rn.add_argument("model")
    rn.add_argument("--stack", required=True)
    rn.add_argument("--prometheus", required=True, help="Prometheus URL the analysis queries")
    rn.add_argument(
        "--apply",
        choices=("auto", "pulumi", "offline"),
        default="auto",
        help="auto: `pulumi up` when the CLI lists the stack, else the offline plan diff",
    )
    rn.add_argument("--state-dir", type=Path, help="journal, lock and decision log (default build/release/STACK/MODEL)")
    rn.add_argument("--after-step", help="bash command run after each applied decision (the workflow commits there)")
    rs = sub.add_parser("raised", help="JSON list of the releases whose candidate weight rose between two commits")
    rs.add_argument("--base", required=True, help="commit before the change")
    rs.add_argument("--head", default="HEAD", help="commit after the change (default HEAD)")
    return ap


COMMANDS = {
    "status": cmd_status,
    "promote": cmd_promote,
    "rollback": cmd_rollback,
    "run": cmd_run,
    "raised": cmd_raised,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return COMMANDS[args.cmd](args)
    except ReleaseError as err:
        print(err.message, file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print("interrupted; the journal keeps the state, run again to resume", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the CLI's promise: a message, never a traceback
        print(
            f"error: unexpected {type(err).__name__}: {err} (a bug in tools.release; please report it)", file=sys.stderr
        )
        return INTERNAL
