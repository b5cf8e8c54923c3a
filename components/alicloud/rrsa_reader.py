"""RRSA artifact reader (Alibaba Cloud): a read-only RAM role for one model's ServiceAccount on named OSS
buckets — the cloud seam's `artifact_reader` on ACK (components/cloud.py; docs/model-weights.md#identity).

ACK's RRSA (enabled on every cluster: components/alicloud/ack.py) issues ServiceAccount tokens the RAM
OIDC provider trusts. The role trusts exactly `system:serviceaccount:<namespace>:<service account>` with
audience `sts.aliyuncs.com`, and may only list and get objects of the named buckets. The pod spec projects
the token itself (no webhook needed): the seam returns the audience and the variables the fetcher reads
(components/models/fetcher/fetch.py: AssumeRoleWithOIDC).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_alicloud as alicloud

from components.cloud import ArtifactAccess, ArtifactReaderFactory
from components.models.names import k8s_name

RRSA_AUDIENCE = "sts.aliyuncs.com"
RAM_ROLE_NAME_MAX = 64


def trust_policy(oidc_provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> str:
    return json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Action": "sts:AssumeRole",
                    "Effect": "Allow",
                    "Principal": {"Federated": [oidc_provider_arn]},
                    "Condition": {
                        "StringEquals": {
                            "oidc:aud": RRSA_AUDIENCE,
                            "oidc:iss": issuer_url,
                            "oidc:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


def read_policy(buckets: Sequence[str]) -> str:
    resources = sorted([f"acs:oss:*:*:{b}" for b in buckets] + [f"acs:oss:*:*:{b}/*" for b in buckets])
    return json.dumps(
        {
            "Version": "1",
            "Statement": [{"Effect": "Allow", "Action": ["oss:GetObject", "oss:ListObjects"], "Resource": resources}],
        },
        sort_keys=True,
    )


def rrsa_reader_factory(
    cluster_name: str, oidc_provider_arn: pulumi.Output[str], issuer_url: pulumi.Output[str]
) -> ArtifactReaderFactory:
    def create(
        name: str,
        *,
        model: str,
        namespace: str,
        service_account: str,
        buckets: Sequence[str],
        opts: pulumi.ResourceOptions,
    ) -> ArtifactAccess:
        role_name = k8s_name(cluster_name, model, "weights", limit=RAM_ROLE_NAME_MAX)
        role = alicloud.ram.Role(
            f"{name}-weights-reader",
            role_name=role_name,
            description=f"RRSA: {namespace}/{service_account} reads model weights",
            assume_role_policy_document=pulumi.Output.all(oidc_provider_arn, issuer_url).apply(
                lambda a: trust_policy(str(a[0]), str(a[1]), namespace, service_account)
            ),
            max_session_duration=3600,
            opts=opts,
        )
        policy = alicloud.ram.Policy(
            f"{name}-weights-read",
            policy_name=role_name,
            description=f"read {', '.join(buckets)}",
            policy_document=read_policy(buckets),
            opts=opts,
        )
        alicloud.ram.RolePolicyAttachment(
            f"{name}-weights-read",
            role_name=role.role_name,
            policy_name=policy.policy_name,
            policy_type="Custom",
            opts=opts,
        )
        return ArtifactAccess(
            service_account_annotations={"pod-identity.alibabacloud.com/role-name": role.role_name},
            fetch_env={"ALIBABA_CLOUD_ROLE_ARN": role.arn, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": oidc_provider_arn},
            token_audience=RRSA_AUDIENCE,
            token_env="ALIBABA_CLOUD_OIDC_TOKEN_FILE",
        )

    return create
