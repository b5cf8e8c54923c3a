"""GPU layer of the platform: NVIDIA stack, cluster autoscaler and the capacity / cost plan of the pools.

    gpu = gpu_layer.build(spec, cluster)                       # from stacks/platform/layer.py
    gpu = gpu_layer.build(spec, cluster, demands=step_demands)  # the ModelRelease layer adds its pods

Exports `capacityReport` (markdown, included in the offline plan's report.md) and `capacity` (per pool:
nodes, GPU resources per node, allocatable, $/h at min, peak and max, utilisation).

Per-node allocatable in the plan = the catalog's kubelet-reserve estimate minus the DaemonSets every
node (or every GPU node) runs, NODE_RESERVATIONS: requests we set ourselves where we install the
DaemonSet (components/gpu/nvidia.py), the EKS add-on / chart defaults otherwise. The reservations live in
components/gpu/reservations.py, so the ModelRelease capacity check sees the same allocatable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.gpu import capacity, nvidia, reservations
from components.gpu.autoscaler import NodeAutoscalerSettings
from components.gpu.reservations import NODE_RESERVATIONS as NODE_RESERVATIONS  # re-exported
from components.gpu.reservations import Reservation as Reservation  # re-exported
from stacks.contract import ClusterFacts, PoolFacts
from stacks.spec.stack import StackSpec


def reserved(pool: PoolFacts) -> tuple[float, float]:
    """(cpu cores, memory GiB) the platform's DaemonSets take on one node of `pool`."""
    return reservations.reserved(pool.shape)


def pool_capacity(pool: PoolFacts) -> capacity.PoolCapacity:
    """The planner's view of a pool (components/gpu/reservations.py: shared with the ModelRelease check)."""
    return reservations.pool_capacity(pool.shape, pool.min_size, pool.max_size)


def plan_capacity(cluster: ClusterFacts, demands: Sequence[capacity.Demand] = ()) -> capacity.CapacityPlan:
    """The capacity plan of the cluster's pools for `demands` (pure: the ModelRelease layer calls it per step)."""
    return capacity.plan([pool_capacity(p) for p in cluster.pools], list(demands))


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def capacity_output(cluster: ClusterFacts, plan: capacity.CapacityPlan) -> dict[str, Any]:
    """Structured `capacity` stack output: per pool and totals, all numbers rounded for stable diffs."""
    by_name = {p.name: p for p in cluster.pools}
    pools: dict[str, Any] = {}
    at_max = 0.0
    at_max_known = True
    for use in plan.pools:
        facts = by_name[use.name]
        price = use.price_usd_per_node_hour
        cpu, mem = reserved(facts)
        if price is None:
            at_max_known = False
        else:
            at_max += price * use.max_nodes
        pools[use.name] = {
            "instanceType": facts.shape.instance.name,
            "gpuModel": facts.shape.instance.gpu_model,
            "gpusPerNode": facts.shape.instance.gpu_count,
            "sharing": facts.shape.sharing,
            "gpuResourcesPerNode": dict(sorted(facts.shape.gpu_resources.items())),
            "allocatablePerNode": {k: _r(v) for k, v in sorted(use.allocatable.items())},
            "reservedPerNode": {"cpu": cpu, "memoryGib": mem},
            "minNodes": use.min_nodes,
            "maxNodes": use.max_nodes,
            "nodesAtPeak": use.nodes_used,
            "usdPerNodeHour": _r(price),
            "usdPerHourAtMin": _r(use.usd_per_hour_at_min),
            "usdPerHourAtPeak": _r(use.usd_per_hour_at_peak),
            "usdPerHourAtMax": _r(None if price is None else price * use.max_nodes),
            "utilisation": {res: _r(use.utilisation(res)) for res in sorted(use.allocatable)},
        }
    return {
        "fits": plan.fits,
        "pools": pools,
        "usdPerHourAtMin": _r(plan.usd_per_hour_at_min),
        "usdPerHourAtPeak": _r(plan.usd_per_hour_at_peak),
        "usdPerHourAtMax": _r(at_max if at_max_known else None),
    }


def gpu_pools(cluster: ClusterFacts) -> tuple[nvidia.GpuPool, ...]:
    """GPU pools with what their OS ships (Bottlerocket NVIDIA AMIs bring their own device plugin)."""
    return tuple(
        nvidia.GpuPool(p.shape, os_ships_device_plugin=p.os_ships_device_plugin)
        for p in cluster.pools
        if p.shape.is_gpu
    )


@dataclass(frozen=True)
class GpuLayer:
    nvidia: nvidia.NvidiaGpuStack | None
    autoscaler: pulumi.Resource | None
    capacity: capacity.CapacityPlan


def build(
    spec: StackSpec,
    cluster: ClusterFacts,
    demands: Sequence[capacity.Demand] = (),
    monitoring_depends_on: Sequence[pulumi.Resource] = (),
) -> GpuLayer:
    """NVIDIA stack and autoscaler per `addons.*.enabled`, plus the capacity plan for `demands`."""
    k8s_opts = pulumi.ResourceOptions(provider=cluster.k8s_provider)
    addons = spec.addons
    nv = None
    pools = gpu_pools(cluster)
    if addons.nvidia.enabled and pools:
        # Where the cloud brings its own driver, device plugin and MIG partitioning (ACK), the platform
        # installs neither; DCGM, labels and the planner work the same everywhere.
        ours = not cluster.cloud.provides_gpu_device_plugin
        nv = nvidia.NvidiaGpuStack(
            cluster.name,
            nvidia.NvidiaGpuStackArgs(
                pools=pools,
                install_device_plugin=ours,
                install_mig_manager=ours,
                dcgm_exporter=addons.nvidia.dcgm_exporter,
                service_monitor=addons.prometheus.enabled,
            ),
            opts=k8s_opts,
            monitoring_depends_on=monitoring_depends_on,
            depends_on=cluster.ready,
        )

    ca = None
    # None where the cloud scales node pools itself (ACK managed node-pool autoscaling).
    install_autoscaler = cluster.cloud.node_autoscaler
    if addons.cluster_autoscaler.enabled and install_autoscaler is not None:
        ca_spec = addons.cluster_autoscaler
        ca = install_autoscaler(
            pools=tuple(p.shape for p in cluster.pools),
            settings=NodeAutoscalerSettings(
                scale_down_unneeded_time=ca_spec.scale_down_unneeded_time,
                scale_down_gpu_utilization_threshold=ca_spec.scale_down_gpu_utilization_threshold,
            ),
            opts=k8s_opts,
            depends_on=cluster.ready,  # its Kubernetes objects wait for the cluster to be ready
        )

    plan = plan_capacity(cluster, demands)
    pulumi.export("capacityReport", capacity.render_markdown(plan))
    pulumi.export("capacity", capacity_output(cluster, plan))
    return GpuLayer(nvidia=nv, autoscaler=ca, capacity=plan)
