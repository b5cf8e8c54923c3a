"""components/observability/slo.py: the exact PromQL, escaping, validation, and alert/gate agreement."""

from __future__ import annotations

import dataclasses

import pytest

from components.observability.slo import (
    MeshWide,
    SloTarget,
    Workload,
    error_breach,
    error_ratio,
    escape_label_value,
    gate_queries,
    gate_verdict,
    latency_breach,
    p99_latency_ms,
    request_rate,
    slo_alert_rules,
    traffic_guard,
)

W = Workload(namespace="ml-serving", service="llama3-8b", version="v2")
SLO = SloTarget(p99_ms=2000, error_ratio=0.01, window="5m", min_rps=0.5)

# Written out by hand from the design: destination-reported series of one canonical service and version,
# summed over everything but the labels that identify the workload.
SEL = (
    '{reporter="destination", destination_workload_namespace="ml-serving", '
    'destination_canonical_service="llama3-8b", destination_version="v2"}'
)
BY = "destination_workload_namespace, destination_canonical_service, destination_version"
RATE = f"sum by ({BY}) (rate(istio_requests_total{SEL}[5m]))"
RATE_5XX = (
    f"sum by ({BY}) (rate(istio_requests_total"
    '{reporter="destination", destination_workload_namespace="ml-serving", '
    'destination_canonical_service="llama3-8b", destination_version="v2", response_code=~"5.."}[5m]))'
)
P99 = f"histogram_quantile(0.99, sum by (le, {BY}) (rate(istio_request_duration_milliseconds_bucket{SEL}[5m])))"
RATIO = f"({RATE_5XX} or 0 * {RATE}) / {RATE}"


def test_request_rate_sums_destination_requests_of_one_version() -> None:
    assert request_rate(W, "5m") == (
        "sum by (destination_workload_namespace, destination_canonical_service, destination_version) "
        '(rate(istio_requests_total{reporter="destination", destination_workload_namespace="ml-serving", '
        'destination_canonical_service="llama3-8b", destination_version="v2"}[5m]))'
    )


def test_p99_latency_is_histogram_quantile_over_istio_duration_buckets() -> None:
    assert p99_latency_ms(W, "5m") == (
        "histogram_quantile(0.99, sum by (le, destination_workload_namespace, destination_canonical_service, "
        'destination_version) (rate(istio_request_duration_milliseconds_bucket{reporter="destination", '
        'destination_workload_namespace="ml-serving", destination_canonical_service="llama3-8b", '
        'destination_version="v2"}[5m])))'
    )


def test_error_ratio_is_5xx_over_all_and_zero_when_no_5xx_series_exist() -> None:
    by = "sum by (destination_workload_namespace, destination_canonical_service)"
    assert error_ratio(Workload(namespace="ml-serving", service="llama3-8b"), "5m") == (
        f'({by} (rate(istio_requests_total{{reporter="destination", destination_workload_namespace="ml-serving", '
        'destination_canonical_service="llama3-8b", response_code=~"5.."}[5m])) '
        f'or 0 * {by} (rate(istio_requests_total{{reporter="destination", destination_workload_namespace="ml-serving", '
        'destination_canonical_service="llama3-8b"}[5m]))) '
        f'/ {by} (rate(istio_requests_total{{reporter="destination", destination_workload_namespace="ml-serving", '
        'destination_canonical_service="llama3-8b"}[5m]))'
    )
    assert error_ratio(W, "5m") == RATIO


def test_traffic_guard_compares_the_request_rate_with_min_rps() -> None:
    assert traffic_guard(W, SLO) == f"{RATE} >= 0.5"


def test_breaches_are_anded_with_the_traffic_guard() -> None:
    assert latency_breach(W, SLO) == f"{P99} > 2000 and {RATE} >= 0.5"
    assert error_breach(W, SLO) == f"{RATIO} > 0.01 and {RATE} >= 0.5"


def test_window_of_the_target_is_used_everywhere() -> None:
    slo = SloTarget(p99_ms=2000, error_ratio=0.01, window="1h30m", min_rps=0.5)
    assert latency_breach(W, slo) == f"{P99} > 2000 and {RATE} >= 0.5".replace("[5m]", "[1h30m]")


def test_workload_without_version_selects_and_groups_all_versions() -> None:
    w = Workload(namespace="ml-serving", service="llama3-8b")
    assert request_rate(w, "1m") == (
        "sum by (destination_workload_namespace, destination_canonical_service) (rate(istio_requests_total"
        '{reporter="destination", destination_workload_namespace="ml-serving", '
        'destination_canonical_service="llama3-8b"}[1m]))'
    )


def test_mesh_wide_scope_selects_every_destination_service() -> None:
    assert request_rate(MeshWide(), "5m") == (
        "sum by (destination_workload_namespace, destination_canonical_service) "
        '(rate(istio_requests_total{reporter="destination"}[5m]))'
    )


def test_thresholds_print_as_plain_promql_numbers() -> None:
    slo = SloTarget(p99_ms=2500.5, error_ratio=0.005, min_rps=1)
    assert latency_breach(W, slo).endswith(">= 1")
    assert " > 2500.5 and " in latency_breach(W, slo)
    assert " > 0.005 and " in error_breach(W, slo)


def test_defaults_are_a_5m_window_and_a_0_1_rps_guard() -> None:
    slo = SloTarget(p99_ms=2000, error_ratio=0.01)
    assert (slo.window, slo.min_rps) == ("5m", 0.1)
    assert Workload(namespace="ml-serving", service="llama3-8b").version is None


def test_targets_and_workloads_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        W.version = "v3"  # type: ignore[misc]


def test_label_values_are_escaped_for_promql() -> None:
    assert escape_label_value('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert escape_label_value("v2") == '"v2"'


def test_gate_queries_are_the_alert_expressions() -> None:
    queries = gate_queries(W, SLO)
    rules = slo_alert_rules(W, SLO, name_prefix="Llama38bV2")

    assert queries == {
        "traffic": f"{RATE} >= 0.5",
        "latency": f"{P99} > 2000 and {RATE} >= 0.5",
        "errors": f"{RATIO} > 0.01 and {RATE} >= 0.5",
    }
    assert [r["expr"] for r in rules] == [queries["latency"], queries["errors"]]


@pytest.mark.parametrize(
    ("counts", "verdict"),
    [
        ({"traffic": 0, "latency": 0, "errors": 0}, "inconclusive"),
        # Cannot happen with the guarded queries, but no traffic must never turn into a verdict.
        ({"traffic": 0, "latency": 1, "errors": 1}, "inconclusive"),
        ({"traffic": 1, "latency": 1, "errors": 0}, "fail"),
        ({"traffic": 1, "latency": 0, "errors": 1}, "fail"),
        ({"traffic": 1, "latency": 0, "errors": 0}, "pass"),
    ],
)
def test_gate_verdict(counts: dict[str, int], verdict: str) -> None:
    assert gate_verdict(counts) == verdict


def test_fails_when_gate_verdict_gets_other_queries() -> None:
    with pytest.raises(ValueError) as err:
        gate_verdict({"traffic": 1, "latency": 0})
    assert (
        str(err.value)
        == "gate_verdict: expected series counts for 'errors', 'latency' and 'traffic', got ['latency', 'traffic']"
    )


def test_alert_rules_for_a_canary_version() -> None:
    rules = slo_alert_rules(
        W, SLO, name_prefix="Llama38bV2", labels={"release_role": "candidate", "model": "llama3-8b"}
    )

    assert rules == [
        {
            "alert": "Llama38bV2HighP99Latency",
            "expr": f"{P99} > 2000 and {RATE} >= 0.5",
            "for": "5m",
            "labels": {"model": "llama3-8b", "release_role": "candidate", "severity": "critical", "slo": "latency"},
            "annotations": {
                "description": 'P99 latency of ml-serving/llama3-8b v2 over 5m is {{ $value | printf "%.0f" }}ms, '
                "above the 2000ms objective (evaluated only at >= 0.5 req/s).",
                "runbook_url": "https://runbooks.example.com/gpu-platform/Llama38bV2HighP99Latency",
                "summary": "ml-serving/llama3-8b v2: P99 latency above 2000ms",
            },
        },
        {
            "alert": "Llama38bV2HighErrorRatio",
            "expr": f"{RATIO} > 0.01 and {RATE} >= 0.5",
            "for": "5m",
            "labels": {"model": "llama3-8b", "release_role": "candidate", "severity": "critical", "slo": "errors"},
            "annotations": {
                "description": "5xx ratio of ml-serving/llama3-8b v2 over 5m is {{ $value | humanizePercentage }}, "
                "above the 1% objective (evaluated only at >= 0.5 req/s).",
                "runbook_url": "https://runbooks.example.com/gpu-platform/Llama38bV2HighErrorRatio",
                "summary": "ml-serving/llama3-8b v2: 5xx ratio above 1%",
            },
        },
    ]


def test_mesh_wide_alerts_name_the_service_from_the_alert_labels() -> None:
    rules = slo_alert_rules(MeshWide(), SLO, name_prefix="Mesh", severity="warning", for_="10m")
    annotations = rules[0]["annotations"]
    assert isinstance(annotations, dict)
    assert annotations["summary"] == (
        "{{ $labels.destination_workload_namespace }}/{{ $labels.destination_canonical_service }}: "
        "P99 latency above 2000ms"
    )
    assert (rules[0]["for"], rules[1]["labels"]) == ("10m", {"severity": "warning", "slo": "errors"})


def test_fails_when_slo_target_values_are_out_of_range() -> None:
    with pytest.raises(ValueError) as err:
        SloTarget(p99_ms=-1, error_ratio=1.5, window="5 minutes", min_rps=0)
    assert str(err.value) == (
        "SloTarget.p99_ms: must be a positive number of milliseconds, got -1; "
        "SloTarget.error_ratio: must be between 0 and 1 (exclusive), got 1.5; "
        "SloTarget.window: '5 minutes' is not a Prometheus duration such as '5m' or '1h30m'; "
        "SloTarget.min_rps: must be greater than 0 so that idle workloads never fire or pass a gate, got 0"
    )


def test_fails_when_slo_target_is_nan_or_window_is_zero() -> None:
    with pytest.raises(ValueError) as err:
        SloTarget(p99_ms=float("nan"), error_ratio=0.01, window="0m")
    assert str(err.value) == (
        "SloTarget.p99_ms: must be a positive number of milliseconds, got nan; "
        "SloTarget.window: '0m' is not a Prometheus duration such as '5m' or '1h30m'"
    )


def test_fails_when_workload_names_are_not_kubernetes_names() -> None:
    with pytest.raises(ValueError) as err:
        Workload(namespace="ML_Serving", service='llama"}', version="v2 ")
    assert str(err.value) == (
        "Workload.namespace: 'ML_Serving' is not a Kubernetes namespace name (lower-case letters, digits and '-', "
        "starting and ending with a letter or digit, at most 63 characters); "
        "Workload.service: 'llama\"}' is not a Kubernetes label value (letters, digits, '-', '_' and '.', "
        "starting and ending with a letter or digit, at most 63 characters); "
        "Workload.version: 'v2 ' is not a Kubernetes label value (letters, digits, '-', '_' and '.', "
        "starting and ending with a letter or digit, at most 63 characters)"
    )


def test_fails_when_alert_arguments_are_invalid() -> None:
    with pytest.raises(ValueError) as err:
        slo_alert_rules(
            W, SLO, name_prefix="llama3-8b", severity="page", for_="soon", labels={"severity": "x", "team-a": "y"}
        )
    assert str(err.value) == (
        "name_prefix: 'llama3-8b' is not a valid alert name prefix; use letters and digits, starting with a letter "
        "(e.g. 'Llama38bV2'); "
        "severity: 'page' is not one of critical, warning, info; "
        "for_: 'soon' is not a Prometheus duration such as '5m'; "
        "labels: 'severity' cannot be used; label names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with '__' and "
        "are not one of alertname, severity, slo; "
        "labels: 'team-a' cannot be used; label names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with '__' and "
        "are not one of alertname, severity, slo"
    )


def test_fails_when_a_query_window_is_not_a_duration() -> None:
    with pytest.raises(ValueError) as err:
        request_rate(W, "5")
    assert str(err.value) == "window: '5' is not a Prometheus duration such as '5m' or '1h30m'"
