"""Deterministic Kubernetes names and the labels every release object carries."""

from __future__ import annotations

import hashlib
import re

DOMAIN = "gpu-platform.io"
# Namespaces of the platform add-ons the release talks to (components/mesh, components/observability).
ISTIO_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"
MONITORING_NAMESPACE = "monitoring"
PROMETHEUS_URL = f"http://prometheus-operated.{MONITORING_NAMESPACE}.svc:9090"
"""= components/observability/prometheus.PROMETHEUS_URL (kube-prometheus-stack's `prometheus-operated`
Service); repeated here so the model components import no Pulumi add-on code. A test keeps them equal."""


def k8s_name(*parts: str, limit: int = 63) -> str:
    """`-`-joined DNS label; over `limit`, truncated with an 8-char hash so distinct inputs stay distinct."""
    name = "-".join(p for p in parts if p)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def workload(model: str, version: str) -> str:
    return k8s_name(model, version)


def label_value(text: str) -> str:
    """A label-safe rendering (semver build metadata '+' is not allowed in label values)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:63].strip("_.-") or "none"


def camel(*parts: str) -> str:
    """'llama-3b', 'v2' -> 'Llama3bV2' (alert name prefixes)."""
    words = re.split(r"[^A-Za-z0-9]+", "-".join(parts))
    out = "".join(w[:1].upper() + w[1:] for w in words if w)
    return out if out[:1].isalpha() else "M" + out


def model_labels(model: str) -> dict[str, str]:
    return {
        "app": model,
        "app.kubernetes.io/name": model,
        "app.kubernetes.io/part-of": "gpu-platform",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def version_selector(model: str, version: str) -> dict[str, str]:
    return {"app": model, "version": version}
