"""PrometheusStack: kube-prometheus-stack (pinned) plus the platform's scrape targets, rules and dashboard.

- kube-prometheus-stack as a `helm.v3.Release`: the chart installs the prometheus-operator CRDs and
  patches its admission webhook certificates with Helm hooks, which `helm.v4.Chart` does not run.
- Retention (time and 90% of the volume), persistent volumes on the encrypted StorageClass, replicas.
- Selectors: `*SelectorNilUsesHelmValues: false` (charts/values) so every ServiceMonitor, PodMonitor
  and PrometheusRule in the cluster is picked up — ours and the model releases' carry no release label.
- Alertmanager receivers from config. Their secrets (Slack URL, PagerDuty key, webhook URL) go into a
  Secret mounted into Alertmanager and are referenced as `*_file`, so the chart values stay free of
  secrets and show in full in a preview.
- Grafana admin password from secret config or generated (pulumi-random), in a Secret the chart uses.
- GPU metrics: when the GPU layer does not scrape its own dcgm-exporter (it renders a ServiceMonitor
  beside the exporter when `addons.nvidia.dcgmExporter` is on), a ServiceMonitor here selects the
  Service the NVIDIA GPU Operator creates for its exporter (`app: nvidia-dcgm-exporter`, port
  `gpu-metrics`) in any namespace.
- PodDisruptionBudgets for Prometheus and Alertmanager when asked (prod), each only with 2+ replicas.
- Istio sidecar metrics (the SLO inputs) through the envoy PodMonitor; platform recording rules and
  alerts from components/observability/rules.py; a GPU dashboard ConfigMap for Grafana's sidecar.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import helm
from components.mesh.istio import prometheus_sidecar_values
from components.observability.rules import (
    gpu_recording_rules,
    node_labels_for_allowlist,
    platform_alert_rules,
    prometheus_rule_spec,
)
from components.scheduling import POOL_LABEL

NAMESPACE = "monitoring"
RELEASE = "kube-prometheus-stack"
PROMETHEUS_SERVICE = "prometheus-operated"
"""The Service prometheus-operator creates for the chart's Prometheus (every replica behind it)."""
PROMETHEUS_URL = f"http://{PROMETHEUS_SERVICE}.{NAMESPACE}.svc:9090"
"""Prometheus inside the cluster: KEDA triggers and release gates query it (components/models/names.py)."""
RECEIVERS_SECRET = "alertmanager-receivers"
GRAFANA_ADMIN_SECRET = "grafana-admin"
DCGM_SERVICE_LABELS = {"app": "nvidia-dcgm-exporter"}
"""Labels of the dcgm-exporter Service the NVIDIA GPU Operator creates at runtime (any namespace; not in
its chart: NVIDIA/gpu-operator v26.7.0 assets/state-dcgm-exporter/0400_service.yaml)."""
DCGM_SERVICE_PORT = "gpu-metrics"
"""That Service's port name (same file; 9400)."""
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
# Alertmanager mounts each Secret listed in alertmanagerSpec.secrets at this path.
_SECRETS_DIR = "/etc/alertmanager/secrets"

ReceiverType = Literal["slack", "pagerduty", "webhook"]


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    type: ReceiverType
    secret: pulumi.Input[str]
    """Slack webhook URL, PagerDuty routing key or webhook URL (a secret Output)."""
    channel: str | None = None
    severities: tuple[str, ...] = ("critical", "warning")


@dataclass(frozen=True, slots=True)
class PrometheusStackArgs:
    provider: k8s.Provider
    storage_class: str
    retention: str = "15d"
    storage_gib: int = 50
    replicas: int = 1
    alertmanager_replicas: int = 1
    receivers: tuple[Receiver, ...] = field(default_factory=tuple)
    grafana_admin_password: pulumi.Input[str] | None = None
    """Default: generated with pulumi-random."""
    grafana_storage_gib: int = 10
    pool_label: str = POOL_LABEL
    dcgm_service_monitor: bool = True
    """Scrape dcgm-exporter from here. Off when the GPU layer renders its own ServiceMonitor next to
    the exporter (components/gpu/nvidia.py), so series are not scraped twice."""
    istio_certs: bool = False
    """Istio is installed: give Prometheus an Istio sidecar that only writes its certificates to
    components/mesh/istio.PROMETHEUS_CERTS_DIR, so it can scrape model servers under mTLS STRICT."""
    pod_disruption_budgets: bool = False
    """A minAvailable-1 PodDisruptionBudget for Prometheus and one for Alertmanager (the chart's), each
    only where it runs 2 or more replicas: with one replica the budget would block every node drain.
    Default off; the platform layer turns it on in prod."""


def _pvc(storage_class: str, gib: int) -> dict[str, Any]:
    return {
        "spec": {
            "storageClassName": storage_class,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{gib}Gi"}},
        }
    }


def alertmanager_config(receivers: Sequence[Receiver]) -> dict[str, Any]:
    """Alertmanager configuration: every receiver gets the alerts of its severities; Watchdog (the
    always-firing heartbeat) and anything unmatched go to the `null` receiver."""
    routes: list[dict[str, Any]] = [{"matchers": ['alertname = "Watchdog"'], "receiver": "null"}]
    configs: list[dict[str, Any]] = [{"name": "null"}]
    for r in receivers:
        routes.append({"matchers": [f'severity =~ "{"|".join(r.severities)}"'], "receiver": r.name, "continue": True})
        path = f"{_SECRETS_DIR}/{RECEIVERS_SECRET}/{r.name}"
        if r.type == "slack":
            configs.append(
                {"name": r.name, "slack_configs": [{"api_url_file": path, "channel": r.channel, "send_resolved": True}]}
            )
        elif r.type == "pagerduty":
            configs.append({"name": r.name, "pagerduty_configs": [{"routing_key_file": path, "send_resolved": True}]})
        else:
            configs.append({"name": r.name, "webhook_configs": [{"url_file": path, "send_resolved": True}]})
    return {
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes,
        },
        "receivers": configs,
    }


def _pdb(enabled: bool) -> dict[str, Any]:
    # kube-prometheus-stack's `prometheus.podDisruptionBudget` / `alertmanager.podDisruptionBudget`.
    if not enabled:
        return {"enabled": False}
    return {"enabled": True, "minAvailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"}


def chart_overrides(args: PrometheusStackArgs) -> dict[str, Any]:
    """Environment-dependent kube-prometheus-stack values (merged onto charts/values)."""
    am_spec: dict[str, Any] = {
        "replicas": args.alertmanager_replicas,
        "storage": {"volumeClaimTemplate": _pvc(args.storage_class, 2)},
    }
    if args.receivers:
        am_spec["secrets"] = [RECEIVERS_SECRET]
    allowlist = ",".join(node_labels_for_allowlist(args.pool_label))
    prom_spec: dict[str, Any] = {
        "replicas": args.replicas,
        "retention": args.retention,
        # Size-based retention below the volume size: a full disk drops old blocks instead of
        # stopping ingestion (Prometheus counts GB as 2^30 bytes, like the Gi of the volume).
        "retentionSize": f"{args.storage_gib * 9 // 10}GB",
        "storageSpec": {"volumeClaimTemplate": _pvc(args.storage_class, args.storage_gib)},
    }
    if args.istio_certs:
        prom_spec.update(prometheus_sidecar_values())
    return {
        "prometheus": {
            "prometheusSpec": prom_spec,
            "podDisruptionBudget": _pdb(args.pod_disruption_budgets and args.replicas >= 2),
        },
        "alertmanager": {
            "config": alertmanager_config(args.receivers),
            "alertmanagerSpec": am_spec,
            "podDisruptionBudget": _pdb(args.pod_disruption_budgets and args.alertmanager_replicas >= 2),
        },
        "grafana": {
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "persistence": {
                "enabled": True,
                "type": "pvc",
                "storageClassName": args.storage_class,
                "accessModes": ["ReadWriteOnce"],
                "size": f"{args.grafana_storage_gib}Gi",
            },
        },
        # The platform rules join GPU series with node pools through kube_node_labels, which only carries
        # the labels on this allowlist.
        "kube-state-metrics": {"metricLabelsAllowlist": [f"nodes=[{allowlist}]"]},
    }


def dcgm_service_monitor_spec() -> dict[str, Any]:
    return {
        "selector": {"matchLabels": dict(DCGM_SERVICE_LABELS)},
        "namespaceSelector": {"any": True},
        "jobLabel": "app",
        "endpoints": [{"port": DCGM_SERVICE_PORT, "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}],
    }


def envoy_pod_monitor_spec() -> dict[str, Any]:
    """Istio sidecar and gateway metrics (istio_requests_total, ...), the inputs of the SLO rules."""
    return {
        "selector": {"matchExpressions": [{"key": "istio-prometheus-ignore", "operator": "DoesNotExist"}]},
        "namespaceSelector": {"any": True},
        "jobLabel": "envoy-stats",
        "podMetricsEndpoints": [
            {
                "path": "/stats/prometheus",
                "interval": "15s",
                "relabelings": [
                    {
                        "action": "keep",
                        "sourceLabels": ["__meta_kubernetes_pod_container_name"],
                        "regex": "istio-proxy",
                    },
                    {
                        "action": "keep",
                        "sourceLabels": ["__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape"],
                    },
                    # The merged-metrics port Istio announces in the pod's prometheus.io/port annotation.
                    {
                        "action": "replace",
                        "sourceLabels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
                        "regex": "([^:]+)(?::\\d+)?;(\\d+)",
                        "replacement": "$1:$2",
                        "targetLabel": "__address__",
                    },
                ],
            }
        ],
    }


def rule_groups(pool_label: str = POOL_LABEL) -> list[dict[str, Any]]:
    """The PrometheusRule groups this component renders (also what the promtool tests check)."""
    return [gpu_recording_rules(pool_label), platform_alert_rules(pool_label)]


def gpu_dashboard(pool_label: str = POOL_LABEL) -> dict[str, Any]:
    """Grafana dashboard over the recording rules (pool / node utilisation) and raw DCGM series."""
    del pool_label  # the recording rules already carry the pool as `pool`

    def panel(pid: int, title: str, expr: str, legend: str, unit: str, x: int, y: int) -> dict[str, Any]:
        return {
            "id": pid,
            "type": "timeseries",
            "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": legend}],
        }

    panels = [
        panel(1, "GPU utilisation by pool", "pool:gpu_utilisation:avg_ratio", "{{pool}}", "percentunit", 0, 0),
        panel(2, "GPU utilisation by node", "node:gpu_utilisation:avg_ratio", "{{node}}", "percentunit", 12, 0),
        panel(
            3,
            "GPU memory used",
            "sum by (Hostname, gpu) (DCGM_FI_DEV_FB_USED) * 1024 * 1024",
            "{{Hostname}} gpu{{gpu}}",
            "bytes",
            0,
            8,
        ),
        panel(4, "GPU power", "sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)", "{{Hostname}}", "watt", 12, 8),
        panel(
            5,
            "GPU temperature",
            "max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP)",
            "{{Hostname}} gpu{{gpu}}",
            "celsius",
            0,
            16,
        ),
        panel(
            6,
            "Xid errors (last code)",
            "max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS) != 0",
            "{{Hostname}} gpu{{gpu}}",
            "none",
            12,
            16,
        ),
    ]
    return {
        "uid": "gpu-platform-gpus",
        "title": "GPU platform / GPUs",
        "tags": ["gpu", "gpu-platform"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": panels,
    }


class PrometheusStack(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    grafana_admin_password: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: PrometheusStackArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        istiod: pulumi.Resource | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        """`istiod`: with istio_certs the Prometheus pod needs its injector;
        `depends_on`: what must exist before anything here is installed (ClusterFacts.ready: nodes, cluster
        DNS, the storage driver and class). Every child gets it, since a component's own depends_on would
        not hold back its children."""
        super().__init__("gpu-platform:observability:PrometheusStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(depends_on))
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            # node-exporter needs the host's PID and network namespaces, so this namespace cannot enforce
            # the baseline Pod Security level; warn about restricted violations instead.
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE,
                labels={
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            opts=child,
        )
        in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ns]))

        if args.grafana_admin_password is None:
            generated = random.RandomPassword(
                f"{name}-grafana-admin", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            password: pulumi.Output[str] = generated.result
        else:
            password = pulumi.Output.secret(args.grafana_admin_password)
        self.grafana_admin_password = pulumi.Output.secret(password)
        secrets: list[pulumi.Resource] = [
            k8s.core.v1.Secret(
                f"{name}-grafana-admin",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_ADMIN_SECRET, namespace=NAMESPACE),
                type="Opaque",
                string_data={"admin-user": "admin", "admin-password": self.grafana_admin_password},
                opts=in_ns,
            )
        ]
        if args.receivers:
            secrets.append(
                k8s.core.v1.Secret(
                    f"{name}-alertmanager-receivers",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=RECEIVERS_SECRET, namespace=NAMESPACE),
                    type="Opaque",
                    string_data={r.name: pulumi.Output.secret(r.secret) for r in args.receivers},
                    opts=in_ns,
                )
            )
        self.release = helm.release(
            RELEASE,
            "kube-prometheus-stack",
            namespace=NAMESPACE,
            overrides=chart_overrides(args),
            # With istio_certs the Prometheus pod needs istiod's injector in place when it is created.
            opts=pulumi.ResourceOptions.merge(
                in_ns, pulumi.ResourceOptions(depends_on=[*secrets, *([istiod] if istiod is not None else [])])
            ),
        )
        # Custom resources need the chart's CRDs.
        after = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.release]))

        def cr(suffix: str, kind: str, obj_name: str, spec: dict[str, Any]) -> None:
            k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version="monitoring.coreos.com/v1",
                kind=kind,
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=obj_name, namespace=NAMESPACE, labels={"app.kubernetes.io/part-of": "gpu-platform"}
                ),
                spec=spec,
                opts=after,
            )

        if args.dcgm_service_monitor:
            cr("dcgm-exporter", "ServiceMonitor", "dcgm-exporter", dcgm_service_monitor_spec())
        cr("envoy-stats", "PodMonitor", "envoy-stats", envoy_pod_monitor_spec())
        cr("platform-rules", "PrometheusRule", "gpu-platform", prometheus_rule_spec(rule_groups(args.pool_label)))
        k8s.core.v1.ConfigMap(
            f"{name}-gpu-dashboard",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="gpu-platform-gpu-dashboard", namespace=NAMESPACE, labels=dict(DASHBOARD_LABEL)
            ),
            data={"gpu-platform-gpus.json": json.dumps(gpu_dashboard(args.pool_label), sort_keys=True, indent=1)},
            opts=in_ns,
        )
        self.register_outputs({"namespace": NAMESPACE, "grafanaAdminPassword": self.grafana_admin_password})
