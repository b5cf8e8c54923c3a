"""EksAddons: EKS managed add-ons pinned in charts/eks-addons.yaml, one phase at a time.

The cluster is created without self-managed add-ons (EksCluster), so the order matters:
- `beforeNodes` (vpc-cni, kube-proxy, eks-pod-identity-agent): the node groups depend on this component —
  a node without a CNI never becomes Ready and the node group create fails after 20+ minutes;
- `afterNodes` (coredns, aws-ebs-csi-driver, metrics-server): Deployments that only become ACTIVE once
  nodes exist; this phase also creates the encrypted gp3 default StorageClass.

The EBS CSI controller gets its own Pod Identity role (AmazonEBSCSIDriverPolicy) instead of borrowing
the node role — with IMDS hop limit 1 it could not anyway (hashicorp/terraform-provider-aws#38516).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml

from components.aws import iam_docs
from components.aws.irsa import WorkloadRole, WorkloadRoleArgs

ADDONS_FILE = Path(__file__).resolve().parents[2] / "charts" / "eks-addons.yaml"
# onDemand: created by the component that needs it (aws-efs-csi-driver: components/aws/efs.py), not by EksAddons.
Phase = Literal["beforeNodes", "afterNodes", "onDemand"]
EBS_CSI = "aws-ebs-csi-driver"
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
DEFAULT_STORAGE_CLASS = "gp3-encrypted"


@dataclass(frozen=True, slots=True)
class AddonPin:
    name: str
    phase: Phase
    versions: Mapping[str, str]
    source: str

    def version(self, kubernetes_version: str) -> str:
        try:
            return self.versions[kubernetes_version]
        except KeyError:
            raise KeyError(
                f"charts/eks-addons.yaml: {self.name} has no pin for Kubernetes {kubernetes_version}; "
                f"pinned: {', '.join(sorted(self.versions))}"
            ) from None


@functools.cache
def addon_pins() -> dict[str, AddonPin]:
    raw: dict[str, dict[str, object]] = yaml.safe_load(ADDONS_FILE.read_text()) or {}
    out: dict[str, AddonPin] = {}
    for name, entry in raw.items():
        phase = entry.get("phase")
        versions = entry.get("versions")
        source = entry.get("source")
        if phase not in ("beforeNodes", "afterNodes", "onDemand") or not isinstance(versions, dict) or not source:
            raise ValueError(
                f"charts/eks-addons.yaml: {name} needs phase (beforeNodes|afterNodes|onDemand), versions and source"
            )
        out[name] = AddonPin(
            name,
            phase,
            {str(k): str(v) for k, v in versions.items()},
            str(source),
        )
    return out


@dataclass(frozen=True, slots=True)
class EksAddonsArgs:
    phase: Phase
    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    region: str
    cluster_arn: pulumi.Input[str] | None = None
    """afterNodes: scopes the EBS CSI Pod Identity role to this cluster."""
    account_id: pulumi.Input[str] | None = None
    k8s_provider: k8s.Provider | None = None
    """afterNodes: for the default StorageClass."""
    depends_on: Sequence[pulumi.Resource] = ()
    """afterNodes: the node groups. Set on every add-on (a component's depends_on does not hold back
    its children)."""
    tags: Mapping[str, str] = field(default_factory=dict)


class EksAddons(pulumi.ComponentResource):
    addons: dict[str, aws.eks.Addon]
    storage_class: k8s.storage.v1.StorageClass | None
    """The encrypted gp3 default StorageClass (afterNodes with the EBS CSI driver), else None."""

    def __init__(self, name: str, args: EksAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:aws:EksAddons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = iam_docs.partition_of(args.region)
        self.addons = {}
        for pin in sorted(addon_pins().values(), key=lambda p: p.name):
            if pin.phase != args.phase:
                continue
            pod_identity = None
            if pin.name == EBS_CSI:
                if args.cluster_arn is None or args.account_id is None:
                    raise ValueError(f"{name}: {EBS_CSI} needs cluster_arn and account_id for its role")
                ns, sa = EBS_CSI_SERVICE_ACCOUNT
                role = WorkloadRole(
                    f"{name}-ebs-csi",
                    WorkloadRoleArgs(
                        namespace=ns,
                        service_account=sa,
                        mode="pod-identity",
                        managed_policy_arns=(
                            iam_docs.managed_policy_arn(partition, "service-role/AmazonEBSCSIDriverPolicy"),
                        ),
                        cluster_arn=args.cluster_arn,
                        account_id=args.account_id,
                        tags=args.tags,
                    ),
                    opts=child,
                )
                pod_identity = [aws.eks.AddonPodIdentityAssociationArgs(role_arn=role.arn, service_account=sa)]
            self.addons[pin.name] = aws.eks.Addon(
                f"{name}-{pin.name}",
                cluster_name=args.cluster_name,
                addon_name=pin.name,
                addon_version=pin.version(args.kubernetes_version),
                # The stack is the source of truth: manual edits are overwritten, not merged.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                # Removing an add-on from the stack leaves its pods running (no cluster-wide DNS/CNI outage).
                preserve=True,
                pod_identity_associations=pod_identity,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )

        self.storage_class = None
        if args.phase == "afterNodes" and EBS_CSI in self.addons:
            if args.k8s_provider is None:
                raise ValueError(f"{name}: the afterNodes phase needs k8s_provider for the StorageClass")
            self.storage_class = k8s.storage.v1.StorageClass(
                f"{name}-{DEFAULT_STORAGE_CLASS}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=DEFAULT_STORAGE_CLASS,
                    annotations={"storageclass.kubernetes.io/is-default-class": "true"},
                ),
                provisioner="ebs.csi.aws.com",
                # Encrypted at rest (EKS BPG "encrypt data at rest"); gp3 is cheaper and faster than gp2.
                parameters={"type": "gp3", "encrypted": "true", "fsType": "ext4"},
                # Bind where the pod lands: an EBS volume is zonal, GPU pools may scale up in any zone.
                volume_binding_mode="WaitForFirstConsumer",
                allow_volume_expansion=True,
                reclaim_policy="Delete",
                opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[self.addons[EBS_CSI]]),
            )
        self.register_outputs({"addons": {n: a.addon_version for n, a in self.addons.items()}})
