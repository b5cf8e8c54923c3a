"""The `models:` block's rule: every release validated and capacity-checked at preview.

The rules themselves live next to the component (components/models/validation.py and
capacity_check.py) so a Python caller of ModelRelease gets the same checks; this rule runs them for
every `models[i]` of the stack file with the stack's node pools, and reports config key paths.
The capacity check runs only for a model with no other problem (it needs known versions and pools).
Listed in stacks/spec/rules.py (it runs only when nodePools, cloud and zones passed their rules).
"""

from __future__ import annotations

from collections.abc import Iterator

from components.models.validation import check_release, check_releases
from stacks.contract import pool_facts
from stacks.spec.base import Problem
from stacks.spec.stack import StackSpec
from stacks.workloads.capacity import model_capacity
from stacks.workloads.release_args import release_args


def models(spec: StackSpec) -> Iterator[Problem]:
    if not spec.models:
        return
    pools = pool_facts(spec)
    plain = [release_args(spec, i, pools) for i in range(len(spec.models))]
    for i, loc, msg in check_releases(plain):
        yield ("models", i, *loc), msg
    clean: list[int] = []
    for i, a in enumerate(plain):
        found = check_release(a)
        for loc, msg in found:
            yield ("models", i, *loc), msg
        if not found:
            clean.append(i)
    if spec.is_prod:
        for i, m in enumerate(spec.models):
            for j, v in enumerate(m.versions):
                if v.artifact is None:
                    yield (
                        ("models", i, "versions", j, "artifact"),
                        ("required in prod: set {uri, sha256} so the served weights are the evaluated ones"),
                    )
    checked = model_capacity(spec, pools, clean)  # once per stack: the workload layer and the platform plan reuse it
    for i in clean:
        for msg in checked.problems_of(i):
            yield ("models", i), msg
