"""Bad add-on config (Istio gateway, Prometheus, logging): each case asserts the exact message."""

from __future__ import annotations

import pytest

from stacks.spec.parse import parse_spec
from tests.spec_helpers import Case, assert_rejected, mutate, problems, raw_stack

DEV = raw_stack("dev")
PROD = raw_stack("prod")
P = "gpu-platform:addons."
GW = "addons.istio.gateway"
RCV = {"name": "oncall", "type": "pagerduty", "secretKey": "pagerdutyRoutingKey"}

CASES: list[Case] = [
    (
        "gateway without hosts",
        mutate(DEV, f"{GW}.hosts", []),
        f"{P}istio.gateway.hosts: empty while the gateway is enabled; list the host names it serves, "
        "e.g. ['models.example.com'], or set enabled: false",
    ),
    (
        "gateway without TLS secret",
        mutate(DEV, f"{GW}.tlsSecret"),
        f"{P}istio.gateway.tlsSecret: required while the gateway is enabled; name the TLS Secret (tls.crt, tls.key) "
        "in namespace istio-ingress, e.g. 'models-example-com-tls'",
    ),
    (
        "bad host",
        mutate(DEV, f"{GW}.hosts", ["Models_Example"]),
        f"{P}istio.gateway.hosts[0]: 'Models_Example' is not a DNS host name; write it like 'models.example.com' "
        "or '*.models.example.com' (lowercase)",
    ),
    (
        "auth route without jwt",
        mutate(DEV, f"{GW}.jwt"),
        f"{P}istio.gateway.jwt: required because route(s) 'llama3-8b' require auth; add jwt: "
        "{issuer: https://..., jwksUri: https://...} or set requireAuth: false",
    ),
    (
        "jwks over http",
        mutate(DEV, f"{GW}.jwt.jwksUri", "http://auth.dev.example.com/jwks.json"),
        f"{P}istio.gateway.jwt.jwksUri: 'http://auth.dev.example.com/jwks.json' is not an https URL; "
        "tokens and keys must come over TLS",
    ),
    (
        "duplicate route names",
        mutate(DEV, f"{GW}.routes", [{"name": "m", "pathPrefix": "/a"}, {"name": "m", "pathPrefix": "/b"}]),
        f"{P}istio.gateway.routes: route name 'm' is used twice; route names must be unique",
    ),
    (
        "path prefix without slash",
        mutate(DEV, f"{GW}.routes.0.pathPrefix", "v1/models/*"),
        f"{P}istio.gateway.routes[0].pathPrefix: 'v1/models/*' is not a URL path prefix; start with '/' and leave "
        "out wildcards and query strings, e.g. '/v1/models/llama3-8b'",
    ),
    (
        "rate limit of zero",
        mutate(DEV, f"{GW}.routes.0.rateLimit.requestsPerMinute", 0),
        f"{P}istio.gateway.routes[0].rateLimit.requestsPerMinute: must be >= 1, got 0",
    ),
    (
        "gateway min > max",
        mutate(DEV, f"{GW}.minReplicas", 6),
        f"{P}istio.gateway.minReplicas: 6 is greater than maxReplicas 5; make minReplicas <= maxReplicas",
    ),
    (
        "bad load balancer scheme",
        mutate(DEV, f"{GW}.loadBalancer", "public"),
        f"{P}istio.gateway.loadBalancer: 'public' is not allowed; choose one of 'internal' or 'internet-facing'",
    ),
    (
        "single istiod in prod",
        mutate(PROD, "addons.istio.istiodReplicas", 1),
        f"{P}istio.istiodReplicas: 1 in prod leaves the mesh without a control plane while its node drains; "
        "use 2 or more (or remove the key for the default of 2)",
    ),
    (
        "retention not a duration",
        mutate(DEV, "addons.prometheus.retention", "3 days"),
        f"{P}prometheus.retention: '3 days' is not a Prometheus duration; write it like '15d' or '4w'",
    ),
    (
        "prometheus volume too small",
        mutate(DEV, "addons.prometheus.storageGib", 5),
        f"{P}prometheus.storageGib: must be >= 10, got 5",
    ),
    (
        "slack receiver without channel",
        mutate(DEV, "addons.prometheus.alertmanager.receivers", [{**RCV, "type": "slack"}]),
        f"{P}prometheus.alertmanager.receivers[0].channel: required for a slack receiver; add channel: '#gpu-alerts'",
    ),
    (
        "bad receiver type",
        mutate(DEV, "addons.prometheus.alertmanager.receivers", [{**RCV, "type": "email"}]),
        f"{P}prometheus.alertmanager.receivers[0].type: 'email' is not allowed; choose one of 'slack', "
        "'pagerduty' or 'webhook'",
    ),
    (
        "duplicate receivers",
        mutate(DEV, "addons.prometheus.alertmanager.receivers", [RCV, RCV]),
        f"{P}prometheus.alertmanager.receivers: receiver name 'oncall' is used twice; names must be unique",
    ),
    (
        "secret key with a colon",
        mutate(DEV, "addons.prometheus.alertmanager.receivers", [{**RCV, "secretKey": "gpu-platform:pd"}]),
        f"{P}prometheus.alertmanager.receivers[0].secretKey: 'gpu-platform:pd' is not a config key name; use "
        "letters, digits, '_', '-' and '.', starting with a letter",
    ),
    (
        "two elasticsearch nodes",
        mutate(DEV, "addons.logging.replicas", 2),
        f"{P}logging.replicas: 2 Elasticsearch nodes cannot elect a master after losing one (quorum is 2); "
        "use 1 for a test cluster or 3 or more",
    ),
    (
        "single elasticsearch node in prod",
        mutate(PROD, "addons.logging.replicas", 1),
        f"{P}logging.replicas: 1 in prod loses logging with one node; use 3 or more",
    ),
    (
        "retention days zero",
        mutate(DEV, "addons.logging.retentionDays", 0),
        f"{P}logging.retentionDays: must be >= 1, got 0",
    ),
    (
        "unknown logging key",
        mutate(DEV, "addons.logging.retention", 7),
        f"{P}logging.retention: unknown key; did you mean 'retentionDays'?",
    ),
    (
        "bad storage class",
        mutate(DEV, "addons.storageClass", "GP3 Encrypted"),
        f"{P}storageClass: 'GP3 Encrypted' is not a StorageClass name (lowercase, digits, '-', '.')",
    ),
    (
        "keda autoscaling with keda disabled",
        mutate(DEV, "addons.keda.enabled", False),
        "gpu-platform:models[0].autoscaling.engine: 'keda' needs the KEDA add-on, but addons.keda.enabled is false; "
        "set addons.keda.enabled: true, or engine: none for fixed replicas",
    ),
    (
        "version keda autoscaling with keda disabled",
        mutate(
            mutate(mutate(DEV, "addons.keda.enabled", False), "models.0.autoscaling.engine", "none"),
            "models.0.versions.1.autoscaling",
            {"engine": "keda", "minReplicas": 1, "maxReplicas": 1},
        ),
        "gpu-platform:models[0].versions[1].autoscaling.engine: 'keda' needs the KEDA add-on, but addons.keda.enabled "
        "is false; set addons.keda.enabled: true, or engine: none for fixed replicas",
    ),
    (
        "gateway route naming an unknown model",
        mutate(DEV, f"{GW}.routes.0.name", "llama3-70b"),
        f"{P}istio.gateway.routes[0].name: 'llama3-70b' names no model; a gateway route exposes the model of the "
        "same name, choose one of 'llama3-8b'",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fails_with_exact_message(case: Case) -> None:
    assert_rejected(case)


def test_stack_files_are_valid_and_environment_defaults_differ() -> None:
    dev, prod = parse_spec(DEV).addons, parse_spec(PROD).addons
    assert dev.istio.gateway.load_balancer == "internal"
    assert prod.istio.gateway.load_balancer == "internet-facing"
    assert (dev.logging.replicas, prod.logging.replicas) == (None, 3)


def test_keda_disabled_is_fine_without_keda_autoscaling() -> None:
    raw = mutate(mutate(DEV, "addons.keda.enabled", False), "models.0.autoscaling.engine", "none")
    assert parse_spec(raw).addons.keda.enabled is False


def test_disabled_addons_are_not_checked() -> None:
    raw = mutate(DEV, "addons.logging", {"enabled": False, "replicas": 2})
    raw = mutate(raw, f"{GW}.enabled", False)
    raw = mutate(raw, f"{GW}.hosts", [])
    assert parse_spec(raw).addons.logging.enabled is False


def test_every_problem_is_reported_at_once() -> None:
    raw = mutate(mutate(DEV, f"{GW}.hosts", []), "addons.logging.replicas", 2)
    assert len(problems(raw)) == 2
