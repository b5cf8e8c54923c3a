"""Outputs of referenced stacks for the offline runner: what a `pulumi:pulumi:StackReference` read
returns under the recording monitor (tools/offline/recording.py PlanMocks, which reads the fixtures
through tools/offline/reference_outputs.py; this module plans a stack to write them).

    python -m tools.offline.stack_outputs dev organization/gpu-platform/dev    # (re)write the fixture

The fixture is keyed by project and stack (tools/offline/stack_outputs/gpu-platform+dev.json): a models-only
stack naming `organization/gpu-platform/dev` (self-managed backend) or `<org>/gpu-platform/dev` (Pulumi
Cloud) reads it.

A fixture is the `clusterFacts` and `modelReleases` outputs of an offline plan of the referenced stack
file, as the cluster stack would export them once deployed: values a preview cannot know (`<computed>`: ARNs, issuer URL) get
fixed, obviously fake values named after their path, and secrets stay secret (`{"<secret>": value}` in
the file). tests/plan/test_layered.py checks the fixture matches a fresh plan of the stack file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pulumi.errors import RunError

from tools.offline.config import PROJECT_DIR, ProjectConfigError, load_project
from tools.offline.reference_outputs import COMPUTED, SECRET, SECRET_FAKE, SECRET_KEY, fixture_path, load
from tools.offline.runner import run_stack

__all__ = [
    "EXPORTED",
    "NoClusterFactsError",
    "fixture_path",
    "load",
    "main",
    "outputs_from_plan",
    "write",
]  # `load` reads a fixture back

# The contract between a cluster stack and a models-only stack: what stacks/cluster/reference.py reads
# (clusterFacts: the cluster; modelReleases: the models the cluster stack deploys itself, which a models-only
# stack must not deploy again).
EXPORTED = ("clusterFacts", "modelReleases")


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


class NoClusterFactsError(ValueError):
    """The planned stack file exports no clusterFacts: a fixture of it would read as a stack with no outputs."""


def write(stack: str, stack_name: str) -> Path:
    path = fixture_path(stack_name, load_project(PROJECT_DIR).name)
    outputs = outputs_from_plan(run_stack(stack))
    if "clusterFacts" not in outputs:
        raise NoClusterFactsError(
            f"stack file Pulumi.{stack}.yaml exports no clusterFacts (a models-only stack?); name the stack file "
            "of a cluster stack"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tools.offline.stack_outputs", description="Write the StackReference fixture of a cluster stack."
    )
    ap.add_argument("stack", help="stack file of the cluster stack, e.g. dev (Pulumi.dev.yaml)")
    ap.add_argument(
        "name",
        help="the name models-only stacks reference: organization/gpu-platform/dev on a self-managed backend "
        "(S3, OSS, local), <org>/gpu-platform/dev on Pulumi Cloud",
    )
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        print(f"wrote {write(args.stack, args.name)}")
    except (ProjectConfigError, FileNotFoundError, KeyError, NoClusterFactsError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 2
    except RunError as err:  # the planned stack's ConfigError
        print(f"{args.stack}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
