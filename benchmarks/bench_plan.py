"""Offline plan at prod scale vs the SDK's own floor. Prints measured ratios; asserts nothing.

    .venv/bin/python benchmarks/bench_plan.py            (make bench)

For N = 50, 100, 200 model releases (benchmarks/stack_generator.py) it measures, each in a fresh
process so imports and memory are counted per scenario:
- plan: the real __main__.py under the recording monitor (tools.offline.runner.run_stack), cold (first
  run: lazy provider-module imports) and warm (second run in the same process);
- floor: the same number of bare registrations (one small custom resource each) under the same
  recording monitor — what the Pulumi SDK itself costs per resource, with none of our code;
and prints plan/floor (target <= 1.25), the 200/100 scaling ratio (target <= 2.1), peak RSS and counts.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FLOOR_MAIN = """
import json
import pulumi
cfg = pulumi.Config("bench")
n = int(cfg.require("count"))
same = cfg.get("inputs")
if same:  # fair floor: the plan's own types and inputs, registered bare (no parents, options or our code)
    for i, r in enumerate(json.load(open(same))):
        pulumi.CustomResource(r["type"], f"r{i}-{r['name']}", r["inputs"])
else:
    for i in range(n):
        pulumi.CustomResource("bench:index:Bare", f"r{i}", {"value": i, "name": f"r{i}"})
"""


def _measure_plan(n: int) -> dict[str, float]:
    from benchmarks.stack_generator import stack_config
    from tools.offline.runner import run_stack

    cfg = stack_config(n)
    t0 = time.perf_counter()
    plan = run_stack(cfg.stack, config=cfg)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_stack(cfg.stack, config=cfg)
    warm = time.perf_counter() - t0
    Path(f"/tmp/bench-plan-{n}-inputs.json").write_text(
        json.dumps([{"type": r["type"], "name": r["name"], "inputs": r["inputs"]} for r in plan["resources"]])
    )
    return {
        "cold": cold,
        "warm": warm,
        "resources": len(plan["resources"]),
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _measure_floor(count: int, inputs: str = "") -> dict[str, float]:
    from tools.offline.config import StackConfig
    from tools.offline.runner import run_stack

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "Pulumi.yaml").write_text("name: bench\nruntime: python\n")
        (d / "__main__.py").write_text(FLOOR_MAIN)
        cfg = StackConfig(
            project="bench", stack="floor", values={"bench:count": str(count), "bench:inputs": inputs}, secret_keys=[]
        )
        t0 = time.perf_counter()
        plan = run_stack("floor", d, config=cfg)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_stack("floor", d, config=cfg)
        warm = time.perf_counter() - t0
    return {
        "cold": cold,
        "warm": warm,
        "resources": len(plan["resources"]),
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(kind: str, n: int, *extra: str) -> dict[str, float]:
    res = subprocess.run(
        [sys.executable, __file__, f"--{kind}", str(n), *extra], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    if res.returncode != 0:
        raise SystemExit(f"{kind} {n} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) >= 3:
        if sys.argv[1] == "--plan":
            print(json.dumps(_measure_plan(int(sys.argv[2]))))
        else:
            print(json.dumps(_measure_floor(int(sys.argv[2]), *sys.argv[3:4])))
        return 0
    print("floor = bare tiny registrations; fair floor = the plan's own types and inputs registered bare")
    print(
        f"{'releases':>8} {'resources':>9} {'plan cold':>9} {'plan warm':>9} {'floor warm':>10} "
        f"{'plan/floor':>10} {'fair floor':>10} {'plan/fair':>9} {'peak RSS':>9}"
    )
    warm: dict[int, float] = {}
    for n in (50, 100, 200):
        p = _child("plan", n)
        f = _child("floor", int(p["resources"]))
        fair = _child("floor", int(p["resources"]), f"/tmp/bench-plan-{n}-inputs.json")
        warm[n] = p["warm"]
        print(
            f"{n:>8} {int(p['resources']):>9} {p['cold']:>8.2f}s {p['warm']:>8.2f}s {f['warm']:>9.2f}s "
            f"{p['warm'] / f['warm']:>10.2f} {fair['warm']:>9.2f}s {p['warm'] / fair['warm']:>9.2f} "
            f"{p['maxrss_mib']:>7.0f}MiB"
        )
    print(f"scaling 200/100 (warm plan time): {warm[200] / warm[100]:.2f}  (target <= 2.1)")
    print("plan/floor target <= 1.25")
    return 0


if __name__ == "__main__":
    sys.exit(main())
