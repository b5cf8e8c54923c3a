"""IstioMesh: Istio base (CRDs), the Istio CNI node agent, istiod, mesh-wide mTLS STRICT and request telemetry.

Charts from the Istio repository, one version for all of them (charts/pins.yaml). All are
`helm.v3.Release`s: istio-base carries the CRDs and istiod the validating/mutating webhooks, and Helm's
install order and hooks (plus atomic rollback) matter more here than a per-object preview diff.

Istio CNI: the node agent (`cni` chart, DaemonSet `istio-cni-node` in istio-system, as Istio's install
guide has it) sets up each meshed pod's traffic redirection as a chained CNI plugin, and istiod runs
with `pilot.cni.enabled` (charts/values/istiod.yaml), so injected pods carry the unprivileged
`istio-validation` check instead of `istio-init`, which needs root and NET_ADMIN/NET_RAW and which the
model namespaces' Pod Security `restricted` refuses. The agent itself is privileged (host paths, root,
NET_ADMIN, SYS_ADMIN): istio-system enforces `privileged`, the documented exception (docs/addons.md).
It runs on every node, GPU nodes included: it tolerates the GPU taint and every pool's taints
(components/scheduling.py), on top of the chart's catch-all tolerations. Installed before istiod, so no
pod is injected for CNI redirection before the agent can serve it.

Model namespaces join the mesh with SIDECAR_INJECTION_LABELS (ModelRelease sets them); the
PeerAuthentication in istio-system makes mTLS STRICT for every namespace that does not override it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import helm
from components.scheduling import gpu_tolerations

SYSTEM_NAMESPACE = "istio-system"
CNI_RELEASE = "istio-cni"
CNI_REQUESTS = {"cpu": "100m", "memory": "100Mi"}
"""What the CNI node agent requests on every node (charts/values/istio-cni.yaml): the node reservations
of the capacity plan should count it."""
SYSTEM_NAMESPACE_LABELS = {
    "app.kubernetes.io/part-of": "istio",
    # The CNI node agent writes the CNI plugin and configuration into host paths and enters pod network
    # namespaces (root, NET_ADMIN, SYS_ADMIN): nothing less than `privileged` admits it. istiod itself
    # meets `restricted`; warn about anything else that does not.
    "pod-security.kubernetes.io/enforce": "privileged",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
# The cni chart's default tolerations (values.yaml at 1.29): the agent must run on every node, or meshed
# pods scheduled there cannot start (their istio-validation check fails). Setting tolerations replaces
# the chart's list, so they are restated here.
CNI_CATCH_ALL_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"effect": "NoSchedule", "operator": "Exists"},
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
    {"effect": "NoExecute", "operator": "Exists"},
)
SIDECAR_INJECTION_LABELS = {"istio-injection": "enabled"}
"""Namespace labels that make istiod inject the Envoy sidecar into every pod of the namespace."""
PROMETHEUS_PROVIDER = "prometheus"

# Prometheus scraping workloads under mTLS STRICT (Istio's documented recipe, "Prometheus / Option 2:
# Customized scraping configurations / TLS settings"): an Istio sidecar in the Prometheus pod that
# intercepts no traffic and only writes its workload certificates (OUTPUT_CERTS) into a shared
# in-memory volume, which the Prometheus container mounts at PROMETHEUS_CERTS_DIR. Scrape configs
# (the model ServiceMonitors) present those certificates: prometheus_tls_config().
PROMETHEUS_CERTS_DIR = "/etc/prom-certs"
"""Where the Prometheus container reads the Istio certificates (ServiceMonitor tlsConfig paths)."""
ISTIO_OUTPUT_CERTS_DIR = "/etc/istio-output-certs"
"""Where the Prometheus pod's sidecar writes them (the same volume)."""
ISTIO_CERTS_VOLUME = "istio-certs"


def prometheus_tls_config() -> dict[str, Any]:
    """ServiceMonitor endpoint tlsConfig for a target behind an Istio sidecar (scheme https).
    insecureSkipVerify: Istio certificates carry SPIFFE IDs, not the pod IPs Prometheus dials."""
    return {
        "caFile": f"{PROMETHEUS_CERTS_DIR}/root-cert.pem",
        "certFile": f"{PROMETHEUS_CERTS_DIR}/cert-chain.pem",
        "keyFile": f"{PROMETHEUS_CERTS_DIR}/key.pem",
        "insecureSkipVerify": True,
    }


def prometheus_sidecar_values() -> dict[str, Any]:
    """kube-prometheus-stack `prometheus.prometheusSpec` values giving Prometheus the Istio certificates."""
    return {
        "podMetadata": {
            # The monitoring namespace is not injected as a whole (node-exporter, operator); this pod is.
            "labels": {"sidecar.istio.io/inject": "true"},
            "annotations": {
                "traffic.sidecar.istio.io/includeInboundPorts": "",  # intercept no inbound traffic
                "traffic.sidecar.istio.io/includeOutboundIPRanges": "",  # nor outbound: scrapes go direct
                "proxy.istio.io/config": f"proxyMetadata:\n  OUTPUT_CERTS: {ISTIO_OUTPUT_CERTS_DIR}\n",
                "sidecar.istio.io/userVolumeMount": json.dumps(
                    [{"name": ISTIO_CERTS_VOLUME, "mountPath": ISTIO_OUTPUT_CERTS_DIR}]
                ),
            },
        },
        "volumes": [{"name": ISTIO_CERTS_VOLUME, "emptyDir": {"medium": "Memory"}}],
        "volumeMounts": [{"name": ISTIO_CERTS_VOLUME, "mountPath": PROMETHEUS_CERTS_DIR, "readOnly": True}],
    }


@dataclass(frozen=True, slots=True)
class IstioMeshArgs:
    provider: k8s.Provider
    """Kubernetes provider of the target cluster (from ClusterFacts)."""
    istiod_replicas: int = 1
    """istiod pods; with 2 or more a PodDisruptionBudget keeps one running through node drains."""
    node_tolerations: tuple[Mapping[str, str], ...] = field(default_factory=lambda: tuple(gpu_tolerations()))
    """Tolerations of the taints the cluster's pools carry, for the CNI node agent. Default: the GPU
    taint (components/scheduling.py); the platform layer passes every pool's taints."""

    def __post_init__(self) -> None:
        if self.istiod_replicas < 1:
            raise ValueError(f"IstioMeshArgs.istiod_replicas: {self.istiod_replicas}; run at least 1 istiod")
        for t in self.node_tolerations:
            operator = t.get("operator", "Equal")
            if operator not in ("Equal", "Exists") or (operator == "Equal" and not t.get("key")):
                raise ValueError(
                    f"IstioMeshArgs.node_tolerations: {dict(t)} is not a toleration; give a key with operator "
                    "Equal, or operator Exists"
                )


def cni_overrides(node_tolerations: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """cni chart values that depend on the cluster: tolerations for its pools' taints plus the chart's
    catch-all ones (deduplicated, in a stable order)."""
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for t in [*node_tolerations, *CNI_CATCH_ALL_TOLERATIONS]:
        seen.setdefault(tuple(sorted(t.items())), dict(t))
    return {"tolerations": list(seen.values())}


def istiod_overrides(replicas: int) -> dict[str, Any]:
    """istiod chart values that depend on the environment.

    The chart's PDB is `minAvailable: 1`; with a single replica that would block every node drain, so
    it is only enabled once there is a second replica to carry the mesh during the drain."""
    ha = replicas >= 2
    return {
        "pilot": {"replicaCount": replicas, "autoscaleMin": replicas, "autoscaleMax": max(5, replicas)},
        "global": {"defaultPodDisruptionBudget": {"enabled": ha}},
    }


def peer_authentication_spec() -> dict[str, Any]:
    return {"mtls": {"mode": "STRICT"}}


def telemetry_spec() -> dict[str, Any]:
    """Mesh-wide Telemetry: request count and duration from both sides of every call.

    components/observability/slo.py reads `istio_requests_total` and
    `istio_request_duration_milliseconds_bucket` with reporter="destination" and the workload labels
    (destination_workload, destination_canonical_service, destination_version) that Istio's standard
    metrics carry; enabling CLIENT_AND_SERVER explicitly keeps them even if a namespace-level Telemetry
    narrows the defaults."""
    overrides = [
        {"match": {"metric": metric, "mode": "CLIENT_AND_SERVER"}, "disabled": False}
        for metric in ("REQUEST_COUNT", "REQUEST_DURATION")
    ]
    return {"metrics": [{"providers": [{"name": PROMETHEUS_PROVIDER}], "overrides": overrides}]}


class IstioMesh(pulumi.ComponentResource):
    base: k8s.helm.v3.Release
    cni: k8s.helm.v3.Release
    istiod: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        args: IstioMeshArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        """`depends_on`: what must exist before anything here is installed (ClusterFacts.ready: nodes, cluster
        DNS, the storage driver and class). Every child gets it, since a component's own depends_on would
        not hold back its children."""
        super().__init__("gpu-platform:mesh:IstioMesh", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(depends_on))
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SYSTEM_NAMESPACE, labels=dict(SYSTEM_NAMESPACE_LABELS)),
            opts=child,
        )
        in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ns]))
        self.base = helm.release("istio-base", "istio-base", namespace=SYSTEM_NAMESPACE, opts=in_ns)
        self.cni = helm.release(
            CNI_RELEASE,
            "istio-cni",
            namespace=SYSTEM_NAMESPACE,
            overrides=cni_overrides(args.node_tolerations),
            opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[self.base])),
        )
        self.istiod = helm.release(
            "istiod",
            "istiod",
            namespace=SYSTEM_NAMESPACE,
            overrides=istiod_overrides(args.istiod_replicas),
            # The injector expects the CNI agent to redirect the pods it injects.
            opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[self.base, self.cni])),
        )
        # The CRs need the CRDs (base) and the validating webhook (istiod) to be in place.
        after_istiod = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.base, self.istiod]))
        k8s.apiextensions.CustomResource(
            f"{name}-mtls-strict",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default", namespace=SYSTEM_NAMESPACE),
            spec=peer_authentication_spec(),
            opts=after_istiod,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-telemetry",
            api_version="telemetry.istio.io/v1",
            kind="Telemetry",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mesh-default", namespace=SYSTEM_NAMESPACE),
            spec=telemetry_spec(),
            opts=after_istiod,
        )
        self.register_outputs({"namespace": SYSTEM_NAMESPACE, "istiodRelease": self.istiod.name})
