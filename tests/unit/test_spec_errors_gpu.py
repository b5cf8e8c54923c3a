"""Bad GPU-layer config: exact messages for the GPU pool rules in stacks/spec/pools.py and the add-on keys
(stacks/spec/addons.py)."""

from __future__ import annotations

import pytest

from stacks.spec.parse import parse_spec
from stacks.spec.pools import MAX_TIME_SLICING_REPLICAS
from tests.spec_helpers import Case, assert_rejected, mutate, raw_stack

# Without models (and so without the gateway routes that expose them): these cases are about pools and
# add-ons; model-fit and routing rules would add their own messages.
DEV = mutate(mutate(raw_stack("dev"), "models", []), "addons.istio.gateway.routes", [])
PROD = mutate(mutate(raw_stack("prod"), "models", []), "addons.istio.gateway.routes", [])
P = "gpu-platform:"
BOTTLEROCKET_HINT = (
    "Bottlerocket configures GPU sharing in its own settings, which this platform does not "
    "render; use amiType AL2023_x86_64_NVIDIA (or AL2023_ARM_64_NVIDIA) or sharing: none"
)

CASES: list[Case] = [
    (
        "time-slicing replicas over the cap",
        mutate(PROD, "nodePools.2.gpu.timeSlicing.replicas", 49),
        f"{P}nodePools[2].gpu.timeSlicing.replicas: 49 is more than 48 pods per GPU (each needs its own CUDA "
        "context and GPU memory); lower it, or use MIG or a larger GPU",
    ),
    (
        "time-slicing on Bottlerocket",
        mutate(PROD, "nodePools.2.amiType", "BOTTLEROCKET_x86_64_NVIDIA"),
        f"{P}nodePools[2].gpu.sharing: 'time-slicing' is not supported on BOTTLEROCKET_x86_64_NVIDIA: "
        + BOTTLEROCKET_HINT,
    ),
    (
        "MIG on Bottlerocket",
        mutate(PROD, "nodePools.3.amiType", "BOTTLEROCKET_x86_64_NVIDIA"),
        f"{P}nodePools[3].gpu.sharing: 'mig' is not supported on BOTTLEROCKET_x86_64_NVIDIA: " + BOTTLEROCKET_HINT,
    ),
    (
        "scale-down time not a duration",
        mutate(DEV, "addons.clusterAutoscaler.scaleDownUnneededTime", "10 minutes"),
        f"{P}addons.clusterAutoscaler.scaleDownUnneededTime: '10 minutes' is not a duration; write a whole number "
        "with s, m or h, e.g. '10m'",
    ),
    (
        "GPU threshold above 1",
        mutate(DEV, "addons.clusterAutoscaler.scaleDownGpuUtilizationThreshold", 1.5),
        f"{P}addons.clusterAutoscaler.scaleDownGpuUtilizationThreshold: must be <= 1.0, got 1.5",
    ),
    (
        "GPU threshold zero",
        mutate(DEV, "addons.clusterAutoscaler.scaleDownGpuUtilizationThreshold", 0),
        f"{P}addons.clusterAutoscaler.scaleDownGpuUtilizationThreshold: must be > 0.0, got 0",
    ),
    (
        "dcgm toggle not a bool",
        mutate(DEV, "addons.nvidia.dcgmExporter", "yes please"),
        f"{P}addons.nvidia.dcgmExporter: expected true or false, got 'yes please'",
    ),
    (
        "unknown nvidia key suggests",
        mutate(DEV, "addons.nvidia.dcgmExportr", False),
        f"{P}addons.nvidia.dcgmExportr: unknown key; did you mean 'dcgmExporter'?",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fails_with_exact_message(case: Case) -> None:
    assert_rejected(case, only=True)


def test_the_boundaries_are_accepted() -> None:
    # The cap itself, whole GPUs on Bottlerocket (its own device plugin serves them) and a custom duration.
    ok = mutate(PROD, "nodePools.2.gpu.timeSlicing.replicas", MAX_TIME_SLICING_REPLICAS)
    ok = mutate(ok, "nodePools.1.amiType", "BOTTLEROCKET_x86_64_NVIDIA")
    ok = mutate(ok, "addons.clusterAutoscaler.scaleDownUnneededTime", "15m")
    spec = parse_spec(ok)
    assert spec.node_pools[2].gpu is not None and spec.node_pools[2].gpu.time_slicing is not None
    assert spec.node_pools[2].gpu.time_slicing.replicas == 48
    assert spec.addons.cluster_autoscaler.scale_down_unneeded_time == "15m"


def test_defaults_of_the_gpu_addon_keys() -> None:
    addons = parse_spec(DEV).addons
    assert (addons.nvidia.enabled, addons.nvidia.dcgm_exporter) == (True, True)
    ca = addons.cluster_autoscaler
    assert (ca.enabled, ca.scale_down_unneeded_time, ca.scale_down_gpu_utilization_threshold) == (True, "10m", 0.5)
