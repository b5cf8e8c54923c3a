"""Synthetic Istio and DCGM series for the rollout scenarios, minute by minute from T0 (the fake clock's start).

Every scenario is one namespace; the model is `llama3-8b` with stable `v1` and candidate `v2` (Pulumi.dev.yaml).
Samples every 15s at T0 + 7.5s + 15s*k. A counter's increment at sample s uses the rates of the minute
that holds s - 7.5s, a gauge's value the minute that holds s, so a range query with step 1m evaluated at
T0 + 60j sees exactly minute j-1 in its `[1m]` window: each analysis interval is one scripted minute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

LE = ("100", "250", "1000", "2500", "5000", "10000", "+Inf")
MODEL = "llama3-8b"
START, END = -10, 45  # minutes around T0 the series cover


@dataclass(frozen=True)
class Minute:
    rps: float
    errors: float = 0.0
    """Share of requests answered 503."""
    latency_le: str = "250"
    """Every request falls in the histogram bucket with this upper bound (its p99 interpolates inside)."""
    gpu_util: float = 50.0
    """DCGM_FI_DEV_GPU_UTIL in percent."""


Script = Callable[[str, int], Minute]
"""(version, minute since T0) -> what that version did in that minute."""

STABLE = Minute(rps=4.0, latency_le="250", gpu_util=50.0)
HEALTHY = Minute(rps=2.0, latency_le="250", gpu_util=55.0)


def healthy(version: str, minute: int) -> Minute:
    # minutes 15-19 are the 100% step: the stable serves nothing (its pods idle, still warm)
    if version == "v1":
        return STABLE if minute < 15 else Minute(rps=0.0, gpu_util=0.0)
    return HEALTHY


def latency_regression(version: str, minute: int) -> Minute:
    # p99 ~ 992 ms: far inside the 2000 ms SLO, but 4x the stable's ~248 ms
    return STABLE if version == "v1" else Minute(rps=2.0, latency_le="1000", gpu_util=55.0)


def error_spike(version: str, minute: int) -> Minute:
    # clean during the first step (minutes 0-4), 20% 503 from the second step on
    if version == "v1":
        return STABLE
    if minute < 5:
        return HEALTHY
    return Minute(rps=2.0, errors=0.2, gpu_util=55.0)


def flapping(version: str, minute: int) -> Minute:
    # one bad minute in the first step (tolerated: 4 of 5 must pass), then every other minute bad
    if version == "v1":
        return STABLE
    bad = minute == 2 or (minute >= 5 and minute % 2 == 1)
    return Minute(rps=2.0, errors=0.05 if bad else 0.0, gpu_util=55.0)


def too_little_traffic(version: str, minute: int) -> Minute:
    # 0.2 rps = 12 requests a minute, below minRequests 30
    return STABLE if version == "v1" else Minute(rps=0.2, gpu_util=5.0)


SCRIPTS: dict[str, Script] = {
    "healthy": healthy,
    "latency-regression": latency_regression,
    "error-spike": error_spike,
    "flapping": flapping,
    "too-little-traffic": too_little_traffic,
}


def _labels(ns: str, version: str) -> str:
    return (
        f'reporter="destination",destination_workload_namespace="{ns}",'
        f'destination_canonical_service="{MODEL}",destination_version="{version}"'
    )


def openmetrics(t0: int) -> str:
    """Every scenario's series (namespace = scenario name), OpenMetrics text for promtool's backfill."""
    out: list[str] = []
    samples = [t0 + START * 60 + 7.5 + 15 * k for k in range((END - START) * 4)]
    for ns, script in SCRIPTS.items():
        for version in ("v1", "v2"):
            base = _labels(ns, version)
            pod = f"{MODEL}-{version}-5d8f7c6b9-x{version[-1]}k2p"
            families: dict[str, list[str]] = {"requests": [], "buckets": [], "gpu": []}
            ok = bad = 0.0
            buckets = dict.fromkeys(LE, 0.0)
            for s in samples:
                m = script(version, int((s - 7.5 - t0) // 60))
                n = m.rps * 15
                ok += n * (1 - m.errors)
                bad += n * m.errors
                for le in LE:
                    if le == "+Inf" or float(le) >= float(m.latency_le):
                        buckets[le] += n
                families["requests"].append(f'istio_requests_total{{{base},response_code="200"}} {ok:.3f} {s:.3f}')
                families["requests"].append(f'istio_requests_total{{{base},response_code="503"}} {bad:.3f} {s:.3f}')
                families["buckets"] += [
                    f'istio_request_duration_milliseconds_bucket{{{base},le="{le}"}} {buckets[le]:.3f} {s:.3f}'
                    for le in LE
                ]
                g = script(version, int((s - t0) // 60))
                families["gpu"].append(
                    f'DCGM_FI_DEV_GPU_UTIL{{gpu="0",Hostname="node-{version}",exported_namespace="{ns}",'
                    f'exported_pod="{pod}",exported_container="server"}} {g.gpu_util:.1f} {s:.3f}'
                )
            for lines in families.values():
                out += lines
    # MIG slices report only the profiling engine-activity ratio (components/observability/analysis.py)
    for s in samples:
        for version, busy in (("v1", 0.25), ("v2", 0.75)):
            out.append(
                f'DCGM_FI_PROF_GR_ENGINE_ACTIVE{{gpu="0",GPU_I_ID="3",GPU_I_PROFILE="2g.10gb",Hostname="node-mig",'
                f'exported_namespace="mig",exported_pod="{MODEL}-{version}-7f9c8d6b5-m{version[-1]}q4z"}} {busy} {s:.3f}'
            )
    # OpenMetrics wants the samples of one metric family together and series of a family in any order
    out.sort(key=lambda line: line.split("{", 1)[0])
    return "\n".join(out) + "\n# EOF\n"
