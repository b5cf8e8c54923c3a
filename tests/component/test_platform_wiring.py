"""The layers working together in the real stacks' plans: every custom resource waits for the release
installing its CRD, KEDA is installed for the ScaledObjects and queries kube-prometheus-stack's
Prometheus, Prometheus holds the Istio certificates the model ServiceMonitors use, the cluster layer's
StorageClass reaches the volumes, and gateway routes bind the models' VirtualServices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.crds import GROUPS
from components.helm import pin
from components.mesh.istio import ISTIO_OUTPUT_CERTS_DIR, PROMETHEUS_CERTS_DIR
from components.models.names import PROMETHEUS_URL as MODELS_PROMETHEUS_URL
from components.observability.prometheus import NAMESPACE as MONITORING
from components.observability.prometheus import PROMETHEUS_URL
from tests.component.addons_plan import run_addons
from tests.conftest import Plan

RELEASE = "kubernetes:helm.sh/v3:Release"
CR_RELEASE = {"istio": "istio-base", "prometheus": "kube-prometheus-stack", "eck": "elastic-operator", "keda": "keda"}
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def release(p: Plan, name: str) -> dict[str, Any]:
    return p.one(RELEASE, name)


def custom_resources(p: Plan) -> list[dict[str, Any]]:
    """Resources whose API group is a CRD group (kubernetes:<group>/<version>:<Kind>)."""
    out = []
    for r in p.resources:
        provider, _, rest = r["type"].partition(":")
        if provider == "kubernetes" and rest.split("/")[0] in GROUPS:
            out.append(r)
    return out


@pytest.mark.parametrize("stack", ["dev", "prod", "alicloud-dev", "alicloud-prod"])
def test_every_custom_resource_depends_on_the_release_installing_its_crd(
    stack: str, plan: Callable[[str], Plan]
) -> None:
    p = plan(stack)
    crs = custom_resources(p)
    kinds = {r["type"].rsplit(":", 1)[1] for r in crs}
    assert {
        "VirtualService",
        "DestinationRule",
        "PeerAuthentication",
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
        "Elasticsearch",
        "Kibana",
        "ScaledObject",
    } <= kinds
    missing = []
    for r in crs:
        field = GROUPS[r["type"].split(":")[1].split("/")[0]]
        want = release(p, CR_RELEASE[field])["urn"]
        if want not in r["options"]["dependsOn"]:
            missing.append(f"{r['type']} {r['name']} lacks {CR_RELEASE[field]}")
    assert missing == []


def test_dcgm_service_monitor_waits_for_kube_prometheus_stack(plan: Callable[[str], Plan]) -> None:
    p = plan("dev")
    sm = p.one("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "gpu-dev-dcgm-servicemonitor")
    assert release(p, "kube-prometheus-stack")["urn"] in sm["options"]["dependsOn"]
    # Fluent Bit's chart renders a ServiceMonitor too: its release waits for the CRDs as well.
    assert release(p, "kube-prometheus-stack")["urn"] in release(p, "fluent-bit")["options"]["dependsOn"]


@pytest.mark.parametrize(("stack", "replicas"), [("dev", 1), ("prod", 2)])
def test_keda_is_installed_pinned_and_restricted(stack: str, replicas: int, plan: Callable[[str], Plan]) -> None:
    keda = release(plan(stack), "keda")["inputs"]
    p = pin("keda")
    assert (p.repo, p.chart, p.version, p.app_version) == (
        "https://kedacore.github.io/charts",
        "keda",
        "2.17.2",
        "2.17.2",
    )
    assert (keda["chart"], keda["version"], keda["repositoryOpts"]["repo"], keda["namespace"]) == (
        "keda",
        "2.17.2",
        p.repo,
        "keda",
    )
    v = keda["values"]
    assert v["crds"] == {"install": True}
    assert (v["operator"]["replicaCount"], v["metricsServer"]["replicaCount"]) == (replicas, replicas)
    for part in ("operator", "metricServer", "webhooks"):
        assert v["securityContext"][part] == RESTRICTED
        assert v["podSecurityContext"][part]["runAsNonRoot"] is True
        assert v["resources"][part]["requests"] and v["resources"][part]["limits"]


def test_scaled_objects_query_the_kube_prometheus_stack_service(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    assert PROMETHEUS_URL == MODELS_PROMETHEUS_URL == "http://prometheus-operated.monitoring.svc:9090"
    assert release(p, "kube-prometheus-stack")["inputs"]["namespace"] == MONITORING
    scaled = p.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
    assert scaled
    for so in scaled:
        (trigger,) = so["inputs"]["spec"]["triggers"]
        assert trigger["metadata"]["serverAddress"] == PROMETHEUS_URL


def test_prometheus_mounts_the_istio_certificates_the_model_service_monitors_read(plan: Callable[[str], Plan]) -> None:
    p = plan("dev")
    ps = release(p, "kube-prometheus-stack")["inputs"]["values"]["prometheus"]["prometheusSpec"]
    assert ps["podMetadata"] == {
        "labels": {"sidecar.istio.io/inject": "true"},
        "annotations": {
            "traffic.sidecar.istio.io/includeInboundPorts": "",
            "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
            "proxy.istio.io/config": "proxyMetadata:\n  OUTPUT_CERTS: /etc/istio-output-certs\n",
            "sidecar.istio.io/userVolumeMount": '[{"name": "istio-certs", "mountPath": "/etc/istio-output-certs"}]',
        },
    }
    assert ps["volumes"] == [{"name": "istio-certs", "emptyDir": {"medium": "Memory"}}]
    assert ps["volumeMounts"] == [{"name": "istio-certs", "mountPath": "/etc/prom-certs", "readOnly": True}]
    assert (PROMETHEUS_CERTS_DIR, ISTIO_OUTPUT_CERTS_DIR) == ("/etc/prom-certs", "/etc/istio-output-certs")
    # The Prometheus pod's sidecar comes from istiod's injector.
    assert release(p, "istiod")["urn"] in release(p, "kube-prometheus-stack")["options"]["dependsOn"]
    monitors = [
        m
        for m in p.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        if m["inputs"]["metadata"]["namespace"] == "llama3-8b"
    ]
    assert len(monitors) == 2
    mount = ps["volumeMounts"][0]["mountPath"]
    for m in monitors:
        (ep,) = m["inputs"]["spec"]["endpoints"]
        assert ep["scheme"] == "https"
        tls = ep["tlsConfig"]
        assert [tls["caFile"], tls["certFile"], tls["keyFile"]] == [
            f"{mount}/root-cert.pem",
            f"{mount}/cert-chain.pem",
            f"{mount}/key.pem",
        ]


def test_prometheus_gets_no_sidecar_without_istio() -> None:
    plan = run_addons("dev", {"gpu-platform:addons": {"istio": {"enabled": False}}})
    (kps,) = [r for r in plan["resources"] if r["type"] == RELEASE and r["name"] == "kube-prometheus-stack"]
    ps = kps["inputs"]["values"]["prometheus"]["prometheusSpec"]
    assert "podMetadata" not in ps and "volumes" not in ps and "volumeMounts" not in ps


@pytest.mark.parametrize(
    ("stack", "storage_class"), [("dev", "gp3-encrypted"), ("alicloud-dev", "alicloud-disk-essd-encrypted")]
)
def test_volumes_use_the_storage_class_the_cluster_layer_created(
    stack: str, storage_class: str, plan: Callable[[str], Plan]
) -> None:
    p = plan(stack)
    created = [r["inputs"]["metadata"]["name"] for r in p.of_type("kubernetes:storage.k8s.io/v1:StorageClass")]
    assert storage_class in created
    v = release(p, "kube-prometheus-stack")["inputs"]["values"]
    pvc = v["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    am = v["alertmanager"]["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]["spec"]
    assert (
        pvc["storageClassName"]
        == am["storageClassName"]
        == v["grafana"]["persistence"]["storageClassName"]
        == storage_class
    )
    es = p.one("kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch")["inputs"]["spec"]
    assert {t["spec"]["storageClassName"] for ns in es["nodeSets"] for t in ns["volumeClaimTemplates"]} == {
        storage_class
    }


def test_gateway_route_binds_the_model_virtual_service(plan: Callable[[str], Plan]) -> None:
    p = plan("dev")
    vs = p.one("kubernetes:networking.istio.io/v1:VirtualService", "llama3-8b")["inputs"]["spec"]
    gw = p.one("kubernetes:networking.istio.io/v1:Gateway", "api-gateway-gateway")["inputs"]
    gw_ref = f"{gw['metadata']['namespace']}/{gw['metadata']['name']}"
    assert gw_ref == "istio-ingress/api-gateway"
    assert sorted(vs["gateways"]) == sorted([gw_ref, "mesh"])
    assert "models.dev.example.com" in vs["hosts"]
    assert set(gw["spec"]["servers"][0]["hosts"]) <= set(vs["hosts"])
    (route,) = vs["http"]
    assert route["match"] == [
        {"gateways": ["mesh"]},
        {"gateways": [gw_ref], "uri": {"exact": "/v1/models/llama3-8b"}},
        {"gateways": [gw_ref], "uri": {"prefix": "/v1/models/llama3-8b/"}},
    ]
    ef = p.one("kubernetes:networking.istio.io/v1alpha3:EnvoyFilter", "api-gateway-ratelimit")["inputs"]["spec"]
    _, limited = ef["configPatches"]
    assert limited["match"]["routeConfiguration"]["vhost"]["route"]["name"] == route["name"] == "llama3-8b"
    ap = p.one("kubernetes:security.istio.io/v1:AuthorizationPolicy", "api-gateway-require-jwt")["inputs"]["spec"]
    assert ap["rules"][0]["to"][0]["operation"]["paths"] == ["/v1/models/llama3-8b", "/v1/models/llama3-8b/*"]
    # Every path the gateway routes to the model is one the JWT policy covers (no '/v1/models/llama3-8bX').
    for path in (
        "/v1/models/llama3-8b",
        "/v1/models/llama3-8b/",
        "/v1/models/llama3-8b/v1/chat",
        "/v1/models/llama3-8bX",
        "/v1/models/llama3-8b-public/x",
    ):
        routed = any(_uri_matches(m["uri"], path) for m in route["match"] if m["gateways"] == [gw_ref])
        protected = any(_istio_path_matches(pat, path) for pat in ap["rules"][0]["to"][0]["operation"]["paths"])
        assert routed <= protected, path


def _uri_matches(uri: dict[str, str], path: str) -> bool:
    """Istio StringMatch (exact / prefix) on a request path."""
    if "exact" in uri:
        return path == uri["exact"]
    return path.startswith(uri["prefix"])


def _istio_path_matches(pattern: str, path: str) -> bool:
    """AuthorizationPolicy `paths` semantics: exact, 'prefix*', '*suffix' or '*'."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern


def test_models_without_a_gateway_route_stay_as_they_were(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    names = {r["name"] for r in p.of_type("kubernetes:networking.istio.io/v1:VirtualService")}
    assert names == {"llama3-8b", "embeddings", "reranker"}
    rr = p.one("kubernetes:networking.istio.io/v1:VirtualService", "reranker")["inputs"]["spec"]
    assert all("match" not in h for h in rr["http"]) and "models.example.com" not in rr["hosts"]
