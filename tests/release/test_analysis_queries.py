"""components/observability/analysis.py: the analysis measures what the SLO alerts measure (the same
slo.py expressions, over one interval), and its DCGM queries select one version's pods, for whole GPUs and
MIG slices, on a real Prometheus."""

from __future__ import annotations

import pytest

from components.observability import slo
from components.observability.analysis import GpuKind, gpu_saturation, interval_queries, pod_pattern
from components.observability.slo import Workload
from tools.release.prom import range_points

W = Workload("healthy", "llama3-8b", "v2")


def test_error_ratio_and_p99_are_the_slo_alerts_expressions_over_one_interval() -> None:
    q = interval_queries(W, "llama3-8b-v2", "1m", "whole")
    assert q["errorRatio"] == slo.error_ratio(W, "1m")
    assert q["p99Ms"] == slo.p99_latency_ms(W, "1m")
    assert q["requests"] == f"{slo.request_rate(W, '1m')} * 60"
    # the alert's breach expression is the same ratio, compared with the objective
    rule = slo.error_breach(W, slo.SloTarget(p99_ms=2000, error_ratio=0.01, window="1m"))
    assert rule.startswith(q["errorRatio"] + " > 0.01 and ")


def test_time_sliced_versions_get_no_gpu_query_and_bad_names_are_refused() -> None:
    assert set(interval_queries(W, "llama3-8b-v2", "1m", None)) == {"requests", "errorRatio", "p99Ms"}
    assert pod_pattern("llama3-8b-v2") == "llama3-8b-v2-[a-z0-9]+-[a-z0-9]+"
    with pytest.raises(ValueError, match=r"^deployment: 'Bad\.Name' is not a Kubernetes object name$"):
        pod_pattern("Bad.Name")
    with pytest.raises(ValueError, match=r"^window: '1 minute' is not a Prometheus duration"):
        gpu_saturation("ns", "d", "1 minute", "whole")
    with pytest.raises(ValueError, match="must name one version"):
        interval_queries(Workload("ns", "m"), "m", "1m", "whole")


@pytest.mark.parametrize(
    ("namespace", "deployment", "kind", "expected"),
    [
        ("healthy", "llama3-8b-v1", "whole", 0.5),
        ("healthy", "llama3-8b-v2", "whole", 0.55),
        ("mig", "llama3-8b-v1", "mig", 0.25),
        ("mig", "llama3-8b-v2", "mig", 0.75),
        ("mig", "llama3-8b-v2", "whole", None),  # a MIG slice has no DCGM_FI_DEV_GPU_UTIL of its own
        ("healthy", "llama3-8b", "whole", None),  # the model name alone matches no pod
    ],
)
def test_gpu_saturation_selects_the_pods_of_one_version(
    prometheus: str, t0: int, namespace: str, deployment: str, kind: GpuKind, expected: float | None
) -> None:
    query = gpu_saturation(namespace, deployment, "1m", kind)
    points = range_points(prometheus, query, t0 + 60, t0 + 300, 60)
    if expected is None:
        assert points == {}
    else:
        assert list(points.values()) == [pytest.approx(expected)] * 5
