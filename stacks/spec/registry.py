"""`registry:` block (ECR on AWS, ACR on Alibaba) and its rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stacks.spec.base import AWS_REGION_RE, DnsName, Loc, Problem, Spec

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec
from stacks.spec.errors import show


class AlicloudRegistrySpec(Spec):
    edition: Literal["enterprise", "personal"] | None = None
    """`enterprise`: an ACR Enterprise Edition instance (immutable tags, vulnerability scan on push,
    private VPC endpoint; prepaid). `personal`: the free Personal Edition (no immutability, no scan).
    Default: enterprise in prod, personal elsewhere."""
    instance_type: Literal["Basic", "Standard", "Advanced"] = "Standard"
    """Enterprise Edition size (create-only)."""
    subscription_months: int = 1
    """Enterprise Edition prepaid period: 1-9 months, or 12, 24, 36."""
    namespace: DnsName | None = None
    """Registry namespace holding the repositories (image path `<namespace>/<repo>`). Default: the
    cluster name. Personal Edition namespaces are unique per region across all accounts."""


class RegistrySpec(Spec):
    enabled: bool = True
    """Create the registry and one repository per model."""
    platform_repositories: tuple[DnsName, ...] = ()
    """Extra repositories for platform images (beyond one per model)."""
    keep_release_images: int = Field(default=30, ge=1, le=1000)
    """Lifecycle: keep this many release images per repository."""
    untagged_expiry_days: int = Field(default=7, ge=1, le=365)
    """Lifecycle: expire untagged images after this many days."""
    scan_type: Literal["BASIC", "ENHANCED"] = "BASIC"
    """Registry-wide scanning: ENHANCED turns on continuous (Inspector) scanning. Applied only with
    `manageScanning: true`."""
    manage_scanning: bool = False
    """This stack owns the account's ECR scanning configuration (one per account and region) and sets it to
    `scanType`. Default: off — two stacks of one account and region would overwrite each other's; set it in
    the one stack that owns those settings. Repositories scan on push either way."""
    replication_regions: tuple[str, ...] = ()
    """Regions to replicate every repository to (disaster recovery, pulls close to other clusters)."""
    ci_push_repos: tuple[str, ...] = ()
    """GitHub `owner/repo` (optionally `owner/repo:ref`) allowed to push through GitHub OIDC."""
    github_oidc_provider_arn: str | None = None
    """The account's IAM OIDC provider for token.actions.githubusercontent.com (an account has at most one).
    Default: `arn:aws:iam::<this account>:oidc-provider/token.actions.githubusercontent.com`, the only ARN it
    can have in the stack's account."""
    github_oidc_provider: Literal["existing", "create"] = "existing"
    """`existing`: the CI role (`ciPushRepos`) trusts the account's GitHub Actions OIDC provider, made once by
    whoever owns it. `create`: this stack creates and owns it — in exactly one stack of the account (a
    second create fails with EntityAlreadyExists)."""
    alicloud: AlicloudRegistrySpec | None = None
    """Alibaba Cloud (ACR) only: edition, size, namespace. Default on alicloud: see its keys."""


def registry(spec: StackSpec) -> Iterator[Problem]:
    for i, region in enumerate(spec.registry.replication_regions):
        if region == spec.region:
            yield (
                ("registry", "replicationRegions", i),
                (f"{show(region)} is the stack's own region; replicate to other regions only"),
            )
    for i, repo in enumerate(spec.registry.ci_push_repos):
        if not re.match(r"^[\w.-]+/[\w.-]+(:[\w./*-]+)?$", repo):
            yield (
                ("registry", "ciPushRepos", i),
                (f"{show(repo)} is not a GitHub repository; write 'owner/repo' or 'owner/repo:refs/heads/main'"),
            )


GITHUB_OIDC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$")


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
    if reg.github_oidc_provider == "create":
        if arn is not None:
            yield (
                ("registry", "githubOidcProvider"),
                (
                    "'create' while githubOidcProviderArn names an existing provider (an account has one); "
                    "remove githubOidcProviderArn, or set githubOidcProvider: existing"
                ),
            )
        elif not reg.ci_push_repos:
            yield (
                ("registry", "githubOidcProvider"),
                (
                    "'create' while ciPushRepos is empty (no CI role trusts it); list the repositories allowed "
                    "to push, or remove githubOidcProvider"
                ),
            )
    if "scan_type" in reg.model_fields_set and not reg.manage_scanning:
        yield (
            ("registry", "scanType"),
            (
                f"{show(reg.scan_type)} while manageScanning is false: the scan type is the account's registry-wide "
                "scanning configuration, which this stack does not own; set manageScanning: true in the one "
                "stack of the account and region that owns it, or remove scanType"
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


ACR_EE_PERIODS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 24, 36)  # months; annual values are whole years


def alicloud_registry(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud != "alicloud":
        return
    reg = spec.registry
    loc: Loc = ("registry",)
    # ECR settings with no ACR counterpart here: key -> (given?, what ACR does instead).
    aws_only = {
        "scanType": (reg.scan_type != "BASIC", "ACR Enterprise Edition scans every push with its own scanner"),
        "replicationRegions": (bool(reg.replication_regions), "ACR replication is not managed by this stack"),
        "ciPushRepos": (bool(reg.ci_push_repos), "CI pushes to ACR with a RAM user or role, not GitHub OIDC here"),
        "githubOidcProviderArn": (reg.github_oidc_provider_arn is not None, "it names an IAM OIDC provider"),
        "githubOidcProvider": ("github_oidc_provider" in reg.model_fields_set, "it is the IAM OIDC provider"),
        "manageScanning": (reg.manage_scanning, "ACR Enterprise Edition scans every push with its own scanner"),
        "untaggedExpiryDays": (
            "untagged_expiry_days" in reg.model_fields_set,
            "ACR retention keeps the newest keepReleaseImages tags",
        ),
    }
    for key, (given, why) in aws_only.items():
        if given:
            yield (*loc, key), f"an ECR (AWS) setting with no effect on ACR ({why}); remove {key}"
    ali = reg.alicloud or AlicloudRegistrySpec()
    edition = ali.edition or ("enterprise" if spec.is_prod else "personal")
    if ali.subscription_months not in ACR_EE_PERIODS:
        yield (
            (*loc, "alicloud", "subscriptionMonths"),
            (
                f"{ali.subscription_months} is not an ACR Enterprise period; choose one of "
                + ", ".join(map(str, ACR_EE_PERIODS))
            ),
        )
    if edition != "personal":
        return
    for key, attr in (("instanceType", "instance_type"), ("subscriptionMonths", "subscription_months")):
        if attr in ali.model_fields_set:
            yield (
                (*loc, "alicloud", key),
                (f"given with the Personal Edition, which has no instance; remove {key} or set edition: enterprise"),
            )
    if "keep_release_images" in reg.model_fields_set:
        yield (
            (*loc, "keepReleaseImages"),
            ("the ACR Personal Edition has no retention rules; remove it or set registry.alicloud.edition: enterprise"),
        )


def existing_registry(spec: StackSpec) -> Iterator[Problem]:
    """No registry is created for an existing cluster: model images come from the user's own registry."""
    if spec.cloud != "existing":
        return
    reg = spec.registry
    if reg.enabled:
        given = "enabled" in reg.model_fields_set
        yield (
            ("registry", "enabled") if given else ("registry",),
            (
                f"{'true' if given else 'not given (enabled by default)'} while cloud is 'existing'; "
                "this stack creates no registry for a cluster it does not own: set registry: {enabled: false} and "
                "pull model images from your own registry (models[].versions[].image, pinned by digest)"
            ),
        )
    for name, info in RegistrySpec.model_fields.items():
        # registry.alicloud: rule stack.alicloud_only_keys refuses it on every cloud but alicloud.
        if name not in ("enabled", "alicloud") and name in reg.model_fields_set:
            key = info.alias or name
            yield ("registry", key), f"given while cloud is 'existing' (no registry is created); remove {key}"
