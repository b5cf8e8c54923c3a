"""ApiGateway: the Istio ingress gateway as the platform's one authenticated, rate-limited entry point.

- The `gateway` chart (pinned with istiod) runs Envoy behind a cloud load balancer whose Service is
  annotated for an internal or internet-facing AWS NLB (AWS Load Balancer Controller) or Alibaba SLB
  (cloud-controller-manager). A `helm.v3.Release`, like the rest of Istio: one release history per mesh.
- `Gateway`: HTTPS with the certificate from a Secret (credentialName), HTTP redirected to HTTPS.
- `RequestAuthentication` validates JWTs from the configured issuer; an `AuthorizationPolicy` (DENY
  requests without a valid principal) makes a token mandatory on the routes that require auth. A DENY
  policy is used rather than ALLOW so public routes and paths not listed keep working.
- Per-route local rate limits: Istio 1.29 has no rate-limit API of its own, so an `EnvoyFilter` adds
  Envoy's local_ratelimit filter (inactive by default) and enables it per route with a token bucket
  refilled at the per-minute rate in fills no larger than the bucket (token_bucket).
  Routes are matched by name: the VirtualService http route bound to this gateway (ModelRelease names
  it after the model) must be called like the gateway route.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import helm
from components.mesh.istio import SIDECAR_INJECTION_LABELS

NAMESPACE = "istio-ingress"
RELEASE = "istio-ingressgateway"
# The gateway chart labels its pods `istio: <release name without "istio-">`.
SELECTOR = {"istio": "ingressgateway"}
GATEWAY_NAME = "api-gateway"
NAMESPACE_POD_SECURITY = {
    # The gateway pods meet `restricted`: non-root, no capabilities, RuntimeDefault seccomp (set in
    # charts/values/istio-gateway.yaml: neither the chart nor istiod's gateway injection template sets
    # one), ports 80/443 through the safe net.ipv4.ip_unprivileged_port_start sysctl.
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
LOCAL_RATELIMIT = "envoy.filters.http.local_ratelimit"
_LOCAL_RATELIMIT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"


@dataclass(frozen=True, slots=True)
class RateLimit:
    requests_per_minute: int
    burst: int | None = None
    """Default: requests_per_minute (a full minute's worth may arrive at once)."""


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    """VirtualService http route name the rate limit attaches to."""
    path_prefix: str
    require_auth: bool = True
    rate_limit: RateLimit | None = None


@dataclass(frozen=True, slots=True)
class Jwt:
    issuer: str
    jwks_uri: str
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiGatewayArgs:
    provider: k8s.Provider
    service_annotations: Mapping[str, str]
    """The cloud's load-balancer annotations for the gateway Service (CloudSeam.load_balancer_annotations)."""
    hosts: tuple[str, ...]
    tls_secret: str
    min_replicas: int = 1
    max_replicas: int = 5
    jwt: Jwt | None = None
    routes: tuple[Route, ...] = field(default_factory=tuple)


def gateway_overrides(args: ApiGatewayArgs) -> dict[str, Any]:
    out: dict[str, Any] = {
        "service": {"annotations": dict(args.service_annotations)},
        "replicaCount": args.min_replicas,
        "autoscaling": {"minReplicas": args.min_replicas, "maxReplicas": args.max_replicas},
    }
    # With one replica a minAvailable-1 PDB would block node drains; with two or more it keeps the
    # entry point up through them.
    out["podDisruptionBudget"] = {"minAvailable": 1} if args.min_replicas >= 2 else {}
    return out


def gateway_spec(hosts: Sequence[str], tls_secret: str) -> dict[str, Any]:
    return {
        "selector": dict(SELECTOR),
        "servers": [
            {
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": list(hosts),
                "tls": {"mode": "SIMPLE", "credentialName": tls_secret, "minProtocolVersion": "TLSV1_2"},
            },
            {
                "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                "hosts": list(hosts),
                "tls": {"httpsRedirect": True},
            },
        ],
    }


def request_authentication_spec(jwt: Jwt) -> dict[str, Any]:
    rule: dict[str, Any] = {"issuer": jwt.issuer, "jwksUri": jwt.jwks_uri, "forwardOriginalToken": True}
    if jwt.audiences:
        rule["audiences"] = list(jwt.audiences)
    return {"selector": {"matchLabels": dict(SELECTOR)}, "jwtRules": [rule]}


def route_paths(route: Route) -> list[str]:
    """The route's prefix itself and everything below it (not '/v1/models/llama3-8bX')."""
    prefix = route.path_prefix.rstrip("/") or "/"
    return [prefix] if prefix == "/" else [prefix, f"{prefix}/*"]


def require_jwt_policy_spec(routes: Sequence[Route]) -> dict[str, Any] | None:
    """DENY requests without a verified JWT principal on the routes that require auth (None if none do).

    A request with an invalid token is already rejected (401) by the RequestAuthentication; one without
    any token passes it with no principal, and this policy turns that into a 403."""
    paths = [p for r in routes if r.require_auth for p in route_paths(r)]
    if not paths:
        return None
    return {
        "selector": {"matchLabels": dict(SELECTOR)},
        "action": "DENY",
        "rules": [{"from": [{"source": {"notRequestPrincipals": ["*"]}}], "to": [{"operation": {"paths": paths}}]}],
    }


def _percent(value: int) -> dict[str, Any]:
    return {"numerator": value, "denominator": "HUNDRED"}


def token_bucket(limit: RateLimit) -> dict[str, Any]:
    """Envoy token bucket allowing `requests_per_minute` sustained with bursts of `burst`.

    Envoy caps the bucket at max_tokens, so a fill larger than the bucket is partly lost: refilling
    `requests_per_minute` once a minute into a smaller bucket would allow only `burst` per minute. The
    refill is therefore split into fills of at least 1s (Envoy's minimum is 50ms) that add exactly
    rpm/60000 tokens per millisecond, each no larger than the bucket."""
    rpm = limit.requests_per_minute
    g = math.gcd(rpm, 60_000)
    tokens, interval_ms = rpm // g, 60_000 // g  # smallest whole-token fill at an integral interval
    k = max(1, math.ceil(1000 / interval_ms))
    tokens, interval_ms = tokens * k, interval_ms * k
    interval = f"{interval_ms // 1000}s" if interval_ms % 1000 == 0 else f"{interval_ms / 1000:.3f}s"
    return {"max_tokens": max(limit.burst or rpm, tokens), "tokens_per_fill": tokens, "fill_interval": interval}


def rate_limit_spec(routes: Sequence[Route]) -> dict[str, Any] | None:
    """EnvoyFilter spec with the local_ratelimit filter and one token bucket per limited route."""
    limited = [r for r in routes if r.rate_limit is not None]
    if not limited:
        return None
    patches: list[dict[str, Any]] = [
        {
            "applyTo": "HTTP_FILTER",
            "match": {
                "context": "GATEWAY",
                "listener": {
                    "filterChain": {
                        "filter": {
                            "name": "envoy.filters.network.http_connection_manager",
                            "subFilter": {"name": "envoy.filters.http.router"},
                        }
                    }
                },
            },
            # Without a token bucket the filter passes everything; routes opt in below.
            "patch": {
                "operation": "INSERT_BEFORE",
                "value": {
                    "name": LOCAL_RATELIMIT,
                    "typed_config": {"@type": _LOCAL_RATELIMIT_TYPE, "stat_prefix": "http_local_rate_limiter"},
                },
            },
        }
    ]
    for r in limited:
        assert r.rate_limit is not None
        patches.append(
            {
                "applyTo": "HTTP_ROUTE",
                "match": {"context": "GATEWAY", "routeConfiguration": {"vhost": {"route": {"name": r.name}}}},
                "patch": {
                    "operation": "MERGE",
                    "value": {
                        "typed_per_filter_config": {
                            LOCAL_RATELIMIT: {
                                "@type": _LOCAL_RATELIMIT_TYPE,
                                "stat_prefix": f"route_{r.name.replace('-', '_')}",
                                "token_bucket": token_bucket(r.rate_limit),
                                "filter_enabled": {
                                    "runtime_key": "local_rate_limit_enabled",
                                    "default_value": _percent(100),
                                },
                                "filter_enforced": {
                                    "runtime_key": "local_rate_limit_enforced",
                                    "default_value": _percent(100),
                                },
                                "response_headers_to_add": [
                                    {
                                        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                                        "header": {"key": "x-local-rate-limit", "value": "true"},
                                    }
                                ],
                            }
                        }
                    },
                },
            }
        )
    return {"workloadSelector": {"labels": dict(SELECTOR)}, "configPatches": patches}


class ApiGateway(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        args: ApiGatewayArgs,
        *,
        istiod: pulumi.Resource | None = None,
        crds: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        """`istiod`: the gateway pods need its injector; `crds`: the istio-base release, which every
        Istio object here depends on (a component's own depends_on would not order its children);
        `depends_on`: what must exist before anything here is installed (ClusterFacts.ready: nodes, cluster
        DNS, the storage driver and class). Every child gets it, since a component's own depends_on would
        not hold back its children."""
        super().__init__("gpu-platform:mesh:ApiGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(depends_on))
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE, labels={**SIDECAR_INJECTION_LABELS, **NAMESPACE_POD_SECURITY}
            ),
            opts=child,
        )
        # The gateway pods get their Envoy from istiod's injector, so istiod must be up first.
        deps: list[pulumi.Resource] = [ns] + ([istiod] if istiod is not None else [])
        self.release = helm.release(
            RELEASE,
            "istio-gateway",
            namespace=NAMESPACE,
            overrides=gateway_overrides(args),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=deps)),
        )
        after = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[self.release, *([crds] if crds is not None else [])])
        )

        def cr(suffix: str, api_version: str, kind: str, obj_name: str, spec: dict[str, Any]) -> None:
            k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version=api_version,
                kind=kind,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=obj_name, namespace=NAMESPACE),
                spec=spec,
                opts=after,
            )

        cr("gateway", "networking.istio.io/v1", "Gateway", GATEWAY_NAME, gateway_spec(args.hosts, args.tls_secret))
        if args.jwt is not None:
            cr(
                "jwt",
                "security.istio.io/v1",
                "RequestAuthentication",
                f"{GATEWAY_NAME}-jwt",
                request_authentication_spec(args.jwt),
            )
        if (policy := require_jwt_policy_spec(args.routes)) is not None:
            cr("require-jwt", "security.istio.io/v1", "AuthorizationPolicy", f"{GATEWAY_NAME}-require-jwt", policy)
        if (limits := rate_limit_spec(args.routes)) is not None:
            cr("ratelimit", "networking.istio.io/v1alpha3", "EnvoyFilter", f"{GATEWAY_NAME}-ratelimit", limits)
        self.register_outputs(
            {"namespace": NAMESPACE, "gateway": f"{NAMESPACE}/{GATEWAY_NAME}", "hosts": list(args.hosts)}
        )
