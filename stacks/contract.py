"""Facts each layer hands to the next (docs/design.md#contract). Nothing reaches back up (docs/design.md#layers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.cloud import CloudSeam
from components.crds import CrdReleases
from components.scheduling import PoolShape
from stacks.spec.pools import pool_shape
from stacks.spec.stack import StackSpec


@dataclass(frozen=True)
class PoolFacts:
    """A node pool as later layers see it: its shape plus sizes and price."""

    shape: PoolShape
    min_size: int
    max_size: int
    capacity_type: str
    os_ships_device_plugin: bool = False
    """The pool's OS image brings its own NVIDIA device plugin (Bottlerocket NVIDIA variants on EKS):
    the GPU layer runs none of its own there."""

    @property
    def name(self) -> str:
        return self.shape.name

    @property
    def price_usd_per_node_hour(self) -> float | None:
        return self.shape.instance.price_usd_per_hour


@dataclass(frozen=True)
class ClusterFacts:
    """What the platform and workload layers need from the cluster layer (either cloud, or a
    StackReference to a cluster stack)."""

    cloud: CloudSeam
    """What the platform and workload layers may ask of the cloud (components/cloud.py)."""
    name: str
    region: str
    kubernetes_version: str
    k8s_provider: k8s.Provider
    pools: tuple[PoolFacts, ...]
    registry_urls: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    storage_class: str | None = None
    """The encrypted StorageClass the cluster layer created (AWS `gp3-encrypted`, ACK the encrypted ESSD
    class): Prometheus, Alertmanager, Grafana and Elasticsearch volumes use it unless
    `addons.storageClass` names another. None: the cluster layer knows none, so the config must."""
    ready: tuple[pulumi.Resource, ...] = ()
    """What must exist before the platform installs anything into the cluster: nodes to run on, cluster
    DNS, the storage driver and the encrypted StorageClass. The platform layer's releases depend on it;
    empty when another stack built the cluster (it is ready before this program runs)."""


def pool_facts(spec: StackSpec) -> tuple[PoolFacts, ...]:
    return tuple(
        PoolFacts(shape=pool_shape(spec, p), min_size=p.min_size, max_size=p.max_size, capacity_type=p.capacity_type)
        for p in spec.node_pools
    )


@dataclass(frozen=True)
class PlatformFacts:
    """What the workload layer needs from the platform layer (stacks/platform/layer.py): the Helm releases
    that install CRDs, so every custom resource can `depends_on` the release of its CRD (on a first
    `pulumi up` the API server rejects a CR whose CRD is not there yet). Empty when another stack
    installs the platform (its CRDs are then in place before this program runs)."""

    crds: CrdReleases = CrdReleases()
    priority_classes: tuple[pulumi.Resource, ...] = ()
    """The model tiers' PriorityClasses (cluster-scoped, created by the platform layer only): model
    releases wait for them. Empty when another stack installed the platform (they exist already)."""
