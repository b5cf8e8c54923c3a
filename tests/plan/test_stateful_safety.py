"""Nothing lost (docs/design.md#nothing-lost): every stateful resource of every stack's plan is protected in
prod, and the diff tool flags the deletion of each one (components/stateful.py lists the types).

Dev stacks: not protected today (a dev cluster, its registry, KMS key and log group may be torn down
with `pulumi destroy`); only their deletion is flagged. Prod: protect on everything stateful, and the
ECR repositories also retainOnDelete.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.stateful import is_stateful
from tests.conftest import Plan
from tools.offline.diff import diff_plans, render_text
from tools.offline.runner import PROJECT_DIR

STACKS = sorted(p.name.split(".")[1] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
PROD = [s for s in STACKS if s.endswith("prod")]


@pytest.mark.parametrize("stack", PROD)
def test_prod_stateful_resources_are_protected(stack: str, plan: Callable[[str], Plan]) -> None:
    stateful = [r for r in plan(stack).data["resources"] if is_stateful(r["type"])]
    assert {r["type"].split(":")[1].split("/")[0] for r in stateful} >= {"kms"}  # keys at least, both clouds
    assert any("Cluster" in r["type"] or "ManagedKubernetes" in r["type"] for r in stateful)
    unprotected = [r["urn"] for r in stateful if not r["options"].get("protect")]
    assert unprotected == []
    for r in stateful:
        if r["type"] == "aws:ecr/repository:Repository":
            assert r["options"].get("retainOnDelete"), r["urn"]


@pytest.mark.parametrize("stack", STACKS)
def test_diff_flags_deleting_each_stateful_resource(stack: str, plan: Callable[[str], Plan]) -> None:
    base = plan(stack).data
    stateful = [r for r in base["resources"] if is_stateful(r["type"])]
    for r in stateful:
        head = {**base, "resources": [x for x in base["resources"] if x["urn"] != r["urn"]]}
        text = render_text(diff_plans(base, head))
        assert f"- delete  {r['type']} {r['name']}  [" in text and "data would be lost]" in text, r["urn"]
        assert "WARNING: 1 protected or stateful resource(s) would be deleted" in text
