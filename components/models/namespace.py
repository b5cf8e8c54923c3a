"""ModelNamespace: a namespace fit for model servers.

Pod Security `restricted` (enforced, audited and warned), Istio sidecar injection, STRICT mTLS, a
ResourceQuota sized to the releases' worst rollout step (so a runaway autoscaler cannot take every GPU
in the cluster), a LimitRange giving unlabelled containers sane defaults, and a default-deny
NetworkPolicy; each release adds the allows it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.crds import CrdReleases
from components.models.names import DOMAIN


@dataclass(frozen=True)
class ModelNamespaceArgs:
    name: str
    quota: Mapping[str, str] = field(default_factory=dict)
    """ResourceQuota `hard` (e.g. requests.nvidia.com/gpu). Default: no quota object."""


class ModelNamespace(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: ModelNamespaceArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        crds: CrdReleases = CrdReleases(),
    ) -> None:
        """`crds`: the PeerAuthentication depends on the release installing Istio's CRDs."""
        super().__init__("gpu-platform:models:ModelNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = args.name
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns,
                labels={
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "istio-injection": "enabled",
                    f"{DOMAIN}/models": "true",
                },
            ),
            opts=child,
        )
        inside = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        k8s.apiextensions.CustomResource(
            f"{name}-mtls",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default", namespace=ns),
            spec={"mtls": {"mode": "STRICT"}},
            opts=pulumi.ResourceOptions.merge(
                inside, pulumi.ResourceOptions(depends_on=crds.for_api_version("security.istio.io/v1"))
            ),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=ns),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
            ),
            opts=inside,
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="defaults", namespace=ns),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        default={"cpu": "500m", "memory": "512Mi"},
                        default_request={"cpu": "100m", "memory": "128Mi"},
                    )
                ]
            ),
            opts=inside,
        )
        if args.quota:
            k8s.core.v1.ResourceQuota(
                f"{name}-quota",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="models", namespace=ns),
                spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=dict(sorted(args.quota.items()))),
                opts=inside,
            )
        self.register_outputs({"name": ns})
