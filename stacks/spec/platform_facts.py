"""Facts the platform's engines enforce: Istio's regex dialect (RE2), the shortest SLO window the
Prometheus rate() queries can use, and the normalized paths Envoy matches the gateway's policies against.

Each passes Python's own checks (`re.compile`, a Prometheus duration, a path-like string) and still breaks
in the cluster: istiod rejects the VirtualService, an alert never fires, the JWT policy misses the route.
Sources: docs/design.md#facts-the-clouds-enforce.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import re2

from components.observability.prometheus import envoy_pod_monitor_spec
from components.observability.slo import is_duration
from stacks.spec.base import Problem
from stacks.spec.errors import show

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec

_UNIT_SECONDS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_PART = re.compile(r"([0-9]+)(ms|y|w|d|h|m|s)")


def duration_seconds(value: str) -> float:
    """Seconds of a Prometheus duration ('1h30m' -> 5400); call with is_duration(value) true."""
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value))


# The interval at which Prometheus scrapes the Istio sidecars whose series every SLO query reads
# (components/observability/prometheus.py, envoy_pod_monitor_spec).
SCRAPE_INTERVAL = envoy_pod_monitor_spec()["podMetricsEndpoints"][0]["interval"]
# rate() needs at least two samples in its window, and a window of four scrape intervals still has two
# when a scrape fails or lands late; the shorter windows return nothing, and an SLO gate on nothing is
# inconclusive forever (components/observability/slo.py, SloTarget.window).
SCRAPES_PER_WINDOW = 4
MIN_SLO_WINDOW_SECONDS = SCRAPES_PER_WINDOW * duration_seconds(SCRAPE_INTERVAL)


def _re2_error(pattern: str) -> str | None:
    """Why RE2 (the engine Envoy matches Istio's regexes with) rejects the pattern, or None."""
    options = re2.Options()
    options.log_errors = False  # the reason is returned in the message, not logged to stderr
    try:
        re2.compile(pattern, options)
    except UnicodeEncodeError:
        return "not UTF-8 text: it holds a lone surrogate"
    except re2.error as err:
        reason = err.args[0] if err.args else err
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        return text if len(text) <= 80 else text[:77] + "..."  # RE2 quotes the pattern, however long
    return None


def regexes(spec: StackSpec) -> Iterator[Problem]:
    """A/B header regexes compile in RE2: no lookaround, backreferences, possessive or atomic groups."""
    for i, m in enumerate(spec.models):
        for j, r in enumerate(m.traffic.ab_routes):
            if r.regex is None:
                continue
            try:
                re.compile(r.regex)
            except (re.error, RecursionError, OverflowError):
                continue  # not even Python's syntax: the model's own validation reports it
            error = _re2_error(r.regex)
            if error is not None:
                yield (
                    ("models", i, "traffic", "abRoutes", j, "regex"),
                    (
                        f"{show(r.regex)} is not RE2 syntax, which Istio matches header regexes with ({error}); "
                        "RE2 has no lookaround, backreferences, possessive quantifiers or atomic groups: rewrite "
                        "it without them, or list the exact values under values"
                    ),
                )


def slo_windows(spec: StackSpec) -> Iterator[Problem]:
    """SLO windows hold enough scrapes for rate() (four scrape intervals)."""
    for i, m in enumerate(spec.models):
        w = m.slo.window
        if is_duration(w) and duration_seconds(w) < MIN_SLO_WINDOW_SECONDS:
            shortest = f"{MIN_SLO_WINDOW_SECONDS:g}s"
            yield (
                ("models", i, "slo", "window"),
                (
                    f"{show(w)} is shorter than {SCRAPES_PER_WINDOW} scrape intervals ({SCRAPES_PER_WINDOW} x "
                    f"{SCRAPE_INTERVAL} = {shortest}): rate() over it often sees fewer than two samples, and the "
                    f"alerts and rollout gates get no data; use at least {shortest}, e.g. '5m'"
                ),
            )


_ENCODED = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)


def _unnormalized(prefix: str) -> str | None:
    """What makes a path prefix differ from its normalized form, or None."""
    segments = prefix.split("/")[1:]
    if "//" in prefix:
        return "an empty segment ('//')"
    if any(s in (".", "..") for s in segments):
        return "a '.' or '..' segment"
    if _ENCODED.search(prefix):
        return "an encoded '.', '/' or '\\' (%2e, %2f, %5c)"
    return None


def path_prefixes(spec: StackSpec) -> Iterator[Problem]:
    """Gateway route prefixes are normalized paths: Istio's default path normalization (BASE) rewrites a
    request's path before routing and before the JWT AuthorizationPolicy matches it, so a prefix with '..'
    matches no request, and one with '//' or %2f names a path other than the server's."""
    for i, r in enumerate(spec.addons.istio.gateway.routes):
        why = _unnormalized(r.path_prefix)
        if why is not None:
            yield (
                ("addons", "istio", "gateway", "routes", i, "pathPrefix"),
                (
                    f"{show(r.path_prefix)} has {why}: Istio normalizes request paths (RFC 3986: '.' and '..' "
                    "resolved, %2e decoded) before routing and before the JWT policy matches them, and to Envoy "
                    "'//' or an encoded '/' is another path than the model server sees; write the normalized "
                    "path, e.g. '/v1/models/llama3-8b'"
                ),
            )
