"""What one node of an existing cluster's pool is, as its stack file declares it (docs/existing-cluster.md).

The catalog lists instance types of the clouds this platform creates pools on; an existing cluster's nodes
are whatever they are, so the stack file declares them: allocatable CPU, memory and pods, CPU
architecture, GPU model (one of the catalog's GPU models, so MIG layouts and GPU memory still come from the
catalog) and GPUs per node. `declared_instance` turns that into the catalog's InstanceType, so PoolShape,
the GPU layer and the capacity planner read it like any other. It has no price: cost reports say
"unknown". Pure Python, no Pulumi.
"""

from __future__ import annotations

import math

from components.gpu.catalog import Arch, InstanceType, catalog

SPEC_SOURCE = "declared in the stack file (nodePools[].node)"


def declared_instance_name(pool: str) -> str:
    """How a declared node appears where an instance type name would (messages, reports, exports)."""
    return f"nodePools[{pool}].node"


def declared_instance(
    pool: str,
    *,
    cpu: float,
    memory_gib: float,
    max_pods: int,
    arch: Arch = "x86_64",
    gpu_model: str | None = None,
    gpu_count: int = 0,
) -> InstanceType:
    """One node of `pool`: `cpu`, `memory_gib` and `max_pods` are its allocatable (`kubectl get node -o
    jsonpath='{.status.allocatable}'`), before this platform's DaemonSets."""
    if cpu <= 0 or memory_gib <= 0 or max_pods < 1:
        raise ValueError(f"{declared_instance_name(pool)}: cpu, memoryGib and maxPods must be positive")
    if (gpu_model is None) != (gpu_count == 0):
        raise ValueError(f"{declared_instance_name(pool)}: gpuModel and gpuCount go together")
    gpu = catalog().gpu(gpu_model) if gpu_model is not None else None
    return InstanceType(
        name=declared_instance_name(pool),
        cloud="existing",
        vcpu=math.ceil(cpu),
        memory_gib=memory_gib,
        arch=arch,
        gpu_model=gpu_model,
        gpu_count=gpu_count,
        efa=False,
        price_usd_per_hour=None,  # nobody published one: reports say "unknown"
        price_source=None,
        spec_source=SPEC_SOURCE,
        allocatable_cpu=cpu,
        allocatable_memory_gib=memory_gib,
        max_pods=max_pods,
        # Whether MIG can be enabled is the cluster owner's business: the GPU decides what is possible.
        mig_allowed=gpu is not None and gpu.mig_supported,
    )
