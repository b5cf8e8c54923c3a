"""Keda: the KEDA operator, metrics API server and admission webhooks (kedacore `keda` chart, pinned).

ModelRelease scales each version with a `keda.sh/v1alpha1` ScaledObject whose Prometheus trigger
queries the version's Istio request rate (components/models/objects.py); this component installs
what reconciles those objects and their CRDs. A `helm.v3.Release`, like the other CRD-installing
add-ons: the CRDs and the webhook certificates move with one atomic release history.

The triggers query Prometheus at PROMETHEUS_URL (components/models/names.py): the `prometheus-operated`
Service that prometheus-operator creates for kube-prometheus-stack's Prometheus in `monitoring`. KEDA
is outside the mesh; the Prometheus sidecar intercepts no inbound traffic (components/observability/
prometheus.py), so the plain-HTTP query works under mesh-wide mTLS STRICT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import helm

NAMESPACE = "keda"
RELEASE = "keda"


@dataclass(frozen=True, slots=True)
class KedaArgs:
    provider: k8s.Provider
    """Kubernetes provider of the target cluster (from ClusterFacts)."""
    replicas: int = 1
    """Operator and metrics-server pods. KEDA runs one active operator (leader election); a second
    replica takes over without a gap when a node drains."""


def keda_overrides(args: KedaArgs) -> dict[str, Any]:
    return {"operator": {"replicaCount": args.replicas}, "metricsServer": {"replicaCount": args.replicas}}


class Keda(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        args: KedaArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        """`depends_on`: what must exist before anything here is installed (ClusterFacts.ready: nodes, cluster
        DNS, the storage driver and class). Every child gets it, since a component's own depends_on would
        not hold back its children."""
        super().__init__("gpu-platform:autoscaling:Keda", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(depends_on))
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE,
                labels={
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "app.kubernetes.io/part-of": "gpu-platform",
                },
            ),
            opts=child,
        )
        self.release = helm.release(
            RELEASE,
            "keda",
            namespace=NAMESPACE,
            overrides=keda_overrides(args),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ns])),
        )
        self.register_outputs({"namespace": NAMESPACE, "release": self.release.name})
