"""GPU scheduling facts from one place: the labels and taints node pools carry and the selectors and
tolerations workloads use. Node pools (AWS and Alibaba), the NVIDIA DaemonSets, the autoscaler's
scale-from-zero templates, model releases and the capacity planner all import from here, so a pool and
the pods meant for it can never disagree.

Pure Python: no Pulumi, no cloud SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from components.gpu import mig
from components.gpu.catalog import Cloud, InstanceType, catalog

Effect = Literal["NoSchedule", "NoExecute", "PreferNoSchedule"]
Sharing = Literal["none", "mig", "time-slicing"]

# Labels every pool node carries (set by the node pool at creation, known before the node exists, so
# the autoscaler can match pending pods against a pool that is at zero).
POOL_LABEL = "gpu-platform.io/pool"
GPU_MODEL_LABEL = "gpu-platform.io/gpu-model"
GPU_COUNT_LABEL = "gpu-platform.io/gpu-count"
GPU_SHARING_LABEL = "gpu-platform.io/gpu-sharing"
# Read by the NVIDIA MIG manager: which mig-parted config to apply on the node.
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
# Read by the NVIDIA device plugin: which named entry of its config map to use on the node.
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
# cluster-autoscaler's GPU label on AWS: a node with it counts as unready until it advertises
# nvidia.com/gpu (kubernetes/autoscaler cloudprovider/aws GPULabel).
AWS_ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
# The accelerator label each cloud's node autoscaler reads, as data: ACK sets its own label
# (aliyun.accelerator/nvidia_name) on GPU nodes with its own values and runs its own autoscaler.
# An existing cluster gets no node autoscaler from this platform (docs/existing-cluster.md).
AUTOSCALER_ACCELERATOR_LABEL: Mapping[Cloud, str | None] = {
    "aws": AWS_ACCELERATOR_LABEL,
    "alicloud": None,
    "existing": None,
}

GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_DEVICE_PLUGIN_CONFIG = "default"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str = ""
    effect: Effect = "NoSchedule"

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"

    @property
    def eks_effect(self) -> str:
        """EKS managed node groups spell effects NO_SCHEDULE / NO_EXECUTE / PREFER_NO_SCHEDULE."""
        return {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}[
            self.effect
        ]

    def toleration(self) -> dict[str, str]:
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""  # "" with operator Exists tolerates every taint (Kubernetes semantics)
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: Effect | None = None  # None tolerates every effect

    def tolerates(self, taint: Taint) -> bool:
        if self.effect is not None and self.effect != taint.effect:
            return False
        if not self.key:
            return self.operator == "Exists"
        return self.key == taint.key and (self.operator == "Exists" or self.value == taint.value)


# Every GPU pool carries this taint, so only pods that ask for GPUs (and tolerate it) land there.
GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")


def gpu_tolerations() -> list[dict[str, str]]:
    """Tolerations for anything that must run on GPU nodes (model servers, NVIDIA DaemonSets, log agents)."""
    return [GPU_TAINT.toleration()]


def device_plugin_config_name(
    sharing: Sharing, time_slicing_replicas: int | None, mig_strategy: Literal["single", "mixed"] | None = None
) -> str:
    """Name of the device-plugin config entry a pool selects via DEVICE_PLUGIN_CONFIG_LABEL.

    MIG pools get their own entry (`mig-single` / `mig-mixed`) because the device plugin's MIG strategy
    is a per-config flag: with `default` (strategy none) a MIG node would advertise nothing.
    """
    if sharing == "time-slicing" and time_slicing_replicas:
        return f"time-slicing-{time_slicing_replicas}"
    if sharing == "mig" and mig_strategy:
        return f"mig-{mig_strategy}"
    return DEFAULT_DEVICE_PLUGIN_CONFIG


@dataclass(frozen=True, slots=True)
class PoolShape:
    """What one node of a pool is, derived from the spec and the catalog: the input of node pools,
    autoscaler templates, the NVIDIA configs and the capacity planner."""

    name: str
    cloud: Cloud
    instance: InstanceType
    sharing: Sharing = "none"
    mig_strategy: Literal["single", "mixed"] | None = None
    mig_layout: str | None = None
    time_slicing_replicas: int | None = None
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    extra_taints: tuple[Taint, ...] = ()
    provisioner: Literal["cluster-autoscaler", "karpenter"] = "cluster-autoscaler"
    """Who launches the nodes: `karpenter` pools have no node group, `instance` is their cheapest type."""
    reserved_nodes: int = 0
    """Nodes held by the pool's capacity reservation (ODCR or Capacity Block), paid whether used or not."""
    reservation: str | None = None
    """The reservation as the capacity report names it, e.g. 'capacity-block cr-0123... in us-east-1a'."""
    node_limits: Mapping[str, float] = field(default_factory=dict)
    """Karpenter pools: the NodePool's resource limits (cpu cores, memory_gib, nvidia.com/gpu) that bound the
    pool instead of a maximum node count; empty for node groups."""

    @property
    def is_gpu(self) -> bool:
        return self.instance.is_gpu

    @property
    def gpu_resources(self) -> dict[str, int]:
        """Extended resources one node advertises (empty for CPU pools)."""
        if not self.is_gpu:
            return {}
        return mig.gpu_resources_per_node(
            self.instance,
            self.sharing,
            self.mig_strategy if self.sharing == "mig" else None,
            self.mig_layout if self.sharing == "mig" else None,
            self.time_slicing_replicas if self.sharing == "time-slicing" else None,
        )

    @property
    def mig_config(self) -> str | None:
        if self.sharing != "mig" or self.instance.gpu_model is None or self.mig_layout is None:
            return None
        return mig.mig_config_label(self.instance.gpu_model, self.mig_layout)

    @property
    def sets_accelerator_label(self) -> bool:
        """Accelerator-label policy for the autoscaler (kubernetes/autoscaler#8095).

        With the label, cluster-autoscaler treats a new node as unready until it advertises
        nvidia.com/gpu — right for whole GPUs, time-slicing and MIG `single` (they advertise
        nvidia.com/gpu), but a MIG `mixed` node only ever advertises nvidia.com/mig-* resources, so
        with the label the autoscaler would wait forever and keep adding nodes. Mixed pools go
        without it; their scale-from-zero template still declares the MIG resources.
        """
        return self.is_gpu and not (self.sharing == "mig" and self.mig_strategy == "mixed")

    def labels(self) -> dict[str, str]:
        out = {POOL_LABEL: self.name}
        gpu = self.instance.gpu_model
        if self.is_gpu and gpu is not None:
            out[GPU_MODEL_LABEL] = gpu
            out[GPU_COUNT_LABEL] = str(self.instance.gpu_count)
            out[GPU_SHARING_LABEL] = self.sharing
            out[DEVICE_PLUGIN_CONFIG_LABEL] = device_plugin_config_name(
                self.sharing, self.time_slicing_replicas, self.mig_strategy if self.sharing == "mig" else None
            )
            if self.mig_config is not None:
                out[MIG_CONFIG_LABEL] = self.mig_config
            accelerator = AUTOSCALER_ACCELERATOR_LABEL[self.cloud]
            if self.sets_accelerator_label and accelerator is not None:
                out[accelerator] = gpu
        return {**self.extra_labels, **out}

    def taints(self) -> tuple[Taint, ...]:
        base = (GPU_TAINT,) if self.is_gpu else ()
        return base + tuple(t for t in self.extra_taints if t.key != GPU_TAINT.key)

    def node_selector(self) -> dict[str, str]:
        """Selector that pins a pod to this pool."""
        return {POOL_LABEL: self.name}


def pool_shape(cloud: Cloud, name: str, instance_type: str, **kwargs: object) -> PoolShape:
    """Convenience for tests and other stacks: look the instance up in the catalog."""
    inst = catalog().instance(cloud, instance_type)
    if inst is None:
        raise ValueError(f"unknown {cloud} instance type {instance_type!r}")
    return PoolShape(name=name, cloud=cloud, instance=inst, **kwargs)  # type: ignore[arg-type]
