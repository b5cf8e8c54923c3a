"""Platform Prometheus rule groups as plain dicts (the contents of a PrometheusRule `spec.groups`).

Node labels reach PromQL through kube-state-metrics' `kube_node_labels`, which only exports labels on its
allowlist (`--metric-labels-allowlist=nodes=[...]`); `node_labels_for_allowlist` lists the ones these rules
read. A label key such as `eks.amazonaws.com/nodegroup` appears there as `label_eks_amazonaws_com_nodegroup`.

GPU series come from dcgm-exporter: `Hostname` is the node name, MIG instances carry `GPU_I_ID` and
`GPU_I_PROFILE`. Everything here is deterministic: same arguments, same dicts, same order.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from components.observability.slo import RUNBOOK_BASE_URL, MeshWide, SloTarget, slo_alert_rules
from components.scheduling import GPU_MODEL_LABEL

GPU_NODE_LABEL = GPU_MODEL_LABEL
"""A node with any value for this label is a GPU node. Our GPU pools set it at creation (from the
catalog), so it is there even before the NVIDIA components run, unlike GFD/NFD's `nvidia.com/*` labels."""

MESH_DEFAULT_SLO = SloTarget(p99_ms=10000, error_ratio=0.05, window="5m", min_rps=0.1)
"""Loose mesh-wide default so a service without its own SLO still warns: LLM responses take seconds, so
P99 > 10 s (an Istio bucket boundary) or > 5% 5xx is wrong for almost any model, and a ModelRelease's
own, tighter SLO alerts stay the ones that page."""

_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_GROUP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_GPU_RESOURCES = "nvidia_com_gpu|nvidia_com_mig_.+"  # kube-state-metrics' names for nvidia.com/gpu, nvidia.com/mig-*


def ksm_label(label_key: str) -> str:
    """The `kube_node_labels` label for a Kubernetes label key (kube-state-metrics' sanitising)."""
    if not (isinstance(label_key, str) and len(label_key.rpartition("/")[2]) <= 63 and _LABEL_KEY.match(label_key)):
        raise ValueError(
            f"label key {label_key!r} is not a Kubernetes label key such as 'eks.amazonaws.com/nodegroup' "
            "(optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.')"
        )
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", label_key)


def node_labels_for_allowlist(pool_label: str, gpu_label: str = GPU_NODE_LABEL) -> list[str]:
    """Node label keys kube-state-metrics must export for these rules to see pools and GPU nodes."""
    ksm_label(pool_label)  # raises on a malformed key
    ksm_label(gpu_label)
    return sorted({pool_label, gpu_label})


def _node_pools(pool_label: str, node_filter: str) -> str:
    # One series per node with its pool as `pool`. `max by` collapses duplicates from several
    # kube-state-metrics replicas, which would otherwise make every group_left join many-to-many.
    key = ksm_label(pool_label)
    return f'label_replace(max by (node, {key}) (kube_node_labels{{{node_filter}}}), "pool", "$1", "{key}", "(.*)")'


def gpu_recording_rules(pool_label: str) -> dict[str, Any]:
    """Rule group recording GPU utilisation as a 0..1 ratio per device, per node and per node pool.

    - `gpu_device:utilisation:ratio`: whole GPUs from DCGM_FI_DEV_GPU_UTIL (percent, so / 100); MIG
      instances from DCGM_FI_PROF_GR_ENGINE_ACTIVE, because DCGM_FI_DEV_GPU_UTIL is not reported for MIG
      (dcgm-exporter#216). A MIG-partitioned GPU's own GPU_UTIL reads 0, so it is dropped when it has
      instances; otherwise every MIG node would look half idle.
    - `node:gpu_utilisation:avg_ratio`: mean over a node's devices (each MIG instance counts once), by `node`.
    - `pool:gpu_utilisation:avg_ratio`: mean over the pool's nodes, by `pool` (the value of `pool_label`).
    """
    key = ksm_label(pool_label)
    mig = 'DCGM_FI_PROF_GR_ENGINE_ACTIVE{GPU_I_ID!=""}'
    device = f'(DCGM_FI_DEV_GPU_UTIL{{GPU_I_ID=""}} / 100 unless on (Hostname, gpu) {mig}) or {mig}'
    node = 'avg by (node) (label_replace(gpu_device:utilisation:ratio, "node", "$1", "Hostname", "(.+)"))'
    pooled_nodes = _node_pools(pool_label, f'{key}!=""')
    pool = f"avg by (pool) (node:gpu_utilisation:avg_ratio * on (node) group_left (pool) {pooled_nodes})"
    return {
        "name": "gpu-platform.gpu-utilisation",
        "rules": [
            {"record": "gpu_device:utilisation:ratio", "expr": device},
            {"record": "node:gpu_utilisation:avg_ratio", "expr": node},
            {"record": "pool:gpu_utilisation:avg_ratio", "expr": pool},
        ],
    }


def platform_alert_rules(
    pool_label: str,
    *,
    gpu_label: str = GPU_NODE_LABEL,
    mesh_slo: SloTarget = MESH_DEFAULT_SLO,
) -> dict[str, Any]:
    """Rule group with the platform's alerts.

    - GpuNodeNotReady: a node with a non-empty `gpu_label` has not been Ready for 5m (labels node, pool).
    - GpuXidError: dcgm-exporter reports a non-zero Xid (the last Xid code) for a GPU; fires at once,
      since an Xid is an event and the code decides the action (79 = fallen off the bus: drain the node).
    - ModelPodOOMKilled: a container that requests a GPU or MIG slice restarted in the last 10m and its
      last termination was OOMKilled. The reason series alone stays 1 until the next termination, so
      without the restart window the alert would never resolve.
    - MeshHighP99Latency / MeshHighErrorRatio: `mesh_slo` for every service in the mesh, via slo.py.
    """
    gpu_nodes = _node_pools(pool_label, f'{ksm_label(gpu_label)}!=""')
    not_ready = (
        'max by (node) (kube_node_status_condition{condition="Ready", status!="true"} == 1) '
        f"* on (node) group_left (pool) {gpu_nodes}"
    )
    xid = "max by (Hostname, gpu, UUID, modelName) (DCGM_FI_DEV_XID_ERRORS) != 0"
    oom = (
        'max by (namespace, pod, container) (kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}) == 1 '
        "and on (namespace, pod, container) increase(kube_pod_container_status_restarts_total[10m]) > 0 "
        f'and on (namespace, pod, container) kube_pod_container_resource_requests{{resource=~"{_GPU_RESOURCES}"}}'
    )
    rules: list[dict[str, Any]] = [
        _alert(
            "GpuNodeNotReady",
            not_ready,
            "5m",
            "critical",
            summary="GPU node {{ $labels.node }} is not Ready",
            description=(
                "GPU node {{ $labels.node }} in pool {{ $labels.pool }} has not been Ready for 5 minutes; "
                "its GPU pods cannot run and the autoscaler may not replace it."
            ),
        ),
        _alert(
            "GpuXidError",
            xid,
            None,
            "warning",
            summary="GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported Xid {{ $value }}",
            description=(
                "dcgm-exporter reports Xid {{ $value }} on GPU {{ $labels.gpu }} ({{ $labels.UUID }}, "
                "{{ $labels.modelName }}) of node {{ $labels.Hostname }}. Look the code up in NVIDIA's Xid "
                "catalog; hardware Xids (48, 63, 64, 74, 79, 92, 94, 95) mean draining the node."
            ),
        ),
        _alert(
            "ModelPodOOMKilled",
            oom,
            None,
            "warning",
            summary="GPU container {{ $labels.namespace }}/{{ $labels.pod }}/{{ $labels.container }} was OOMKilled",
            description=(
                "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} requests a GPU "
                "and restarted after running out of memory in the last 10 minutes; raise its memory limit "
                "(model weights are staged in host memory while loading)."
            ),
        ),
        *slo_alert_rules(MeshWide(), mesh_slo, name_prefix="Mesh", severity="warning", for_="10m"),
    ]
    return {"name": "gpu-platform.alerts", "rules": rules}


def prometheus_rule_spec(groups: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`spec` of a PrometheusRule holding `groups`; group names must be unique, as Prometheus requires."""
    names = [g.get("name") for g in groups]
    errors: list[str] = []
    for i, name in enumerate(names):
        if not (isinstance(name, str) and _GROUP_NAME.match(name)):
            errors.append(f"groups[{i}].name: {name!r} is not a group name (lower-case letters, digits, '-' and '.')")
        elif name in names[:i]:
            errors.append(f"groups[{i}].name: {name!r} is used twice; Prometheus rejects repeated group names")
        if not groups[i].get("rules"):
            errors.append(f"groups[{i}].rules: a group needs at least one rule")
    if errors:
        raise ValueError("; ".join(errors))
    # Deep copies: callers keep building their dicts without changing a spec already handed out.
    return {"groups": [copy.deepcopy(dict(g)) for g in groups]}


def prometheus_rule(
    name: str, namespace: str, groups: Sequence[Mapping[str, Any]], *, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A whole `monitoring.coreos.com/v1` PrometheusRule object (for rendering and schema tests).

    `labels` must include whatever the Prometheus `ruleSelector` matches, e.g. kube-prometheus-stack's
    `release: <release name>`, or the rules are never loaded."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(sorted(labels.items()))
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": prometheus_rule_spec(groups),
    }


def _alert(name: str, expr: str, for_: str | None, severity: str, *, summary: str, description: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ is not None:
        rule["for"] = for_
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {
        "description": description,
        "runbook_url": f"{RUNBOOK_BASE_URL}/{name}",
        "summary": summary,
    }
    return rule
