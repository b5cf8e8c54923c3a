"""Cluster-autoscaler tags for the Auto Scaling Group behind an EKS managed node group.

Pure Python (no Pulumi): NodePool applies these with `aws.autoscaling.Tag`, tests check them directly.

Why tags on the ASG: EKS node-group tags are not copied to the ASG (pulumi/pulumi-eks#658,
aws/containers-roadmap#608), and a pool at zero has no node the autoscaler could look at. It builds a
template node from the ASG's tags instead (kubernetes/autoscaler cloudprovider/aws README, "Scaling a
node group to 0"): labels, taints and extended resources. Without the resource tags a pending pod asking
for `nvidia.com/mig-1g.5gb` never triggers a scale-up from zero ("Insufficient ...",
kubernetes/autoscaler#5278); without the taint tag the autoscaler would scale a GPU pool up for pods that
cannot tolerate it.
"""

from __future__ import annotations

from components.scheduling import GPU_RESOURCE, PoolShape

PREFIX = "k8s.io/cluster-autoscaler"
EFA_RESOURCE = "vpc.amazonaws.com/efa"
"""The extended resource the EFA device plugin advertises per interface (components/aws/efa_device_plugin.py)."""
ENABLED_TAG = f"{PREFIX}/enabled"
# An EKS node group name is at most 63 characters (aws.eks.NodeGroupArgs.node_group_name); NodePool names
# its group with a prefix, to which the provider appends a 26-character unique suffix: 63 - 26 = 37.
NODE_GROUP_NAME_PREFIX_MAX = 37
# Per-ASG override of `--scale-down-utilization-threshold` (CA AWS README "autoscaling-options" tags).
SCALE_DOWN_THRESHOLD_TAG = f"{PREFIX}/node-template/autoscaling-options/scaledownutilizationthreshold"
MIG_MIXED_SCALE_DOWN_UTILIZATION_THRESHOLD = 1.0
"""MIG `mixed` nodes advertise no nvidia.com/gpu and carry no accelerator label, so cluster-autoscaler does
not treat them as GPU nodes (GetNodeGpuConfig is nil) and judges them by the plain threshold on CPU and
memory requests, which says nothing about how many MIG slices are in use. 1.0 makes that explicit: every
such node is a scale-down candidate, and CA removes it exactly when its simulation re-places all its pods
on free slices of other nodes (PDBs respected) — consolidation — and an empty node after the unneeded time.
docs/gpu.md#cluster-autoscaler-and-the-accelerator-label-policy-kubernetesautoscaler8095."""


def node_group_name_prefix(cluster_name: str, pool_name: str) -> str:
    """`<cluster>-<pool>-`: the node group name prefix of a pool (NodePool is named `<cluster>-<pool>`)."""
    return f"{cluster_name}-{pool_name}-"


def owner_tag(cluster_name: str) -> str:
    return f"{PREFIX}/{cluster_name}"


def autoscaler_tags(
    cluster_name: str, shape: PoolShape, ephemeral_storage_gib: int | None = None, *, efa: bool = False
) -> dict[str, str]:
    """Discovery + scale-from-zero node-template tags for one pool, sorted by key.

    - discovery: `k8s.io/cluster-autoscaler/enabled=true`, `k8s.io/cluster-autoscaler/<cluster>=owned`
      (what `--node-group-auto-discovery=asg:tag=...` matches);
    - `node-template/label/<k>=<v>` for every label the pool's nodes get;
    - `node-template/taint/<k>=<v>:<Effect>` for every taint;
    - `node-template/resources/<name>=<n>` for every extended GPU resource one node advertises
      (whole GPUs, time-sliced replicas or MIG slices; `nvidia.com/gpu=0` on MIG mixed pools), plus
      `ephemeral-storage` when given;
    - `node-template/resources/vpc.amazonaws.com/efa=<interfaces>` on an EFA pool (`efa`): the catalog's
      `efa_interfaces` of the instance (p4d 4, p5 32), which the launch template attaches and the device plugin
      advertises; without it the autoscaler's template node has no EFA and never scales the pool up from zero
      for a pod that requests it;
    - MIG mixed pools: `node-template/autoscaling-options/scaledownutilizationthreshold`
      (MIG_MIXED_SCALE_DOWN_UTILIZATION_THRESHOLD).
    """
    tags = {ENABLED_TAG: "true", owner_tag(cluster_name): "owned"}
    for key, value in shape.labels().items():
        tags[f"{PREFIX}/node-template/label/{key}"] = value
    for taint in shape.taints():
        tags[f"{PREFIX}/node-template/taint/{taint.key}"] = f"{taint.value}:{taint.effect}"
    resources = dict(shape.gpu_resources)
    if shape.is_gpu and GPU_RESOURCE not in resources:
        # MIG mixed: the node advertises only nvidia.com/mig-* resources, but the autoscaler's AWS template
        # takes the GPU count from its instance-type table (8 for p4d) and would scale this pool up for
        # whole-GPU pods. An explicit 0 overrides it (resource tags win over the instance-type defaults).
        resources[GPU_RESOURCE] = 0
    for resource, count in resources.items():
        tags[f"{PREFIX}/node-template/resources/{resource}"] = str(count)
    if shape.is_gpu and not shape.sets_accelerator_label:
        tags[SCALE_DOWN_THRESHOLD_TAG] = str(MIG_MIXED_SCALE_DOWN_UTILIZATION_THRESHOLD)
    if efa:
        if shape.instance.efa_interfaces < 1:
            raise ValueError(f"{shape.name}: efa on {shape.instance.name}, which has no EFA interface in the catalog")
        tags[f"{PREFIX}/node-template/resources/{EFA_RESOURCE}"] = str(shape.instance.efa_interfaces)
    if ephemeral_storage_gib is not None:
        tags[f"{PREFIX}/node-template/resources/ephemeral-storage"] = f"{ephemeral_storage_gib}Gi"
    return dict(sorted(tags.items()))
