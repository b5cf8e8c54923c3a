"""Model-server runtime presets: ports, probe paths and metrics endpoint per server.

Sources: the servers' own docs (Triton HTTP 8000 / gRPC 8001 / metrics 8002 and /v2/health/*;
TorchServe inference 8080 / gRPC 7070 / metrics 8082 and /ping; TF Serving REST 8501 / gRPC 8500 and
/monitoring/prometheus/metrics when monitoring is enabled; vLLM's OpenAI server on 8000 with /health and
/metrics). A version's `server` overrides win over the preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.models.args import ModelVersion, Runtime


@dataclass(frozen=True, slots=True)
class RuntimePreset:
    http_port: int
    grpc_port: int | None
    metrics_port: int
    metrics_path: str
    ready_path: str
    live_path: str


PRESETS: dict[Runtime, RuntimePreset] = {
    "triton": RuntimePreset(8000, 8001, 8002, "/metrics", "/v2/health/ready", "/v2/health/live"),
    "torchserve": RuntimePreset(8080, 7070, 8082, "/metrics", "/ping", "/ping"),
    "tfserving": RuntimePreset(
        8501, 8500, 8501, "/monitoring/prometheus/metrics", "/v1/models/{model}", "/v1/models/{model}"
    ),
    "vllm": RuntimePreset(8000, None, 8000, "/metrics", "/health", "/health"),
    "custom": RuntimePreset(8080, None, 8080, "/metrics", "/healthz", "/healthz"),
}


def server_for(model: str, v: ModelVersion) -> RuntimePreset:
    """The effective ports and paths of one version: preset, then the version's overrides."""
    p = PRESETS[v.runtime]
    o = v.server
    http = o.http_port or p.http_port
    # A preset whose metrics share the HTTP port keeps sharing it when only the HTTP port is overridden.
    metrics_port = o.metrics_port or (http if p.metrics_port == p.http_port else p.metrics_port)
    ready = (o.health_path or p.ready_path).format(model=model)
    live = (o.health_path or p.live_path).format(model=model)
    return RuntimePreset(http, p.grpc_port, metrics_port, o.metrics_path or p.metrics_path, ready, live)
