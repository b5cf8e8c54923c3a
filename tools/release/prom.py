"""Prometheus HTTP API client of the release tool: instant and range queries, every failure one
PrometheusUnavailable with a message (unreachable, HTTP error, not JSON, query error), never a traceback."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class PrometheusUnavailable(Exception):
    """The query could not be answered; the analysis counts it as inconclusive (never a pass)."""


def _get(base: str, path: str, params: dict[str, str], timeout: float) -> Any:
    url = f"{base.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    if not url.startswith(("http://", "https://")):
        raise PrometheusUnavailable(f"{base!r} is not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - operator-given URL, http(s) checked
            body = json.load(resp)
    except urllib.error.HTTPError as err:
        detail = ""
        try:
            detail = str(json.load(err).get("error", ""))
        except (ValueError, AttributeError, OSError):
            pass
        raise PrometheusUnavailable(f"{base}: HTTP {err.code} {err.reason}{': ' + detail if detail else ''}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise PrometheusUnavailable(f"{base} unreachable: {reason}") from None
    except ValueError as err:
        raise PrometheusUnavailable(f"{base}: the answer is not JSON ({err})") from None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else body
        raise PrometheusUnavailable(f"{base}: query failed: {error}")
    return body.get("data")


def instant_series(base: str, query: str, timeout: float = 10.0) -> int:
    """How many series an instant query returns (the SLO gate's input)."""
    data = _get(base, "/api/v1/query", {"query": query}, timeout)
    return len(data.get("result") or []) if isinstance(data, dict) else 0


def range_points(
    base: str, query: str, start: float, end: float, step: float, timeout: float = 10.0
) -> dict[float, float]:
    """{timestamp: value} of a range query that yields at most one series (NaN and missing points left out:
    no data is never a number). More than one series is a query error."""
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    data = _get(base, "/api/v1/query_range", params, timeout)
    result = data.get("result") if isinstance(data, dict) else None
    if not result:
        return {}
    if len(result) > 1:
        raise PrometheusUnavailable(f"{base}: expected one series, got {len(result)} for {query}")
    out: dict[float, float] = {}
    for ts, value in result[0].get("values") or []:
        v = float(value)
        if math.isfinite(v):
            out[round(float(ts), 3)] = v
    return out
