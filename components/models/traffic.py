"""Istio DestinationRule and VirtualService of a release (networking.istio.io/v1).

The release owns both objects and renders every weight from config, so a preview shows the split and no
in-cluster controller rewrites it (the drift Argo Rollouts and Flagger cause: argo-rollouts#3854,
flagger#1715). The VirtualService is the only object a weight change touches.
"""

from __future__ import annotations

from typing import Any

from components.models.args import ModelReleaseArgs


def fqdn(a: ModelReleaseArgs) -> str:
    return f"{a.name}.{a.ns}.svc.cluster.local"


def destination_rule_spec(a: ModelReleaseArgs) -> dict[str, Any]:
    return {
        "host": fqdn(a),
        "trafficPolicy": {
            # Inference requests vary from milliseconds to minutes; least-request beats round-robin.
            "loadBalancer": {"simple": "LEAST_REQUEST", "warmupDurationSecs": "60s"},
            "connectionPool": {
                "tcp": {"maxConnections": 1024, "connectTimeout": "5s"},
                "http": {
                    "http1MaxPendingRequests": 256,
                    "http2MaxRequests": 512,
                    "idleTimeout": "300s",
                    "maxRetries": 3,
                },
            },
            # GPU pools are small: eject a failing pod, never more than half of them.
            "outlierDetection": {
                "consecutive5xxErrors": 5,
                "interval": "10s",
                "baseEjectionTime": "60s",
                "maxEjectionPercent": 50,
            },
            "tls": {"mode": "ISTIO_MUTUAL"},
        },
        "subsets": [{"name": v.name, "labels": {"version": v.name}} for v in sorted(a.versions, key=lambda v: v.name)],
    }


def _dest(a: ModelReleaseArgs, subset: str) -> dict[str, Any]:
    return {"host": fqdn(a), "subset": subset, "port": {"number": 80}}


def _policy(a: ModelReleaseArgs) -> dict[str, Any]:
    t = a.traffic
    # Always explicit: unset, Istio retries twice, and a retried inference re-runs its GPU work.
    retries: dict[str, Any] = {"attempts": t.retries.attempts}
    if t.retries.attempts:
        retries.update(perTryTimeout=f"{t.timeout_seconds}s", retryOn=t.retries.retry_on)
    return {"timeout": f"{t.timeout_seconds}s", "retries": retries}


def _gateway_matches(a: ModelReleaseArgs, conditions: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """With a gateway route: each condition from inside the mesh (any path) or through the gateway on the
    route's prefix only, so the gateway's auth and rate limit cover every external request."""
    gr = a.gateway_route
    if gr is None:
        return conditions or None
    prefix = gr.path_prefix.rstrip("/") or "/"
    # The prefix itself and everything below it, exactly the paths the gateway's JWT policy covers
    # (mesh/gateway.py route_paths). A bare `prefix: /v1/models/llama3-8b` would also route
    # '/v1/models/llama3-8bX' here, a path that policy does not cover: unauthenticated access.
    uris = [{"prefix": "/"}] if prefix == "/" else [{"exact": prefix}, {"prefix": f"{prefix}/"}]
    return [{**c, "gateways": ["mesh"]} for c in conditions or [{}]] + [
        {**c, "gateways": [a.gateway], "uri": uri} for c in conditions or [{}] for uri in uris
    ]


def virtual_service_spec(a: ModelReleaseArgs) -> dict[str, Any]:
    t = a.traffic
    http: list[dict[str, Any]] = []
    # Header routes first: Istio routes are first-match.
    for r in t.ab_routes:
        conditions = (
            [{"headers": {r.header: {"exact": val}}} for val in r.values]
            if r.values
            else [{"headers": {r.header: {"regex": r.regex}}}]
        )
        matches = _gateway_matches(a, conditions)
        http.append(
            {
                "name": f"{a.name}-ab-{r.header}-{r.version}",
                "match": matches,
                "route": [{"destination": _dest(a, r.version)}],
                **_policy(a),
            }
        )
    route = [{"destination": _dest(a, t.stable), "weight": 100 - (t.candidate_weight if t.candidate else 0)}]
    if t.candidate is not None:
        # Listed even at weight 0 so a promotion changes only numbers, and the split is visible in previews.
        route.append({"destination": _dest(a, t.candidate), "weight": t.candidate_weight})
    # Named after the model: the gateway's EnvoyFilter finds this route by name for its rate limit.
    weighted: dict[str, Any] = {
        "name": a.name,
        **({"match": m} if (m := _gateway_matches(a, [])) else {}),
        "route": route,
        **_policy(a),
    }
    if t.shadow is not None:
        weighted["mirror"] = _dest(a, t.shadow.version)
        weighted["mirrorPercentage"] = {"value": float(t.shadow.percent)}
    http.append(weighted)
    gr = a.gateway_route
    hosts = list(dict.fromkeys([fqdn(a), *a.hosts, *(gr.hosts if gr else ())]))
    gateways = ["mesh", *([a.gateway] if a.hosts or gr else [])]
    return {"hosts": hosts, "gateways": gateways, "http": http}
