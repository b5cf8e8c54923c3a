"""GPU-layer rules: what the NVIDIA stack and the cluster autoscaler can actually deliver for a pool.

Registered into spec_rules.RULES on import (stacks/spec.py lists this module in _RULE_MODULES).
"""

from __future__ import annotations

from collections.abc import Iterator

from components.gpu.catalog import catalog
from stacks.errors import show
from stacks.spec_models import StackSpec
from stacks.spec_rules import Loc, Problem, rule

# Each time-slicing replica is a pod with its own CUDA context (a few hundred MiB of GPU memory before
# the model loads) and its own share of the time slices; past 48 (also the MPS client limit on
# Volta and newer) a 16-24 GB GPU has nothing left per pod. Ask for a MIG or bigger GPU instead.
MAX_TIME_SLICING_REPLICAS = 48


@rule
def gpu_sharing(spec: StackSpec) -> Iterator[Problem]:
    for i, pool in enumerate(spec.node_pools):
        gpu = pool.gpu
        if gpu is None:
            continue
        loc: Loc = ("nodePools", i, "gpu")
        if gpu.time_slicing is not None and gpu.time_slicing.replicas > MAX_TIME_SLICING_REPLICAS:
            yield (
                (*loc, "timeSlicing", "replicas"),
                (
                    f"{gpu.time_slicing.replicas} is more than {MAX_TIME_SLICING_REPLICAS} pods per GPU (each needs its "
                    "own CUDA context and GPU memory); lower it, or use MIG or a larger GPU"
                ),
            )
        inst = catalog().instance(spec.cloud, pool.instance_types[0])
        ami = pool.ami_type
        if (
            spec.cloud == "aws"
            and inst is not None
            and inst.is_gpu
            and ami is not None
            and ami.startswith("BOTTLEROCKET")
            and gpu.sharing != "none"
        ):
            # Bottlerocket's own device plugin and MIG manager are configured through its settings API
            # (user data), not through our device-plugin config map and mig-parted ConfigMap.
            yield (
                (*loc, "sharing"),
                (
                    f"{show(gpu.sharing)} is not supported on {ami}: Bottlerocket configures GPU sharing in its own "
                    "settings, which this platform does not render; use amiType AL2023_x86_64_NVIDIA "
                    "(or AL2023_ARM_64_NVIDIA) or sharing: none"
                ),
            )
