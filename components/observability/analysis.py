"""PromQL for the rollout analysis (`python -m tools.release run`, docs/progressive-delivery.md).

Built on components/observability/slo.py, so an analysis measures exactly what the SLO alerts measure:
`requests` is slo.request_rate times the interval, `errorRatio` is slo.error_ratio and `p99Ms` is
slo.p99_latency_ms, each over one analysis interval. Evaluated as a range query with `step` = the
interval, every returned point is one interval's value.

`gpuSaturation` is the mean busy ratio (0-1) of the GPUs the version's pods hold, from dcgm-exporter with
its pod mapping (its `namespace`/`pod` labels). Neither ServiceMonitor that scrapes it
(components/gpu/nvidia.py, components/observability/prometheus.py) sets honorLabels, so Prometheus keeps
them as `exported_namespace`/`exported_pod`. Whole GPUs report DCGM_FI_DEV_GPU_UTIL (percent); MIG
slices report only DCGM_FI_PROF_GR_ENGINE_ACTIVE (ratio), the same choice as the platform's
recording rules (components/observability/rules.py, gpu_recording_rules).
"""

from __future__ import annotations

import re
from typing import Literal

from components.observability.slo import Workload, error_ratio, escape_label_value, is_duration, p99_latency_ms
from components.observability.slo import request_rate as slo_request_rate

GpuKind = Literal["whole", "mig"]
WHOLE_GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
MIG_ENGINE_ACTIVE = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")


def duration_seconds(window: str) -> float:
    """Seconds of a Prometheus duration ('1m30s' -> 90)."""
    if not is_duration(window):
        raise ValueError(f"window: {window!r} is not a Prometheus duration such as '5m' or '1h30m'")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(window))


def requests_in_interval(w: Workload, interval: str) -> str:
    """Requests `w` served per interval: the SLO's request rate times the interval's seconds (= increase())."""
    secs = duration_seconds(interval)
    return f"{slo_request_rate(w, interval)} * {secs:g}"


def pod_pattern(deployment: str) -> str:
    """Regex (Prometheus anchors it) for the pods of a Deployment: `<deployment>-<replicaset hash>-<pod hash>`."""
    if not _DNS_LABEL.match(deployment):
        raise ValueError(f"deployment: {deployment!r} is not a Kubernetes object name")
    return f"{deployment}-[a-z0-9]+-[a-z0-9]+"


def gpu_saturation(namespace: str, deployment: str, interval: str, kind: GpuKind) -> str:
    """Mean busy ratio (0-1) over `interval` of the GPUs (or MIG slices) held by the Deployment's pods."""
    pods = f"exported_namespace={escape_label_value(namespace)}, exported_pod=~{escape_label_value(pod_pattern(deployment))}"
    duration_seconds(interval)  # raises on a malformed window
    window = f"[{interval}]"
    if kind == "mig":
        return f'avg(avg_over_time({MIG_ENGINE_ACTIVE}{{{pods}, GPU_I_ID!=""}}{window}))'
    return f'avg(avg_over_time({WHOLE_GPU_UTIL}{{{pods}, GPU_I_ID=""}}{window})) / 100'


def interval_queries(w: Workload, deployment: str, interval: str, gpu: GpuKind | None) -> dict[str, str]:
    """The series one version is judged on, each evaluated over one `interval`. Without `gpu` (time-sliced
    GPUs: DCGM cannot split one GPU between pods) there is no `gpuSaturation`."""
    if w.version is None:
        raise ValueError("interval_queries: the workload must name one version")
    out = {
        "requests": requests_in_interval(w, interval),
        "errorRatio": error_ratio(w, interval),
        "p99Ms": p99_latency_ms(w, interval),
    }
    if gpu is not None:
        out["gpuSaturation"] = gpu_saturation(w.namespace, deployment, interval, gpu)
    return out
