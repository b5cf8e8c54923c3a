"""The EFA device plugin (aws-efa-k8s-device-plugin), on EFA pools only (docs/karpenter.md#efa-device-plugin).

It advertises the node's EFA devices as the extended resource `vpc.amazonaws.com/efa`, so a pod asks for
them like GPUs (`resources.limits: {vpc.amazonaws.com/efa: 32}` on a p5.48xlarge); without it the
interfaces components/aws/efa.py attaches are invisible to pods.

- Chart: charts/pins.yaml `aws-efa-k8s-device-plugin` (eks-charts), installed only when a pool has `efa: true`.
- Where it runs: the chart's node affinity keys (`supportedInstanceLabels`) are set to the pool label of
  components/scheduling.py with the EFA pools' names, replacing its list of instance types (the spec already
  refuses `efa` on a type without EFA); it tolerates every taint of those pools (the GPU taint included).
- Image: the chart's `repository:tag` template cannot take a digest. The tag is the pin's appVersion, an
  `eksbuild` tag (EKS add-on images are published once per tag); the registry is the EKS add-on registry of
  the stack's region (below). .checkov.yaml (CKV_K8S_43) records this exception.
- Namespace kube-system: the chart sets priority class `system-node-critical`, which the API server admits
  outside kube-system only with a ResourceQuota allowing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import helm
from components.aws.asg_tags import EFA_RESOURCE as EFA_RESOURCE  # one name for the plugin and the ASG template
from components.aws.eks_registry import EKS_ADDON_REGISTRY_ACCOUNT, addon_registry_account
from components.scheduling import POOL_LABEL, PoolShape

ADDON = "aws-efa-k8s-device-plugin"
NAMESPACE = "kube-system"
IMAGE_PATH = "eks/aws-efa-k8s-device-plugin"

# The chart's requests (values.yaml) and the limits its values.yaml suggests in a comment: a small gRPC
# server per node; limits bound a leak (and satisfy checkov's CKV_K8S_11/13).
RESOURCES = {"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}}


def registry(region: str) -> str:
    """The EKS add-on image registry of `region` (components/aws/eks_registry.py). The spec refuses an EFA pool
    where the account is not recorded (stacks/spec/pools.py efa_registry), so this guard only catches a caller
    that skipped validation."""
    account = addon_registry_account(region)
    if account is None:
        raise ValueError(
            f"EFA device plugin: no EKS add-on registry account recorded for {region} (only "
            f"{EKS_ADDON_REGISTRY_ACCOUNT}); the stack spec should have refused this EFA pool (rule efa_registry)"
        )
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def plugin_values(region: str, pools: Sequence[PoolShape]) -> dict[str, object]:
    """The chart values for the EFA pools `pools` in `region`."""
    if not pools:
        raise ValueError("EFA device plugin: no EFA pool to run on")
    tolerations: list[dict[str, str]] = []
    for shape in pools:
        for taint in shape.taints():
            if (t := taint.toleration()) not in tolerations:
                tolerations.append(t)
    return {
        "image": {"repository": f"{registry(region)}/{IMAGE_PATH}", "tag": helm.pin(ADDON).app_version},
        "supportedInstanceLabels": {"keys": [POOL_LABEL], "values": sorted(p.name for p in pools)},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": tolerations,
        "resources": RESOURCES,
    }


@dataclass(frozen=True)
class EfaDevicePluginArgs:
    region: str
    pools: tuple[PoolShape, ...]
    """The pools with `efa: true`."""
    k8s_provider: pulumi.ProviderResource
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class EfaDevicePlugin(pulumi.ComponentResource):
    """One Helm release of the EFA device plugin for the cluster's EFA pools."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: EfaDevicePluginArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:EfaDevicePlugin", name, None, opts)
        self.release = helm.release(
            ADDON,
            ADDON,
            namespace=NAMESPACE,
            overrides=plugin_values(args.region, args.pools),
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=list(args.depends_on)),
        )
        self.register_outputs({"release": self.release.name})
