"""NasModelCache (Alibaba Cloud): the ReadWriteMany storage model caches live on (docs/model-weights.md#cache).

Created once per cluster, only when a model asks for a cache without naming a storage class (the seam's
`model_cache` factory, components/cloud.py):
- a General-purpose NAS file system (NFS, Performance), encrypted at rest (NAS-managed key), in the
  first node zone;
- its own access group allowing read-write NFS only from the cluster VPC's CIDR, and a mount target on
  the first node vSwitch (every zone of the VPC mounts it);
- StorageClass `nas-models`: ACK's NAS CSI plugin (`nasplugin.csi.alibabacloud.com`, part of the
  `csi-plugin` add-on every cluster gets at create: charts/ack.yaml clusterAddons) carves one subdirectory
  per claim under /models.

The file system is not `protect`ed: a cache is re-created from the verified artifacts by its Jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from components.cloud import ModelCacheFactory, ModelCacheStorage, model_cache_once, model_cache_storage_class

STORAGE_CLASS = "nas-models"
NAS_ENCRYPT_MANAGED_KEY = 1  # NAS API EncryptType 1: encrypted at rest with the NAS-managed key


@dataclass(frozen=True)
class NasModelCacheArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    vswitch_id: pulumi.Input[str]
    """A node vSwitch: the mount target lives there."""
    zone_id: str
    """The vSwitch's zone: the file system's."""
    k8s_provider: k8s.Provider
    tags: Mapping[str, str] = field(default_factory=dict)


class NasModelCache(pulumi.ComponentResource):
    storage_class: k8s.storage.v1.StorageClass

    def __init__(self, name: str, args: NasModelCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:alicloud:NasModelCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.file_system = alicloud.nas.FileSystem(
            f"{name}-fs",
            description=f"{args.cluster_name} model caches",
            file_system_type="standard",
            protocol_type="NFS",
            storage_type="Performance",
            zone_id=args.zone_id,
            encrypt_type=NAS_ENCRYPT_MANAGED_KEY,
            tags=dict(args.tags),
            opts=child,
        )
        group = alicloud.nas.AccessGroup(
            f"{name}-access",
            access_group_name=f"{args.cluster_name}-model-cache",
            access_group_type="Vpc",
            file_system_type="standard",
            description="NFS from the cluster VPC only",
            opts=child,
        )
        alicloud.nas.AccessRule(
            f"{name}-vpc",
            access_group_name=group.access_group_name,
            file_system_type="standard",
            source_cidr_ip=args.vpc_cidr,
            rw_access_type="RDWR",
            # Squash root: the cache Job and the servers run as UID 10001 (components/models/weights.py).
            user_access_type="root_squash",
            priority=1,
            opts=child,
        )
        self.mount_target = alicloud.nas.MountTarget(
            f"{name}-mount",
            file_system_id=self.file_system.id,
            access_group_name=group.access_group_name,
            network_type="Vpc",
            vpc_id=args.vpc_id,
            vswitch_id=args.vswitch_id,
            opts=child,
        )
        self.storage_class = model_cache_storage_class(
            f"{name}-{STORAGE_CLASS}",
            storage_class=STORAGE_CLASS,
            provisioner="nasplugin.csi.alibabacloud.com",
            parameters={
                "volumeAs": "subpath",
                "server": self.mount_target.mount_target_domain.apply(lambda d: f"{d}:/models/"),
                "archiveOnDelete": "false",
            },
            mount_options=["nolock,tcp,noresvport", "vers=3"],
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[self.mount_target]),
        )
        self.ready: tuple[pulumi.Resource, ...] = (self.mount_target, self.storage_class)
        self.register_outputs({"fileSystemId": self.file_system.id, "storageClass": STORAGE_CLASS})


def nas_model_cache_factory(
    name: str, args: NasModelCacheArgs, cluster_opts: pulumi.ResourceOptions
) -> ModelCacheFactory:
    """The seam's model_cache on ACK: creates the NAS cache storage on first use, returns the same after."""
    return model_cache_once(
        lambda: ModelCacheStorage(storage_class=STORAGE_CLASS, ready=NasModelCache(name, args, opts=cluster_opts).ready)
    )
