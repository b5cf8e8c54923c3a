"""IAM policy documents as plain data, rendered to JSON with sorted keys.

Every trust and permission policy the AWS components attach is built here, so one place decides how
they look, the plan shows them as deterministic JSON strings (a key reordering never shows as a diff),
and tests/validators/test_iam_policies.py can lint each of them with parliament.

Pure Python: the ARNs that are only known after apply are passed in through `pulumi.Output.apply`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

Statement = dict[str, Any]


def partition_of(region: str) -> str:
    """AWS partition from the region name (known offline; no invoke needed to shape an ARN)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def managed_policy_arn(partition: str, name: str) -> str:
    """`AmazonEKSClusterPolicy` -> arn:aws:iam::aws:policy/AmazonEKSClusterPolicy (service-role/ kept)."""
    return f"arn:{partition}:iam::aws:policy/{name}"


def document(*statements: Statement) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def service_trust(service: str, *, tag_session: bool = False, conditions: Mapping[str, Any] | None = None) -> str:
    """Trust policy letting one AWS service principal assume the role."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    stmt: Statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}
    if conditions:
        stmt["Condition"] = dict(conditions)
    return document(stmt)


def irsa_trust(oidc_provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> str:
    """IRSA trust: only the given service account of the given namespace, and only for STS tokens.

    Both `sub` and `aud` are pinned (EKS BPG "scope the IAM role trust policy"), so another service
    account in the cluster — or another cluster with the same OIDC issuer host — cannot assume it.
    """
    host = issuer_url.removeprefix("https://")
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                    f"{host}:aud": "sts.amazonaws.com",
                }
            },
        }
    )


def pod_identity_trust(account_id: str, cluster_arn: str, namespace: str, service_account: str) -> str:
    """EKS Pod Identity trust, scoped to this account, this cluster and one namespace/service account.

    The Pod Identity agent tags the session with kubernetes-namespace / kubernetes-service-account and
    the cluster ARN (AWS EKS user guide "pod-id-abac"), so the trust can check them: a role made for the
    EBS CSI controller cannot be associated with some other service account.
    """
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {
                    "aws:SourceAccount": account_id,
                    "aws:RequestTag/kubernetes-namespace": namespace,
                    "aws:RequestTag/kubernetes-service-account": service_account,
                },
                "ArnEquals": {"aws:SourceArn": cluster_arn},
            },
        }
    )


def github_oidc_trust(provider_arn: str, repos: Sequence[str]) -> str:
    """Trust for a CI role: GitHub Actions OIDC tokens of the listed `owner/repo[:ref]` only.

    `owner/repo` alone allows every ref of that repository (`repo:owner/repo:*`); `owner/repo:refs/heads/main`
    allows only pushes from main. The audience is pinned to STS.
    """
    subjects = sorted(
        f"repo:{r.split(':', 1)[0]}:ref:{r.split(':', 1)[1]}" if ":" in r else f"repo:{r}:*" for r in repos
    )
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": subjects},
            },
        }
    )
