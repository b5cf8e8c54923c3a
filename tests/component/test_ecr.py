"""ECR registry: hardened repositories, lifecycle, policies, scanning, CI role, prod protection."""

from __future__ import annotations

import json
from collections.abc import Callable

from components.aws import iam_docs
from components.aws.ecr import lifecycle_policy, repository_policy
from tests.conftest import Plan
from tests.spec_helpers import raw_stack
from tests.validators.test_iam_policies import rendered_policies

REPO = "aws:ecr/repository:Repository"
SCAN = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"


def _repos(p: Plan) -> dict[str, dict[str, object]]:
    return {r["inputs"]["name"]: r for r in p.of_type(REPO)}


def test_prod_repositories_are_immutable_scanned_kms_and_protected(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    repos = _repos(p)
    spec_models = [m["name"] for m in raw_stack("prod").get("models", [])]
    assert set(repos) == {f"gpu-prod/{n}" for n in ["triton-base", *spec_models]}
    for name, r in repos.items():
        i = r["inputs"]
        assert i["imageTagMutability"] == "IMMUTABLE", name  # type: ignore[index]
        assert i["imageScanningConfiguration"] == {"scanOnPush": True}  # type: ignore[index]
        assert i["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": "<computed>"}]  # type: ignore[index]
        assert i["forceDelete"] is False  # type: ignore[index]
        assert r["options"] == {**r["options"], "protect": True, "retainOnDelete": True}  # type: ignore[dict-item]
    key = p.one("aws:kms/key:Key", "gpu-prod-registry-key")
    assert key["options"]["protect"] is True and key["options"]["retainOnDelete"] is True
    assert key["inputs"]["enableKeyRotation"] is True
    assert set(p.outputs["repositoryUrls"]) == {n.removeprefix("gpu-prod/") for n in repos}


def test_dev_repositories_and_key_are_not_protected(plan: Callable[[str], Plan]) -> None:
    p = plan("dev")
    key = p.one("aws:kms/key:Key", "gpu-dev-registry-key")
    # docs/design.md#nothing-lost: dev is destroyable; the key keeps its 30-day deletion window. Prod keeps everything.
    assert key["options"]["protect"] is False and key["options"]["retainOnDelete"] is False
    assert key["inputs"]["deletionWindowInDays"] == 30
    for r in p.of_type(REPO):
        assert r["options"]["protect"] is False


def test_scanning_config_only_where_the_stack_owns_it_enhanced_continuous_in_prod(plan: Callable[[str], Plan]) -> None:
    # The registry scanning configuration is one per account and region: only prod (manageScanning) sets it.
    assert plan("dev").of_type(SCAN) == []
    prod = plan("prod").one(SCAN)["inputs"]
    assert prod == {
        "scanType": "ENHANCED",
        "rules": [
            {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}
        ],
    }


def test_lifecycle_keeps_releases_and_expires_untagged(plan: Callable[[str], Plan]) -> None:
    policies = plan("prod").of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert policies and all(r["inputs"]["policy"] == lifecycle_policy(30, 7) for r in policies)
    rules = json.loads(lifecycle_policy(30, 7))["rules"]
    assert rules[0]["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 7,
    }
    assert rules[1]["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["*"],
        "countType": "imageCountMoreThan",
        "countNumber": 30,
    }
    assert [r["action"] for r in rules] == [{"type": "expire"}] * 2


def test_repository_policy_nodes_pull_only_ci_pushes() -> None:
    doc = json.loads(repository_policy("arn:aws:iam::1:role/node", "arn:aws:iam::1:role/ci"))
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["NodesPull"]["Principal"] == {"AWS": "arn:aws:iam::1:role/node"}
    assert not any("Put" in a or "Upload" in a for a in by_sid["NodesPull"]["Action"])
    assert "ecr:PutImage" in by_sid["CiPushes"]["Action"]
    deny = by_sid["OnlyCiPushes"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:role/ci"]}}
    # Without a CI role nobody may push.
    no_ci = json.loads(repository_policy("arn:aws:iam::1:role/node", None))
    assert [s["Sid"] for s in no_ci["Statement"]] == ["NodesPull", "OnlyCiPushes"]
    assert "Condition" not in no_ci["Statement"][1]


def test_ci_role_trusts_only_the_configured_github_refs(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    # The account's GitHub OIDC provider is referenced by its ARN, not created (one per account).
    assert not [r for r in p.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") if "github" in r["name"]]
    (trust,) = [
        json.loads(d)
        for n, _, k, d in rendered_policies("prod")
        if n == "gpu-prod-registry-ci-push" and k == "assumeRolePolicy"
    ]
    (stmt,) = trust["Statement"]
    assert stmt["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Condition"] == {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {"token.actions.githubusercontent.com:sub": ["repo:acme/models:ref:refs/heads/main"]},
    }
    # A bare owner/repo allows every ref of that repository, nothing else.
    any_ref = json.loads(iam_docs.github_oidc_trust("arn:p", ["acme/x"]))
    assert any_ref["Statement"][0]["Condition"]["StringLike"] == {
        "token.actions.githubusercontent.com:sub": ["repo:acme/x:*"]
    }
    (push,) = [
        json.loads(d) for n, _, k, d in rendered_policies("prod") if n == "gpu-prod-registry-ci-push" and k == "policy"
    ]
    assert push["Statement"][0] == {
        "Sid": "EcrLogin",
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
    }
    assert all(r.startswith("arn:aws:ecr:") for r in push["Statement"][1]["Resource"])
    assert "ciPushRoleArn" in p.outputs


def test_dev_without_ci_repos_has_no_ci_role(plan: Callable[[str], Plan]) -> None:
    names = [r["name"] for r in plan("dev").resources]
    assert not any("ci-push" in n or "github-oidc" in n for n in names)
