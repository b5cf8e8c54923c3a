"""Karpenter on EKS: the provisioner of the `provisioner: karpenter` pools (docs/karpenter.md).

    Karpenter("gpu-prod-karpenter", KarpenterArgs(...), opts=...)

What it creates, and why:
- its own node role (the three join/pull/CNI policies, as the managed node groups' role) and an EKS access
  entry of type EC2_LINUX for it: EKS creates that entry only for managed node groups' roles;
- the interruption queue and its EventBridge rules (components/aws/interruption.py);
- the controller's IAM role through the workload-identity seam (components/aws/irsa.py, mode `irsa`),
  with the least-privilege policy of components/aws/karpenter_iam.py;
- the pinned `karpenter-crd` chart, then the pinned `karpenter` chart (charts/pins.yaml) in kube-system,
  on the system pool (its node selector), two replicas;
- per pool, an EC2NodeClass and a NodePool (components/aws/karpenter_objects.py), after the CRDs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import helm
from components.aws import iam_docs, karpenter_iam, karpenter_objects
from components.aws.eks import node_role  # the same three join/pull/CNI policies as the node groups' role
from components.aws.interruption import InterruptionQueue, InterruptionQueueArgs
from components.aws.irsa import IRSA_ANNOTATION, WorkloadRole, WorkloadRoleArgs
from components.aws.network import private_subnet_tags
from components.scheduling import POOL_LABEL, PoolShape

NAMESPACE = "kube-system"
# EKS tags the cluster security group it creates with the cluster's name.
EKS_CLUSTER_SG_TAG = "aws:eks:cluster-name"


SERVICE_ACCOUNT = "karpenter"
# Controller sizing (Karpenter's getting-started values: 1 CPU, 1 GiB); requests = limits, so the controller
# never starves the system pool (checkov CKV_K8S_11 asks for the CPU limit too).
CONTROLLER_RESOURCES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


@dataclass(frozen=True, slots=True)
class KarpenterPool:
    """One `provisioner: karpenter` pool."""

    shape: PoolShape
    instance_types: tuple[str, ...]
    capacity_types: tuple[str, ...]
    ami_type: str
    disk_size_gib: int
    reservation_id: str | None = None
    """An ODCR / Capacity Block the pool launches into (capacity type `reserved`)."""
    zones: tuple[str, ...] = ()
    """Where the pool's nodes may launch; empty: every zone of the cluster (a reservation: its zone)."""


@dataclass(frozen=True, slots=True)
class KarpenterArgs:
    cluster_name: str
    """The cluster's name as a plain string (resource names, tags, the IAM policy, chart settings)."""
    eks_cluster_name: pulumi.Input[str]
    """The same name as the EKS cluster's output, so the access entry waits for the cluster."""
    region: str
    account_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    k8s_provider: k8s.Provider
    zones: tuple[str, ...]
    system_pool: str
    """The node-group pool the controller runs on (it must never run on a node it manages)."""
    pools: tuple[KarpenterPool, ...]
    depends_on: Sequence[pulumi.Resource] = ()
    """What the controller needs first: the system pool's node group and the core add-ons."""
    tags: Mapping[str, str] = field(default_factory=dict)


class Karpenter(pulumi.ComponentResource):
    node_role: aws.iam.Role
    queue: InterruptionQueue
    controller_role: WorkloadRole
    service_account: k8s.core.v1.ServiceAccount
    crds: k8s.helm.v3.Release
    controller: k8s.helm.v3.Release
    node_classes: dict[str, k8s.apiextensions.CustomResource]
    node_pools: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:Karpenter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = iam_docs.partition_of(args.region)
        cluster = args.cluster_name

        node_role_name = f"{cluster}-karpenter-node"  # fixed: the EC2NodeClasses name it at plan time
        self.node_role, policies = node_role(
            name,
            role_name=node_role_name,
            description=f"Karpenter nodes of {cluster}",
            tags=args.tags,
            partition=partition,
            opts=child,
        )
        access = aws.eks.AccessEntry(
            f"{name}-node-access",
            cluster_name=args.eks_cluster_name,
            principal_arn=self.node_role.arn,
            type="EC2_LINUX",  # lets the kubelet join (system:nodes); no access policy needed for this type
            tags=dict(args.tags),
            # One entry per cluster and principal: a replacement must delete the old one first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        queue_name = f"{cluster}-karpenter"
        self.queue = InterruptionQueue(
            f"{name}-interruption", InterruptionQueueArgs(queue_name=queue_name, tags=args.tags), opts=child
        )
        policy = pulumi.Output.all(args.account_id, self.node_role.arn, self.queue.queue.arn).apply(
            lambda a: karpenter_iam.controller_policy(
                partition=partition,
                region=args.region,
                account_id=str(a[0]),
                cluster_name=cluster,
                node_role_arn=str(a[1]),
                queue_arn=str(a[2]),
            )
        )
        self.controller_role = WorkloadRole(
            f"{name}-controller",
            WorkloadRoleArgs(
                namespace=NAMESPACE,
                service_account=SERVICE_ACCOUNT,
                mode="irsa",
                inline_policy=policy,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer_url=args.oidc_issuer_url,
                tags=args.tags,
            ),
            opts=child,
        )

        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        self.crds = helm.release(
            "karpenter-crd",
            "karpenter-crd",
            namespace=NAMESPACE,
            opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=list(args.depends_on))),
        )
        # The ServiceAccount is ours: its IRSA annotation holds the role ARN, known only after apply, and Helm
        # values must be plain data (as components/aws/cluster_autoscaler.py does).
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE_ACCOUNT,
                namespace=NAMESPACE,
                labels={"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/part-of": "gpu-platform"},
                annotations={IRSA_ANNOTATION: self.controller_role.arn},
            ),
            opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=list(args.depends_on))),
        )
        self.controller = helm.release(
            "karpenter",
            "karpenter",
            namespace=NAMESPACE,
            overrides={
                "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
                "settings": {"clusterName": cluster, "interruptionQueue": queue_name},
                "nodeSelector": {"kubernetes.io/os": "linux", POOL_LABEL: args.system_pool},
                "controller": {"resources": CONTROLLER_RESOURCES},
            },
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                pulumi.ResourceOptions(
                    depends_on=[
                        self.crds,
                        self.service_account,
                        # Its permissions and queue outlive it: on destroy it still terminates the nodes.
                        self.controller_role,
                        self.queue,
                        access,
                        *policies,
                        *args.depends_on,
                    ]
                ),
            ),
        )

        self.node_classes = {}
        self.node_pools = {}
        # After the controller too, not only the CRDs: the controller's finalizers (EC2NodeClass termination,
        # NodeClaims) must be served while these are deleted, so `pulumi destroy` removes them first.
        after_crds = pulumi.ResourceOptions.merge(
            k8s_opts, pulumi.ResourceOptions(depends_on=[self.crds, self.controller])
        )
        for pool in args.pools:
            pool_name = pool.shape.name
            # Plain data known at plan time (a preview shows it whole, the validators and the API server
            # check it): the node role by its fixed name, the private subnets and the EKS cluster security
            # group by the tags that components/aws/network.py and EKS put on them.
            class_spec = karpenter_objects.node_class(
                pool_name,
                role_name=node_role_name,
                ami_type=pool.ami_type,
                subnet_terms=[{"tags": private_subnet_tags(cluster)}],
                security_group_terms=[{"tags": {EKS_CLUSTER_SG_TAG: cluster}}],
                disk_size_gib=pool.disk_size_gib,
                # Not kubernetes.io/cluster/<cluster>: Karpenter tags every instance with it itself (the
                # controller policy's launch conditions rely on that) and the CRD refuses it here.
                tags={**args.tags, "gpu-platform/pool": pool_name},
                capacity_reservation_ids=(pool.reservation_id,) if pool.reservation_id else (),
            )["spec"]
            self.node_classes[pool_name] = k8s.apiextensions.CustomResource(
                f"{name}-{pool_name}-nodeclass",
                api_version=karpenter_objects.NODECLASS_API,
                kind="EC2NodeClass",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool_name),
                spec=class_spec,
                opts=after_crds,
            )
            pool_obj = karpenter_objects.node_pool(
                pool_name,
                pool.shape,
                instance_types=pool.instance_types,
                capacity_types=pool.capacity_types,
                zones=pool.zones or args.zones,
                node_class_name=pool_name,
            )
            self.node_pools[pool_name] = k8s.apiextensions.CustomResource(
                f"{name}-{pool_name}-nodepool",
                api_version=karpenter_objects.NODEPOOL_API,
                kind="NodePool",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool_name),
                spec=pool_obj["spec"],
                opts=pulumi.ResourceOptions.merge(
                    after_crds,
                    pulumi.ResourceOptions(depends_on=[self.crds, self.controller, self.node_classes[pool_name]]),
                ),
            )
        self.register_outputs(
            {
                "nodeRoleArn": self.node_role.arn,
                "interruptionQueue": self.queue.queue.name,
                "controllerRoleArn": self.controller_role.arn,
            }
        )
