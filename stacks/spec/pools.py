"""`nodePools:` block (instance types, sizes, GPU sharing, taints) and its rules, plus the pool's
cloud-neutral shape (components/scheduling.PoolShape) derived from a validated pool. The pools of an
existing cluster (`cloud: existing`) declare one node (`node:`) instead of choosing instance types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from components.aws.asg_tags import NODE_GROUP_NAME_PREFIX_MAX, node_group_name_prefix
from components.aws.eks_registry import (
    EKS_ADDON_REGISTRY_ACCOUNT,
    REGIONS_WITH_OTHER_REGISTRY_ACCOUNTS,
    addon_registry_account,
)
from components.existing.nodes import declared_instance
from components.gpu import mig
from components.gpu.catalog import InstanceType, catalog, layout_problems
from components.scheduling import GPU_RESOURCE, PoolShape, Taint
from stacks.spec.base import LABEL_KEY_RE, LABEL_VALUE_RE, DnsName, Loc, Problem, Spec, duplicates
from stacks.spec.cloud_facts import Int32

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec
from stacks.spec.errors import did_you_mean, show


class TaintSpec(Spec):
    key: str
    """Taint key, e.g. dedicated."""
    value: str = ""
    """Taint value (may be empty)."""
    effect: Literal["NoSchedule", "NoExecute", "PreferNoSchedule"] = "NoSchedule"
    """What happens to pods that do not tolerate it."""


class MigSpec(Spec):
    strategy: Literal["single", "mixed"] = "mixed"
    """`mixed` advertises each MIG profile as its own resource (nvidia.com/mig-1g.10gb); `single`
    advertises every slice as nvidia.com/gpu and needs a uniform layout."""
    layout: str
    """A named mig-parted layout for the pool's GPU, e.g. all-1g.10gb, all-balanced."""


class TimeSlicingSpec(Spec):
    replicas: Int32
    """How many pods share one GPU (no memory isolation). At least 2."""


class GpuSpec(Spec):
    sharing: Literal["none", "mig", "time-slicing"] = "none"
    """Default: whole GPUs, one pod per GPU."""
    mig: MigSpec | None = None
    """Required when sharing is `mig`."""
    time_slicing: TimeSlicingSpec | None = None
    """Required when sharing is `time-slicing`."""


class NodeSpec(Spec):
    cpu: float = Field(gt=0, le=4096)
    """Allocatable CPU cores of one node (`kubectl get node <node> -o jsonpath='{.status.allocatable}'`;
    15890m is 15.89), less what the cluster's own DaemonSets request. The platform's DaemonSets are
    subtracted by the capacity check."""
    memory_gib: float = Field(gt=0, le=65536)
    """Allocatable memory of one node in GiB (allocatable `memory` in Ki / 1048576), less what the cluster's
    own DaemonSets request."""
    max_pods: int = Field(default=110, ge=1, le=1024)
    """Allocatable pods of one node. Default: 110, the kubelet's default."""
    arch: Literal["x86_64", "arm64"] = "x86_64"
    """CPU architecture of the nodes."""
    gpu_model: str | None = None
    """The nodes' GPU, one of the catalog's GPU models (components/gpu/catalog.yaml `gpu_models`, e.g. l4,
    a10g, a100-80gb, h100-80gb): GPU memory, MIG profiles and layouts come from the catalog. Default: no GPUs."""
    gpu_count: int = Field(default=0, ge=0, le=16)
    """GPUs per node; required with gpuModel."""


class ReservationSpec(Spec):
    """An EC2 capacity reservation the pool's nodes launch into (docs/karpenter.md#reservations)."""

    type: Literal["odcr", "capacity-block"]
    """`odcr`: an On-Demand Capacity Reservation; `capacity-block`: an EC2 Capacity Block for ML (p5/p5e
    are sold that way), launched with market type `capacity-block`."""
    id: str
    """The reservation's id, e.g. cr-0123456789abcdef0."""
    instance_type: str
    """The one instance type the reservation holds; the pool's instanceTypes must be exactly it."""
    zone: str
    """The reservation's Availability Zone; one of the stack's zones. The pool's nodes launch only there."""
    count: int = Field(ge=1, le=1000)
    """Instances the reservation holds: the pool's maxSize may not exceed it (the capacity check counts it)."""
    upfront_fee: float | None = Field(default=None, gt=0)
    """`capacity-block` only: what AWS charged for the whole block, in USD, as the purchased offering states it
    (its `UpfrontFee`: all `count` instances for all `durationHours`). A block's rate is set per offering at
    purchase, so the price book cannot know it; the cost estimate prices the pool from this. Required in prod
    (rule capacity_block_price). Default: unpriced."""
    duration_hours: int | None = Field(default=None, ge=1)
    """`capacity-block` only: the block's length in hours, as the offering states it
    (`CapacityBlockDurationHours`); given with upfrontFee."""

    @property
    def usd_per_hour(self) -> float | None:
        """The block's cost per hour, every instance together (upfrontFee / durationHours): paid whether
        its nodes run or not. None: not given (or not a Capacity Block)."""
        if self.type != "capacity-block" or self.upfront_fee is None or not self.duration_hours:
            return None
        return self.upfront_fee / self.duration_hours


class NodePoolSpec(Spec):
    name: DnsName
    """Pool name; part of resource names, so renaming a pool replaces it."""
    instance_types: tuple[str, ...] = Field(default=(), min_length=1)
    """One or more instance types of the same shape; the first is the primary. Required on aws and
    alicloud; not with `cloud: existing`, whose pools declare `node` instead."""
    node: NodeSpec | None = None
    """Existing cluster only (`cloud: existing`, required there): what one node of the pool is. The pool's
    nodes must carry the labels and taints the plan exports as `poolNodeLabels` (docs/existing-cluster.md)."""
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    """SPOT is cheaper but can be reclaimed at two minutes' notice."""
    min_size: Int32 = Field(default=0, ge=0)
    """Default 0: the pool scales to zero when idle (GPU pools should)."""
    max_size: Int32 = Field(default=2, ge=1)
    """Upper bound for the cluster autoscaler; the capacity planner checks releases fit at this size."""
    disk_size_gib: int | None = Field(default=None, ge=20, le=16384)
    """Root volume. Default: 200 GiB on GPU pools (driver, CUDA images), 50 GiB otherwise."""
    ami_type: str | None = None
    """EKS AMI type. Default: AL2023 NVIDIA for GPU instances, AL2023 standard otherwise (by arch)."""
    labels: dict[str, str] = {}
    """Extra node labels (GPU pools also get the catalog labels)."""
    taints: tuple[TaintSpec, ...] = ()
    """Extra taints. GPU pools always get nvidia.com/gpu=present:NoSchedule."""
    gpu: GpuSpec | None = None
    """GPU sharing. Default for a GPU instance type: whole GPUs."""
    efa: bool = False
    """Elastic Fabric Adapter interfaces + cluster placement group (p4d/p5-class, multi-node)."""
    provisioner: Literal["cluster-autoscaler", "karpenter"] = "cluster-autoscaler"
    """AWS only. `cluster-autoscaler`: an EKS managed node group scaled by the cluster autoscaler (MIG,
    time-slicing, EFA and reservations); `karpenter`: a Karpenter NodePool + EC2NodeClass that launches the
    cheapest of instanceTypes for pending pods, spot first when capacityTypes allows (docs/karpenter.md)."""
    capacity_types: tuple[Literal["spot", "on-demand"], ...] = Field(default=(), max_length=2)
    """Karpenter pools only: capacity types to launch, e.g. [spot, on-demand] (Karpenter prefers spot and
    falls back to on-demand). Default: [on-demand]."""
    reservation: ReservationSpec | None = None
    """AWS only: launch every node into this ODCR or Capacity Block (a node group's launch template, or a
    Karpenter EC2NodeClass's capacityReservationSelectorTerms with capacity type `reserved`)."""


def node_pools(spec: StackSpec) -> Iterator[Problem]:
    for name in sorted(duplicates(p.name for p in spec.node_pools)):
        yield ("nodePools",), f"pool name {show(name)} is used twice; pool names must be unique"
    for i, pool in enumerate(spec.node_pools):
        loc: Loc = ("nodePools", i)
        if pool.min_size > pool.max_size:
            yield (*loc, "minSize"), f"{pool.min_size} is greater than maxSize {pool.max_size}; make minSize <= maxSize"
        for key, value in pool.labels.items():
            if not LABEL_KEY_RE.match(key):
                yield (*loc, "labels", key), f"{show(key)} is not a valid Kubernetes label key"
            if not LABEL_VALUE_RE.match(value):
                yield (
                    (*loc, "labels", key),
                    (f"value {show(value)} is not a valid label value (63 chars max: letters, digits, '-', '_', '.')"),
                )
        for j, taint in enumerate(pool.taints):
            if not LABEL_KEY_RE.match(taint.key):
                yield (*loc, "taints", j, "key"), f"{show(taint.key)} is not a valid taint key"
        for j, typ in enumerate(pool.instance_types):
            if typ in pool.instance_types[:j]:
                yield (*loc, "instanceTypes", j), f"{show(typ)} is listed twice; list each instance type once"
        yield from _gpu_block(pool.gpu, loc)


def _gpu_block(gpu: GpuSpec | None, loc: Loc) -> Iterator[Problem]:
    if gpu is None:
        return
    loc = (*loc, "gpu")
    if gpu.sharing == "mig" and gpu.mig is None:
        yield (*loc, "mig"), "required when sharing is 'mig'; add mig: {strategy: mixed, layout: <layout>}"
    if gpu.sharing != "mig" and gpu.mig is not None:
        yield (*loc, "mig"), f"given while sharing is {show(gpu.sharing)}; set sharing: mig or remove the mig block"
    if gpu.sharing == "time-slicing" and gpu.time_slicing is None:
        yield (*loc, "timeSlicing"), "required when sharing is 'time-slicing'; add timeSlicing: {replicas: 4}"
    if gpu.sharing != "time-slicing" and gpu.time_slicing is not None:
        yield (
            (*loc, "timeSlicing"),
            (f"given while sharing is {show(gpu.sharing)}; set sharing: time-slicing or remove the timeSlicing block"),
        )
    if gpu.time_slicing is not None and gpu.time_slicing.replicas < 2:
        yield (
            (*loc, "timeSlicing", "replicas"),
            (f"{gpu.time_slicing.replicas} shares nothing; use 2 or more (or sharing: none for whole GPUs)"),
        )


MIN_GPU_DISK_GIB = 100  # NVIDIA AMIs + CUDA/model-server images need the room (EKS BPG)


def default_ami_type(instance: InstanceType) -> str:
    arch = "x86_64" if instance.arch == "x86_64" else "ARM_64"
    return f"AL2023_{arch}_{'NVIDIA' if instance.is_gpu else 'STANDARD'}"


def disk_size_gib(pool: NodePoolSpec, instance: InstanceType) -> int:
    return pool.disk_size_gib or (200 if instance.is_gpu else 50)


def pool_catalog(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud == "existing":
        yield from _declared_nodes(spec)
        return
    cat = catalog()
    names = cat.instance_names(spec.cloud)
    for i, pool in enumerate(spec.node_pools):
        loc: Loc = ("nodePools", i)
        found: list[InstanceType] = []
        for j, typ in enumerate(pool.instance_types):
            inst = cat.instance(spec.cloud, typ)
            if inst is None:
                hint = did_you_mean(typ, names).replace("allowed keys", "known instance types")
                yield (*loc, "instanceTypes", j), f"{show(typ)} is not a known {spec.cloud} instance type; {hint}"
            else:
                found.append(inst)
        if not found:
            continue
        first = found[0]
        for j, inst in enumerate(found[1:], start=1):
            if (inst.gpu_model, inst.gpu_count, inst.arch) != (first.gpu_model, first.gpu_count, first.arch):
                yield (
                    (*loc, "instanceTypes", j),
                    (
                        f"{show(inst.name)} ({_shape(inst)}) differs from {show(first.name)} ({_shape(first)}); "
                        "all instance types of a pool need the same GPU model, GPU count and CPU architecture "
                        "(the scheduler and autoscaler treat the pool as one shape); split them into two pools"
                    ),
                )
        yield from _ami(spec, pool, first, loc)
        yield from _gpu(pool, first, loc)
        if pool.efa and not all(x.efa for x in found):
            bad = [x.name for x in found if not x.efa]
            yield (
                (*loc, "efa"),
                (f"true, but {', '.join(bad)} has no EFA; use an EFA instance type (p4d/p5 class) or set efa: false"),
            )
        if pool.efa and spec.cloud != "aws":
            yield (
                (*loc, "efa"),
                (
                    "EFA exists only on AWS; on ACK the RDMA fabric is eRDMA (ebmgn* bare-metal families), which "
                    "this platform does not configure yet (no eRDMA device plugin or ENI settings): remove efa"
                ),
            )


def _shape(inst: InstanceType) -> str:
    gpu = f"{inst.gpu_count}x {inst.gpu_model}" if inst.is_gpu else "no GPU"
    return f"{gpu}, {inst.arch}"


def _ami(spec: StackSpec, pool: NodePoolSpec, inst: InstanceType, loc: Loc) -> Iterator[Problem]:
    if spec.cloud != "aws" or pool.ami_type is None:
        return
    ami = catalog().ami_types.get(pool.ami_type)
    allowed = catalog().gpu_ami_types(inst.arch) if inst.is_gpu else catalog().standard_ami_types(inst.arch)
    if ami is None or ami.legacy or pool.ami_type not in allowed:
        kind = "a GPU" if inst.is_gpu else "a CPU"
        why = (
            "is not a known EKS AMI type"
            if ami is None
            else (
                "is a legacy AL2 AMI (no longer published)"
                if ami.legacy
                else f"does not fit {inst.name} ({kind} {inst.arch} instance)"
            )
        )
        yield (*loc, "amiType"), f"{show(pool.ami_type)} {why}; choose one of {', '.join(allowed)}"


def _gpu(pool: NodePoolSpec, inst: InstanceType, loc: Loc) -> Iterator[Problem]:
    if not inst.is_gpu:
        if pool.gpu is not None:
            yield (
                (*loc, "gpu"),
                (f"given, but {inst.name} has no GPUs; remove the gpu block or use a GPU instance type"),
            )
        return
    if pool.disk_size_gib is not None and pool.disk_size_gib < MIN_GPU_DISK_GIB:
        yield (
            (*loc, "diskSizeGib"),
            (
                f"{pool.disk_size_gib} is too small for a GPU node; use at least "
                f"{MIN_GPU_DISK_GIB} (driver, CUDA and model-server images)"
            ),
        )
    if pool.gpu is None or pool.gpu.sharing != "mig" or pool.gpu.mig is None:
        return
    gpu = inst.gpu
    assert gpu is not None
    mloc: Loc = (*loc, "gpu", "mig")
    if not gpu.mig_supported:
        yield (
            (*loc, "gpu", "sharing"),
            (
                f"'mig' is not possible on {inst.name}: its {gpu.key} GPUs do not support "
                "MIG; use sharing: time-slicing, or a MIG GPU (A100, H100, H200, B200)"
            ),
        )
        return
    if not inst.mig_allowed:
        capable = [
            i.name for i in catalog().instances[inst.cloud].values() if i.mig_allowed and i.gpu_model == inst.gpu_model
        ] or [i.name for i in catalog().instances[inst.cloud].values() if i.mig_allowed]
        # ACK's own device plugin ignores our time-slicing config, so only suggest it where it works.
        alternative = "sharing: time-slicing" if inst.cloud == "aws" else "sharing: none"
        yield (
            (*loc, "gpu", "sharing"),
            (
                f"'mig' is not possible on {inst.name}: the cloud does not let you enable "
                f"MIG on it; use a MIG-capable instance type ({', '.join(sorted(capable))}) "
                f"or {alternative}"
            ),
        )
        return
    layout = pool.gpu.mig.layout
    if layout not in gpu.mig_layouts:
        yield (
            (*mloc, "layout"),
            (f"{show(layout)} is not a layout for {gpu.key}; choose one of " + ", ".join(gpu.layout_names())),
        )
        return
    counts = mig.layout_counts(gpu.key, layout)
    for problem in layout_problems(gpu, counts):
        yield (*mloc, "layout"), f"{show(layout)} cannot be created on {gpu.key}: {problem}"
    if pool.gpu.mig.strategy == "single" and len(counts) != 1:
        yield (
            (*mloc, "strategy"),
            (
                f"'single' needs a layout with one profile, but {show(layout)} mixes "
                f"{', '.join(sorted(counts))}; use strategy: mixed or an all-<profile> layout"
            ),
        )


# Each time-slicing replica is a pod with its own CUDA context (a few hundred MiB of GPU memory before
# the model loads) and its own share of the time slices; past 48 (also the MPS client limit on
# Volta and newer) a 16-24 GB GPU has nothing left per pod. Ask for a MIG or bigger GPU instead.
MAX_TIME_SLICING_REPLICAS = 48


def gpu_sharing(spec: StackSpec) -> Iterator[Problem]:
    for i, pool in enumerate(spec.node_pools):
        gpu = pool.gpu
        if gpu is None:
            continue
        loc: Loc = ("nodePools", i, "gpu")
        if gpu.time_slicing is not None and gpu.time_slicing.replicas > MAX_TIME_SLICING_REPLICAS:
            yield (
                (*loc, "timeSlicing", "replicas"),
                (
                    f"{gpu.time_slicing.replicas} is more than {MAX_TIME_SLICING_REPLICAS} pods per GPU (each needs its "
                    "own CUDA context and GPU memory); lower it, or use MIG or a larger GPU"
                ),
            )
        inst = catalog().instance(spec.cloud, pool.instance_types[0]) if pool.instance_types else None
        ami = pool.ami_type
        if (
            spec.cloud == "aws"
            and inst is not None
            and inst.is_gpu
            and ami is not None
            and ami.startswith("BOTTLEROCKET")
            and gpu.sharing != "none"
        ):
            # Bottlerocket's own device plugin and MIG manager are configured through its settings API
            # (user data), not through our device-plugin config map and mig-parted ConfigMap.
            yield (
                (*loc, "sharing"),
                (
                    f"{show(gpu.sharing)} is not supported on {ami}: Bottlerocket configures GPU sharing in its own "
                    "settings, which this platform does not render; use amiType AL2023_x86_64_NVIDIA "
                    "(or AL2023_ARM_64_NVIDIA) or sharing: none"
                ),
            )


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


def _declared_nodes(spec: StackSpec) -> Iterator[Problem]:
    """The declared node of each existing-cluster pool against the catalog: its GPU model, and the pool's
    GPU sharing on that GPU (the same checks as a catalog instance's)."""
    gpus = sorted(catalog().gpus)
    for i, pool in enumerate(spec.node_pools):
        n = pool.node
        if n is None:
            continue  # rule existing_pools reports it
        loc: Loc = ("nodePools", i, "node")
        if n.gpu_model is not None and n.gpu_model not in catalog().gpus:
            hint = did_you_mean(n.gpu_model, gpus).replace("allowed keys", "the catalog's GPU models")
            yield (*loc, "gpuModel"), f"{show(n.gpu_model)} is not a GPU model of the catalog; {hint}"
            continue
        if n.gpu_model is not None and n.gpu_count == 0:
            yield (
                (*loc, "gpuCount"),
                f"0 with gpuModel {show(n.gpu_model)}; give the number of GPUs per node, e.g. gpuCount: 1",
            )
            continue
        if n.gpu_model is None and n.gpu_count > 0:
            yield (
                (*loc, "gpuModel"),
                (
                    f"required with gpuCount {n.gpu_count}; name the nodes' GPU, one of the catalog's GPU models: "
                    + ", ".join(gpus)
                ),
            )
            continue
        inst = declared_node(pool)
        if not inst.is_gpu and pool.gpu is not None:
            yield (
                ("nodePools", i, "gpu"),
                "given, but the pool's nodes have no GPUs (node.gpuModel is not set); remove the gpu block or "
                "declare the nodes' GPUs",
            )
            continue
        yield from _gpu(pool, inst, ("nodePools", i))


# Pool keys that choose how a cloud creates nodes: nothing to choose for an existing cluster's nodes.
POOL_KEYS_NOT_ON_EXISTING = {
    "capacityType": "capacity_type",
    "amiType": "ami_type",
    "diskSizeGib": "disk_size_gib",
    "efa": "efa",
    "provisioner": "provisioner",
    "capacityTypes": "capacity_types",
    "reservation": "reservation",
}


def existing_pools(spec: StackSpec) -> Iterator[Problem]:
    """An existing cluster's pools declare their nodes (`node`) and their node count; other clouds' pools
    choose instance types."""
    if spec.cloud != "existing":
        for i, pool in enumerate(spec.node_pools):
            if pool.node is not None:
                yield (
                    ("nodePools", i, "node"),
                    (
                        f"given while cloud is {show(spec.cloud)}; a declared node applies to an existing "
                        "cluster's pools only (cloud: existing): remove it and list instanceTypes"
                    ),
                )
            if not pool.instance_types:
                example = "g6.xlarge" if spec.cloud == "aws" else "ecs.gn7i-c8g1.2xlarge"
                yield (
                    ("nodePools", i, "instanceTypes"),
                    (f"required on {spec.cloud}; list one or more instance types of the same shape, e.g. [{example}]"),
                )
        return
    ex = spec.cluster.existing
    scales = ex is not None and ex.scales_pools
    for i, pool in enumerate(spec.node_pools):
        loc: Loc = ("nodePools", i)
        if pool.instance_types:
            yield (
                (*loc, "instanceTypes"),
                (
                    "given while cloud is 'existing'; this stack creates no nodes, so it chooses no instance "
                    "types: remove instanceTypes and describe one node under node: {cpu, memoryGib, ...}"
                ),
            )
        if pool.node is None:
            yield (
                (*loc, "node"),
                (
                    "required with cloud 'existing'; describe one node of the pool by its allocatable "
                    "(kubectl get node <node> -o jsonpath='{.status.allocatable}'), e.g. node: {cpu: 15.5, "
                    "memoryGib: 58, maxPods: 110, gpuModel: l4, gpuCount: 1}"
                ),
            )
        for key, attr in POOL_KEYS_NOT_ON_EXISTING.items():
            if attr in pool.model_fields_set:
                yield (
                    (*loc, key),
                    (
                        f"given while cloud is 'existing'; it chooses how a cloud creates nodes, and this stack "
                        f"creates none: remove {key}"
                    ),
                )
        if not scales and pool.min_size != pool.max_size:
            yield (
                (*loc, "minSize"),
                (
                    f"{pool.min_size} differs from maxSize {pool.max_size}, but nothing scales the pools of an "
                    "existing cluster (cluster.existing.scalesPools is false); set minSize and maxSize to the "
                    "pool's node count, or set scalesPools: true if the cluster scales its pools itself"
                ),
            )


def alicloud_pools(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud != "alicloud":
        return
    for i, pool in enumerate(spec.node_pools):
        loc: Loc = ("nodePools", i)
        if pool.ami_type is not None:
            yield (
                (*loc, "amiType"),
                (
                    f"{show(pool.ami_type)} is an EKS AMI type; ACK nodes run Alibaba Cloud Linux 3 "
                    "with ACK's NVIDIA driver, so remove amiType"
                ),
            )
        if pool.gpu is not None and pool.gpu.sharing == "time-slicing":
            yield (
                (*loc, "gpu", "sharing"),
                (
                    "'time-slicing' is configured in the NVIDIA device plugin, which ACK replaces with its own "
                    "(ack-nvidia-device-plugin); use sharing: none (whole GPUs) or MIG on a bare-metal A100 pool"
                ),
            )


# Karpenter sizes nodes from whole-GPU requests; it cannot model MIG slices or time-sliced replicas.
KARPENTER_SHARING_ISSUES = "kubernetes-sigs/karpenter#729, aws/karpenter-provider-aws#8710"


def karpenter_pools(spec: StackSpec) -> Iterator[Problem]:
    """`provisioner: karpenter` (docs/karpenter.md): AWS only, whole-GPU or CPU pools, no minimum, capacity
    types instead of capacityType (none with a reservation); EFA stays on managed node groups."""
    karpenter_at = [i for i, p in enumerate(spec.node_pools) if p.provisioner == "karpenter"]
    if (
        spec.cloud == "aws"
        and karpenter_at
        and not any(p.provisioner == "cluster-autoscaler" and not _first_is_gpu(spec, p) for p in spec.node_pools)
    ):
        yield (
            ("nodePools", karpenter_at[0], "provisioner"),
            (
                "'karpenter' needs a CPU pool with provisioner cluster-autoscaler to run its controller on (it never "
                "runs on nodes it launches); add one, e.g. {name: system, instanceTypes: [m6i.xlarge], minSize: 2}"
            ),
        )
    for i, pool in enumerate(spec.node_pools):
        loc: Loc = ("nodePools", i)
        karpenter = pool.provisioner == "karpenter"
        if not karpenter:
            if pool.capacity_types:
                yield (
                    (*loc, "capacityTypes"),
                    (
                        "given with provisioner 'cluster-autoscaler'; a managed node group has one capacity "
                        "type: use capacityType (ON_DEMAND or SPOT), or provisioner: karpenter for spot with "
                        "on-demand fallback"
                    ),
                )
            continue
        if spec.cloud != "aws":
            yield (
                (*loc, "provisioner"),
                (
                    f"'karpenter' is an AWS provisioner here; on {spec.cloud} the cloud's own node "
                    "autoscaling scales the pool: remove provisioner"
                ),
            )
            continue
        sharing = pool.gpu.sharing if pool.gpu else "none"
        if sharing != "none":
            yield (
                (*loc, "provisioner"),
                (
                    f"'karpenter' cannot provision a pool with sharing {show(sharing)}: Karpenter sizes nodes "
                    "from whole nvidia.com/gpu requests and knows neither MIG slices nor time-sliced replicas "
                    f"({KARPENTER_SHARING_ISSUES}); keep this pool on provisioner: cluster-autoscaler"
                ),
            )
        if pool.min_size > 0:
            yield (
                (*loc, "minSize"),
                (
                    f"{pool.min_size} with provisioner 'karpenter': a NodePool keeps no minimum of nodes (it "
                    "launches them for pending pods); set minSize: 0, or use provisioner: cluster-autoscaler"
                ),
            )
        if "capacity_type" in pool.model_fields_set:
            yield (
                (*loc, "capacityType"),
                (
                    "given with provisioner 'karpenter'; list capacityTypes instead, e.g. [spot, on-demand] "
                    "(spot first, on-demand when spot has none)"
                ),
            )
        for j, typ in enumerate(pool.capacity_types):
            if typ in pool.capacity_types[:j]:
                yield (*loc, "capacityTypes", j), f"{show(typ)} is listed twice; list each capacity type once"
        if pool.efa:
            yield (
                (*loc, "efa"),
                (
                    "given with provisioner 'karpenter'; this platform builds efa on managed node groups "
                    "only (launch template and placement group per pool): use provisioner: "
                    "cluster-autoscaler for this pool"
                ),
            )
        if pool.reservation is not None and pool.capacity_types:
            yield (
                (*loc, "capacityTypes"),
                (
                    "given with a reservation; a reservation pool launches only into its reservation (Karpenter "
                    "capacity type 'reserved', no fallback, so maxSize stays within the count): remove capacityTypes"
                ),
            )


def _first_is_gpu(spec: StackSpec, pool: NodePoolSpec) -> bool:
    inst = catalog().instance(spec.cloud, pool.instance_types[0]) if pool.instance_types else None
    return inst is None or inst.is_gpu


CAPACITY_RESERVATION_ID_RE = re.compile(r"^cr-[0-9a-f]{8}(?:[0-9a-f]{9})?$")


def reservations(spec: StackSpec) -> Iterator[Problem]:
    """A pool's ODCR / Capacity Block: on AWS, one instance type, in one of the stack's zones, no more
    nodes than it holds (a targeted reservation does not spill over into on-demand)."""
    for i, pool in enumerate(spec.node_pools):
        r = pool.reservation
        if r is None:
            continue
        loc: Loc = ("nodePools", i, "reservation")
        if spec.cloud != "aws":
            yield (
                loc,
                "given while cloud is not 'aws'; ODCRs and Capacity Blocks are EC2 reservations: remove reservation",
            )
            continue
        if not CAPACITY_RESERVATION_ID_RE.match(r.id):
            yield (*loc, "id"), f"{show(r.id)} is not a capacity reservation id; write it like 'cr-0123456789abcdef0'"
        if r.zone not in spec.zones:
            yield (
                (*loc, "zone"),
                (
                    f"{show(r.zone)} is not one of the stack's zones ({', '.join(spec.zones)}); the pool's nodes "
                    "launch only in those, so they could never use the reservation: use the zone the reservation "
                    "was bought in and list it in zones"
                ),
            )
        if pool.instance_types != (r.instance_type,):
            yield (
                (*loc, "instanceType"),
                (
                    f"{show(r.instance_type)}, but the pool's instanceTypes are [{', '.join(pool.instance_types)}]; "
                    f"a reservation holds one instance type: set instanceTypes: [{r.instance_type}]"
                ),
            )
        if pool.max_size > r.count:
            yield (
                ("nodePools", i, "maxSize"),
                (
                    f"{pool.max_size} is more than the {r.count} instances of reservation {r.id}; nodes beyond it "
                    f"cannot launch (a targeted reservation does not fall back to on-demand): set maxSize <= {r.count}"
                ),
            )
        if r.type == "capacity-block" and pool.capacity_type == "SPOT":
            yield (
                ("nodePools", i, "capacityType"),
                "'SPOT' with a capacity-block reservation; a Capacity Block is paid in advance: remove capacityType",
            )


def capacity_block_price(spec: StackSpec) -> Iterator[Problem]:
    """The price paid for a Capacity Block (upfrontFee + durationHours): both or neither, only on a
    capacity-block reservation, and required in prod, whose cost must be known (docs/cost.md#capacity-blocks)."""
    for i, pool in enumerate(spec.node_pools):
        r = pool.reservation
        if r is None or spec.cloud != "aws":
            continue
        loc: Loc = ("nodePools", i, "reservation")
        given = [k for k, v in (("upfrontFee", r.upfront_fee), ("durationHours", r.duration_hours)) if v is not None]
        if r.type != "capacity-block":
            for key in given:
                yield (
                    (*loc, key),
                    (
                        f"given with reservation type {show(r.type)}; an On-Demand Capacity Reservation has no "
                        "upfront fee (it is billed at the on-demand rate): remove upfrontFee and durationHours"
                    ),
                )
            continue
        if len(given) == 1:
            missing = "durationHours" if given[0] == "upfrontFee" else "upfrontFee"
            yield (
                (*loc, missing),
                (
                    f"missing while {given[0]} is given; the block's hourly cost is upfrontFee / durationHours: "
                    f"set {missing} as the purchased offering states it"
                ),
            )
        elif not given and spec.is_prod:
            yield (
                (*loc, "upfrontFee"),
                (
                    f"missing for capacity-block reservation {r.id} in a prod stack, so its cost would be unknown; "
                    "a Capacity Block's rate is set per offering at purchase and no price book can know it: set "
                    "upfrontFee (USD, the offering's UpfrontFee for the whole block) and durationHours (its "
                    "CapacityBlockDurationHours)"
                ),
            )


def efa_registry(spec: StackSpec) -> Iterator[Problem]:
    """An EFA pool needs the EFA device plugin's image from the region's EKS add-on registry, whose account
    is recorded only for some regions (components/aws/eks_registry.py)."""
    if spec.cloud != "aws" or addon_registry_account(spec.region) is not None:
        return
    for i, pool in enumerate(spec.node_pools):
        if pool.efa:
            yield (
                ("nodePools", i, "efa"),
                (
                    f"true in region {show(spec.region)}, whose EKS add-on registry (where the EFA device plugin's "
                    f"image comes from) is served by an account this platform does not record; supported: every "
                    f"region but {', '.join(r + '*' if r.endswith('-') else r for r in REGIONS_WITH_OTHER_REGISTRY_ACCOUNTS)} "
                    f"(account {EKS_ADDON_REGISTRY_ACCOUNT}): set efa: false, or use another region"
                ),
            )


def declared_node(pool: NodePoolSpec) -> InstanceType:
    """One node of an existing cluster's (validated) pool, as the catalog's InstanceType (no price)."""
    n = pool.node
    assert n is not None, "spec validation requires node with cloud 'existing'"
    return declared_instance(
        pool.name,
        cpu=n.cpu,
        memory_gib=n.memory_gib,
        max_pods=n.max_pods,
        arch=n.arch,
        gpu_model=n.gpu_model,
        gpu_count=n.gpu_count,
    )


def pool_shape(spec: StackSpec, pool: NodePoolSpec) -> PoolShape:
    """The cloud-neutral shape of a (validated) pool: catalog instance (or the declared node of an existing
    cluster's pool), GPU sharing, labels, taints."""
    if spec.cloud == "existing":
        inst: InstanceType | None = declared_node(pool)
    elif pool.provisioner == "karpenter":
        inst = karpenter_instance(spec, pool)
    else:
        inst = catalog().instance(spec.cloud, pool.instance_types[0])
    assert inst is not None, "spec validation guarantees known instance types"
    gpu = pool.gpu
    reservation = pool.reservation
    return PoolShape(
        provisioner=pool.provisioner,
        node_limits=karpenter_limits(spec, pool) if pool.provisioner == "karpenter" else {},
        reserved_nodes=reservation.count if reservation else 0,
        reservation=f"{reservation.type} {reservation.id} in {reservation.zone}" if reservation else None,
        name=pool.name,
        cloud=spec.cloud,
        instance=inst,
        sharing=gpu.sharing if gpu else "none",
        mig_strategy=gpu.mig.strategy if gpu and gpu.mig else None,
        mig_layout=gpu.mig.layout if gpu and gpu.mig else None,
        time_slicing_replicas=gpu.time_slicing.replicas if gpu and gpu.time_slicing else None,
        extra_labels=dict(pool.labels),
        extra_taints=tuple(Taint(t.key, t.value, t.effect) for t in pool.taints),
    )


def _catalog_instances(spec: StackSpec, pool: NodePoolSpec) -> list[InstanceType]:
    """The pool's instance types found in the catalog, in the pool's order (rule pool_catalog reports the rest)."""
    return [i for i in (catalog().instance(spec.cloud, t) for t in pool.instance_types) if i is not None]


def karpenter_instance(spec: StackSpec, pool: NodePoolSpec) -> InstanceType:
    """The instance a Karpenter pool's capacity and cost are planned with: the cheapest of its instance
    types (Karpenter launches the cheapest offering that fits; all of a pool's types share one GPU shape,
    rule pool_catalog). Types without a known price come last."""
    found = _catalog_instances(spec, pool)
    return min(found, key=lambda i: (i.price_usd_per_hour is None, i.price_usd_per_hour or 0.0, i.name))


def karpenter_limits(spec: StackSpec, pool: NodePoolSpec) -> dict[str, float]:
    """The NodePool `limits` of a Karpenter pool: maxSize nodes of its largest instance type, per resource
    (cpu cores, memory GiB, GPUs). Karpenter limits resources, not nodes: the capacity check turns them
    back into nodes of the instance it plans with (components/gpu/reservations.py)."""
    found = _catalog_instances(spec, pool)
    limits = {
        "cpu": float(pool.max_size * max(i.vcpu for i in found)),
        "memory_gib": float(pool.max_size * max(i.memory_gib for i in found)),
    }
    if found[0].is_gpu:
        limits[GPU_RESOURCE] = float(pool.max_size * found[0].gpu_count)
    return limits


def pool_shapes(spec: StackSpec) -> tuple[PoolShape, ...]:
    return tuple(pool_shape(spec, p) for p in spec.node_pools)
