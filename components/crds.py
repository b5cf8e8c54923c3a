"""Which Helm release installs the CRD of a custom resource.

On a first `pulumi up` a CustomResource whose CRD is not installed yet fails ("no matches for kind").
Pulumi orders a resource after what it `depends_on`, but a `depends_on` on a ComponentResource does
not hold back the component's children: the SDK sends each child's own dependencies and the engine
waits only for those (a component has nothing to create, so "after the component's dependencies" is
no constraint on its children). So every CustomResource names its CRD's release itself:

    opts=pulumi.ResourceOptions(parent=self, depends_on=crds.for_api_version("networking.istio.io/v1"))
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

# API group -> the CrdReleases field whose release ships that group's CRDs.
GROUPS: dict[str, str] = {
    "networking.istio.io": "istio",
    "security.istio.io": "istio",
    "telemetry.istio.io": "istio",
    "extensions.istio.io": "istio",
    "monitoring.coreos.com": "prometheus",
    "elasticsearch.k8s.elastic.co": "eck",
    "kibana.k8s.elastic.co": "eck",
    "beat.k8s.elastic.co": "eck",
    "keda.sh": "keda",
    "nvidia.com": "gpu_operator",
}


@dataclass(frozen=True)
class CrdReleases:
    """The CRD-installing releases of a cluster (None: not installed by this program)."""

    istio: pulumi.Resource | None = None
    """istio-base (Istio networking / security / telemetry CRDs)."""
    prometheus: pulumi.Resource | None = None
    """kube-prometheus-stack (prometheus-operator CRDs: ServiceMonitor, PodMonitor, PrometheusRule)."""
    eck: pulumi.Resource | None = None
    """eck-operator (Elasticsearch, Kibana)."""
    keda: pulumi.Resource | None = None
    """keda (ScaledObject, TriggerAuthentication)."""
    gpu_operator: pulumi.Resource | None = None
    """gpu-operator (nvidia.com ClusterPolicy)."""

    def for_api_version(self, api_version: str) -> list[pulumi.Resource]:
        """[the release installing the CRD of `api_version`] or [] when this program does not install it."""
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        field_name = GROUPS.get(group)
        if field_name is None:
            raise KeyError(f"no CRD release known for API group {group!r}; known: {', '.join(sorted(GROUPS))}")
        release: pulumi.Resource | None = getattr(self, field_name)
        return [release] if release is not None else []
