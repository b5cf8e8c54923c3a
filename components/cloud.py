"""The cloud seam: what cloud-neutral components and layers may ask of the cloud under a cluster.

Each cloud's cluster layer builds one `CloudSeam` (AWS: components/aws/seam.py, Alibaba:
components/alicloud/seam.py) and hands it over in ClusterFacts. The platform layer (add-ons, GPU stack)
and the workload layer (model releases) use only this: they never import a cloud SDK or a cloud
component and never branch on the cloud's name (tests/architecture/test_layers.py enforces both).

A capability the cloud lacks is None or False here, and the caller says what that means (for example:
no node autoscaler to install because the cloud scales node pools itself).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import pulumi

from components.gpu.autoscaler import NodeAutoscalerSettings
from components.scheduling import PoolShape

LoadBalancerScheme = Literal["internal", "internet-facing"]


@dataclass(frozen=True)
class ArtifactAccess:
    """A model's artifact store as its servers see it."""

    service_account_annotations: Mapping[str, pulumi.Input[str]]
    """Annotations that bind the model's ServiceAccount to the cloud identity allowed to read the store
    (AWS IRSA: the role ARN). Empty when the cluster has no workload identity issuer."""


class ArtifactStoreFactory(Protocol):
    """Creates one model's artifact store and a read-only identity for one service account."""

    def __call__(
        self, name: str, *, model: str, namespace: str, service_account: str, opts: pulumi.ResourceOptions
    ) -> ArtifactAccess: ...


class NodeAutoscalerFactory(Protocol):
    """Installs the cloud's node autoscaler for the cluster's pools (Helm chart + its cloud identity)."""

    def __call__(
        self, *, pools: Sequence[PoolShape], settings: NodeAutoscalerSettings, opts: pulumi.ResourceOptions
    ) -> pulumi.Resource: ...


@dataclass(frozen=True)
class CloudSeam:
    name: str
    """The cloud's name, for exports and messages only: code decides by the fields below."""
    load_balancer_annotations: Callable[[LoadBalancerScheme], Mapping[str, str]]
    """Service annotations that make the cloud's load balancer serve a LoadBalancer Service."""
    provides_gpu_device_plugin: bool = False
    """The cloud installs the NVIDIA driver, device plugin and MIG partitioning itself (ACK): the GPU
    layer then installs neither its device plugin nor its MIG manager."""
    node_autoscaler: NodeAutoscalerFactory | None = None
    """None: the cloud scales node pools itself (ACK managed node-pool autoscaling)."""
    artifact_store: ArtifactStoreFactory | None = None
    """None: this cloud has no artifact store implementation yet; `artifactBucket` is refused for it."""
    providers: tuple[pulumi.ProviderResource, ...] = ()
    """The cloud providers that the cloud's resources made on a workload's behalf (artifact stores) use,
    passed down to the components that may create them."""
