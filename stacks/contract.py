"""Facts each layer hands to the next (DESIGN §2). Nothing reaches back up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

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

    cloud: str
    name: str
    region: str
    kubernetes_version: str
    k8s_provider: k8s.Provider
    pools: tuple[PoolFacts, ...]
    oidc_provider_arn: pulumi.Input[str] | None = None
    oidc_issuer_url: pulumi.Input[str] | None = None
    registry_urls: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    storage_class: str | None = None
    """The encrypted StorageClass the cluster layer created (AWS `gp3-encrypted`, ACK the encrypted ESSD
    class): Prometheus, Alertmanager, Grafana and Elasticsearch volumes use it unless
    `addons.storageClass` names another. None: the cluster layer knows none, so the config must."""
    extra: Mapping[str, Any] = field(default_factory=dict)


def pool_facts(spec: StackSpec) -> tuple[PoolFacts, ...]:
    return tuple(
        PoolFacts(shape=pool_shape(spec, p), min_size=p.min_size, max_size=p.max_size, capacity_type=p.capacity_type)
        for p in spec.node_pools
    )


@dataclass(frozen=True)
class PlatformFacts:
    """What the workload layer needs from the platform layer (stacks/platform.py): the Helm releases
    that install CRDs, so every custom resource can `depends_on` the release of its CRD (on a first
    `pulumi up` the API server rejects a CR whose CRD is not there yet). Empty when another stack
    installs the platform (its CRDs are then in place before this program runs)."""

    crds: CrdReleases = CrdReleases()
