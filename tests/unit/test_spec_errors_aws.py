"""Bad AWS registry config (stacks/spec/registry.py aws_registry): exact messages."""

from __future__ import annotations

import pytest

from stacks.spec.parse import parse_spec
from tests.spec_helpers import Case, assert_rejected, mutate, raw_stack

DEV = raw_stack("dev")
PROD = raw_stack("prod")
P = "gpu-platform:"
GOOD_ARN = "arn:aws:iam::444455556666:oidc-provider/token.actions.githubusercontent.com"

CASES: list[Case] = [
    (
        "github oidc arn malformed",
        mutate(PROD, "registry.githubOidcProviderArn", "arn:aws:iam::1:oidc-provider/x"),
        f"{P}registry.githubOidcProviderArn: 'arn:aws:iam::1:oidc-provider/x' is not the ARN of a GitHub Actions OIDC "
        "provider; write it like 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com'",
    ),
    (
        "github oidc arn without ci repos",
        mutate(DEV, "registry.githubOidcProviderArn", GOOD_ARN),
        f"{P}registry.githubOidcProviderArn: given while ciPushRepos is empty (no CI role uses it); list the "
        "repositories allowed to push or remove it",
    ),
    (
        "replication region malformed",
        mutate(PROD, "registry.replicationRegions", ["us-weast"]),
        f"{P}registry.replicationRegions[0]: 'us-weast' is not an AWS region; write it like 'us-west-2'",
    ),
    (
        "replication region twice",
        mutate(PROD, "registry.replicationRegions", ["us-west-2", "us-west-2"]),
        f"{P}registry.replicationRegions[1]: 'us-west-2' is listed twice; list each region once",
    ),
    # gpu-dev- (8) + 28 + - = 37 is the longest prefix EKS accepts (63 - the provider's 26-char suffix).
    (
        "node group name prefix too long",
        mutate(DEV, "nodePools.1.name", "gpu-l4-" + "x" * 22),
        f"{P}nodePools[1].name: 'gpu-l4-xxxxxxxxxxxxxxxxxxxxxx' makes the EKS node group name prefix "
        "'gpu-dev-gpu-l4-xxxxxxxxxxxxxxxxxxxxxx-' 38 characters long; EKS node group names are at most 63 "
        "characters, so the prefix may have at most 37: shorten the pool or the cluster name",
    ),
    # <cluster>-<model>-artifacts: a 30-character cluster name leaves 63 - 30 - 1 - 10 = 22 for the model.
    (
        "artifact bucket name too long",
        mutate(mutate(PROD, "cluster.name", "gpu-prod-" + "x" * 21), "models.0.name", "llama3-8b-instruct-fp16"),
        f"{P}models[0].name: 'llama3-8b-instruct-fp16' with artifactBucket: true gives the bucket name "
        "'gpu-prod-xxxxxxxxxxxxxxxxxxxxx-llama3-8b-instruct-fp16-artifacts' (<cluster>-<model>-artifacts), which is 64 "
        "characters long; S3 allows 3 to 63; shorten the model name to at most 22 characters, or cluster.name",
    ),
    (
        "artifact bucket name reserved prefix",
        mutate(PROD, "cluster.name", "xn--gpu-prod"),
        f"{P}cluster.name: 'xn--gpu-prod' makes the artifact bucket name 'xn--gpu-prod-llama3-8b-artifacts' of "
        "models[0] (llama3-8b) invalid: it begins with 'xn--', a prefix S3 reserves; choose another cluster name",
    ),
    (
        "github oidc provider created and named",
        mutate(mutate(PROD, "registry.githubOidcProvider", "create"), "registry.githubOidcProviderArn", GOOD_ARN),
        f"{P}registry.githubOidcProvider: 'create' while githubOidcProviderArn names an existing provider (an "
        "account has one); remove githubOidcProviderArn, or set githubOidcProvider: existing",
    ),
    (
        "github oidc provider created without ci repos",
        mutate(DEV, "registry.githubOidcProvider", "create"),
        f"{P}registry.githubOidcProvider: 'create' while ciPushRepos is empty (no CI role trusts it); list the "
        "repositories allowed to push, or remove githubOidcProvider",
    ),
    (
        "scan type without owning the scanning config",
        mutate(PROD, "registry.manageScanning", False),
        f"{P}registry.scanType: 'ENHANCED' while manageScanning is false: the scan type is the account's "
        "registry-wide scanning configuration, which this stack does not own; set manageScanning: true in the one "
        "stack of the account and region that owns it, or remove scanType",
    ),
    (
        "private access cidr not private",
        mutate(DEV, "cluster.endpoint.privateAccessCidrs", ["10.20.0.0/16", "203.0.113.0/24"]),
        f"{P}cluster.endpoint.privateAccessCidrs[1]: '203.0.113.0/24' is not a private network; list RFC 1918 "
        "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or RFC 6598 (100.64.0.0/10) ranges of your CI runners or "
        "VPN clients, e.g. '10.20.0.0/16' (public clients: publicAccess with publicAccessCidrs)",
    ),
    (
        "private access cidr the world",
        mutate(DEV, "cluster.endpoint.privateAccessCidrs", ["0.0.0.0/0"]),
        f"{P}cluster.endpoint.privateAccessCidrs[0]: '0.0.0.0/0' is not a private network; list RFC 1918 "
        "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or RFC 6598 (100.64.0.0/10) ranges of your CI runners or "
        "VPN clients, e.g. '10.20.0.0/16' (public clients: publicAccess with publicAccessCidrs)",
    ),
    (
        "private access cidr twice",
        mutate(DEV, "cluster.endpoint.privateAccessCidrs", ["100.64.0.0/16", "100.64.0.0/16"]),
        f"{P}cluster.endpoint.privateAccessCidrs: '100.64.0.0/16' is listed twice; list each CIDR once",
    ),
    (
        "private access cidrs without a private endpoint",
        mutate(
            DEV,
            "cluster.endpoint",
            {
                "privateAccess": False,
                "publicAccess": True,
                "publicAccessCidrs": ["203.0.113.0/24"],
                "privateAccessCidrs": ["10.20.0.0/16"],
            },
        ),
        f"{P}cluster.endpoint.privateAccessCidrs: given while privateAccess is false (no private endpoint to "
        "reach); set privateAccess: true or remove them",
    ),
    (
        "unknown registry key suggests",
        mutate(PROD, "registry.githubOidcProviderArm", GOOD_ARN),
        f"{P}registry.githubOidcProviderArm: unknown key; did you mean 'githubOidcProviderArn'?",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fails_with_exact_message(case: Case) -> None:
    assert_rejected(case)


def test_existing_github_provider_is_accepted() -> None:
    spec = parse_spec(mutate(PROD, "registry.githubOidcProviderArn", GOOD_ARN))
    assert spec.registry.github_oidc_provider_arn == GOOD_ARN
    assert spec.registry.replication_regions == ()


def test_longest_node_group_prefix_is_accepted() -> None:
    from components.aws.asg_tags import NODE_GROUP_NAME_PREFIX_MAX, node_group_name_prefix

    spec = parse_spec(mutate(DEV, "nodePools.1.name", "gpu-l4-" + "x" * 21))
    assert len(node_group_name_prefix(spec.cluster_name, spec.node_pools[1].name)) == NODE_GROUP_NAME_PREFIX_MAX
