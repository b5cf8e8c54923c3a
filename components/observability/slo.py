"""One source of PromQL for per-workload SLOs: PrometheusRule alerts and the rollout gate both use it.

Series come from the Istio sidecars (`istio_requests_total`, `istio_request_duration_milliseconds_bucket`)
as measured by the server side (`reporter="destination"`, as Flagger does): that is the only reporter that
sees every request a given version actually served, whichever client or gateway sent it.

Which label names the workload: `destination_canonical_service`, not `destination_service_name`.
- ModelRelease sets `service.istio.io/canonical-name: <model>` (and `canonical-revision`/`version: <v>`)
  on the pod template, so the canonical service is a label we own on the workload itself.
- `destination_service_name` is derived from the host the request was addressed to, so the same pods show
  up under a different value when reached through another Service name, a gateway host, or by pod IP.
- A model's versions are separate Deployments behind one Service, so "the service" is the canonical
  name and the version is `destination_version` (ModelRelease sets the `version` label and
  `service.istio.io/canonical-revision` to the same value, so it does not matter which one Istio reads).

Every breach expression is ANDed with a traffic guard. A 10% canary on a quiet model otherwise either
never fires or produces "no data", and "no data" must never count as a passing gate (flagger#1035, #1689).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

REQUESTS = "istio_requests_total"
DURATION_BUCKETS = "istio_request_duration_milliseconds_bucket"
NAMESPACE_LABEL = "destination_workload_namespace"
SERVICE_LABEL = "destination_canonical_service"
VERSION_LABEL = "destination_version"
RUNBOOK_BASE_URL = "https://runbooks.example.com/gpu-platform"

# The prometheus-operator CRD's duration pattern; Prometheus accepts exactly these unit sequences.
_DURATION = re.compile(r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ALERT_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_SEVERITIES = ("critical", "warning", "info")
# Labels the rule sets itself; a caller's label of the same name would be silently overwritten.
_RESERVED_LABELS = ("alertname", "severity", "slo")
_NO_LABELS: Mapping[str, str] = MappingProxyType({})

GateVerdict = Literal["pass", "fail", "inconclusive"]


def is_duration(value: str) -> bool:
    """True for a Prometheus duration such as `30s`, `5m` or `1h30m` (`0` excluded)."""
    return bool(value) and _DURATION.match(value) is not None and any(c != "0" and c.isdigit() for c in value)


@dataclass(frozen=True)
class SloTarget:
    """Objectives for one workload. Each breach needs at least `min_rps` of traffic to count."""

    p99_ms: float
    """P99 latency objective in milliseconds; the latency alert fires above it. Istio's default buckets
    step 1000, 2500, 5000, 10000 ms, so a threshold on a bucket boundary is measured most exactly."""
    error_ratio: float
    """Highest acceptable share of 5xx responses, between 0 and 1 (0.01 = 1%)."""
    window: str = "5m"
    """Range for every `rate()`: 5m smooths single slow requests while a bad canary still shows within
    one rollout step. Use at least four scrape intervals (15s scrapes: 1m)."""
    min_rps: float = 0.1
    """Traffic guard: below this many requests per second over `window` nothing fires and a gate is
    inconclusive. 0.1 rps is 30 requests per 5m, about the fewest where one error is not already 3%."""

    def __post_init__(self) -> None:
        errors: list[str] = []
        if not _positive(self.p99_ms):
            errors.append(f"SloTarget.p99_ms: must be a positive number of milliseconds, got {self.p99_ms!r}")
        if not (_finite(self.error_ratio) and 0 < self.error_ratio < 1):
            errors.append(f"SloTarget.error_ratio: must be between 0 and 1 (exclusive), got {self.error_ratio!r}")
        if not (isinstance(self.window, str) and is_duration(self.window)):
            errors.append(f"SloTarget.window: {self.window!r} is not a Prometheus duration such as '5m' or '1h30m'")
        if not _positive(self.min_rps):
            errors.append(
                f"SloTarget.min_rps: must be greater than 0 so that idle workloads never fire or pass a gate, "
                f"got {self.min_rps!r}"
            )
        if errors:
            raise ValueError("; ".join(errors))


@dataclass(frozen=True)
class Workload:
    """The istio_* series of one service (all its versions), or of one version when `version` is given."""

    namespace: str
    service: str
    """Canonical service name (pod label `service.istio.io/canonical-name`, ModelRelease: the model)."""
    version: str | None = None
    """Default: all versions together, e.g. for a service-wide alert. Set it to judge one canary."""

    def __post_init__(self) -> None:
        errors: list[str] = []
        if not (isinstance(self.namespace, str) and len(self.namespace) <= 63 and _DNS_LABEL.match(self.namespace)):
            errors.append(
                f"Workload.namespace: {self.namespace!r} is not a Kubernetes namespace name "
                "(lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"
            )
        for field, value in (("service", self.service), ("version", self.version)):
            if field == "version" and value is None:
                continue
            if not (isinstance(value, str) and len(value) <= 63 and _LABEL_VALUE.match(value)):
                errors.append(
                    f"Workload.{field}: {value!r} is not a Kubernetes label value "
                    "(letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63 characters)"
                )
        if errors:
            raise ValueError("; ".join(errors))


@dataclass(frozen=True)
class MeshWide:
    """Every destination service in the mesh, one series (and one alert) per namespace and service.

    Used for the platform's default SLO, which covers services that declare no SLO of their own."""


Scope = Workload | MeshWide


def escape_label_value(value: str) -> str:
    """`value` as a PromQL double-quoted string literal, with backslashes, quotes and newlines escaped.

    Validation already rejects these characters in names; escaping anyway means no future relaxation of
    a name rule can turn a value into PromQL syntax."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def request_rate(w: Scope, window: str) -> str:
    """Requests per second served by `w` over `window`, one series per selected workload."""
    return f"sum by ({_by(w)}) (rate({REQUESTS}{_selector(w)}[{_window(window)}]))"


def p99_latency_ms(w: Scope, window: str) -> str:
    """P99 request duration in ms over `window` (NaN when there were no requests, which compares false)."""
    return (
        f"histogram_quantile(0.99, sum by (le, {_by(w)}) (rate({DURATION_BUCKETS}{_selector(w)}[{_window(window)}])))"
    )


def error_ratio(w: Scope, window: str) -> str:
    """Share of 5xx responses over `window`; 0 (not "no data") when there is traffic but no 5xx.

    Istio creates a series per response code only once that code is seen, so a healthy workload has no
    5xx series at all; `or 0 * <all requests>` fills in the 0. Status 0 (client went away, frequent with
    streaming LLM clients) is not a server error and only counts in the denominator."""
    everything = request_rate(w, window)
    failed = f"sum by ({_by(w)}) (rate({REQUESTS}{_selector(w, 'response_code=~' + escape_label_value('5..'))}[{_window(window)}]))"
    return f"({failed} or 0 * {everything}) / {everything}"


def traffic_guard(w: Scope, slo: SloTarget) -> str:
    """Selects the workloads with at least `slo.min_rps` over the same window as the breach it guards."""
    return f"{request_rate(w, slo.window)} >= {_number(slo.min_rps)}"


def latency_breach(w: Scope, slo: SloTarget) -> str:
    """Non-empty exactly when P99 is above the objective and the traffic guard holds; value: P99 in ms."""
    return f"{p99_latency_ms(w, slo.window)} > {_number(slo.p99_ms)} and {traffic_guard(w, slo)}"


def error_breach(w: Scope, slo: SloTarget) -> str:
    """Non-empty exactly when the 5xx ratio is above the objective and the traffic guard holds."""
    return f"{error_ratio(w, slo.window)} > {_number(slo.error_ratio)} and {traffic_guard(w, slo)}"


def gate_queries(w: Scope, slo: SloTarget) -> dict[str, str]:
    """Instant queries for one rollout-gate check; the alerts use the very same `latency`/`errors` text.

    Evaluate each and pass the number of series each returned to `gate_verdict`."""
    return {"traffic": traffic_guard(w, slo), "latency": latency_breach(w, slo), "errors": error_breach(w, slo)}


def gate_verdict(series_returned: Mapping[str, int]) -> GateVerdict:
    """The gate's decision from how many series each of `gate_queries` returned.

    - `traffic` returned nothing: "inconclusive" (too little traffic to judge; never a pass);
    - else `latency` or `errors` returned a series: "fail";
    - else "pass"."""
    if set(series_returned) != {"traffic", "latency", "errors"}:
        raise ValueError(
            f"gate_verdict: expected series counts for 'errors', 'latency' and 'traffic', got {sorted(series_returned)}"
        )
    if series_returned["traffic"] == 0:
        return "inconclusive"
    if series_returned["latency"] > 0 or series_returned["errors"] > 0:
        return "fail"
    return "pass"


def slo_alert_rules(
    w: Scope,
    slo: SloTarget,
    *,
    name_prefix: str,
    severity: str = "critical",
    for_: str = "5m",
    labels: Mapping[str, str] = _NO_LABELS,
    runbook_base_url: str = RUNBOOK_BASE_URL,
) -> list[dict[str, object]]:
    """prometheus-operator rules `<prefix>HighP99Latency` and `<prefix>HighErrorRatio` for `w`.

    The exprs are `gate_queries(w, slo)["latency"]` and `["errors"]`, so an alert and a gate never
    disagree. Alert labels: the selected `destination_*` labels, `labels`, `severity` and `slo`."""
    errors: list[str] = []
    if not (isinstance(name_prefix, str) and _ALERT_PREFIX.match(name_prefix)):
        errors.append(
            f"name_prefix: {name_prefix!r} is not a valid alert name prefix; "
            "use letters and digits, starting with a letter (e.g. 'Llama38bV2')"
        )
    if severity not in _SEVERITIES:
        errors.append(f"severity: {severity!r} is not one of {', '.join(_SEVERITIES)}")
    if not (isinstance(for_, str) and (for_ == "0" or is_duration(for_))):
        errors.append(f"for_: {for_!r} is not a Prometheus duration such as '5m'")
    for key in sorted(labels):
        if key in _RESERVED_LABELS or not _LABEL_NAME.match(key) or key.startswith("__"):
            errors.append(
                f"labels: {key!r} cannot be used; label names match [a-zA-Z_][a-zA-Z0-9_]*, "
                f"do not start with '__' and are not one of {', '.join(_RESERVED_LABELS)}"
            )
    if errors:
        raise ValueError("; ".join(errors))

    subject = _subject(w)
    guard = f"evaluated only at >= {_number(slo.min_rps)} req/s"
    latency_name = f"{name_prefix}HighP99Latency"
    errors_name = f"{name_prefix}HighErrorRatio"
    objective_pct = f"{slo.error_ratio * 100:g}%"
    return [
        _alert(
            latency_name,
            latency_breach(w, slo),
            for_,
            {**labels, "severity": severity, "slo": "latency"},
            summary=f"{subject}: P99 latency above {_number(slo.p99_ms)}ms",
            description=(
                f'P99 latency of {subject} over {slo.window} is {{{{ $value | printf "%.0f" }}}}ms, '
                f"above the {_number(slo.p99_ms)}ms objective ({guard})."
            ),
            runbook_url=f"{runbook_base_url}/{latency_name}",
        ),
        _alert(
            errors_name,
            error_breach(w, slo),
            for_,
            {**labels, "severity": severity, "slo": "errors"},
            summary=f"{subject}: 5xx ratio above {objective_pct}",
            description=(
                f"5xx ratio of {subject} over {slo.window} is {{{{ $value | humanizePercentage }}}}, "
                f"above the {objective_pct} objective ({guard})."
            ),
            runbook_url=f"{runbook_base_url}/{errors_name}",
        ),
    ]


def _alert(
    name: str, expr: str, for_: str, labels: Mapping[str, str], *, summary: str, description: str, runbook_url: str
) -> dict[str, object]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": dict(sorted(labels.items())),
        "annotations": {"description": description, "runbook_url": runbook_url, "summary": summary},
    }


def _selector(w: Scope, *extra: str) -> str:
    matchers = [f"reporter={escape_label_value('destination')}"]
    if isinstance(w, Workload):
        matchers.append(f"{NAMESPACE_LABEL}={escape_label_value(w.namespace)}")
        matchers.append(f"{SERVICE_LABEL}={escape_label_value(w.service)}")
        if w.version is not None:
            matchers.append(f"{VERSION_LABEL}={escape_label_value(w.version)}")
    return "{" + ", ".join([*matchers, *extra]) + "}"


def _by(w: Scope) -> str:
    # Keep exactly the labels the selector pins (plus the per-service split for MeshWide): results stay
    # one series per judged workload, and `and` between breach and guard matches on identical labels.
    labels = [NAMESPACE_LABEL, SERVICE_LABEL]
    if isinstance(w, Workload) and w.version is not None:
        labels.append(VERSION_LABEL)
    return ", ".join(labels)


def _subject(w: Scope) -> str:
    if isinstance(w, MeshWide):
        return f"{{{{ $labels.{NAMESPACE_LABEL} }}}}/{{{{ $labels.{SERVICE_LABEL} }}}}"
    return f"{w.namespace}/{w.service}" + (f" {w.version}" if w.version is not None else "")


def _window(window: str) -> str:
    if not (isinstance(window, str) and is_duration(window)):
        raise ValueError(f"window: {window!r} is not a Prometheus duration such as '5m' or '1h30m'")
    return window


def _number(value: float) -> str:
    # Integral thresholds print without ".0" ("2000", not "2000.0"); others use the shortest exact repr.
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
