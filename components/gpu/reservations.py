"""Per-node allocatable after the platform's DaemonSets: one source for the platform capacity plan
(stacks/platform/gpu.py) and the ModelRelease capacity check (components/models/capacity_check.py).

Per-node allocatable = the catalog's kubelet-reserve estimate minus the DaemonSets every node (or every
GPU node) runs, NODE_RESERVATIONS below: requests we set ourselves where we install the DaemonSet
(components/gpu/nvidia.py), the EKS add-on / chart defaults otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.gpu import capacity, nvidia
from components.mesh.istio import CNI_REQUESTS
from components.scheduling import PoolShape

Scope = Literal["all", "gpu", "mig"]


@dataclass(frozen=True, slots=True)
class Reservation:
    name: str
    cpu: float  # cores
    memory_gib: float
    scope: Scope  # which nodes run it
    source: str


def _mib(quantity: str) -> float:
    assert quantity.endswith("Mi"), quantity
    return int(quantity[:-2]) / 1024


def _cores(quantity: str) -> float:
    assert quantity.endswith("m"), quantity
    return int(quantity[:-1]) / 1000


NODE_RESERVATIONS: tuple[Reservation, ...] = (
    Reservation("kube-proxy", 0.1, 0.0, "all", "EKS kube-proxy add-on default request (100m)"),
    Reservation("aws-node (VPC CNI)", 0.025, 0.0, "all", "EKS vpc-cni add-on default request (25m)"),
    Reservation("ebs-csi-node", 0.03, 0.117, "all", "aws-ebs-csi-driver node: 3 containers x 10m / 40Mi"),
    Reservation("log agent (fluent-bit)", 0.1, 0.125, "all", "fluent-bit chart resources (docs/design.md#add-ons)"),
    Reservation("node-exporter", 0.01, 0.031, "all", "planned kube-prometheus-stack node-exporter requests"),
    Reservation(
        "istio-cni-node", _cores(CNI_REQUESTS["cpu"]), _mib(CNI_REQUESTS["memory"]), "all", "components/mesh/istio.py"
    ),
    Reservation(
        "nvidia-device-plugin",
        _cores(nvidia.DEVICE_PLUGIN_REQUESTS["cpu"]),
        _mib(nvidia.DEVICE_PLUGIN_REQUESTS["memory"]),
        "gpu",
        "components/gpu/nvidia.py",
    ),
    Reservation("gpu-feature-discovery + nfd-worker", 0.015, 0.125, "gpu", "NFD worker chart default (5m/64Mi) + GFD"),
    Reservation(
        "dcgm-exporter",
        _cores(nvidia.DCGM_REQUESTS["cpu"]),
        _mib(nvidia.DCGM_REQUESTS["memory"]),
        "gpu",
        "components/gpu/nvidia.py",
    ),
    Reservation("nvidia-mig-manager", 0.05, 0.125, "mig", "planned MIG manager footprint"),
)


def reserved(shape: PoolShape) -> tuple[float, float]:
    """(cpu cores, memory GiB) the platform's DaemonSets take on one node of a pool of this shape."""
    scopes = {"all"} | ({"gpu"} if shape.is_gpu else set()) | ({"mig"} if shape.mig_config else set())
    chosen = [r for r in NODE_RESERVATIONS if r.scope in scopes]
    return round(sum(r.cpu for r in chosen), 3), round(sum(r.memory_gib for r in chosen), 3)


def nodes_within_limits(shape: PoolShape) -> int:
    """How many nodes of `shape.instance` a Karpenter NodePool's limits admit: Karpenter counts each node's
    capacity (vCPUs, memory, GPUs) against every limit (docs/karpenter.md#capacity)."""
    inst = shape.instance
    per_node = {"cpu": float(inst.vcpu), "memory_gib": inst.memory_gib, "nvidia.com/gpu": float(inst.gpu_count)}
    return min(int(limit // per_node[r]) for r, limit in shape.node_limits.items() if per_node.get(r))


def provisioning_note(shape: PoolShape, max_nodes: int) -> str:
    """What the capacity report says about where a pool's nodes come from ('' for a plain node group)."""
    notes: list[str] = []
    if shape.node_limits:
        limits = ", ".join(f"{r} {limit:g}" for r, limit in sorted(shape.node_limits.items()))
        notes.append(f"karpenter limits {limits}: {max_nodes} nodes of {shape.instance.name} (cheapest type)")
    if shape.reservation:
        notes.append(f"reserved {shape.reserved_nodes} nodes ({shape.reservation})")
    return "; ".join(notes)


def pool_capacity(shape: PoolShape, min_nodes: int, max_nodes: int) -> capacity.PoolCapacity:
    """The planner's view of a pool: catalog allocatable minus `reserved`, labels, taints, sizes. A Karpenter
    pool's size comes from its NodePool limits, a reservation pool's from what the reservation holds."""
    cpu, mem = reserved(shape)
    if shape.node_limits:
        max_nodes = nodes_within_limits(shape)
    if shape.reserved_nodes:
        max_nodes = min(max_nodes, shape.reserved_nodes)
    return capacity.pool_capacity(
        shape.name,
        shape.instance,
        shape.gpu_resources,
        labels=shape.labels(),
        taints=shape.taints(),
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        reserved_cpu=cpu,
        reserved_memory_gib=mem,
        note=provisioning_note(shape, max_nodes),
    )
