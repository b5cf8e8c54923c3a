"""AckCluster: an ACK Pro managed cluster with secure defaults, its KMS key, control-plane logs, the
encrypted default StorageClass and a Kubernetes provider for the layers above.

Defaults (the ACK counterparts of components/aws/eks.py):
- API server private: only its intranet SLB; an internet EIP (`slb_internet_enabled`) only with
  `cluster.endpoint.publicAccess`;
- Secrets envelope-encrypted with a customer KMS key (ACK needs both `encryption_provider_key` and
  `disable_encryption=False`), rotation on;
- RRSA (OIDC for RAM roles of service accounts) on — it can never be turned off again;
- control-plane logs of every component plus the audit log into SLS, kept `logRetentionDays`; the SLS
  data is retained when the cluster is deleted;
- an enterprise security group (no intra-group allow-all), our own NAT (network.py), never ACK's;
- the network add-on listed explicitly at create (pulumi-alicloud#1027).

ACK pins: charts/ack.yaml (Kubernetes version string, add-ons at create).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from components.alicloud.pins import ack_pins

# Every control-plane component ACK can ship logs for (cs.ManagedKubernetes docs).
CONTROL_PLANE_LOG_COMPONENTS = ("apiserver", "kcm", "scheduler", "ccm", "controlplane-events")
# Create-only arguments: the provider documents them as "only work for Create", so a later edit would
# show a perpetual diff that never applies (and `addons` edits are silently dropped, terraform-provider-
# alicloud#5907). Engine paths, so camelCase. Post-create add-on changes go through cs.KubernetesAddon.
CLUSTER_IGNORE_CHANGES = ("addons", "isEnterpriseSecurityGroup", "newNatGateway", "podVswitchIds", "slbInternetEnabled")
DEFAULT_STORAGE_CLASS = "alicloud-disk-essd-encrypted"
# The kubeconfig holds no credential: each use runs ACK's documented client-go credential plugin
# (ack-ram-tool credential-plugin get-credential, what `ack-ram-tool credential-plugin get-kubeconfig`
# writes), which mints a short-lived client certificate for the caller's own Alibaba Cloud identity
# (aliyun CLI profile, ALIBABA_CLOUD_* variables, CI role), caches it under ~/.kube/cache and renews it
# before it expires: nothing expires inside state, and the kubeconfig is the same on every run.
CREDENTIAL_PLUGIN = "ack-ram-tool"
CREDENTIAL_EXPIRATION = "3h"  # the plugin's default; renewed before expiry, so a longer `up` is fine
# The API credential read for the cluster CA only (the CA is in no non-deprecated cluster attribute);
# its client certificate is discarded, so it gets the shortest lifetime the API allows.
CA_READ_MINUTES = 15


def kubeconfig(cluster_id: str, server: str, ca_data: str) -> str:
    """A kubeconfig with exec auth (ack-ram-tool): no client key, certificate or token is ever stored in
    state, like components/aws/eks.py's `aws eks get-token` kubeconfig."""
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": CREDENTIAL_PLUGIN,
            "args": [
                "credential-plugin",
                "get-credential",
                "--cluster-id",
                cluster_id,
                "--api-version",
                "v1beta1",
                "--expiration",
                CREDENTIAL_EXPIRATION,
                "--log-level",
                "error",
            ],
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_id, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": cluster_id, "user": user}],
        "contexts": [{"name": cluster_id, "context": {"cluster": cluster_id, "user": cluster_id}}],
        "current-context": cluster_id,
    }
    return json.dumps(doc, sort_keys=True)


def api_server(connections: Sequence[Any] | None, public_access: bool) -> str:
    """The API server the deploy talks to: the internet endpoint when the cluster has one (`public_access`;
    ACK's own kubeconfig and `ack-ram-tool credential-plugin get-kubeconfig` prefer it too), else the
    intranet SLB (reached from inside the VPC)."""
    conn = connections[0] if connections else None
    if conn is None:
        return ""
    return (conn.api_server_internet if public_access else None) or conn.api_server_intranet or ""


@dataclass(frozen=True, slots=True)
class AckClusterArgs:
    cluster_name: str
    """Physical ACK cluster name."""
    kubernetes_version: str
    """Spec minor, e.g. '1.33'; mapped to the ACK version string through charts/ack.yaml."""
    vswitch_ids: pulumi.Input[Sequence[str]]
    """Control-plane (and node) vSwitches, one per zone (ACK takes 1-5)."""
    service_cidr: str
    network_plugin: Literal["terway", "flannel"] = "terway"
    pod_vswitch_ids: pulumi.Input[Sequence[str]] | None = None
    """Terway: pod vSwitches, one per zone."""
    pod_cidr: str | None = None
    """Flannel: pod overlay CIDR."""
    cluster_spec: str = "ack.pro.small"
    public_access: bool = False
    """Default: no internet address for the API server; reach it from the VPC (VPN, bastion)."""
    log_retention_days: int = 90
    deletion_protection: bool = False
    protect: bool = False
    """protect the cluster and its secrets KMS key (prod)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    after: tuple[pulumi.Resource, ...] = ()
    """Resources the cluster waits for beyond its inputs: the network's SNAT entries and routes (nodes
    pull images through them while the cluster is created). A component's own depends_on does not reach
    its children, so it is passed down here."""


def cluster_addons(network_plugin: str) -> list[alicloud.cs.ManagedKubernetesAddonArgsDict]:
    """The add-ons ACK installs at create: the network plugin first, then the pinned list."""
    pins = ack_pins()
    names = [pins.network_addons[network_plugin], *pins.cluster_addons]
    return [{"name": n} for n in names]


class AckCluster(pulumi.ComponentResource):
    cluster: alicloud.cs.ManagedKubernetes
    secrets_key: alicloud.kms.Key
    k8s_provider: k8s.Provider
    kubeconfig: pulumi.Output[str]
    storage_class: str

    def __init__(self, name: str, args: AckClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:alicloud:AckCluster", name, None, opts)
        # The secrets KMS key, the cluster and the key's cloud-side deletion protection follow `protect`
        # (prod): a dev stack must destroy cleanly, and a deleted key stays recoverable for its 30-day
        # pending window (docs/design.md#nothing-lost).
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        tags = dict(args.tags)
        if (args.network_plugin == "terway") != (args.pod_vswitch_ids is not None):
            raise ValueError(f"{name}: pod_vswitch_ids go with terway (and only terway)")
        if (args.network_plugin == "flannel") != (args.pod_cidr is not None):
            raise ValueError(f"{name}: pod_cidr goes with flannel (and only flannel)")

        self.secrets_key = alicloud.kms.Key(
            f"{name}-secrets",
            description=f"ACK secrets envelope encryption for {args.cluster_name}",
            key_spec="Aliyun_AES_256",
            key_usage="ENCRYPT/DECRYPT",
            protection_level="SOFTWARE",
            automatic_rotation="Enabled",
            rotation_interval="365d",
            pending_window_in_days=30,  # a mistaken delete can be cancelled for a month
            deletion_protection="Enabled" if args.protect else "Disabled",
            tags=tags,
            opts=keep,
        )

        self.cluster = alicloud.cs.ManagedKubernetes(
            f"{name}-ack",
            name=args.cluster_name,
            cluster_spec=args.cluster_spec,
            profile="Default",
            version=ack_pins().ack_version(args.kubernetes_version),
            vswitch_ids=args.vswitch_ids,
            pod_vswitch_ids=args.pod_vswitch_ids,
            pod_cidr=args.pod_cidr,
            service_cidr=args.service_cidr,
            proxy_mode="ipvs",
            new_nat_gateway=False,  # egress is our NAT + SNAT (network.py)
            slb_internet_enabled=args.public_access,
            is_enterprise_security_group=True,
            deletion_protection=args.deletion_protection,
            enable_rrsa=True,
            encryption_provider_key=self.secrets_key.id,
            disable_encryption=False,
            control_plane_log_components=list(CONTROL_PLANE_LOG_COMPONENTS),
            control_plane_log_ttl=str(args.log_retention_days),
            audit_log_config={"enabled": True},
            # Keep the control-plane and audit logs when the cluster goes (incident forensics); the
            # Services' load balancers go with it so they do not linger and eat quota.
            delete_options=[
                {"resource_type": "SLS_ControlPlane", "delete_mode": "retain"},
                {"resource_type": "SLS_Data", "delete_mode": "retain"},
                {"resource_type": "SLB", "delete_mode": "delete"},
            ],
            addons=cluster_addons(args.network_plugin),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=list(args.after),
                ignore_changes=list(CLUSTER_IGNORE_CHANGES),
            ),
        )

        # An exec kubeconfig (no credential in state, the same on every run): the endpoint from the
        # cluster, the CA from the credential API (its client certificate and key are not kept). Keyed on
        # the cluster id, so an endpoint or CA change updates the provider instead of replacing objects.
        cred = alicloud.cs.get_cluster_credential_output(
            cluster_id=self.cluster.id,
            temporary_duration_minutes=CA_READ_MINUTES,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        # The CA is public (every client holds it); unsecret it in case the provider marks the whole
        # credential secret, so the kubeconfig output is as plain as EKS's.
        ca_data = pulumi.Output.unsecret(
            cred.certificate_authorities.apply(lambda cas: cas[0].cluster_cert if cas else "")
        )
        server = self.cluster.connections.apply(lambda c: api_server(c, args.public_access))
        self.kubeconfig = pulumi.Output.all(self.cluster.id, server, ca_data).apply(
            lambda a: kubeconfig(str(a[0]), str(a[1]), str(a[2]))
        )
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            cluster_identifier=self.cluster.id,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]),
        )

        self.storage_class = DEFAULT_STORAGE_CLASS
        k8s.storage.v1.StorageClass(
            f"{name}-{DEFAULT_STORAGE_CLASS}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=DEFAULT_STORAGE_CLASS,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="diskplugin.csi.alibabacloud.com",
            # ESSD cloud disks encrypted with the cluster's key (ACK's built-in classes are unencrypted).
            parameters={
                "type": "cloud_essd",
                "performanceLevel": "PL1",
                "encrypted": "true",
                "kmsKeyId": self.secrets_key.id,
                "fstype": "ext4",
            },
            # A cloud disk is zonal: bind where the pod lands (GPU pools scale up in any zone).
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.k8s_provider),
        )

        rrsa = self.cluster.rrsa_metadata
        self.register_outputs(
            {
                "clusterId": self.cluster.id,
                "rrsaOidcIssuerUrl": rrsa.apply(lambda r: r.rrsa_oidc_issuer_url if r else None),
                "ramOidcProviderArn": rrsa.apply(lambda r: r.ram_oidc_provider_arn if r else None),
            }
        )
