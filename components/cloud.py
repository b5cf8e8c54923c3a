"""The cloud seam: what cloud-neutral components and layers may ask of the cloud under a cluster.

Each cloud's cluster layer builds one `CloudSeam` (AWS: components/aws/seam.py, Alibaba:
components/alicloud/seam.py) and hands it over in ClusterFacts. The platform layer (add-ons, GPU stack)
and the workload layer (model releases) use only this: they never import a cloud SDK or a cloud
component and never branch on the cloud's name (tests/architecture/test_layers.py enforces both).

A capability the cloud lacks is None or False here, and the caller says what that means (for example:
no node autoscaler to install because the cloud scales node pools itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import pulumi
import pulumi_kubernetes as k8s

from components.gpu.autoscaler import NodeAutoscalerSettings
from components.scheduling import PoolShape

LoadBalancerScheme = Literal["internal", "internet-facing"]


@dataclass(frozen=True)
class ArtifactAccess:
    """A model's artifact store as its servers see it."""

    service_account_annotations: Mapping[str, pulumi.Input[str]]
    """Annotations that bind the model's ServiceAccount to the cloud identity allowed to read the store
    (AWS IRSA: the role ARN). Empty when the cluster has no workload identity issuer."""
    fetch_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment the weights fetcher needs for this identity beyond what the cluster's identity webhook
    injects (ACK RRSA wired by the pod spec: the role and OIDC provider ARNs)."""
    token_audience: str | None = None
    """When set, the pod spec projects a ServiceAccount token with this audience for the fetcher (no
    webhook does it) and names its path in `token_env`."""
    token_env: str | None = None
    """The variable that tells the fetcher where the projected token is (with `token_audience`)."""


# A DNS name Istio accepts for a ServiceEntry with DNS resolution: no wildcard, lowercase labels.
HOST_NAME = _FQDN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
# Bucket names as S3 and OSS both allow them (3-63 of lowercase letters, digits, '-', '.').
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class ObjectStoreEgress:
    """The hosts a workload must reach (TLS on 443) to download artifacts from the cloud's object store,
    for an egress allow-list: with Istio's REGISTRY_ONLY outbound policy nothing else leaves the mesh."""

    scheme: str
    """URI scheme of artifacts kept in this store ("s3", "oss"): `<scheme>://<bucket>/...`."""
    hosts: tuple[str, ...]
    """Hosts every reader needs, whatever the bucket: the store's regional endpoints (path-style
    requests) and the token service the workload identity exchanges its token at."""
    bucket_hosts: tuple[str, ...] = ()
    """Virtual-hosted-style hosts of one bucket, "{bucket}" standing for its name."""
    fetch_env: tuple[tuple[str, str], ...] = ()
    """Environment the weights fetcher (components/models/fetcher/fetch.py) needs to reach this store
    from the cluster (region, endpoint host), as (name, value) pairs."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9+.-]*", self.scheme):
            raise ValueError(f"ObjectStoreEgress.scheme: {self.scheme!r} is not a URI scheme")
        bad = [h for h in self.hosts if not _FQDN.match(h)]
        bad += [t for t in self.bucket_hosts if "{bucket}" not in t or not _FQDN.match(t.replace("{bucket}", "b0"))]
        if bad:
            raise ValueError(
                f"ObjectStoreEgress: {', '.join(map(repr, bad))} are not host names (templates need {{bucket}})"
            )

    def buckets(self, uris: Iterable[str]) -> tuple[str, ...]:
        """The buckets of the `uris` that live in this store (other schemes are not its business)."""
        out: set[str] = set()
        for uri in uris:
            scheme, sep, rest = uri.partition("://")
            if sep and scheme == self.scheme:
                bucket = rest.split("/", 1)[0]
                if not _BUCKET.match(bucket):
                    raise ValueError(
                        f"{uri!r}: bucket {bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, "
                        "'-' or '.'), so no host can be allowed for it"
                    )
                out.add(bucket)
        return tuple(sorted(out))

    def hosts_for(self, buckets: Iterable[str]) -> tuple[str, ...]:
        """`hosts` plus the virtual-hosted hosts of each bucket, sorted and without duplicates."""
        out = set(self.hosts)
        for bucket in buckets:
            if not _BUCKET.match(bucket):
                raise ValueError(
                    f"bucket {bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, '-' or '.')"
                )
            for template in self.bucket_hosts:
                host = template.replace("{bucket}", bucket)
                if not _FQDN.match(host):
                    raise ValueError(f"bucket {bucket!r} makes {host!r}, which is not a host name")
                out.add(host)
        return tuple(sorted(out))


class ArtifactStoreFactory(Protocol):
    """Creates one model's artifact store and a read-only identity for one service account."""

    def __call__(
        self, name: str, *, model: str, namespace: str, service_account: str, opts: pulumi.ResourceOptions
    ) -> ArtifactAccess: ...


class ArtifactReaderFactory(Protocol):
    """Creates a read-only identity for one service account on existing buckets of the cloud's store
    (the store itself is managed elsewhere)."""

    def __call__(
        self,
        name: str,
        *,
        model: str,
        namespace: str,
        service_account: str,
        buckets: Sequence[str],
        opts: pulumi.ResourceOptions,
    ) -> ArtifactAccess: ...


@dataclass(frozen=True)
class ModelCacheStorage:
    """ReadWriteMany storage for the model caches (docs/model-weights.md#cache)."""

    storage_class: str
    """StorageClass name the caches' PersistentVolumeClaims use."""
    ready: tuple[pulumi.Resource, ...] = ()
    """What must exist before a claim binds (the CSI driver, the file system, the StorageClass)."""


class ModelCacheFactory(Protocol):
    """Installs (once per stack; later calls return the same) the RWX storage model caches live on."""

    def __call__(self, *, opts: pulumi.ResourceOptions) -> ModelCacheStorage: ...


def model_cache_storage_class(
    resource_name: str,
    *,
    storage_class: str,
    provisioner: str,
    parameters: Mapping[str, pulumi.Input[str]],
    mount_options: Sequence[str],
    opts: pulumi.ResourceOptions,
) -> k8s.storage.v1.StorageClass:
    """The StorageClass a cloud's cache storage offers the caches' claims (components/aws/efs.py,
    components/alicloud/nas.py): volumes are deleted with their claim (a cache is re-created from the
    verified artifacts by its Jobs) and bound at once (the cache Job is the first and only writer)."""
    return k8s.storage.v1.StorageClass(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=storage_class),
        provisioner=provisioner,
        parameters=dict(parameters),
        mount_options=list(mount_options),
        reclaim_policy="Delete",
        volume_binding_mode="Immediate",
        opts=opts,
    )


def model_cache_once(create: Callable[[], ModelCacheStorage]) -> ModelCacheFactory:
    """A ModelCacheFactory that calls `create` on first use and returns its storage after: the cloud's
    cache storage (components/aws/efs.py, components/alicloud/nas.py) exists once per cluster. The caller's
    options are ignored: the cluster layer's options (its cloud provider) decide where the storage lives."""
    made: list[ModelCacheStorage] = []

    def factory(*, opts: pulumi.ResourceOptions) -> ModelCacheStorage:
        del opts
        if not made:
            made.append(create())
        return made[0]

    return factory


class NodeAutoscalerFactory(Protocol):
    """Installs the cloud's node autoscaler for the cluster's pools (Helm chart + its cloud identity)."""

    def __call__(
        self,
        *,
        pools: Sequence[PoolShape],
        settings: NodeAutoscalerSettings,
        opts: pulumi.ResourceOptions,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> pulumi.Resource:
        """`depends_on`: what its Kubernetes objects wait for (ClusterFacts.ready)."""
        ...


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
    artifact_egress: ObjectStoreEgress | None = None
    """The object-store hosts a model server downloads its artifacts from (the cluster's region). None:
    the cloud names none, and no egress is opened for artifacts."""
    artifact_reader: ArtifactReaderFactory | None = None
    """None: no identity for reading buckets the stack does not create (on AWS use `artifactBucket`)."""
    model_cache: ModelCacheFactory | None = None
    """None: the stack installs no RWX storage on this cluster; a model cache must name a storage class."""
    providers: tuple[pulumi.ProviderResource, ...] = ()
    """The cloud providers that the cloud's resources made on a workload's behalf (artifact stores) use,
    passed down to the components that may create them."""
