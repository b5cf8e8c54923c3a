"""Platform layer (cloud-neutral): runs on any cluster that hands over ClusterFacts.

Order matters only where one add-on consumes another's CRDs or facts: the GPU stack first (device
plugin, MIG, DCGM), then the autoscaler, Istio, Prometheus and logging. Each step is a component in
components/; this module only wires them from the spec.
"""

from __future__ import annotations

from stacks import addons, gpu_layer
from stacks.facts import ClusterFacts
from stacks.spec_models import StackSpec


def build(spec: StackSpec, cluster: ClusterFacts) -> None:
    gpu_layer.build(spec, cluster)  # NVIDIA stack, cluster autoscaler, capacity/cost plan (issue 4)
    addons.build(spec, cluster)  # Istio + API gateway, Prometheus, EFK logging (issue 5)
