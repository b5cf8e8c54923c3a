"""The real path for the platform (docs/design.md#real-path): what the real cluster would otherwise refuse or
leave out.

- Prometheus and Alertmanager PodDisruptionBudgets in prod (the chart's own, keys checked in
  the vendored kube-prometheus-stack chart), and the fallback DCGM ServiceMonitor selecting the Service
  the GPU Operator creates for its dcgm-exporter.
- every Kubernetes resource of the platform layer (every Helm release and chart included)
  waits for ClusterFacts.ready, which the cluster layers fill (nodes, DNS, storage driver and class).
"""

from __future__ import annotations

import copy
import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.component.addons_plan import addons_plan, run_addons
from tests.component.vendored_charts import default_values, has_key
from tools.offline.artifacts import helm_releases, kubernetes_objects
from tools.offline.runner import PROJECT_DIR, run_stack

# The Service NVIDIA's GPU Operator creates for dcgm-exporter at runtime (not in its chart):
# NVIDIA/gpu-operator v26.7.0 assets/state-dcgm-exporter/0400_service.yaml, unchanged by
# TransformDCGMExporterService (controllers/object_controls.go), which sets only type and traffic policy.
GPU_OPERATOR_DCGM_SERVICE_LABELS = {"app": "nvidia-dcgm-exporter"}
GPU_OPERATOR_DCGM_SERVICE_PORTS = {"gpu-metrics": 9400}


def with_addons(stack: str, addons: dict[str, Any]) -> dict[str, Any]:
    """The `gpu-platform:addons` block of `stack` with `addons` deep-merged into it (for run_addons)."""
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    block: dict[str, Any] = copy.deepcopy(config.get("gpu-platform:addons", {}))

    def merge(into: dict[str, Any], new: dict[str, Any]) -> None:
        for k, v in new.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v)
            else:
                into[k] = v

    merge(block, addons)
    return {"gpu-platform:addons": block}


def kps_values(plan: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in helm_releases(plan) if r["name"] == "kube-prometheus-stack")["values"]


# ---------------------------------------------------------------------------------------------------
# PodDisruptionBudgets (docs/addons.md#prometheus-alertmanager-grafana-addonsprometheus)


def test_prometheus_and_alertmanager_get_pod_disruption_budgets_in_prod_only() -> None:
    chart = default_values("kube-prometheus-stack")
    for part in ("prometheus", "alertmanager"):
        # the keys the chart's templates read (templates/<part>/podDisruptionBudget.yaml)
        assert has_key(chart, f"{part}.podDisruptionBudget.enabled"), part
    prod, dev = kps_values(addons_plan("prod")), kps_values(addons_plan("dev"))
    for part in ("prometheus", "alertmanager"):
        assert prod[part]["podDisruptionBudget"] == {
            "enabled": True,
            "minAvailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        }, part
        assert dev[part]["podDisruptionBudget"] == {"enabled": False}, part
    # prod runs two of each (the budgets would otherwise block every drain)
    assert prod["prometheus"]["prometheusSpec"]["replicas"] == 2
    assert prod["alertmanager"]["alertmanagerSpec"]["replicas"] == 2


def test_a_single_replica_gets_no_budget_even_in_prod() -> None:
    plan = run_addons("prod", with_addons("prod", {"prometheus": {"replicas": 1, "alertmanager": {"replicas": 1}}}))
    values = kps_values(plan)
    assert values["prometheus"]["podDisruptionBudget"] == {"enabled": False}
    assert values["alertmanager"]["podDisruptionBudget"] == {"enabled": False}


# ---------------------------------------------------------------------------------------------------
# The fallback DCGM ServiceMonitor (docs/addons.md#prometheus-alertmanager-grafana-addonsprometheus)


def test_fallback_dcgm_service_monitor_selects_the_gpu_operator_exporter_service() -> None:
    plan = run_addons("dev", with_addons("dev", {"nvidia": {"dcgmExporter": False}}))
    monitors = [o for o in kubernetes_objects(plan) if o["kind"] == "ServiceMonitor"]
    sm = next(o for o in monitors if o["metadata"]["name"] == "dcgm-exporter")["spec"]
    selector = sm["selector"]
    assert set(selector) == {"matchLabels"}, selector
    # every label the monitor requires is on the operator's Service
    assert selector["matchLabels"].items() <= GPU_OPERATOR_DCGM_SERVICE_LABELS.items()
    assert sm["namespaceSelector"] == {"any": True}  # the operator's namespace is the user's choice
    assert [e["port"] for e in sm["endpoints"]] == ["gpu-metrics"]
    assert all(e["port"] in GPU_OPERATOR_DCGM_SERVICE_PORTS for e in sm["endpoints"])
    assert sm["jobLabel"] in GPU_OPERATOR_DCGM_SERVICE_LABELS


def test_kibana_gets_a_budget_where_it_runs_two_replicas() -> None:
    # ECK gives Elasticsearch a default budget (pkg/controller/elasticsearch/pdb) and Kibana none.
    def budgets(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {
            o["metadata"]["name"]: o["spec"]
            for o in kubernetes_objects(plan)
            if o["kind"] == "PodDisruptionBudget" and o["metadata"]["namespace"] == "logging"
        }

    assert budgets(addons_plan("prod")) == {
        "logs-kb": {
            "minAvailable": 1,
            "selector": {"matchLabels": {"kibana.k8s.elastic.co/name": "logs"}},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        }
    }
    assert budgets(addons_plan("dev")) == {}


# ---------------------------------------------------------------------------------------------------
# The platform waits for ClusterFacts.ready (docs/design.md#real-path)

READY_PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s

from stacks.cluster import layer as cluster_layer
from stacks.platform import layer as platform_layer
from stacks.spec.parse import load_spec

spec = load_spec()
cluster = cluster_layer.build(spec)
# What waiting for ClusterFacts.ready sends the engine (a component in it expands to its children).
k8s.core.v1.ConfigMap(
    "ready-probe",
    metadata={"name": "ready-probe", "namespace": "default"},
    opts=pulumi.ResourceOptions(provider=cluster.k8s_provider, depends_on=list(cluster.ready)),
)
platform_layer.build(spec, cluster)
"""
PLATFORM_COMPONENTS = (
    "gpu-platform:mesh:IstioMesh",
    "gpu-platform:mesh:ApiGateway",
    "gpu-platform:observability:PrometheusStack",
    "gpu-platform:observability:LoggingStack",
    "gpu-platform:autoscaling:Keda",
    "gpu-platform:gpu:NvidiaGpuStack",
    "gpu-platform:gpu:ClusterAutoscaler",
)


@functools.cache
def _ready_plan(stack: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
        (d / f"Pulumi.{stack}.yaml").write_text((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
        (d / "__main__.py").write_text(READY_PROGRAM)
        return json.dumps(run_stack(stack, d))


@pytest.mark.parametrize("stack", ["dev", "prod", "alicloud-dev", "alicloud-prod"])
def test_every_platform_kubernetes_resource_waits_for_the_cluster_to_be_ready(stack: str) -> None:
    resources = json.loads(_ready_plan(stack))["resources"]
    probe = next(r for r in resources if r["type"] == "kubernetes:core/v1:ConfigMap" and r["name"] == "ready-probe")
    ready = set(probe["options"]["dependsOn"])
    assert ready  # the cluster layer hands node pools, DNS / storage add-ons and the StorageClass

    def chain(r: dict[str, Any]) -> str:  # the URN's type chain: parent types, then the resource's own
        return r["urn"].split("::")[2]

    platform = [
        r
        for r in resources
        if r["type"].startswith("kubernetes:") and any(c in chain(r).split("$")[:-1] for c in PLATFORM_COMPONENTS)
    ]
    charts = [r for r in platform if r["type"] in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")]
    assert {r["name"] for r in charts} >= {"istio-base", "istio-cni", "istiod", "kube-prometheus-stack", "keda"}
    if stack in ("dev", "prod"):  # the seam's node autoscaler (AWS), a component made outside the platform
        assert any("ClusterAutoscaler" in chain(r) for r in charts)
    late = [f"{r['type']} {r['name']}" for r in platform if not ready <= set(r["options"]["dependsOn"])]
    assert late == []
