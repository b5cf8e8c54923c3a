"""Platform layer (cloud-neutral): runs on any cluster that hands over ClusterFacts.

Add-ons first (Istio, Prometheus, logging, KEDA), then the GPU stack (device plugin, MIG, DCGM) and
the autoscaler: the GPU layer's DCGM ServiceMonitor needs kube-prometheus-stack's CRDs, so it
depends on that release. The result, PlatformFacts, names every CRD-installing release so the
workload layer's custom resources (VirtualService, ScaledObject, ServiceMonitor, ...) can depend on
theirs: on a first `pulumi up` nothing is created before its CRD exists.
"""

from __future__ import annotations

import dataclasses

from components import helm
from stacks.contract import ClusterFacts, PlatformFacts
from stacks.platform import addons, priority
from stacks.platform import gpu as gpu_layer
from stacks.spec.stack import StackSpec
from stacks.workloads.capacity import release_demands


def chart_source(spec: StackSpec) -> helm.ChartSource | None:
    """`addons.chartSource`: where every chart comes from instead of charts/pins.yaml's repositories."""
    src = spec.addons.chart_source
    return None if src is None else helm.ChartSource(repository=src.repository, directory=src.directory)


def build(spec: StackSpec, cluster: ClusterFacts) -> PlatformFacts:
    with helm.chart_source(chart_source(spec)):  # every Helm release and chart of the platform
        return _build(spec, cluster)


def _build(spec: StackSpec, cluster: ClusterFacts) -> PlatformFacts:
    tiers = priority.build(cluster)  # cluster-scoped: the platform's, with or without models here
    added = addons.build(spec, cluster)  # Istio + API gateway, Prometheus, EFK logging, KEDA (docs/design.md#add-ons)
    crds = added.crds
    gpu = gpu_layer.build(  # NVIDIA stack, cluster autoscaler, capacity/cost plan (docs/design.md#gpu-layer)
        spec,
        cluster,
        monitoring_depends_on=[crds.prometheus] if crds.prometheus is not None else (),
        demands=release_demands(spec, cluster.pools),
    )  # the model releases' pods at their worst rollout step
    if gpu.nvidia is not None and gpu.nvidia.gpu_operator is not None:
        crds = dataclasses.replace(crds, gpu_operator=gpu.nvidia.gpu_operator)
    return PlatformFacts(crds=crds, priority_classes=tiers)
