"""Prod safety: what a prod stack may do only with a named, reasoned acknowledgement (`acknowledge:`).

A stack is prod when `environment: prod` (the key every stack file sets; Pulumi.yaml): that one key already
turns on deletion protection, NAT per zone and protected state. In prod, three things an attacker or a
careless edit would want are refused unless the stack file names the risk under `acknowledge:` with the
reason a reviewer reads in the diff (docs/deploying.md#acknowledged-risks-in-prod):

- `deletionProtectionOff`: `cluster.deletionProtection: false`;
- `publicEndpointOpenToWorld`: a public API endpoint whose CIDRs together cover every address, however they
  are split (`0.0.0.0/1` + `128.0.0.0/1` is the world);
- `unauthenticatedRouteWithoutRateLimit`: a gateway route with neither auth nor a rate limit, or a model
  published on the platform gateway (`hosts`) without a route (then neither applies to it).

An acknowledgement of a risk the stack does not take is an error too: stale ones would hide a new risk.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from components.mesh.gateway import GATEWAY_NAME
from components.mesh.gateway import NAMESPACE as GATEWAY_NAMESPACE
from stacks.spec.base import Loc, Problem
from stacks.spec.cloud_facts import covers_world
from stacks.spec.errors import show

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec

Risk = Literal["deletionProtectionOff", "publicEndpointOpenToWorld", "unauthenticatedRouteWithoutRateLimit"]
RISKS: tuple[Risk, ...] = ("deletionProtectionOff", "publicEndpointOpenToWorld", "unauthenticatedRouteWithoutRateLimit")


def _mapping(value: object) -> object:
    """A list of risk names (no reasons) gets the shape to write instead of a bare type error."""
    if isinstance(value, list | tuple):
        example = ", ".join(f"{r}: '<why>'" for r in value if isinstance(r, str)) or "<risk>: '<why>'"
        raise PydanticCustomError(
            "gp_acknowledge",
            "a list; name each risk with the reason reviewers read: acknowledge: {example}",
            {"example": "{" + example + "}"},
        )
    return value


Acknowledgements = Annotated[dict[Risk, str], BeforeValidator(_mapping)]
"""`acknowledge:`, risk -> reason (StackSpec.acknowledge)."""
# The Istio Gateway the platform installs (components/mesh/gateway.py), as models name it (`gateway:`).
PLATFORM_GATEWAY = f"{GATEWAY_NAMESPACE}/{GATEWAY_NAME}"


def _ack(risk: Risk) -> str:
    return f"acknowledge: {{{risk}: '<why this stack takes the risk>'}}"


def _world_endpoint(spec: StackSpec) -> int | None:
    e = spec.cluster.endpoint
    return covers_world(list(e.public_access_cidrs)) if e.public_access else None


def _open_routes(spec: StackSpec) -> Iterator[tuple[Loc, str]]:
    """(key path, what is open) for every way into a model through the gateway with neither auth nor limit."""
    ist = spec.addons.istio
    if not (ist.enabled and ist.gateway.enabled):
        return
    routes = ist.gateway.routes
    for i, r in enumerate(routes):
        if not r.require_auth and r.rate_limit is None:
            yield (
                ("addons", "istio", "gateway", "routes", i, "rateLimit"),
                f"route {show(r.name)} has requireAuth: false and no rateLimit",
            )
    routed = {r.name for r in routes}
    for i, m in enumerate(spec.models):
        if m.hosts and m.gateway == PLATFORM_GATEWAY and m.name not in routed:
            yield (
                ("models", i, "hosts"),
                f"model {show(m.name)} is published on the gateway ({', '.join(m.hosts)}) without a route in "
                "addons.istio.gateway.routes, so no token is checked and no rate limit applies",
            )


def risks_taken(spec: StackSpec) -> set[Risk]:
    """The acknowledgeable risks this stack takes, whatever its environment."""
    taken: set[Risk] = set()
    if spec.cluster.deletion_protection is False:
        taken.add("deletionProtectionOff")
    if _world_endpoint(spec) is not None:
        taken.add("publicEndpointOpenToWorld")
    if any(True for _ in _open_routes(spec)):
        taken.add("unauthenticatedRouteWithoutRateLimit")
    return taken


def world_endpoint(spec: StackSpec) -> Iterator[Problem]:
    """A public endpoint open to every address needs allowWorld (any environment; cluster.endpoint reports a
    literal /0) and, in prod, the named acknowledgement."""
    e = spec.cluster.endpoint
    version = _world_endpoint(spec)
    if version is None:
        return
    loc: Loc = ("cluster", "endpoint")
    single = any(ipaddress.ip_network(c).prefixlen == 0 for c in e.public_access_cidrs)
    if not e.allow_world:
        if not single:
            yield (
                (*loc, "publicAccessCidrs"),
                (
                    f"{', '.join(map(show, e.public_access_cidrs))} together cover every IPv{version} address: the "
                    "API server would be open to the whole internet; list narrower CIDRs (your VPN or CI egress), "
                    "or set allowWorld: true to accept the risk"
                ),
            )
        return
    if spec.is_prod and "publicEndpointOpenToWorld" not in spec.acknowledge:
        yield (
            (*loc, "allowWorld"),
            (
                "true in prod opens the API server to the whole internet, where only its authentication stands "
                "between an attacker and the cluster; keep the endpoint private (reach it over VPN), list narrower "
                f"CIDRs, or name the risk: {_ack('publicEndpointOpenToWorld')}"
            ),
        )


def prod_deletion_protection(spec: StackSpec) -> Iterator[Problem]:
    if spec.is_prod and spec.cluster.deletion_protection is False and "deletionProtectionOff" not in spec.acknowledge:
        yield (
            ("cluster", "deletionProtection"),
            (
                "false in prod: one `pulumi destroy` or replacement would delete the cluster and everything in it; "
                f"remove the key (on by default in prod), or name the risk: {_ack('deletionProtectionOff')}"
            ),
        )


def prod_open_routes(spec: StackSpec) -> Iterator[Problem]:
    if not spec.is_prod or "unauthenticatedRouteWithoutRateLimit" in spec.acknowledge:
        return
    for loc, what in _open_routes(spec):
        yield (
            loc,
            (
                f"in prod, {what}: anyone who reaches the gateway can keep its GPUs busy; require auth, add "
                "rateLimit: {requestsPerMinute: <n>} (or a route for the model, with auth on by default), or name "
                f"the risk: {_ack('unauthenticatedRouteWithoutRateLimit')}"
            ),
        )


def acknowledgements(spec: StackSpec) -> Iterator[Problem]:
    """Each acknowledgement names a risk the stack takes and says why."""
    taken = risks_taken(spec)
    for risk, reason in spec.acknowledge.items():
        loc: Loc = ("acknowledge", risk)
        if risk not in taken:
            yield (
                loc,
                "acknowledges a risk this stack does not take; remove it (a stale acknowledgement would hide a new one)",
            )
        elif not reason.strip():
            yield loc, "empty; say why this stack takes the risk (reviewers read it in the diff)"
