"""Registry: ECR repositories for model and platform images, hardened, plus the CI role that pushes.

Per repository (terraform-aws-ecr v3 / EKS BPG "image security" baseline, and beyond it):
- IMMUTABLE tags (the SDK default is MUTABLE): a release tag can never be moved to other bytes;
- scan on push, and registry-wide ENHANCED continuous scanning when configured;
- KMS encryption with a customer key (SDK default: AES256), rotation on;
- a lifecycle policy: untagged images expire after D days, only the newest N tagged images are kept;
- a repository policy: the cluster's node role may pull, the CI role may push and pull, and nobody
  else may push (an explicit Deny on the write actions for every other principal);
- `protect` + `retain_on_delete` in prod: neither a stack change nor `pulumi destroy` deletes images;
  fixed names, so a replacement deletes the old repository first (and fails while it holds images).

Account-wide singletons are created only by the stack that says it owns them, so two stacks of one
account never fight over them: the registry scanning configuration (one per account and region,
`manage_scanning`) and the GitHub Actions OIDC provider (one per account, `github_oidc_provider:
create`; otherwise the CI role trusts the account's existing provider by its ARN). With replication
regions, the replication configuration (also one per account and region) + creation templates in each
destination so replicated repositories are immutable and KMS-encrypted too.

CI: a role trusted only by GitHub Actions OIDC tokens of the configured `owner/repo[:ref]`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.aws import iam_docs

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
PUSH_ACTIONS = ("ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart")


def lifecycle_policy(keep_release_images: int, untagged_expiry_days: int) -> str:
    """Untagged images (failed or superseded pushes) expire after D days; keep the newest N tagged images.

    Model releases are deployed by digest; N bounds how far back a rollback can go (`registry.keepReleaseImages`,
    docs/aws.md#registry; rollbacks: docs/models.md#promote-and-roll-back).
    """
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"expire untagged images after {untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the newest {keep_release_images} tagged images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_release_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


def repository_policy(node_role_arn: str, ci_role_arn: str | None) -> str:
    """Node role pulls; CI role pushes and pulls; every other principal is denied the push actions."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "NodesPull",
            "Effect": "Allow",
            "Principal": {"AWS": node_role_arn},
            "Action": list(PULL_ACTIONS),
        }
    ]
    writers = [ci_role_arn] if ci_role_arn else []
    if ci_role_arn:
        statements.append(
            {
                "Sid": "CiPushes",
                "Effect": "Allow",
                "Principal": {"AWS": ci_role_arn},
                "Action": sorted(PULL_ACTIONS + PUSH_ACTIONS),
            }
        )
    deny: dict[str, Any] = {
        "Sid": "OnlyCiPushes",
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(PUSH_ACTIONS),
    }
    if writers:
        deny["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": writers}}
    statements.append(deny)
    return iam_docs.document(*statements)


def ci_push_policy(repository_arns: Sequence[str]) -> str:
    return iam_docs.document(
        # GetAuthorizationToken has no resource-level permissions (ECR IAM reference): "*" is required.
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "PushToOwnRepositories",
            "Effect": "Allow",
            "Action": sorted(PULL_ACTIONS + PUSH_ACTIONS),
            "Resource": sorted(repository_arns),
        },
    )


@dataclass(frozen=True, slots=True)
class RegistryArgs:
    prefix: str
    """Repository names are `<prefix>/<repository>` (the cluster name: stacks sharing an account never clash)."""
    repositories: tuple[str, ...]
    node_role_arn: pulumi.Input[str]
    region: str
    account_id: pulumi.Input[str]
    keep_release_images: int = 30
    untagged_expiry_days: int = 7
    scan_type: Literal["BASIC", "ENHANCED"] = "BASIC"
    manage_scanning: bool = False
    """Create the registry scanning configuration (`scan_type`, one per account and region). Default: off —
    set it in the one stack that owns the account's scanning settings; repositories scan on push either way."""
    replication_regions: tuple[str, ...] = ()
    ci_push_repos: tuple[str, ...] = ()
    """GitHub `owner/repo[:ref]` whose Actions may push. Default: none (no CI role, nobody may push)."""
    github_oidc_provider_arn: str | None = None
    """The account's GitHub OIDC provider by ARN. Default: `arn:<partition>:iam::<account>:oidc-provider/
    token.actions.githubusercontent.com` (the only ARN it can have), or the one this stack creates."""
    github_oidc_provider: Literal["existing", "create"] = "existing"
    """`existing`: trust the account's provider (one per account, made once by its owner). `create`: this
    stack creates and owns it — in exactly one stack of the account."""
    protect: bool = False
    """prod: protect + retain_on_delete on repositories and the registry key. Elsewhere nothing is
    protected (`pulumi destroy` goes through; the key keeps its 30-day deletion window)."""
    tags: Mapping[str, str] = field(default_factory=dict)


class Registry(pulumi.ComponentResource):
    repositories: dict[str, aws.ecr.Repository]
    repository_urls: dict[str, pulumi.Output[str]]
    key: aws.kms.Key
    ci_role: aws.iam.Role | None

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        partition = iam_docs.partition_of(args.region)
        tags = dict(args.tags)

        # Retained with the repositories in prod: a retained repository is unreadable without its key.
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"ECR encryption for {args.prefix}/*",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda acct: iam_docs.document(
                    {
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:{partition}:iam::{acct}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                )
            ),
            tags=tags,
            # Protected and retained in prod with the repositories; elsewhere `pulumi destroy` schedules
            # its deletion, which the 30-day window lets an admin cancel (aws kms cancel-key-deletion).
            opts=keep,
        )

        self.repositories = {}
        for repo in sorted(set(args.repositories)):
            self.repositories[repo] = aws.ecr.Repository(
                f"{name}-{repo}",
                name=f"{args.prefix}/{repo}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=self.key.arn)
                ],
                force_delete=False,  # deleting a repository that still holds images fails
                tags=tags,
                # A fixed name: a replacement (new KMS key) must delete the old one first.
                opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(delete_before_replace=True)),
            )
        self.repository_urls = {r: repo.repository_url for r, repo in self.repositories.items()}

        # -- CI push role through GitHub OIDC -----------------------------------------------------------
        self.ci_role = None
        if args.ci_push_repos:
            provider_arn: pulumi.Input[str]
            if args.github_oidc_provider_arn:
                provider_arn = args.github_oidc_provider_arn
            elif args.github_oidc_provider == "existing":
                provider_arn = pulumi.Output.from_input(args.account_id).apply(
                    lambda acct: f"arn:{partition}:iam::{acct}:oidc-provider/{GITHUB_OIDC_HOST}"
                )
            else:
                provider_arn = aws.iam.OpenIdConnectProvider(
                    f"{name}-github-oidc",
                    url=GITHUB_OIDC_URL,
                    client_id_lists=["sts.amazonaws.com"],
                    tags=tags,
                    opts=child,
                ).arn
            repos = args.ci_push_repos
            self.ci_role = aws.iam.Role(
                f"{name}-ci-push",
                description=f"GitHub Actions push to {args.prefix}/* ({', '.join(sorted(repos))})",
                assume_role_policy=pulumi.Output.from_input(provider_arn).apply(
                    lambda arn: iam_docs.github_oidc_trust(arn, repos)
                ),
                max_session_duration=3600,
                tags=tags,
                opts=child,
            )
            if self.repositories:
                aws.iam.RolePolicy(
                    f"{name}-ci-push",
                    role=self.ci_role.id,
                    policy=pulumi.Output.all(*[r.arn for r in self.repositories.values()]).apply(
                        lambda arns: ci_push_policy([str(a) for a in arns])
                    ),
                    opts=child,
                )

        ci_arn: pulumi.Input[str | None] = self.ci_role.arn if self.ci_role else None
        policy_json = pulumi.Output.all(args.node_role_arn, ci_arn).apply(lambda a: repository_policy(str(a[0]), a[1]))
        rules = lifecycle_policy(args.keep_release_images, args.untagged_expiry_days)
        for repo, resource in self.repositories.items():
            aws.ecr.LifecyclePolicy(f"{name}-{repo}-lifecycle", repository=resource.name, policy=rules, opts=child)
            aws.ecr.RepositoryPolicy(f"{name}-{repo}-policy", repository=resource.name, policy=policy_json, opts=child)

        # -- registry-wide settings ---------------------------------------------------------------------
        enhanced = args.scan_type == "ENHANCED"
        if args.manage_scanning:
            aws.ecr.RegistryScanningConfiguration(
                f"{name}-scanning",
                scan_type=args.scan_type,
                rules=[
                    aws.ecr.RegistryScanningConfigurationRuleArgs(
                        # ENHANCED (Inspector) rescans when new CVEs are published, not only on push.
                        scan_frequency="CONTINUOUS_SCAN" if enhanced else "SCAN_ON_PUSH",
                        repository_filters=[
                            aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(
                                filter="*", filter_type="WILDCARD"
                            )
                        ],
                    )
                ],
                opts=child,
            )
        if args.replication_regions:
            aws.ecr.ReplicationConfiguration(
                f"{name}-replication",
                replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                    rules=[
                        aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                            destinations=[
                                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                                    region=region, registry_id=args.account_id
                                )
                                for region in args.replication_regions
                            ],
                            repository_filters=[
                                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                                    filter=f"{args.prefix}/", filter_type="PREFIX_MATCH"
                                )
                            ],
                        )
                    ]
                ),
                opts=child,
            )
            for region in args.replication_regions:
                # ECR creates the replica repositories itself; this template gives them the same
                # immutability, encryption (the region's aws/ecr key) and lifecycle as the originals.
                aws.ecr.RepositoryCreationTemplate(
                    f"{name}-replica-template-{region}",
                    region=region,
                    prefix=args.prefix,
                    applied_fors=["REPLICATION"],
                    description=f"replicas of {args.prefix}/* from {args.region}",
                    image_tag_mutability="IMMUTABLE",
                    encryption_configurations=[
                        aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(encryption_type="KMS")
                    ],
                    lifecycle_policy=rules,
                    resource_tags=tags,
                    opts=child,
                )
        self.register_outputs({"repositoryUrls": self.repository_urls})
