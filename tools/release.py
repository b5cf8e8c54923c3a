"""Rollout tooling for model releases: step candidate weights in a stack file, show the plan diff, gate
each step on the SLO PromQL.

    python -m tools.release status [--stack S]
    python -m tools.release promote MODEL --stack S (--next | --to WEIGHT) [--prometheus URL]
    python -m tools.release rollback MODEL --stack S

- promote: with `--prometheus`, first judges the candidate at its current weight with
  components/observability/slo.gate_queries (the very PromQL of its SLO alerts): "pass" promotes;
  "fail" and "inconclusive" (too little traffic to judge — never a pass) refuse, exit 1. Then edits
  `traffic.candidateWeight` (comments and formatting of the stack file kept: ruamel.yaml round trip),
  re-runs the offline plan and prints the diff it causes. An invalid result (e.g. the new step does not
  fit the pools) restores the file and exits 2. `--next` at 100% finishes the rollout: the candidate
  becomes the stable version; the old stable keeps running (warm) until it is removed from `versions`.
- rollback: candidate weight 0. The stable version never stopped serving, so this is one VirtualService
  change, not a cold GPU start.
Exit codes: 0 done; 1 gate refused; 2 invalid request or resulting config.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from components.observability.slo import GateVerdict, SloTarget, Workload, gate_queries, gate_verdict
from tools.offline.config import PROJECT_DIR

KEY = "gpu-platform:models"


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)  # the stack files' style: "  - name: ..." under a key
    return y


@dataclass
class StackFile:
    path: Path
    doc: Any

    @classmethod
    def load(cls, project_dir: Path, stack: str) -> StackFile:
        path = project_dir / f"Pulumi.{stack}.yaml"
        if not path.exists():
            raise SystemExit(f"error: no stack file {path}")
        return cls(path, _yaml().load(path.read_text()))

    def models(self) -> list[CommentedMap]:
        return list(self.doc.get("config", {}).get(KEY) or [])

    def model(self, name: str) -> CommentedMap:
        for m in self.models():
            if m.get("name") == name:
                return m
        raise SystemExit(
            f"error: {self.path.name} has no model {name!r}; models: "
            f"{', '.join(str(m.get('name')) for m in self.models()) or 'none'}"
        )

    def text(self) -> str:
        buf = io.StringIO()
        _yaml().dump(self.doc, buf)
        return buf.getvalue()

    def save(self) -> None:
        self.path.write_text(self.text())


def split(m: CommentedMap) -> str:
    t = m["traffic"]
    cand = t.get("candidate")
    w = int(t.get("candidateWeight", 0))
    if not cand:
        return f"stable {t['stable']} 100%"
    return f"stable {t['stable']} {100 - w}%, candidate {cand} {w}%"


def next_weight(m: CommentedMap) -> int | None:
    """The next rollout step above the current weight; None when the candidate already has 100%."""
    steps = [int(s) for s in m.get("rolloutSteps", [10, 25, 50, 100])]
    w = int(m["traffic"].get("candidateWeight", 0))
    return next((s for s in steps if s > w), None)


def evaluate_gate(
    prometheus: str, workload: Workload, slo: SloTarget, timeout: float = 10.0
) -> tuple[GateVerdict, dict[str, int]]:
    """Run the gate's instant queries against Prometheus' HTTP API and decide (slo.gate_verdict)."""
    counts: dict[str, int] = {}
    for name, query in gate_queries(workload, slo).items():
        url = f"{prometheus.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - operator-given URL
            body = json.load(resp)
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus query {name} failed: {body}")
        counts[name] = len(body["data"]["result"])
    return gate_verdict(counts), counts


def _slo(m: CommentedMap) -> SloTarget:
    s = m.get("slo") or {}
    return SloTarget(
        p99_ms=float(s.get("p99Ms", 2000)),
        error_ratio=float(s.get("errorRatio", 0.01)),
        window=str(s.get("window", "5m")),
        min_rps=float(s.get("minRps", 0.1)),
    )


def _plan(stack: str, project_dir: Path) -> dict[str, Any]:
    from tools.offline.config import load_stack_config
    from tools.offline.runner import run_stack

    return run_stack(stack, PROJECT_DIR, config=load_stack_config(project_dir, stack))


def _apply(sf: StackFile, stack: str, project_dir: Path, describe: str) -> int:
    """Save the edited stack file, print the plan diff it causes; restore the file if the plan fails."""
    from pulumi.errors import RunError

    from tools.offline.diff import diff_plans, render_text

    original = sf.path.read_text()
    base = _plan(stack, project_dir)
    sf.save()
    try:
        head = _plan(stack, project_dir)
    except RunError as err:
        sf.path.write_text(original)
        print(f"{describe}: refused, the new config is invalid; {sf.path.name} left unchanged\n{err}", file=sys.stderr)
        return 2
    print(describe)
    sys.stdout.write(render_text(diff_plans(base, head)))
    print(f"wrote {sf.path.name}; apply with: pulumi up -s {stack}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    stacks = [args.stack] if args.stack else sorted(p.name[7:-5] for p in args.project_dir.glob("Pulumi.*.yaml"))
    for stack in stacks:
        for m in StackFile.load(args.project_dir, stack).models():
            nxt = next_weight(m) if m["traffic"].get("candidate") else None
            tail = f"; next step {nxt}%" if nxt is not None else ""
            print(f"{stack} {m['name']}: {split(m)}{tail}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    sf = StackFile.load(args.project_dir, args.stack)
    m = sf.model(args.model)
    t = m["traffic"]
    cand = t.get("candidate")
    if not cand:
        print(f"error: model {args.model!r} has no candidate to promote; add traffic.candidate", file=sys.stderr)
        return 2
    current = int(t.get("candidateWeight", 0))
    if args.prometheus:
        ns = str(m.get("namespace") or m["name"])
        verdict, counts = evaluate_gate(args.prometheus, Workload(ns, str(m["name"]), str(cand)), _slo(m))
        print(
            f"gate {args.model} {cand} at {current}%: {verdict} (series: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            + ")"
        )
        if verdict != "pass":
            why = (
                "too little traffic to judge; inconclusive is never a pass — wait for traffic or raise it "
                "with a header route"
                if verdict == "inconclusive"
                else f"SLO breached; roll back with: python -m tools.release rollback {args.model} --stack {args.stack}"
            )
            print(f"promotion refused: {why}", file=sys.stderr)
            return 1
    before = split(m)
    if args.next and current >= 100:
        t["stable"] = cand
        del t["candidate"]
        if "candidateWeight" in t:
            del t["candidateWeight"]
        return _apply(
            sf,
            args.stack,
            args.project_dir,
            f"{args.model}: rollout finished, {before} -> {split(m)} (previous stable stays deployed, warm)",
        )
    target = next_weight(m) if args.next else args.to
    if target is None or not 0 <= target <= 100:
        print(f"error: weight must be 0-100, got {target}", file=sys.stderr)
        return 2
    t["candidateWeight"] = target
    return _apply(sf, args.stack, args.project_dir, f"{args.model}: {before} -> {split(m)}")


def cmd_rollback(args: argparse.Namespace) -> int:
    sf = StackFile.load(args.project_dir, args.stack)
    m = sf.model(args.model)
    t = m["traffic"]
    if not t.get("candidate") or int(t.get("candidateWeight", 0)) == 0:
        print(f"{args.model}: nothing to roll back ({split(m)})")
        return 0
    before = split(m)
    t["candidateWeight"] = 0
    return _apply(
        sf,
        args.stack,
        args.project_dir,
        f"{args.model}: rollback, {before} -> {split(m)} (stable was never scaled down)",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.release", description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="directory of the stack files")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("status", help="traffic split of every model")
    st.add_argument("--stack")
    pr = sub.add_parser("promote", help="raise the candidate's weight (gated with --prometheus)")
    pr.add_argument("model")
    pr.add_argument("--stack", required=True)
    how = pr.add_mutually_exclusive_group(required=True)
    how.add_argument("--to", type=int, help="set the candidate weight")
    how.add_argument("--next", action="store_true", help="next of rolloutSteps; at 100 finish the rollout")
    pr.add_argument("--prometheus", help="Prometheus URL: gate on the candidate's SLO first")
    rb = sub.add_parser("rollback", help="candidate weight to 0")
    rb.add_argument("model")
    rb.add_argument("--stack", required=True)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    return {"status": cmd_status, "promote": cmd_promote, "rollback": cmd_rollback}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
