"""Outputs of referenced stacks for the offline runner: what a `pulumi:pulumi:StackReference` read
returns under the recording monitor (tools/offline/recording.py PlanMocks).

    python -m tools.offline.stack_outputs dev acme/gpu-platform/dev    # (re)write the fixture

A fixture is the `clusterFacts` output of an offline plan of the referenced stack file, as the cluster
stack would export it once deployed: values a preview cannot know (`<computed>`: ARNs, issuer URL) get
fixed, obviously fake values named after their path, and secrets stay secret (`{"<secret>": value}` in
the file). tests/plan/test_layered.py checks the fixture matches a fresh plan of the stack file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

FIXTURE_DIR = Path(__file__).resolve().parent / "stack_outputs"
EXPORTED = ("clusterFacts",)  # the contract between a cluster stack and a models-only stack
# The runner's placeholders (tools/offline/recording.py imports this module, so they are spelled here).
COMPUTED = "<computed>"
SECRET = "<secret>"
SECRET_KEY = "<secret>"
SECRET_FAKE = "offline-secret:"


def fixture_path(stack_name: str) -> Path:
    return FIXTURE_DIR / f"{stack_name.replace('/', '+')}.json"


def _deployed(value: Any, path: str) -> Any:
    if value == COMPUTED:
        return f"offline-computed:{path}"
    if value == SECRET:
        return {SECRET_KEY: f"{SECRET_FAKE}{path}"}
    if isinstance(value, dict):
        return {k: _deployed(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_deployed(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def outputs_from_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """The referenced stack's outputs as a deployed stack would hand them over."""
    return {k: _deployed(plan["outputs"][k], k) for k in EXPORTED if k in plan["outputs"]}


def load(stack_name: str) -> dict[str, Any]:
    path = fixture_path(stack_name)
    if not path.exists():
        raise KeyError(
            f"the offline runner has no outputs for stack reference {stack_name!r}; write "
            f"{path.relative_to(FIXTURE_DIR.parent.parent.parent)} with "
            "`python -m tools.offline.stack_outputs STACK-FILE ORG/PROJECT/STACK`"
        )
    return json.loads(path.read_text())


def write(stack: str, stack_name: str) -> Path:
    from tools.offline.runner import run_stack

    path = fixture_path(stack_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outputs_from_plan(run_stack(stack)), indent=2, sort_keys=True) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tools.offline.stack_outputs", description="Write the StackReference fixture of a cluster stack."
    )
    ap.add_argument("stack", help="stack file of the cluster stack, e.g. dev (Pulumi.dev.yaml)")
    ap.add_argument("name", help="the name models-only stacks reference, e.g. acme/gpu-platform/dev")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    print(f"wrote {write(args.stack, args.name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
