"""AWS-only cross-field rules (registry CI, replication). Registered into spec_rules.RULES on import
(stacks/spec.py lists this module in _RULE_MODULES)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from components.aws.asg_tags import NODE_GROUP_NAME_PREFIX_MAX, node_group_name_prefix
from stacks.errors import show
from stacks.spec_models import StackSpec
from stacks.spec_rules import Problem, rule

GITHUB_OIDC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$")
AWS_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


@rule
def aws_node_group_names(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud != "aws":
        return
    for i, pool in enumerate(spec.node_pools):
        prefix = node_group_name_prefix(spec.cluster_name, pool.name)
        if len(prefix) > NODE_GROUP_NAME_PREFIX_MAX:
            yield (
                ("nodePools", i, "name"),
                (
                    f"{show(pool.name)} makes the EKS node group name prefix {show(prefix)} {len(prefix)} characters "
                    f"long; EKS node group names are at most 63 characters, so the prefix may have at most "
                    f"{NODE_GROUP_NAME_PREFIX_MAX}: shorten the pool or the cluster name"
                ),
            )


@rule
def aws_registry(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud != "aws":
        return
    reg = spec.registry
    arn = reg.github_oidc_provider_arn
    if arn is not None and not GITHUB_OIDC_ARN_RE.match(arn):
        yield (
            ("registry", "githubOidcProviderArn"),
            (
                f"{show(arn)} is not the ARN of a GitHub Actions OIDC provider; write it like "
                "'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com'"
            ),
        )
    if arn is not None and not reg.ci_push_repos:
        yield (
            ("registry", "githubOidcProviderArn"),
            (
                "given while ciPushRepos is empty (no CI role uses it); "
                "list the repositories allowed to push or remove it"
            ),
        )
    for i, region in enumerate(reg.replication_regions):
        if not AWS_REGION_RE.match(region):
            yield (
                ("registry", "replicationRegions", i),
                (f"{show(region)} is not an AWS region; write it like 'us-west-2'"),
            )
    for i, region in enumerate(reg.replication_regions):
        if region in reg.replication_regions[:i]:
            yield ("registry", "replicationRegions", i), f"{show(region)} is listed twice; list each region once"
