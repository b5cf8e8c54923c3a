"""Cross-field rules for the platform add-ons (Istio + API gateway, Prometheus, logging).

Registered into spec_rules.RULES on import (stacks/spec.py imports this module). Like every rule they
yield (key path, message) pairs that say what was received, what is allowed and how to fix it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

from components.observability.slo import is_duration
from stacks.errors import show
from stacks.spec_models import GatewaySpec, StackSpec
from stacks.spec_rules import Loc, Problem, rule

# A DNS host name, optionally a leading wildcard label ("*.models.example.com").
HOST_RE = re.compile(r"^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Kubernetes object names (Secrets, StorageClasses): DNS subdomain, 253 characters at most.
OBJECT_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# A URL path prefix: starts with '/', no whitespace, wildcards or query string (Istio matches it literally).
PATH_PREFIX_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()+,;=:@%/-]*$")
# Pulumi config key names (the part after `gpu-platform-secrets:`).
CONFIG_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")


def _dupes(values: Iterable[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _https(url: str) -> bool:
    return re.match(r"^https://[^\s/]+(/\S*)?$", url) is not None


@rule
def istio(spec: StackSpec) -> Iterator[Problem]:
    ist = spec.addons.istio
    if not ist.enabled:
        return
    loc: Loc = ("addons", "istio")
    if spec.is_prod and ist.istiod_replicas == 1:
        yield (
            (*loc, "istiodReplicas"),
            (
                "1 in prod leaves the mesh without a control plane while its node "
                "drains; use 2 or more (or remove the key for the default of 2)"
            ),
        )
    if ist.gateway.enabled:
        yield from _gateway(ist.gateway, (*loc, "gateway"))


def _gateway(gw: GatewaySpec, loc: Loc) -> Iterator[Problem]:
    if not gw.hosts:
        yield (
            (*loc, "hosts"),
            (
                "empty while the gateway is enabled; list the host names it serves, "
                "e.g. ['models.example.com'], or set enabled: false"
            ),
        )
    for i, host in enumerate(gw.hosts):
        if not HOST_RE.match(host):
            yield (
                (*loc, "hosts", i),
                (
                    f"{show(host)} is not a DNS host name; write it like 'models.example.com' "
                    "or '*.models.example.com' (lowercase)"
                ),
            )
    for host in _dupes(gw.hosts):
        yield (*loc, "hosts"), f"{show(host)} is listed twice; list each host once"
    if gw.tls_secret is None:
        yield (
            (*loc, "tlsSecret"),
            (
                "required while the gateway is enabled; name the TLS Secret (tls.crt, tls.key) "
                "in namespace istio-ingress, e.g. 'models-example-com-tls'"
            ),
        )
    elif not OBJECT_NAME_RE.match(gw.tls_secret):
        yield (
            (*loc, "tlsSecret"),
            f"{show(gw.tls_secret)} is not a Kubernetes Secret name (lowercase, digits, '-', '.')",
        )
    if gw.min_replicas is not None and gw.min_replicas > gw.max_replicas:
        yield (
            (*loc, "minReplicas"),
            (f"{gw.min_replicas} is greater than maxReplicas {gw.max_replicas}; make minReplicas <= maxReplicas"),
        )
    for name in _dupes(r.name for r in gw.routes):
        yield (*loc, "routes"), f"route name {show(name)} is used twice; route names must be unique"
    for prefix in _dupes(r.path_prefix for r in gw.routes):
        yield (*loc, "routes"), f"path prefix {show(prefix)} is used by two routes; give each route its own prefix"
    for i, route in enumerate(gw.routes):
        if not PATH_PREFIX_RE.match(route.path_prefix):
            yield (
                (*loc, "routes", i, "pathPrefix"),
                (
                    f"{show(route.path_prefix)} is not a URL path prefix; start "
                    "with '/' and leave out wildcards and query strings, "
                    "e.g. '/v1/models/llama3-8b'"
                ),
            )
    auth_routes = [r.name for r in gw.routes if r.require_auth]
    if gw.jwt is None:
        if auth_routes:
            yield (
                (*loc, "jwt"),
                (
                    f"required because route(s) {', '.join(map(show, auth_routes))} require auth; "
                    "add jwt: {issuer: https://..., jwksUri: https://...} or set requireAuth: false"
                ),
            )
        return
    for key, url in (("issuer", gw.jwt.issuer), ("jwksUri", gw.jwt.jwks_uri)):
        if not _https(url):
            yield (*loc, "jwt", key), f"{show(url)} is not an https URL; tokens and keys must come over TLS"


@rule
def prometheus(spec: StackSpec) -> Iterator[Problem]:
    prom = spec.addons.prometheus
    if not prom.enabled:
        return
    loc: Loc = ("addons", "prometheus")
    if not is_duration(prom.retention):
        yield (*loc, "retention"), f"{show(prom.retention)} is not a Prometheus duration; write it like '15d' or '4w'"
    receivers = prom.alertmanager.receivers
    for name in _dupes(r.name for r in receivers):
        yield (*loc, "alertmanager", "receivers"), f"receiver name {show(name)} is used twice; names must be unique"
    for i, rcv in enumerate(receivers):
        rloc: Loc = (*loc, "alertmanager", "receivers", i)
        if rcv.type == "slack" and not rcv.channel:
            yield (*rloc, "channel"), "required for a slack receiver; add channel: '#gpu-alerts'"
        if rcv.type != "slack" and rcv.channel:
            yield (*rloc, "channel"), f"given for a {rcv.type} receiver; channel applies to slack only, remove it"
        if not CONFIG_KEY_RE.match(rcv.secret_key):
            yield (
                (*rloc, "secretKey"),
                (
                    f"{show(rcv.secret_key)} is not a config key name; use letters, digits, "
                    "'_', '-' and '.', starting with a letter"
                ),
            )
        if not rcv.severities:
            yield (*rloc, "severities"), "empty: the receiver would get no alerts; list critical, warning or info"
    key = prom.grafana.admin_password_key
    if key is not None and not CONFIG_KEY_RE.match(key):
        yield (
            (*loc, "grafana", "adminPasswordKey"),
            (f"{show(key)} is not a config key name; use letters, digits, '_', '-' and '.', starting with a letter"),
        )


@rule
def logging(spec: StackSpec) -> Iterator[Problem]:
    log = spec.addons.logging
    if not log.enabled:
        return
    loc: Loc = ("addons", "logging", "replicas")
    if log.replicas == 2:
        yield (
            loc,
            (
                "2 Elasticsearch nodes cannot elect a master after losing one (quorum is 2); "
                "use 1 for a test cluster or 3 or more"
            ),
        )
    elif spec.is_prod and log.replicas is not None and log.replicas < 3:
        yield loc, f"{log.replicas} in prod loses logging with one node; use 3 or more"


@rule
def storage_class(spec: StackSpec) -> Iterator[Problem]:
    name = spec.addons.storage_class
    if name is not None and not OBJECT_NAME_RE.match(name):
        yield ("addons", "storageClass"), f"{show(name)} is not a StorageClass name (lowercase, digits, '-', '.')"


@rule
def keda(spec: StackSpec) -> Iterator[Problem]:
    """KEDA autoscaling renders keda.sh ScaledObjects: without the add-on nothing reconciles them (and on a
    fresh cluster their CRD does not exist)."""
    if spec.addons.keda.enabled:
        return
    fix = (
        "needs the KEDA add-on, but addons.keda.enabled is false; set addons.keda.enabled: true, "
        "or engine: none for fixed replicas"
    )
    for i, m in enumerate(spec.models):
        if m.autoscaling.engine == "keda" and any(v.autoscaling is None for v in m.versions):
            yield ("models", i, "autoscaling", "engine"), f"'keda' {fix}"
        for j, v in enumerate(m.versions):
            if v.autoscaling is not None and v.autoscaling.engine == "keda":
                yield ("models", i, "versions", j, "autoscaling", "engine"), f"'keda' {fix}"


@rule
def gateway_routes(spec: StackSpec) -> Iterator[Problem]:
    """A gateway route exposes the model of the same name (its VirtualService binds to the gateway)."""
    ist = spec.addons.istio
    if not (ist.enabled and ist.gateway.enabled):
        return
    models = [m.name for m in spec.models]
    known = ", ".join(map(show, models)) if models else "none (this stack has no models)"
    for i, route in enumerate(ist.gateway.routes):
        if route.name not in models:
            yield (
                ("addons", "istio", "gateway", "routes", i, "name"),
                (
                    f"{show(route.name)} names no model; a gateway route exposes the model of the same name, "
                    f"choose one of {known}"
                ),
            )
