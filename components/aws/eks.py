"""EksCluster: the EKS control plane with secure defaults, its IAM role, KMS keys, logs, OIDC provider,
access entries and a Kubernetes provider for the layers above.

Defaults and how they compare (the table: docs/aws.md#secure-defaults-and-how-they-compare):
- endpoint private only (terraform-aws-eks: same; pulumi-eks: public 0.0.0.0/0);
- authentication mode API with access entries, no implicit creator admin (terraform-aws-eks:
  API_AND_CONFIG_MAP; pulumi-eks forces the creator-admin bootstrap to true);
- secrets envelope-encrypted with a customer KMS key, rotation on (pulumi-eks: none);
- all five control-plane log types into a KMS-encrypted, retention-bounded log group created before the
  cluster (terraform-aws-eks: 3 of 5; pulumi-eks: none), so EKS never creates an unbounded one itself;
- no self-managed vpc-cni/kube-proxy/CoreDNS: they come as pinned managed add-ons (EksAddons).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws import iam_docs

# All five control-plane log types (EKS API LogType enum).
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy")


def node_role(
    name: str,
    *,
    description: str,
    tags: Mapping[str, str],
    partition: str,
    opts: pulumi.ResourceOptions,
    role_name: str | None = None,
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """An EC2-trusted node role (`<name>-node-role`) with the NODE_POLICIES attached (`<name>-node-<policy>`):
    managed node groups' and Karpenter's nodes (components/aws/karpenter.py). Only the three policies a node
    needs to join, pull images and run the VPC CNI; no SSM or CloudWatch agent rights (add them per need).
    Add-ons get their own roles (components/aws/irsa.py)."""
    role = aws.iam.Role(
        f"{name}-node-role",
        name=role_name,
        description=description,
        assume_role_policy=iam_docs.service_trust("ec2.amazonaws.com"),
        tags=dict(tags),
        opts=opts,
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-node-{policy}",
            role=role.name,
            policy_arn=iam_docs.managed_policy_arn(partition, policy),
            opts=opts,
        )
        for policy in NODE_POLICIES
    ]
    return role, attachments


CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
# Create-only fields: changing them later would replace the cluster (hashicorp/terraform-provider-aws#
# 38230); terraform-aws-eks and pulumi-eks ignore them too. Engine paths, so camelCase.
CLUSTER_IGNORE_CHANGES = ("accessConfig.bootstrapClusterCreatorAdminPermissions", "bootstrapSelfManagedAddons")


@dataclass(frozen=True, slots=True)
class EksClusterArgs:
    cluster_name: str
    """Physical EKS cluster name (also the log group path and the CA discovery tag)."""
    region: str
    kubernetes_version: str
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets for the control-plane ENIs."""
    service_cidr: str = "172.20.0.0/16"
    endpoint_private_access: bool = True
    endpoint_public_access: bool = False
    """Default: no public endpoint; reach the API from the VPC (VPN, bastion, SSM port forwarding)."""
    public_access_cidrs: tuple[str, ...] = ()
    private_access_cidrs: tuple[str, ...] = ()
    """Networks outside the cluster (CI runners, VPN clients) admitted to the private endpoint on 443: one
    ingress rule each on the cluster security group, which otherwise admits only its own members (nodes
    and control plane ENIs). Default: none — `pulumi up` then needs the public endpoint or a machine in
    that security group (docs/deploying.md#bootstrap-where-pulumi-up-runs)."""
    admin_principals: tuple[str, ...] = ()
    """Each gets an access entry + AmazonEKSClusterAdminPolicy. Default: none (no implicit creator admin)."""
    log_retention_days: int = 90
    deletion_protection: bool = False
    support_type: str = "STANDARD"
    """STANDARD: no extended-support surcharge (pulumi-eks defaults to EXTENDED, 6x the control-plane price)."""
    protect: bool = False
    """protect the cluster, its KMS keys and its log group (prod): `pulumi destroy` or a rename cannot drop
    them. Elsewhere (dev) `pulumi destroy` goes through: the keys are scheduled for deletion with their
    30-day window, so a mistake can still be cancelled (aws kms cancel-key-deletion)."""
    tags: Mapping[str, str] = field(default_factory=dict)


def kubeconfig(cluster_name: str, region: str, endpoint: str, ca_data: str) -> str:
    """A kubeconfig with exec auth (`aws eks get-token`): no token or key is ever stored in state.

    The caller's AWS credentials (profile, SSO, CI role) mint a short-lived token on each use.
    """
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["--region", region, "eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
            "interactiveMode": "Never",
        }
    }
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "users": [{"name": cluster_name, "user": user}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
    }
    return json.dumps(doc, sort_keys=True)


class EksCluster(pulumi.ComponentResource):
    cluster: aws.eks.Cluster
    role: aws.iam.Role
    node_role: aws.iam.Role
    node_role_policies: list[aws.iam.RolePolicyAttachment]
    """The node role's policy attachments: node groups must wait for them (a node that boots without
    AmazonEKSWorkerNodePolicy / the CNI policy never joins, and on delete the policies must outlive the
    nodes; aws_eks_node_group docs "Ensure that IAM Role permissions are created before...")."""
    secrets_key: aws.kms.Key
    log_group: aws.cloudwatch.LogGroup
    oidc_provider: aws.iam.OpenIdConnectProvider
    oidc_issuer_url: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    api_access_rules: list[aws.vpc.SecurityGroupIngressRule]
    k8s_provider: k8s.Provider
    account_id: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # KMS keys, the log group and the cluster are protected with `protect` (prod). In dev they go with
        # `pulumi destroy`; a key keeps its 30-day deletion window, so a mistaken destroy is recoverable.
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        # Fixed physical names: a replacement must delete the old resource before creating the new one,
        # or the create fails on the name still in use.
        same_name = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        partition = iam_docs.partition_of(args.region)
        self.account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        tags = dict(args.tags)

        # -- IAM role of the control plane ------------------------------------------------------------
        self.role = aws.iam.Role(
            f"{name}-cluster-role",
            description=f"EKS control plane of {args.cluster_name}",
            # sts:TagSession: EKS tags its sessions (needed for EKS Auto Mode / ABAC; harmless otherwise).
            assume_role_policy=iam_docs.service_trust("eks.amazonaws.com", tag_session=True),
            tags=tags,
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=self.role.name,
            policy_arn=iam_docs.managed_policy_arn(partition, "AmazonEKSClusterPolicy"),
            opts=child,
        )

        # -- IAM role of the nodes (shared by every pool; EKS creates its EC2_LINUX access entry) ------
        self.node_role, self.node_role_policies = node_role(
            name, description=f"EKS managed nodes of {args.cluster_name}", tags=tags, partition=partition, opts=child
        )

        # -- KMS: secrets envelope encryption and the log group ----------------------------------------
        self.secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"EKS secrets envelope encryption for {args.cluster_name}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,  # the longest window: a mistaken delete can be cancelled for a month
            policy=self.account_id.apply(lambda acct: iam_docs.document(_key_admin(partition, acct))),
            tags=tags,
            opts=keep,
        )
        aws.kms.Alias(
            f"{name}-secrets",
            name=f"alias/eks/{args.cluster_name}/secrets",
            target_key_id=self.secrets_key.key_id,
            opts=same_name,
        )
        # EKS uses the key as the cluster role: Encrypt/Decrypt for secrets, grants for the API server.
        encryption_policy_attachment = aws.iam.RolePolicy(
            f"{name}-cluster-encryption",
            role=self.role.id,
            policy=self.secrets_key.arn.apply(encryption_policy),
            opts=child,
        )

        log_group_name = f"/aws/eks/{args.cluster_name}/cluster"
        logs_key = aws.kms.Key(
            f"{name}-logs",
            description=f"CloudWatch Logs encryption for {log_group_name}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=self.account_id.apply(lambda acct: _logs_key_policy(partition, args.region, acct, log_group_name)),
            tags=tags,
            opts=keep,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=log_group_name,  # the name EKS writes to; creating it first bounds retention and encrypts it
            retention_in_days=args.log_retention_days,
            kms_key_id=logs_key.arn,
            tags=tags,
            opts=pulumi.ResourceOptions.merge(keep, same_name),
        )

        # -- the control plane --------------------------------------------------------------------------
        self.cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=self.role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,
                endpoint_private_access=args.endpoint_private_access,
                endpoint_public_access=args.endpoint_public_access,
                # Without CIDRs AWS defaults a public endpoint to 0.0.0.0/0; spec rules forbid that
                # combination, and a private-only endpoint sends none.
                public_access_cidrs=list(args.public_access_cidrs) if args.endpoint_public_access else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",  # access entries only; no aws-auth ConfigMap to drift
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            # The CNI, kube-proxy and CoreDNS come as pinned managed add-ons instead (EksAddons).
            bootstrap_self_managed_addons=False,
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=self.secrets_key.arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            kubernetes_network_config=aws.eks.ClusterKubernetesNetworkConfigArgs(
                ip_family="ipv4", service_ipv4_cidr=args.service_cidr
            ),
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.support_type),
            deletion_protection=args.deletion_protection,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                delete_before_replace=True,  # a fixed name: the new cluster can only exist once the old is gone
                # The role's permissions exist before the cluster and are removed after it (aws_eks_cluster
                # docs: otherwise EKS cannot clean up its ENIs/security groups on delete); the secrets
                # key grant is checked at create.
                depends_on=[self.log_group, cluster_policy, encryption_policy_attachment],
                ignore_changes=list(CLUSTER_IGNORE_CHANGES),
            ),
        )
        cluster_name = self.cluster.name
        self.cluster_security_group_id = self.cluster.vpc_config.apply(lambda v: v.cluster_security_group_id or "")

        # -- who may reach the private endpoint besides the cluster's own members ------------------------
        self.api_access_rules = [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-from-{cidr.replace('/', '-')}",
                security_group_id=self.cluster_security_group_id,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description=f"Kubernetes API from {cidr} (cluster.endpoint.privateAccessCidrs)",
                tags=tags,
                opts=child,
            )
            for cidr in (args.private_access_cidrs if args.endpoint_private_access else ())
        ]

        # -- access entries: who administers the cluster -------------------------------------------------
        admin_access: list[pulumi.Resource] = []
        for i, principal in enumerate(args.admin_principals):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{i}",
                cluster_name=cluster_name,
                principal_arn=principal,
                type="STANDARD",
                tags=tags,
                opts=same_name,  # one entry per cluster and principal
            )
            admin_access.append(
                aws.eks.AccessPolicyAssociation(
                    f"{name}-admin-{i}",
                    cluster_name=cluster_name,
                    principal_arn=principal,
                    policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/{CLUSTER_ADMIN_POLICY}",
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[entry], delete_before_replace=True),
                )
            )

        # -- OIDC provider for IRSA ------------------------------------------------------------------------
        self.oidc_issuer_url = self.cluster.identities.apply(_issuer)
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=self.oidc_issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            # No thumbprint: IAM trusts the EKS OIDC endpoint through its own CA store (IAM user guide,
            # "Obtain the thumbprint" — not needed for EKS), so a CA rotation cannot break IRSA.
            tags=tags,
            opts=child,
        )

        # -- Kubernetes provider for the layers above ------------------------------------------------------
        ca_data = self.cluster.certificate_authority.apply(lambda ca: ca.data or "")
        self.kubeconfig = pulumi.Output.all(cluster_name, self.cluster.endpoint, ca_data).apply(
            lambda a: kubeconfig(str(a[0]), args.region, str(a[1]), str(a[2]))
        )
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # A stable identity: a new endpoint/CA (or rotated credentials) updates the provider in place
            # instead of replacing every Kubernetes object (pulumi/pulumi-eks#352).
            cluster_identifier=args.cluster_name,
            enable_server_side_apply=True,
            # With authentication mode API and no creator-admin bootstrap, the principal running
            # `pulumi up` is authorised only once its access entry + policy association exist: every
            # Kubernetes object waits for them, or the first run fails with Unauthorized/Forbidden.
            # Likewise the ingress rules that admit that machine to a private endpoint (privateAccessCidrs).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster, *admin_access, *self.api_access_rules]),
        )
        self.register_outputs(
            {
                "clusterName": cluster_name,
                "clusterArn": self.cluster.arn,
                "nodeRoleArn": self.node_role.arn,
                "endpoint": self.cluster.endpoint,
                "oidcProviderArn": self.oidc_provider.arn,
                "oidcIssuerUrl": self.oidc_issuer_url,
                "kubeconfig": self.kubeconfig,
            }
        )


def encryption_policy(key_arn: str) -> str:
    """What the control plane needs on the secrets key (terraform-aws-eks `cluster_encryption` policy)."""
    return iam_docs.document(
        {
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"],
            "Resource": key_arn,
        }
    )


def _issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity]) -> str:
    oidcs = identities[0].oidcs if identities else None
    return (oidcs[0].issuer or "") if oidcs else ""


def _key_admin(partition: str, account_id: str) -> dict[str, Any]:
    # The account root keeps full control, so IAM policies (not this key policy) decide who may use the
    # key and the key can never become unmanageable (AWS KMS "default key policy").
    return {
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def _logs_key_policy(partition: str, region: str, account_id: str, log_group: str) -> str:
    log_group_arn = f"arn:{partition}:logs:{region}:{account_id}:log-group:{log_group}"
    return iam_docs.document(
        _key_admin(partition, account_id),
        {
            "Sid": "CloudWatchLogsUsesKeyForThisLogGroup",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.{iam_docs.dns_suffix(region)}"},
            # The data-key actions only (the AWS guide's wildcards also match DescribeKey and key-pair
            # generation, which carry no encryption context and are not needed).
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
            "Resource": "*",
            # Only for this log group (AWS CloudWatch Logs "Encrypt log data in CloudWatch Logs using KMS");
            # an exact string match on the ARN, so StringEquals is as strict as ArnEquals.
            "Condition": {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
        },
    )
