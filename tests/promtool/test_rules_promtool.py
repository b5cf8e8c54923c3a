"""The rendered rule groups, checked by promtool (syntax, unit tests) and by the PrometheusRule CRD schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from components.observability.rules import (
    gpu_recording_rules,
    ksm_label,
    node_labels_for_allowlist,
    prometheus_rule,
    prometheus_rule_spec,
)
from components.observability.slo import error_ratio, gate_queries, gate_verdict, p99_latency_ms
from tests.promtool.promtool import (
    POOL_LABEL,
    SAMPLE_SLO,
    SAMPLE_WORKLOAD,
    load_fixture,
    platform_groups,
    promtool,
    run_promtool,
    slo_groups,
    write_rule_file,
    write_yaml,
)

# The shared CRD schemas sit next to the repository, as for tests/validators.
CRD_SCHEMA = Path(__file__).resolve().parents[3] / "shared/schemas/crds/monitoring.coreos.com/prometheusrule_v1.json"
SAMPLE_LABELS_PROMQL = (
    '{destination_workload_namespace="ml-serving", destination_canonical_service="llama3-8b", destination_version="v2"}'
)

# What each SLO fixture group must make the rollout gate see: series returned per gate query.
GATE_EXPECTATIONS: dict[str, tuple[dict[str, int], str]] = {
    "healthy": ({"traffic": 1, "latency": 0, "errors": 0}, "pass"),
    "errors": ({"traffic": 1, "latency": 0, "errors": 1}, "fail"),
    "latency": ({"traffic": 1, "latency": 1, "errors": 0}, "fail"),
    "low-traffic": ({"traffic": 0, "latency": 0, "errors": 0}, "inconclusive"),
    "idle": ({"traffic": 0, "latency": 0, "errors": 0}, "inconclusive"),
}


def _count_test(expr: str, count: int, eval_time: str = "20m") -> dict[str, Any]:
    # count() of an empty result is itself empty, so "0 series" is an empty exp_samples list.
    samples = [{"labels": "{}", "value": count}] if count else []
    return {"expr": f"count({expr})", "eval_time": eval_time, "exp_samples": samples}


def _run_tests(tmp_path: Path, fixture: dict[str, Any], rule_file: str, groups: list[dict[str, Any]]) -> str:
    write_rule_file(tmp_path / rule_file, groups)
    write_yaml(tmp_path / "test.yaml", fixture)
    result = run_promtool("test", "rules", "test.yaml", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def _slo_fixture_with_gate_tests() -> dict[str, Any]:
    fixture = load_fixture("slo_test.yaml")
    queries = gate_queries(SAMPLE_WORKLOAD, SAMPLE_SLO)
    for group in fixture["tests"]:
        counts, _ = GATE_EXPECTATIONS[group["name"]]
        group["promql_expr_test"] = [_count_test(queries[name], counts[name]) for name in sorted(queries)]
    by_name = {g["name"]: g for g in fixture["tests"]}
    # Healthy traffic without any 5xx series still has an error ratio: 0, not "no data".
    by_name["healthy"]["promql_expr_test"].append(
        {
            "expr": error_ratio(SAMPLE_WORKLOAD, "5m"),
            "eval_time": "20m",
            "exp_samples": [{"labels": SAMPLE_LABELS_PROMQL, "value": 0}],
        }
    )
    # At low traffic both objectives are broken; only the traffic guard keeps the alerts silent.
    by_name["low-traffic"]["promql_expr_test"] += [
        _count_test(f"{p99_latency_ms(SAMPLE_WORKLOAD, '5m')} > 2000", 1),
        _count_test(f"{error_ratio(SAMPLE_WORKLOAD, '5m')} > 0.01", 1),
    ]
    return fixture


def test_missing_promtool_fails_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.fail.Exception) as err:
        promtool()
    assert str(err.value) == (
        "promtool is not on PATH. Install it with `apt-get install -y prometheus` "
        "(Debian package `prometheus` ships /usr/bin/promtool), then re-run."
    )


def test_promtool_check_rules_accepts_platform_and_slo_rules(tmp_path: Path) -> None:
    write_rule_file(tmp_path / "platform-rules.yaml", platform_groups())
    write_rule_file(tmp_path / "slo-rules.yaml", slo_groups())

    result = run_promtool("check", "rules", "platform-rules.yaml", "slo-rules.yaml", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Checking platform-rules.yaml\n  SUCCESS: 8 rules found\n" in result.stdout
    assert "Checking slo-rules.yaml\n  SUCCESS: 2 rules found\n" in result.stdout


def test_platform_rules_pass_promtool_unit_tests(tmp_path: Path) -> None:
    output = _run_tests(tmp_path, load_fixture("platform_test.yaml"), "platform-rules.yaml", platform_groups())
    assert "SUCCESS" in output


def test_slo_rules_and_gate_queries_pass_promtool_unit_tests(tmp_path: Path) -> None:
    output = _run_tests(tmp_path, _slo_fixture_with_gate_tests(), "slo-rules.yaml", slo_groups())
    assert "SUCCESS" in output


@pytest.mark.parametrize("scenario", sorted(GATE_EXPECTATIONS))
def test_gate_verdict_for_each_fixture_scenario(scenario: str) -> None:
    # The counts are the ones promtool just proved for the same series; this is what the gate concludes.
    counts, verdict = GATE_EXPECTATIONS[scenario]
    assert gate_verdict(counts) == verdict


def test_every_alert_is_proven_firing_when_breached_and_silent_when_healthy() -> None:
    checks: list[tuple[str, str, bool]] = []  # (test group, alertname, expected to fire)
    for fixture in ("platform_test.yaml", "slo_test.yaml"):
        for group in load_fixture(fixture)["tests"]:
            for check in group.get("alert_rule_test", []):
                checks.append((group["name"], check["alertname"], bool(check["exp_alerts"])))
    alerts = [r["alert"] for g in platform_groups() + slo_groups() for r in g["rules"] if "alert" in r]
    slo_alerts = [a for a in alerts if a.startswith(("Mesh", "Llama38bV2"))]

    assert alerts == [
        "GpuNodeNotReady",
        "GpuXidError",
        "ModelPodOOMKilled",
        "MeshHighP99Latency",
        "MeshHighErrorRatio",
        "Llama38bV2HighP99Latency",
        "Llama38bV2HighErrorRatio",
    ]
    assert [a for a in alerts if (a, True) not in {(n, f) for _, n, f in checks}] == []
    assert [a for a in alerts if ("healthy", a, False) not in checks] == []
    assert [a for a in slo_alerts if ("low-traffic", a, False) not in checks] == []


def test_promtool_unit_tests_fail_on_a_wrong_expectation(tmp_path: Path) -> None:
    # Guards against vacuous fixtures: claiming the healthy workload pages must make promtool fail.
    fixture = load_fixture("slo_test.yaml")
    healthy = next(g for g in fixture["tests"] if g["name"] == "healthy")
    healthy["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "critical"}}]
    write_rule_file(tmp_path / "slo-rules.yaml", slo_groups())
    write_yaml(tmp_path / "test.yaml", fixture)

    result = run_promtool("test", "rules", "test.yaml", cwd=tmp_path)

    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def _strict(schema: Any) -> Any:
    """The CRD schema, rejecting unknown fields where it lists properties (as the API server prunes them)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(_strict(json.loads(CRD_SCHEMA.read_text(encoding="utf-8"))))


def test_rendered_prometheus_rules_match_the_crd_schema() -> None:
    objects = [
        prometheus_rule("gpu-platform", "monitoring", platform_groups(), labels={"release": "kube-prometheus-stack"}),
        prometheus_rule("llama3-8b-slo", "ml-serving", slo_groups(), labels={"release": "kube-prometheus-stack"}),
    ]
    validator = _validator()

    for obj in objects:
        assert [e.message for e in validator.iter_errors(obj)] == []
    assert objects[1]["apiVersion"] == "monitoring.coreos.com/v1"
    assert objects[1]["kind"] == "PrometheusRule"
    assert objects[1]["metadata"] == {
        "name": "llama3-8b-slo",
        "namespace": "ml-serving",
        "labels": {"release": "kube-prometheus-stack"},
    }
    assert objects[1]["spec"] == {"groups": slo_groups()}


def test_crd_schema_check_rejects_unknown_fields_and_bad_durations() -> None:
    obj = prometheus_rule("llama3-8b-slo", "ml-serving", slo_groups())
    broken = copy.deepcopy(obj)
    broken["spec"]["groups"][0]["rules"][0]["expresion"] = "up"
    broken["spec"]["groups"][0]["rules"][1]["for"] = "5 minutes"

    messages = sorted(e.message for e in _validator().iter_errors(broken))

    assert messages == [
        "'5 minutes' does not match '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'",
        "Additional properties are not allowed ('expresion' was unexpected)",
    ]


def test_rule_groups_are_deterministic() -> None:
    assert platform_groups() == platform_groups()
    assert gpu_recording_rules(POOL_LABEL)["rules"][2]["expr"] == (
        "avg by (pool) (node:gpu_utilisation:avg_ratio * on (node) group_left (pool) "
        'label_replace(max by (node, label_gpu_platform_io_pool) (kube_node_labels{label_gpu_platform_io_pool!=""}), '
        '"pool", "$1", "label_gpu_platform_io_pool", "(.*)"))'
    )


def test_kube_state_metrics_label_names_and_allowlist() -> None:
    assert ksm_label("eks.amazonaws.com/nodegroup") == "label_eks_amazonaws_com_nodegroup"
    assert ksm_label("alibabacloud.com/nodepool-id") == "label_alibabacloud_com_nodepool_id"
    assert node_labels_for_allowlist(POOL_LABEL) == ["gpu-platform.io/gpu-model", "gpu-platform.io/pool"]


def test_fails_when_pool_label_is_not_a_label_key() -> None:
    with pytest.raises(ValueError) as err:
        gpu_recording_rules('pool"}')
    assert str(err.value) == (
        "label key 'pool\"}' is not a Kubernetes label key such as 'eks.amazonaws.com/nodegroup' "
        "(optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.')"
    )


def test_fails_when_group_names_repeat_or_groups_are_empty() -> None:
    group = gpu_recording_rules(POOL_LABEL)
    with pytest.raises(ValueError) as err:
        prometheus_rule_spec([group, group, {"name": "Bad Name", "rules": []}])
    assert str(err.value) == (
        "groups[1].name: 'gpu-platform.gpu-utilisation' is used twice; Prometheus rejects repeated group names; "
        "groups[2].name: 'Bad Name' is not a group name (lower-case letters, digits, '-' and '.'); "
        "groups[2].rules: a group needs at least one rule"
    )
