"""The add-ons layer as the engine would receive it (dev and prod stack files): pinned charts and the
values that matter, the Istio / prometheus-operator / ECK objects, protection and secrets."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
import yaml

from components.helm import pin
from components.mesh.gateway import RateLimit, token_bucket
from components.observability.prometheus import rule_groups
from components.scheduling import GPU_TAINT
from tests.component.addons_plan import addons_plan, run_addons
from tests.validators import schemas
from tools.offline.artifacts import helm_releases, kubernetes_objects
from tools.offline.recording import SECRET
from tools.offline.runner import PROJECT_DIR

RELEASE = "kubernetes:helm.sh/v3:Release"
RESTRICTED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}


def releases(stack: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in helm_releases(addons_plan(stack))}


def objects(stack: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in kubernetes_objects(addons_plan(stack)) if o["kind"] == kind}


def resource(stack: str, type_: str, name: str) -> dict[str, Any]:
    found = [r for r in addons_plan(stack)["resources"] if r["type"] == type_ and r["name"] == name]
    assert len(found) == 1, [r["name"] for r in addons_plan(stack)["resources"] if r["type"] == type_]
    return found[0]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_chart_is_pinned_from_pins_yaml(stack: str) -> None:
    addon_of = {
        "istio-base": "istio-base",
        "istio-cni": "istio-cni",
        "istiod": "istiod",
        "istio-ingressgateway": "istio-gateway",
        "kube-prometheus-stack": "kube-prometheus-stack",
        "elastic-operator": "eck-operator",
        "fluent-bit": "fluent-bit",
        "keda": "keda",
    }
    rels = releases(stack)
    assert sorted(rels) == sorted(addon_of)
    for name, addon in addon_of.items():
        p = pin(addon)
        assert (rels[name]["chart"], rels[name]["version"], rels[name]["repo"]) == (p.chart, p.version, p.repo)
    assert {pin(a).version for a in ("istio-base", "istiod", "istio-gateway")} == {"1.29.8"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_addon_objects_validate_against_their_schemas(stack: str) -> None:
    failures: list[str] = []
    for obj in kubernetes_objects(addons_plan(stack)):
        if obj["kind"] == "Secret":  # stringData is secret as a whole; check the shape around it
            assert obj["stringData"] == SECRET and set(obj) == {"apiVersion", "kind", "metadata", "stringData", "type"}
            continue
        failures += [f"{schemas.describe(obj)}: {e}" for e in schemas.errors(obj, "1.33")]
    assert failures == []


def test_mesh_is_mtls_strict_with_request_telemetry() -> None:
    pa = objects("dev", "PeerAuthentication")["default"]
    assert pa["metadata"]["namespace"] == "istio-system" and pa["spec"] == {"mtls": {"mode": "STRICT"}}
    tel = objects("dev", "Telemetry")["mesh-default"]["spec"]["metrics"][0]
    assert tel["providers"] == [{"name": "prometheus"}]
    assert {(o["match"]["metric"], o["match"]["mode"], o["disabled"]) for o in tel["overrides"]} == {
        ("REQUEST_COUNT", "CLIENT_AND_SERVER", False),
        ("REQUEST_DURATION", "CLIENT_AND_SERVER", False),
    }


def test_istiod_is_ha_with_pdb_in_prod_only() -> None:
    dev, prod = releases("dev")["istiod"]["values"], releases("prod")["istiod"]["values"]
    assert dev["pilot"]["replicaCount"] == 1 and dev["global"]["defaultPodDisruptionBudget"] == {"enabled": False}
    assert prod["pilot"]["replicaCount"] == 2 and prod["global"]["defaultPodDisruptionBudget"] == {"enabled": True}
    assert prod["pilot"]["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert prod["global"]["proxy"]["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}


def test_gateway_load_balancer_is_internal_in_dev_and_internet_facing_in_prod() -> None:
    key = "service.beta.kubernetes.io/aws-load-balancer-internal"
    dev, prod = releases("dev")["istio-ingressgateway"], releases("prod")["istio-ingressgateway"]
    assert dev["namespace"] == prod["namespace"] == "istio-ingress"
    assert dev["values"]["service"]["annotations"][key] == "true"
    assert key not in prod["values"]["service"]["annotations"]  # internet-facing: the provider's default
    assert prod["values"]["service"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert prod["values"]["podDisruptionBudget"] == {"minAvailable": 1} and dev["values"]["podDisruptionBudget"] == {}
    assert prod["values"]["autoscaling"] | {} == {
        "enabled": True,
        "minReplicas": 2,
        "maxReplicas": 10,
        "targetCPUUtilizationPercentage": 70,
    }
    assert prod["values"]["containerSecurityContext"] | RESTRICTED == prod["values"]["containerSecurityContext"]


def test_alicloud_gateway_gets_slb_annotations() -> None:
    from components.alicloud.seam import load_balancer_annotations

    assert load_balancer_annotations("internal") == {
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "intranet"
    }
    assert load_balancer_annotations("internet-facing") == {
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "internet"
    }


def test_gateway_serves_tls_and_requires_a_jwt_on_model_routes() -> None:
    gw = objects("prod", "Gateway")["api-gateway"]["spec"]
    https, http = gw["servers"]
    assert https["tls"] == {
        "mode": "SIMPLE",
        "credentialName": "models-example-com-tls",
        "minProtocolVersion": "TLSV1_2",
    }
    assert https["hosts"] == ["models.example.com"] and http["tls"] == {"httpsRedirect": True}
    ra = objects("prod", "RequestAuthentication")["api-gateway-jwt"]["spec"]
    assert ra["jwtRules"] == [
        {
            "issuer": "https://auth.example.com/",
            "forwardOriginalToken": True,
            "jwksUri": "https://auth.example.com/.well-known/jwks.json",
            "audiences": ["models-api"],
        }
    ]
    ap = objects("prod", "AuthorizationPolicy")["api-gateway-require-jwt"]["spec"]
    assert ap["action"] == "DENY"
    assert ap["rules"] == [
        {
            "from": [{"source": {"notRequestPrincipals": ["*"]}}],
            "to": [
                {
                    "operation": {
                        "paths": [
                            "/v1/models/llama3-8b",
                            "/v1/models/llama3-8b/*",
                            "/v1/models/embeddings",
                            "/v1/models/embeddings/*",
                        ]
                    }
                }
            ],
        }
    ]
    assert ra["selector"] == ap["selector"] == {"matchLabels": {"istio": "ingressgateway"}}


def test_rate_limits_are_per_route_token_buckets() -> None:
    ef = objects("prod", "EnvoyFilter")["api-gateway-ratelimit"]["spec"]
    filt, *routes = ef["configPatches"]
    assert filt["patch"]["operation"] == "INSERT_BEFORE"
    assert filt["patch"]["value"]["name"] == "envoy.filters.http.local_ratelimit"
    buckets = {
        r["match"]["routeConfiguration"]["vhost"]["route"]["name"]: r["patch"]["value"]["typed_per_filter_config"][
            "envoy.filters.http.local_ratelimit"
        ]["token_bucket"]
        for r in routes
    }
    # embeddings' burst defaults to its per-minute rate. Refills never exceed the bucket (Envoy caps it
    # at max_tokens): a 3000-token fill into a 600-token bucket once a minute would allow 600/min.
    assert buckets == {
        "llama3-8b": {"max_tokens": 600, "tokens_per_fill": 50, "fill_interval": "1s"},
        "embeddings": {"max_tokens": 12000, "tokens_per_fill": 200, "fill_interval": "1s"},
    }


@pytest.mark.parametrize(
    ("rpm", "burst"), [(3000, 600), (12000, None), (600, 10), (100, None), (90, 5), (7, 1), (1, None)]
)
def test_token_bucket_sustains_the_per_minute_rate_whatever_the_burst(rpm: int, burst: int | None) -> None:
    b = token_bucket(RateLimit(rpm, burst))
    interval_s = float(b["fill_interval"].removesuffix("s"))
    assert 0.05 <= interval_s <= 60
    # Envoy never holds more than max_tokens, so a fill above it would be partly thrown away.
    assert b["tokens_per_fill"] <= b["max_tokens"]
    assert b["tokens_per_fill"] * 60 / interval_s == pytest.approx(rpm)
    assert b["max_tokens"] == max(burst or rpm, b["tokens_per_fill"])


def test_prometheus_values_retention_storage_and_selectors() -> None:
    v = releases("prod")["kube-prometheus-stack"]["values"]
    ps = v["prometheus"]["prometheusSpec"]
    assert (ps["retention"], ps["retentionSize"], ps["replicas"]) == ("30d", "180GB", 2)
    claim = ps["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3-encrypted" and claim["resources"]["requests"]["storage"] == "200Gi"
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        assert ps[f"{kind}SelectorNilUsesHelmValues"] is False and ps[f"{kind}Selector"] == {}
    assert v["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    assert v["grafana"]["persistence"]["storageClassName"] == "gp3-encrypted"
    assert v["kube-state-metrics"]["metricLabelsAllowlist"] == [
        "nodes=[gpu-platform.io/gpu-model,gpu-platform.io/pool]"
    ]
    assert releases("dev")["kube-prometheus-stack"]["values"]["prometheus"]["prometheusSpec"]["replicas"] == 1


def test_prometheus_chart_runs_non_root_with_limits() -> None:
    v = releases("prod")["kube-prometheus-stack"]["values"]
    for spec in (v["prometheus"]["prometheusSpec"], v["alertmanager"]["alertmanagerSpec"]):
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["resources"]["limits"]
    for part in ("grafana", "kube-state-metrics"):
        assert v[part]["containerSecurityContext"] == RESTRICTED and v[part]["resources"]["limits"]
    assert v["prometheusOperator"]["containerSecurityContext"] == RESTRICTED


def test_dcgm_exporter_is_scraped_once_and_rules_come_from_rules_py() -> None:
    # the GPU layer scrapes its own exporter: no second ServiceMonitor here
    assert "dcgm-exporter" not in objects("dev", "ServiceMonitor")
    plan = run_addons("dev", {"gpu-platform:addons": {"nvidia": {"dcgmExporter": False}}})
    sm = next(o for o in kubernetes_objects(plan) if o["kind"] == "ServiceMonitor")["spec"]
    assert sm["selector"] == {"matchLabels": {"app": "nvidia-dcgm-exporter"}}  # the GPU Operator's Service
    assert sm["namespaceSelector"] == {"any": True} and sm["endpoints"][0]["port"] == "gpu-metrics"
    rule = objects("dev", "PrometheusRule")["gpu-platform"]
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["spec"]["groups"] == json.loads(json.dumps(rule_groups()))
    assert "istio-proxy" in json.dumps(objects("dev", "PodMonitor")["envoy-stats"]["spec"])


def test_gpu_dashboard_is_picked_up_by_grafana() -> None:
    cm = objects("dev", "ConfigMap")["gpu-platform-gpu-dashboard"]
    assert cm["metadata"]["labels"] == {"grafana_dashboard": "1"}
    dash = json.loads(cm["data"]["gpu-platform-gpus.json"])
    exprs = [p["targets"][0]["expr"] for p in dash["panels"]]
    assert "pool:gpu_utilisation:avg_ratio" in exprs and "node:gpu_utilisation:avg_ratio" in exprs


def test_grafana_password_is_generated_when_not_configured() -> None:
    pw = resource("dev", "random:index/randomPassword:RandomPassword", "prometheus-grafana-admin")
    assert pw["inputs"]["length"] == 32
    # generated at apply time and exported as a secret: a preview shows the secret marker, never a value
    assert addons_plan("dev")["outputs"]["grafanaAdminPassword"] == SECRET
    assert objects("dev", "Secret")["grafana-admin"]["stringData"] == SECRET


def test_receivers_read_secrets_from_secret_config_and_values_hold_only_file_paths() -> None:
    receivers = [
        {"name": "oncall", "type": "pagerduty", "secretKey": "pdKey"},
        {"name": "chat", "type": "slack", "secretKey": "slackUrl", "channel": "#gpu", "severities": ["critical"]},
    ]
    addons = {
        "istio": {"enabled": False},
        "logging": {"enabled": False},
        "prometheus": {"alertmanager": {"receivers": receivers}, "grafana": {"adminPasswordKey": "grafanaPw"}},
    }
    plan = run_addons(
        "dev",
        {
            "gpu-platform:addons": addons,
            "gpu-platform-secrets:pdKey": {"secure": "x"},
            "gpu-platform-secrets:slackUrl": {"secure": "y"},
            "gpu-platform-secrets:grafanaPw": {"secure": "z"},
        },
    )
    rel = next(r for r in helm_releases(plan) if r["name"] == "kube-prometheus-stack")
    am = rel["values"]["alertmanager"]
    assert am["alertmanagerSpec"]["secrets"] == ["alertmanager-receivers"]
    cfg = {r["name"]: r for r in am["config"]["receivers"]}
    assert cfg["oncall"]["pagerduty_configs"] == [
        {"routing_key_file": "/etc/alertmanager/secrets/alertmanager-receivers/oncall", "send_resolved": True}
    ]
    assert cfg["chat"]["slack_configs"][0]["channel"] == "#gpu"
    assert {"matchers": ['severity =~ "critical"'], "receiver": "chat", "continue": True} in am["config"]["route"][
        "routes"
    ]
    assert "offline-secret-placeholder" not in json.dumps(plan["resources"])
    types = [r["type"] for r in plan["resources"]]
    assert "random:index/randomPassword:RandomPassword" not in types  # the configured password is used
    assert plan["outputs"]["grafanaAdminPassword"] == SECRET
    assert not any(r["name"].startswith(("istio", "logging")) for r in plan["resources"])


def test_missing_receiver_secret_fails_naming_the_key() -> None:
    addons = {
        "prometheus": {"alertmanager": {"receivers": [{"name": "oncall", "type": "webhook", "secretKey": "hook"}]}}
    }
    with pytest.raises(pulumi.ConfigMissingError, match="gpu-platform-secrets:hook"):
        run_addons("dev", {"gpu-platform:addons": addons})


def test_elasticsearch_is_protected_in_prod_and_keeps_its_volumes() -> None:
    assert (
        resource("prod", "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch", "logging-elasticsearch")[
            "options"
        ]["protect"]
        is True
    )
    assert (
        resource("dev", "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch", "logging-elasticsearch")["options"][
            "protect"
        ]
        is False
    )
    prod, dev = objects("prod", "Elasticsearch")["logs"]["spec"], objects("dev", "Elasticsearch")["logs"]["spec"]
    assert prod["volumeClaimDeletePolicy"] == "DeleteOnScaledownOnly"
    assert (dev["nodeSets"][0]["count"], prod["nodeSets"][0]["count"]) == (1, 3)
    claim = prod["nodeSets"][0]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "elasticsearch-data"
    assert claim["spec"]["storageClassName"] == "gp3-encrypted" and claim["spec"]["resources"]["requests"] == {
        "storage": "500Gi"
    }
    assert "topologySpreadConstraints" in prod["nodeSets"][0]["podTemplate"]["spec"]
    container = prod["nodeSets"][0]["podTemplate"]["spec"]["containers"][0]
    assert container["securityContext"] == RESTRICTED | {"runAsNonRoot": True} and container["resources"]["limits"]


def test_retention_policy_follows_config_and_single_node_has_no_replicas() -> None:
    dev_cm, prod_cm = objects("dev", "ConfigMap")["logging-ilm"], objects("prod", "ConfigMap")["logging-ilm"]
    assert json.loads(dev_cm["data"]["policy.json"])["policy"]["phases"]["delete"]["min_age"] == "3d"
    assert json.loads(prod_cm["data"]["policy.json"])["policy"]["phases"]["delete"]["min_age"] == "30d"
    assert json.loads(dev_cm["data"]["template.json"])["template"]["settings"]["index.number_of_replicas"] == 0
    assert json.loads(prod_cm["data"]["template.json"])["template"]["settings"]["index.number_of_replicas"] == 1
    # a different policy gives a different Job, so the change is applied
    assert set(objects("dev", "Job")) != set(objects("prod", "Job"))


def test_fluent_bit_tolerates_gpu_taint_and_ships_to_elasticsearch_over_tls() -> None:
    v = releases("prod")["fluent-bit"]["values"]
    assert GPU_TAINT.toleration() in v["tolerations"]
    out = v["config"]["outputs"]
    for line in (
        "Host logs-es-http.logging.svc",
        "tls.verify On",
        "Logstash_Prefix k8s-logs",
        "HTTP_Passwd ${ES_PASSWORD}",
    ):
        assert f"    {line}\n" in out
    assert "    Merge_Parser model_json\n" in v["config"]["filters"]
    assert "    Format json\n" in v["config"]["customParsers"]
    assert v["securityContext"] | RESTRICTED == v["securityContext"] and v["resources"]["limits"]
    assert {"name": "varlog", "mountPath": "/var/log", "readOnly": True} in v["daemonSetVolumeMounts"]
    assert v["serviceMonitor"] == {"enabled": True}


def test_disabled_addons_render_nothing() -> None:
    off = {
        "istio": {"enabled": False},
        "prometheus": {"enabled": False},
        "logging": {"enabled": False},
        "keda": {"enabled": False},
    }
    # Without KEDA a model may not autoscale with it (spec rule): give dev's model fixed replicas.
    models = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]["gpu-platform:models"]
    models[0]["autoscaling"]["engine"] = "none"
    plan = run_addons("dev", {"gpu-platform:addons": off, "gpu-platform:models": models})
    assert [r["type"] for r in plan["resources"]] == ["pulumi:providers:kubernetes"]
