"""EfsModelCache (AWS): the ReadWriteMany storage model caches live on (docs/model-weights.md#cache).

Created once per cluster, only when a model asks for a cache without naming a storage class (the seam's
`model_cache` factory, components/cloud.py):
- the EFS CSI driver as a pinned EKS managed add-on (`aws-efs-csi-driver` in charts/eks-addons.yaml, phase
  onDemand: not part of every cluster) with its own Pod Identity role (AmazonEFSCSIDriverPolicy, scoped to
  the controller's service account and this cluster), like the EBS CSI driver (components/aws/eks_addons.py);
- an EFS file system encrypted at rest with its own KMS key (rotation on), elastic throughput (a cache
  fill is a burst), one mount target per private subnet, reachable only on NFS (2049) from the VPC;
- StorageClass `efs-models`: one access point per claim under /models, files owned by the model pods'
  UID/GID (components/models/pod_security.py RUN_AS), TLS in transit.

The file system is not `protect`ed (a cache is re-created from the verified artifacts by its Jobs); its
KMS key is, in prod, like every key (docs/design.md#nothing-lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws import iam_docs
from components.aws.eks_addons import addon_pins
from components.aws.irsa import WorkloadRole, WorkloadRoleArgs
from components.cloud import ModelCacheFactory, ModelCacheStorage, model_cache_once, model_cache_storage_class

EFS_CSI = "aws-efs-csi-driver"
EFS_CSI_SERVICE_ACCOUNT = ("kube-system", "efs-csi-controller-sa")
STORAGE_CLASS = "efs-models"
NFS_PORT = 2049
CACHE_UID = "10001"  # components/models/pod_security.py RUN_AS: servers and the cache Job read and write as it


@dataclass(frozen=True)
class EfsModelCacheArgs:
    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    region: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: pulumi.Output[list[str]]
    """The private subnets, one per zone: a mount target in each."""
    zone_count: int
    """How many subnets there are (known before they exist, so the graph's shape is too)."""
    cluster_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    k8s_provider: k8s.Provider
    protect: bool = False
    """protect the encryption key (prod: docs/design.md#nothing-lost); the file system is a cache."""
    after: tuple[pulumi.Resource, ...] = ()
    """What the add-on waits for (the node groups: its controller is a Deployment). Passed down because a
    component's own depends_on does not hold back its children."""
    tags: Mapping[str, str] = field(default_factory=dict)


class EfsModelCache(pulumi.ComponentResource):
    storage_class: k8s.storage.v1.StorageClass
    addon: aws.eks.Addon

    def __init__(self, name: str, args: EfsModelCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:EfsModelCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        key = aws.kms.Key(
            f"{name}-key",
            description="model caches (EFS) encryption at rest",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        sg = aws.ec2.SecurityGroup(
            f"{name}-nfs",
            description="NFS to the model cache file system from the cluster VPC only",
            vpc_id=args.vpc_id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="NFS from the VPC (nodes mount the cache)",
                    protocol="tcp",
                    from_port=NFS_PORT,
                    to_port=NFS_PORT,
                    cidr_blocks=[args.vpc_cidr],
                )
            ],
            tags=tags,
            opts=child,
        )
        self.file_system = aws.efs.FileSystem(
            f"{name}-fs",
            encrypted=True,
            kms_key_id=key.arn,
            performance_mode="generalPurpose",
            throughput_mode="elastic",
            tags={**tags, "Name": f"{name}-model-cache"},
            opts=child,
        )
        targets = [
            aws.efs.MountTarget(
                f"{name}-mount-{k}",
                file_system_id=self.file_system.id,
                subnet_id=args.subnet_ids.apply(lambda ids, k=k: ids[k]),
                security_groups=[sg.id],
                opts=child,
            )
            for k in range(args.zone_count)
        ]
        ns, sa = EFS_CSI_SERVICE_ACCOUNT
        role = WorkloadRole(
            f"{name}-efs-csi",
            WorkloadRoleArgs(
                namespace=ns,
                service_account=sa,
                mode="pod-identity",
                managed_policy_arns=(
                    iam_docs.managed_policy_arn(
                        iam_docs.partition_of(args.region), "service-role/AmazonEFSCSIDriverPolicy"
                    ),
                ),
                cluster_arn=args.cluster_arn,
                account_id=args.account_id,
                tags=tags,
            ),
            opts=child,
        )
        self.addon = aws.eks.Addon(
            f"{name}-{EFS_CSI}",
            cluster_name=args.cluster_name,
            addon_name=EFS_CSI,
            addon_version=addon_pins()[EFS_CSI].version(args.kubernetes_version),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            # Removing the cache from the stack must not unmount the volumes of running servers.
            preserve=True,
            pod_identity_associations=[aws.eks.AddonPodIdentityAssociationArgs(role_arn=role.arn, service_account=sa)],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )
        self.storage_class = model_cache_storage_class(
            f"{name}-{STORAGE_CLASS}",
            storage_class=STORAGE_CLASS,
            provisioner="efs.csi.aws.com",
            parameters={
                "provisioningMode": "efs-ap",
                "fileSystemId": self.file_system.id,
                "directoryPerms": "750",
                "uid": CACHE_UID,
                "gid": CACHE_UID,
                "basePath": "/models",
            },
            mount_options=["tls"],
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[self.addon, *targets]),
        )
        self.ready: tuple[pulumi.Resource, ...] = (self.addon, *targets, self.storage_class)
        self.register_outputs({"fileSystemId": self.file_system.id, "storageClass": STORAGE_CLASS})


def efs_model_cache_factory(
    name: str, args: EfsModelCacheArgs, cluster_opts: pulumi.ResourceOptions
) -> ModelCacheFactory:
    """The seam's model_cache on AWS: creates the EFS cache storage on first use, returns the same after."""
    return model_cache_once(
        lambda: ModelCacheStorage(storage_class=STORAGE_CLASS, ready=EfsModelCache(name, args, opts=cluster_opts).ready)
    )
