"""Cluster Autoscaler on EKS: pinned chart, IRSA role limited to this cluster's node groups, GPU-aware flags.

    ClusterAutoscaler("gpu-prod", ClusterAutoscalerArgs(cluster_name="gpu-prod", region="us-east-1",
                      kubernetes_version="1.33", pools=pools, oidc_provider_arn=..., oidc_issuer_url=...),
                      opts=..., aws_provider=aws_provider)

What it decides (sources: ../shared/reference/aws-eks.md "Cluster Autoscaler configuration",
gpu-nvidia.md §6):

- Image: the CA minor must match the cluster minor (the chart's appVersion is 1.35), so `image.tag`
  comes from IMAGE_TAGS, keyed by the Kubernetes minor.
- Discovery: `--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/<cluster>`
  (EKS tags managed node groups' ASGs with both). The scale-from-zero node-template tags are written
  by the node pools (components/aws/asg_tags.py) from the same PoolShape, not here.
- IAM: write actions (SetDesiredCapacity, TerminateInstanceInAutoScalingGroup) only on ASGs tagged
  `k8s.io/cluster-autoscaler/<cluster>=owned` and `.../enabled=true`; describe actions on `*` (they do not
  support resource-level permissions); eks:DescribeNodegroup only on this cluster's node groups.
- Expander `priority,least-waste`: the priority ConfigMap ranks GPU pools by catalog price per node-hour
  (cheapest wins); least-waste breaks ties and picks among non-GPU pools.
- GPU scale-down: GPU nodes are judged by GPU utilisation only (`--scale-down-gpu-utilization-threshold`);
  DaemonSets (device plugin, DCGM, log agent) are ignored in utilisation; emptyDir (model caches) does
  not pin a node. MIG `mixed` nodes are no GPU nodes to CA (no nvidia.com/gpu, no accelerator label): their
  node groups carry their own plain threshold (components/aws/asg_tags.py).
- No `balance-similar-node-groups`: one multi-zone node group per pool leaves nothing to balance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import helm
from components.aws import iam_docs
from components.aws.irsa import IRSA_ANNOTATION, WorkloadRole, WorkloadRoleArgs
from components.cloud import NodeAutoscalerFactory
from components.gpu.autoscaler import NodeAutoscalerSettings, pool_priorities
from components.scheduling import PoolShape

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"
TAG_PREFIX = "k8s.io/cluster-autoscaler"
ENABLED_TAG = f"{TAG_PREFIX}/enabled"

# CA image per Kubernetes minor (CA is built against one scheduler version; the minor must match the
# cluster's, EKS BPG). Latest patch per minor as found on 2026-11-22:
# - v1.34.5, v1.33.6: kubernetes/autoscaler releases cluster-autoscaler-1.34.5 / -1.33.6 (published
#   2026-07-23, release notes list registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.5 / v1.33.6);
# - v1.32.7: kubernetes/autoscaler hack script for multi-arch validation (PR #10044, 2026-07-23) uses
#   it as the current 1.32 image, the release after v1.32.6's mis-built amd64 image (#9226);
# - v1.31.5: AKS release notes (Azure/AKS CHANGELOG, "upgraded to v1.31.5 for AKS 1.31"); the newest
#   1.31 patch seen. Re-check all four on https://github.com/kubernetes/autoscaler/releases.
IMAGE_TAGS: dict[str, str] = {
    "1.31": "v1.31.5",
    "1.32": "v1.32.7",
    "1.33": "v1.33.6",
    "1.34": "v1.34.5",
}

READ_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
)
WRITE_ACTIONS = ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")


@dataclass(frozen=True, slots=True)
class ClusterAutoscalerArgs:
    cluster_name: str
    region: str
    kubernetes_version: str
    """`<major>.<minor>` of the cluster; selects the CA image (IMAGE_TAGS)."""
    pools: tuple[PoolShape, ...]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    scale_down_unneeded_time: str = "10m"
    """Default: a node must be unneeded for 10 minutes before removal (CA default; GPU nodes take
    minutes to boot and pull model images, so flapping costs more than a few idle minutes)."""
    scale_down_gpu_utilization_threshold: float = 0.5
    """Default 0.5: a GPU node whose GPU requests are under half its GPUs is a scale-down candidate."""
    max_node_provision_time: str = "20m"
    """Default 20m (CA: 15m): GPU AMIs are large and p-class capacity is slow to arrive; after this the
    priority expander falls back to the next pool."""

    def __post_init__(self) -> None:
        if self.kubernetes_version not in IMAGE_TAGS:
            raise ValueError(
                f"no cluster-autoscaler image for Kubernetes {self.kubernetes_version}; "
                f"known: {', '.join(sorted(IMAGE_TAGS))} (add the matching CA release to IMAGE_TAGS)"
            )
        if not 0 < self.scale_down_gpu_utilization_threshold <= 1:
            raise ValueError("scale_down_gpu_utilization_threshold must be in (0, 1]")


def image_tag(kubernetes_version: str) -> str:
    try:
        return IMAGE_TAGS[kubernetes_version]
    except KeyError:
        raise ValueError(
            f"no cluster-autoscaler image for Kubernetes {kubernetes_version}; known: {', '.join(sorted(IMAGE_TAGS))}"
        ) from None


def owner_tag(cluster_name: str) -> str:
    return f"{TAG_PREFIX}/{cluster_name}"


def node_group_pattern(cluster_name: str, pool: str) -> str:
    """Regex for the ASG of pool `pool` (the priority expander matches node-group IDs = ASG names).

    EKS names a managed node group's ASG `eks-<node group name>-<uuid>`; node groups are named with the
    prefix `<cluster>-<pool>-` plus a generated numeric suffix (components/aws/node_pool.py). Anchored
    on both ends so `gpu-l4` never matches `gpu-l4-shared`'s group.
    """
    return (
        f"^eks-{re.escape(cluster_name)}-{re.escape(pool)}(-[0-9]+)?-[0-9a-f]{{8}}(-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}}$"
    )


def priorities(cluster_name: str, pools: Sequence[PoolShape]) -> dict[int, list[str]]:
    """Priority expander config: the cloud-neutral ranking (components/gpu/autoscaler.py, cheapest GPU pool
    highest) with each pool as the regex of its node group's ASG. Karpenter pools have no node group: the
    cluster autoscaler never scales them (docs/karpenter.md)."""
    groups = [p for p in pools if p.provisioner == "cluster-autoscaler"]
    return {
        prio: sorted(node_group_pattern(cluster_name, n) for n in names)
        for prio, names in pool_priorities(groups).items()
    }


def priorities_yaml(cluster_name: str, pools: Sequence[PoolShape]) -> str:
    return yaml.safe_dump(priorities(cluster_name, pools), sort_keys=True, default_flow_style=False)


def extra_args(args: ClusterAutoscalerArgs) -> dict[str, Any]:
    """CA flags (chart `extraArgs`, rendered as --key=value)."""
    return {
        # Nothing to balance: each pool is one node group spanning every zone (the ASG spreads its instances
        # across them), and pools differ in their pool label, so no two groups are ever "similar".
        "balance-similar-node-groups": False,
        "expander": "priority,least-waste",
        # Each ASG's size can be read from the API, so fresh GPU types need no static list update.
        "aws-use-static-instance-list": False,
        "ignore-daemonsets-utilization": True,  # NVIDIA + log DaemonSets would keep idle GPU nodes "busy"
        "max-node-provision-time": args.max_node_provision_time,
        "scale-down-delay-after-add": "10m",
        "scale-down-gpu-utilization-threshold": args.scale_down_gpu_utilization_threshold,
        "scale-down-unneeded-time": args.scale_down_unneeded_time,
        "scale-down-utilization-threshold": 0.5,
        # Model servers cache weights in emptyDir; that must not make a node unremovable forever.
        "skip-nodes-with-local-storage": False,
        "skip-nodes-with-system-pods": True,
    }


def chart_values(args: ClusterAutoscalerArgs) -> dict[str, Any]:
    """Values for the cluster-autoscaler chart (merged over charts/values/cluster-autoscaler.yaml)."""
    return helm.values(
        "cluster-autoscaler",
        {
            "autoDiscovery": {"clusterName": args.cluster_name, "tags": [ENABLED_TAG, owner_tag(args.cluster_name)]},
            "awsRegion": args.region,
            "expanderPriorities": priorities_yaml(args.cluster_name, args.pools),
            "extraArgs": extra_args(args),
            "image": {"tag": image_tag(args.kubernetes_version)},
            # The ServiceAccount is ours (below): its IRSA annotation holds the role ARN, known only after
            # apply, and Helm values must be plain data.
            "rbac": {"serviceAccount": {"create": False, "name": SERVICE_ACCOUNT}},
        },
    )


def permissions_policy(cluster_name: str, region: str) -> str:
    """Least-privilege permissions (EKS BPG cluster-autoscaler.adoc, tightened to one cluster)."""
    partition = iam_docs.partition_of(region)
    return iam_docs.document(
        {
            "Sid": "ScaleOwnedNodeGroups",
            "Effect": "Allow",
            "Action": list(WRITE_ACTIONS),
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    f"aws:ResourceTag/{owner_tag(cluster_name)}": "owned",
                    f"aws:ResourceTag/{ENABLED_TAG}": "true",
                }
            },
        },
        {"Sid": "DescribeScalingInputs", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"},
        {
            "Sid": "DescribeOwnNodeGroups",
            "Effect": "Allow",
            "Action": "eks:DescribeNodegroup",
            "Resource": f"arn:{partition}:eks:{region}:*:nodegroup/{cluster_name}/*/*",
        },
    )


def trust_policy(oidc_provider_arn: str, oidc_issuer_url: str) -> str:
    """IRSA trust: only kube-system/cluster-autoscaler tokens from this cluster's OIDC issuer."""
    return iam_docs.irsa_trust(oidc_provider_arn, oidc_issuer_url, NAMESPACE, SERVICE_ACCOUNT)


class ClusterAutoscaler(pulumi.ComponentResource):
    """IRSA role + cluster-autoscaler chart (helm.v4.Chart: no hooks; flag changes diff per object)."""

    role: WorkloadRole
    service_account: k8s.core.v1.ServiceAccount
    chart: k8s.helm.v4.Chart

    def __init__(
        self,
        name: str,
        args: ClusterAutoscalerArgs,
        opts: pulumi.ResourceOptions | None = None,
        aws_provider: pulumi.ProviderResource | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        """`depends_on`: what the ServiceAccount and the chart wait for (a component's own depends_on
        does not hold back its children)."""
        super().__init__("gpu-platform:gpu:ClusterAutoscaler", name, None, opts)
        # IRSA role from the AWS layer's helper: trust pinned to kube-system/cluster-autoscaler (sub + aud).
        self.role = WorkloadRole(
            f"{name}-cluster-autoscaler",
            WorkloadRoleArgs(
                namespace=NAMESPACE,
                service_account=SERVICE_ACCOUNT,
                mode="irsa",
                inline_policy=permissions_policy(args.cluster_name, args.region),
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer_url=args.oidc_issuer_url,
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=aws_provider),
        )
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-cluster-autoscaler",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE_ACCOUNT,
                namespace=NAMESPACE,
                labels={"app.kubernetes.io/name": "cluster-autoscaler", "app.kubernetes.io/part-of": "gpu-platform"},
                annotations={IRSA_ANNOTATION: self.role.arn},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )
        self.chart = helm.chart(
            f"{name}-cluster-autoscaler",
            "cluster-autoscaler",
            namespace=NAMESPACE,
            overrides=chart_values(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.service_account, *depends_on]),
        )
        self.register_outputs({"roleArn": self.role.arn})


def node_autoscaler_factory(
    *,
    cluster_name: str,
    region: str,
    kubernetes_version: str,
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer_url: pulumi.Input[str],
    aws_provider: pulumi.ProviderResource,
) -> NodeAutoscalerFactory:
    """The seam's node autoscaler on EKS: cluster-autoscaler for the given pools, its IAM role made by
    the cluster layer's regional provider."""

    def install(
        *,
        pools: Sequence[PoolShape],
        settings: NodeAutoscalerSettings,
        opts: pulumi.ResourceOptions,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> ClusterAutoscaler:
        return ClusterAutoscaler(
            cluster_name,
            ClusterAutoscalerArgs(
                cluster_name=cluster_name,
                region=region,
                kubernetes_version=kubernetes_version,
                pools=tuple(pools),
                oidc_provider_arn=oidc_provider_arn,
                oidc_issuer_url=oidc_issuer_url,
                scale_down_unneeded_time=settings.scale_down_unneeded_time,
                scale_down_gpu_utilization_threshold=settings.scale_down_gpu_utilization_threshold,
            ),
            opts=opts,
            aws_provider=aws_provider,
            depends_on=depends_on,
        )

    return install
