"""WorkloadRole: a least-privilege IAM role for one Kubernetes service account (an add-on's controller).

Two ways to hand it to the pod, both scoped to exactly one namespace/service account:
- `pod-identity` (default; EKS Pod Identity agent add-on): trust `pods.eks.amazonaws.com`, conditioned on
  this account, this cluster's ARN and the session tags naming the namespace and service account. The
  association is made by the caller (an `aws.eks.Addon`'s `pod_identity_associations`) or here with
  `associate=True`.
- `irsa` (OIDC web identity): trust the cluster's OIDC provider with `sub` and `aud` pinned.

Permissions: AWS managed policies by ARN and/or one inline policy document (JSON from
components/aws/iam_docs.py), nothing else. pulumi-eks has no Pod Identity support (pulumi-eks#1494).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.aws import iam_docs

# The ServiceAccount annotation through which the EKS pod identity webhook hands a pod its IRSA role.
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"

# IAM role names are at most 64 characters. Pulumi's auto-name is "<resource name>-<7 hex>", which a long
# cluster name (30) + "-cluster-autoscaler-role" overflows, failing `pulumi up`. Such roles get an explicit
# name_prefix instead, which the provider completes with a 26-character unique suffix (prefix <= 38).
IAM_ROLE_NAME_MAX = 64
AUTONAME_SUFFIX = 8
NAME_PREFIX_MAX = 38


def long_name_prefix(resource_name: str) -> str | None:
    """None when the auto-name fits; otherwise a name_prefix that does."""
    if len(resource_name) + AUTONAME_SUFFIX <= IAM_ROLE_NAME_MAX:
        return None
    return resource_name[: NAME_PREFIX_MAX - 1] + "-"


@dataclass(frozen=True, slots=True)
class WorkloadRoleArgs:
    namespace: str
    service_account: str
    mode: Literal["pod-identity", "irsa"] = "pod-identity"
    managed_policy_arns: tuple[str, ...] = ()
    inline_policy: pulumi.Input[str] | None = None
    """One permission policy document (JSON). Default: none (only the managed policies)."""
    cluster_name: pulumi.Input[str] | None = None
    """pod-identity: the cluster (for `associate=True`)."""
    cluster_arn: pulumi.Input[str] | None = None
    """pod-identity: only sessions for this cluster may assume the role."""
    account_id: pulumi.Input[str] | None = None
    oidc_provider_arn: pulumi.Input[str] | None = None
    """irsa: the cluster's IAM OIDC provider."""
    oidc_issuer_url: pulumi.Input[str] | None = None
    associate: bool = False
    """pod-identity: create the PodIdentityAssociation here (not needed when an EKS add-on does it)."""
    tags: Mapping[str, str] = field(default_factory=dict)


class WorkloadRole(pulumi.ComponentResource):
    role: aws.iam.Role
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:WorkloadRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns, sa = args.namespace, args.service_account
        if args.mode == "irsa":
            if args.oidc_provider_arn is None or args.oidc_issuer_url is None:
                raise ValueError(f"{name}: mode 'irsa' needs oidc_provider_arn and oidc_issuer_url")
            trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer_url).apply(
                lambda a: iam_docs.irsa_trust(str(a[0]), str(a[1]), ns, sa)
            )
        else:
            if args.cluster_arn is None or args.account_id is None:
                raise ValueError(f"{name}: mode 'pod-identity' needs cluster_arn and account_id")
            trust = pulumi.Output.all(args.account_id, args.cluster_arn).apply(
                lambda a: iam_docs.pod_identity_trust(str(a[0]), str(a[1]), ns, sa)
            )

        role_name = f"{name}-role"
        self.role = aws.iam.Role(
            role_name,
            name_prefix=long_name_prefix(role_name),
            description=f"{args.mode} role for {ns}/{sa}",
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=dict(args.tags),
            opts=child,
        )
        for arn in args.managed_policy_arns:
            aws.iam.RolePolicyAttachment(
                f"{name}-{arn.rsplit('/', 1)[-1]}", role=self.role.name, policy_arn=arn, opts=child
            )
        if args.inline_policy is not None:
            aws.iam.RolePolicy(f"{name}-inline", role=self.role.id, policy=args.inline_policy, opts=child)
        if args.associate:
            if args.cluster_name is None:
                raise ValueError(f"{name}: associate=True needs cluster_name")
            aws.eks.PodIdentityAssociation(
                f"{name}-association",
                cluster_name=args.cluster_name,
                namespace=ns,
                service_account=sa,
                role_arn=self.role.arn,
                tags=dict(args.tags),
                opts=child,
            )
        self.arn = self.role.arn
        self.register_outputs({"roleArn": self.role.arn})
