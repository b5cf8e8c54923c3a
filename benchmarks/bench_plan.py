"""Offline plan vs the SDK's fair floor, and the 1,000-model plan. Prints measured ratios; asserts nothing.

    .venv/bin/python benchmarks/bench_plan.py [--repeat R] [--models 100,200,400] [--scale 1000]   (make bench)

Stacks come from benchmarks/stack_generator.py (Pulumi.prod.yaml with N generated model releases). Every
measurement runs in a fresh process, which first plans a 4-model stack (or registers 50 resources, for a
floor) so that imports and first-use caches are not counted, collects garbage, then measures one run:
- plan: the real __main__.py under the recording monitor (tools.offline.runner.run_stack);
- fair floor: the plan's own resources (same types, same recorded inputs, same count) registered bare
  through the same runner — no parents, options, dependencies or code of ours: what the Pulumi SDK and the
  mock monitor cost for exactly these resources;
- bare floor: as many tiny registrations (one type, two inputs), for context.

Times are process CPU seconds (time.process_time, all threads of the child): on a shared machine they move
much less with other load than wall time, which is printed for the plan. Each figure is the minimum over
R repeats (default 2); ratios compare figures of the same run of this script.

Targets (issue 20): plan/fair floor <= 1.25 at every N, and per doubling of N
plan(2N)/plan(N) <= 1.05 x floor(2N)/floor(N) (for a step other than x2, the growth quotient
(plan growth / floor growth) is taken per doubling: quotient ** (1 / log2(step))).
The scale row (default 1,000 models) reports plan time, fair floor, peak RSS and the time to write
plan.json, manifests/ and report.md (tools.offline.artifacts, no chart rendering).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATIO_TARGET = 1.25
GROWTH_TARGET = 1.05
WARMUP_MODELS = 4
WARMUP_RESOURCES = 50

# The floor program reads its resources from a module the measuring process fills in before the run,
# so that reading them is not timed.
FLOOR_MAIN = """
import importlib
import pulumi
from pulumi.runtime import rpc
from bench_floor_inputs import resources, typed

PACKAGES = {"kubernetes": "pulumi_kubernetes", "aws": "pulumi_aws", "alicloud": "pulumi_alicloud", "random": "pulumi_random"}
for pkg in sorted({r["type"].split(":")[0] for r in resources} & set(PACKAGES)):
    importlib.import_module(PACKAGES[pkg])  # registers the package's classes (imported by the warm-up run)

def python_class(token):
    # The class the provider package registers for a type token (what the plan's program instantiated).
    pkg, mod, _ = token.split(":", 2)
    for m in rpc._RESOURCE_MODULES.get(f"{pkg}:{mod}", []):
        info = getattr(m, "mod_info", None) or {}
        name = info.get("classes", {}).get(token)
        if name:
            return getattr(importlib.import_module(info["fqn"]), name)
    return None

for i, r in enumerate(resources):
    name = f"r{i}-{r['name']}"
    cls = python_class(r["type"]) if typed and r["custom"] else None
    if cls is not None:  # the same class, constructed bare: its input/output types, no aliases or options
        pulumi.CustomResource.__init__(cls.__new__(cls), r["type"], name, r["inputs"])
    elif r["custom"]:
        pulumi.CustomResource(r["type"], name, r["inputs"])
    else:
        pulumi.ComponentResource(r["type"], name, r["inputs"])
"""


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn: Any) -> tuple[Any, float, float]:
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def _measure_plan(n: int, inputs_out: str, write: bool) -> dict[str, float]:
    from benchmarks.stack_generator import stack_config
    from tools.offline import artifacts
    from tools.offline.runner import run_stack

    warm = stack_config(WARMUP_MODELS)
    run_stack(warm.stack, config=warm)
    cfg = stack_config(n)
    plan, cpu, wall = _timed(lambda: run_stack(cfg.stack, config=cfg))
    out: dict[str, float] = {"cpu": cpu, "wall": wall, "resources": len(plan["resources"])}
    if write:
        with tempfile.TemporaryDirectory() as tmp:
            _, out["write_cpu"], _ = _timed(lambda: artifacts.write_all(plan, Path(tmp), render=False))
    out["peak_rss_mib"] = _peak_rss_mib()
    if inputs_out:
        Path(inputs_out).write_text(
            json.dumps([{k: r[k] for k in ("type", "name", "custom", "inputs")} for r in plan["resources"]])
        )
    return out


def _run_floor(resources: list[dict[str, Any]], d: Path, typed: bool) -> dict[str, Any]:
    from tools.offline.config import StackConfig
    from tools.offline.runner import run_stack

    inputs = sys.modules["bench_floor_inputs"]
    inputs.resources, inputs.typed = resources, typed  # type: ignore[attr-defined]
    cfg = StackConfig(project="bench", stack="floor", values={}, secret_keys=[])
    return run_stack("floor", d, config=cfg)


def _measure_floor(inputs: str, count: int, typed: bool) -> dict[str, float]:
    if inputs:
        resources = json.loads(Path(inputs).read_text())
    else:
        resources = [
            {"type": "bench:index:Bare", "name": str(i), "custom": True, "inputs": {"value": i}} for i in range(count)
        ]
    sys.modules["bench_floor_inputs"] = types.ModuleType("bench_floor_inputs")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "Pulumi.yaml").write_text("name: bench\nruntime: python\n")
        (d / "__main__.py").write_text(FLOOR_MAIN)
        one_per_type = list({r["type"]: r for r in resources}.values())
        _run_floor(resources[:WARMUP_RESOURCES] + one_per_type, d, typed)  # imports every class used
        plan, cpu, wall = _timed(lambda: _run_floor(resources, d, typed))
    return {"cpu": cpu, "wall": wall, "resources": len(plan["resources"]), "peak_rss_mib": _peak_rss_mib()}


def _child(*args: str) -> dict[str, float]:
    res = subprocess.run(
        [sys.executable, __file__, "--child", *args], cwd=ROOT, capture_output=True, text=True, timeout=3600
    )
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per key, the minimum over repeats (noise on a shared machine only ever adds time)."""
    return {k: min(r[k] for r in runs) for k in runs[0]}


def _measure(n: int, repeat: int, tmp: Path, *, write: bool = False) -> dict[str, dict[str, float]]:
    inputs = str(tmp / f"inputs-{n}.json")
    plans, fairs, bares = [], [], []
    for _ in range(repeat):  # interleaved, so that a burst of load hits all three alike
        plans.append(_child("plan", str(n), inputs, "write" if write else ""))
        count = str(int(plans[-1]["resources"]))
        fairs.append(_child("floor", count, inputs, "typed"))
        bares.append(_child("floor", count, "", ""))
    return {"plan": _best(plans), "fair": _best(fairs), "bare": _best(bares)}


def _per_doubling(quotient: float, step: float) -> float:
    return quotient ** (1 / math.log2(step))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, n, inputs, flag = (sys.argv[2:] + [""] * 4)[:4]
        if kind == "plan":
            print(json.dumps(_measure_plan(int(n), inputs, flag == "write")))
        else:
            print(json.dumps(_measure_floor(inputs, int(n), flag == "typed")))
        return 0
    ap = argparse.ArgumentParser(description="Offline plan vs the SDK's fair floor, and the 1,000-model plan.")
    ap.add_argument("--repeat", type=int, default=2, help="runs per figure; the minimum is reported (default 2)")
    ap.add_argument("--models", default="100,200,400", help="model counts, doubling (default 100,200,400)")
    ap.add_argument("--scale", type=int, default=1000, help="models in the scale row (0: skip; default 1000)")
    args = ap.parse_args()
    ns = [int(x) for x in args.models.split(",") if x]
    print(
        f"process CPU seconds, minimum of {args.repeat} runs, each in a fresh process after a warm-up plan; "
        "fair floor = the plan's resources (types, inputs) registered bare"
    )
    print(
        f"{'models':>6} {'resources':>9} {'plan':>8} {'(wall)':>8} {'fair floor':>10} {'bare floor':>10} "
        f"{'plan/fair':>9} {'peak RSS':>9}"
    )
    rows: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for n in [*ns, *([args.scale] if args.scale else [])]:
            m = _measure(n, args.repeat if n in ns else 1, tmp, write=n == args.scale)
            rows[n] = m
            p, f, b = m["plan"], m["fair"], m["bare"]
            print(
                f"{n:>6} {int(p['resources']):>9} {p['cpu']:>7.2f}s {p['wall']:>7.2f}s {f['cpu']:>9.2f}s "
                f"{b['cpu']:>9.2f}s {p['cpu'] / f['cpu']:>9.2f} {p['peak_rss_mib']:>6.0f}MiB",
                flush=True,
            )
    print()
    worst_ratio = max(rows[n]["plan"]["cpu"] / rows[n]["fair"]["cpu"] for n in rows)
    print(f"plan/fair floor, worst over N: {worst_ratio:.2f}   (target <= {RATIO_TARGET})")
    order = sorted(rows)
    for a, b in zip(order, order[1:], strict=False):
        step = rows[b]["plan"]["resources"] / rows[a]["plan"]["resources"]
        pg = rows[b]["plan"]["cpu"] / rows[a]["plan"]["cpu"]
        fg = rows[b]["fair"]["cpu"] / rows[a]["fair"]["cpu"]
        print(
            f"growth {a}->{b} models (resources x{step:.2f}): plan x{pg:.2f}, fair floor x{fg:.2f}; "
            f"plan/floor growth per doubling {_per_doubling(pg / fg, step):.3f}   (target <= {GROWTH_TARGET})"
        )
    if len(order) > 2:  # one step's quotient moves with the noise of four figures; the whole range less so
        a, b = order[0], order[-1]
        step = rows[b]["plan"]["resources"] / rows[a]["plan"]["resources"]
        q = (rows[b]["plan"]["cpu"] / rows[a]["plan"]["cpu"]) / (rows[b]["fair"]["cpu"] / rows[a]["fair"]["cpu"])
        print(f"growth {a}->{b} models, whole range: plan/floor growth per doubling {_per_doubling(q, step):.3f}")
    if args.scale:
        s = rows[args.scale]["plan"]
        print(
            f"scale: {args.scale} models, {int(s['resources'])} resources: plan {s['cpu']:.1f} s CPU "
            f"({s['wall']:.1f} s wall), writing plan.json/manifests/report.md {s['write_cpu']:.1f} s CPU, "
            f"peak RSS {s['peak_rss_mib']:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
