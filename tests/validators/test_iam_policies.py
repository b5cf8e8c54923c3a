"""Every IAM policy document the stacks render passes parliament, or the finding has a written reason in
tests/validators/iam_findings.yaml.

In a plain offline plan many documents are `<computed>` (they embed ARNs known only after apply). Here
the plan runs with mocks that answer every resource with fake but well-formed ARNs, so the program's own
`apply` callbacks render the real documents, and the test asserts none is left unrendered: a new policy
anywhere in the stack is linted without anyone adding it to a list.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from parliament import analyze_policy_string
from pulumi.runtime import mocks

from tests.conftest import STACKS
from tests.spec_helpers import raw_stack
from tools.offline.fixtures import ACCOUNT_ID
from tools.offline.recording import COMPUTED, PlanMocks, RecordingMonitor
from tools.offline.runner import run_stack

AWS_STACKS = [
    s for s in STACKS if raw_stack(s).get("cloud", "aws") == "aws" and "clusterStack" not in raw_stack(s)
]  # models-only stacks build no cluster

FINDINGS_FILE = Path(__file__).with_name("iam_findings.yaml")
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
# (resource type, input holding a policy document, kind of policy)
POLICY_INPUTS = {
    ("aws:iam/role:Role", "assumeRolePolicy"): "trust",
    ("aws:iam/rolePolicy:RolePolicy", "policy"): "identity",
    ("aws:iam/policy:Policy", "policy"): "identity",
    ("aws:kms/key:Key", "policy"): "key",
    ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy"): "repository",
}


def fake_arn(type_token: str, name: str, inputs: dict[str, Any] | None = None) -> str:
    """'aws:iam/role:Role', 'x' -> arn:aws:iam::<acct>:role/x (global IAM has no region; S3 ARNs carry
    only the bucket name)."""
    module, resource = type_token.split(":")[1].split("/")
    if module == "s3":
        return f"arn:aws:s3:::{(inputs or {}).get('bucket', name)}"
    region = "" if module == "iam" else "us-east-1"
    return f"arn:aws:{module}:{region}:{ACCOUNT_ID}:{resource.lower()}/{name}"


class ArnMocks(PlanMocks):
    """Like the plan mocks, but every resource also gets an ARN, a name and the outputs the program reads."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        _, state = super().new_resource(args)
        if not args.typ.startswith("aws:"):
            return f"{args.name}-id", state
        state.setdefault("arn", fake_arn(args.typ, args.name, dict(args.inputs)))
        state.setdefault("name", args.name)
        if args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(args.inputs.get("url", ISSUER)).removeprefix("https://")
            state["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host}"
        if args.typ == "aws:eks/cluster:Cluster":
            state["identities"] = [{"oidcs": [{"issuer": ISSUER}]}]
        return f"{args.name}-id", state


@functools.cache
def rendered_policies(stack: str) -> tuple[tuple[str, str, str, str], ...]:
    """(resource name, kind, input key, JSON document) for every policy input of the stack."""
    plan = run_stack(stack, monitor=RecordingMonitor(ArnMocks()))
    out: list[tuple[str, str, str, str]] = []
    for r in plan["resources"]:
        for (type_, key), kind in POLICY_INPUTS.items():
            if r["type"] == type_ and key in r["inputs"]:
                out.append((r["name"], kind, key, r["inputs"][key]))
    return tuple(out)


def accepted() -> list[dict[str, Any]]:
    return yaml.safe_load(FINDINGS_FILE.read_text())


def is_accepted(kind: str, finding: Any) -> bool:
    for entry in accepted():
        if entry["kind"] != kind or entry["issue"] != finding.issue:
            continue
        if "detail" in entry and entry["detail"] != finding.detail:
            continue
        if "actions" in entry:
            actions = finding.location.get("actions") if isinstance(finding.location, dict) else None
            listed = finding.detail if isinstance(finding.detail, list) else actions
            if sorted(str(a).lower() for a in listed or []) != sorted(a.lower() for a in entry["actions"]):
                continue
        return True
    return False


def test_every_accepted_finding_has_a_reason() -> None:
    for entry in accepted():
        assert entry["kind"] in {"trust", "key", "repository", "identity"}, entry
        assert len(str(entry.get("reason", ""))) > 40, f"{entry['issue']}: write down why it is accepted"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_policy_is_rendered(stack: str) -> None:
    policies = rendered_policies(stack)
    assert policies, "the stack renders no IAM policies?"
    unrendered = [name for name, _, _, doc in policies if doc == COMPUTED or not doc.startswith("{")]
    assert unrendered == []
    for _, _, _, doc in policies:
        assert json.loads(doc)["Version"] == "2012-10-17"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_parliament_has_no_unexplained_findings(stack: str) -> None:
    problems = []
    for name, kind, key, doc in rendered_policies(stack):
        for f in analyze_policy_string(doc, include_community_auditors=True).findings:
            if not is_accepted(kind, f):
                problems.append(f"{name}.{key} ({kind}): {f.issue} {f.detail}")
    assert problems == []


def test_lint_catches_a_bad_policy() -> None:
    # The accept list must not swallow real problems: a wildcard identity policy is reported.
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    findings = analyze_policy_string(doc, include_community_auditors=True).findings
    assert findings and not all(is_accepted("identity", f) for f in findings)
    # ...and a trust policy's missing Resource is accepted only for trust policies.
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    (malformed,) = analyze_policy_string(trust).findings
    assert is_accepted("trust", malformed) and not is_accepted("identity", malformed)


def test_dev_renders_the_expected_policy_set() -> None:
    names = sorted(f"{name}.{key}" for name, _, key, _ in rendered_policies("dev"))
    for expected in (
        "gpu-dev-cluster-role.assumeRolePolicy",
        "gpu-dev-node-role.assumeRolePolicy",
        "gpu-dev-cluster-encryption.policy",
        "gpu-dev-secrets.policy",
        "gpu-dev-logs.policy",
        "gpu-dev-registry-key.policy",
        "gpu-dev-addons-ebs-csi-role.assumeRolePolicy",
    ):
        assert expected in names
