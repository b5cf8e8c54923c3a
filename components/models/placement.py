"""Where a version's pods may run and what they request, derived from the pools' facts.

The resource name, node selector and tolerations come from components/scheduling (the labels and taint
the pools themselves carry), so a release can never ask for a label no pool sets. Pure Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.gpu import mig
from components.gpu.catalog import catalog
from components.models.args import GpuRequest, PoolLike
from components.scheduling import (
    GPU_MODEL_LABEL,
    GPU_RESOURCE,
    GPU_SHARING_LABEL,
    MIG_CONFIG_LABEL,
    gpu_tolerations,
)


@dataclass(frozen=True, slots=True)
class Placement:
    resource: str
    """Extended resource per replica: nvidia.com/gpu or nvidia.com/mig-<profile>."""
    quantity: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    pools: tuple[str, ...]
    """Names of the pools that satisfy the selector and offer the resource."""
    slice_memory_gib: float | None
    """GPU memory one replica gets on the smallest eligible pool (None when no pool is eligible)."""
    slice_text: str
    """Human description of the slice, for messages ("1 x 2g.10gb", "2 x L4 24 GB")."""


def _gpu_memory(pool: PoolLike) -> float:
    gpu = pool.shape.instance.gpu
    return float(gpu.memory_gb) if gpu is not None else 0.0


def _mig_offers(pool: PoolLike) -> dict[str, str]:
    """{profile: resource name advertised} of a MIG pool."""
    shape = pool.shape
    if shape.sharing != "mig" or shape.mig_layout is None or shape.instance.gpu_model is None:
        return {}
    gpu = catalog().gpu(shape.instance.gpu_model)
    counts = mig.layout_counts(gpu.key, shape.mig_layout)
    out: dict[str, str] = {}
    for profile in counts:
        p = gpu.profile(profile)
        if p is None:
            continue
        out[profile] = p.resource_name if shape.mig_strategy == "mixed" else GPU_RESOURCE
    return out


def offered_mig_profiles(pools: Sequence[PoolLike]) -> list[str]:
    return sorted({p for pool in pools for p in _mig_offers(pool)})


def placement(gpu: GpuRequest, pools: Sequence[PoolLike]) -> Placement:
    """Resource, selector and eligible pools for one replica's GPU request (assumes exactly one of
    count / mig_profile / time_sliced is set; validation reports it otherwise)."""
    selector: dict[str, str] = {}
    if gpu.model is not None:
        selector[GPU_MODEL_LABEL] = gpu.model
    candidates = [p for p in pools if p.shape.is_gpu and (gpu.model is None or p.shape.instance.gpu_model == gpu.model)]
    if gpu.mig_profile is not None:
        profile = gpu.mig_profile
        offering = [p for p in candidates if profile in _mig_offers(p)]
        mixed = [p for p in offering if p.shape.mig_strategy == "mixed"]
        if mixed or not offering:
            # Mixed pools advertise each profile as its own resource; that name alone steers the pod.
            eligible = mixed
            resource = _mig_offers(mixed[0])[profile] if mixed else f"nvidia.com/mig-{profile}"
            selector[GPU_SHARING_LABEL] = "mig"
        else:
            # Single strategy: slices appear as nvidia.com/gpu, so only the pool's MIG config tells them apart.
            config = offering[0].shape.mig_config or ""
            eligible = [p for p in offering if p.shape.mig_config == config]
            resource = GPU_RESOURCE
            selector[MIG_CONFIG_LABEL] = config
        mems = []
        for p in eligible:
            prof = catalog().gpu(p.shape.instance.gpu_model or "").profile(profile)
            if prof is not None:
                mems.append(float(prof.memory_gb))
        return Placement(
            resource,
            1,
            selector,
            gpu_tolerations(),
            tuple(p.shape.name for p in eligible),
            min(mems) if mems else None,
            f"one {profile} MIG slice",
        )
    if gpu.time_sliced:
        selector[GPU_SHARING_LABEL] = "time-slicing"
        eligible = [p for p in candidates if p.shape.sharing == "time-slicing"]
        mems = [_gpu_memory(p) / (p.shape.time_slicing_replicas or 1) for p in eligible]
        return Placement(
            GPU_RESOURCE,
            1,
            selector,
            gpu_tolerations(),
            tuple(p.shape.name for p in eligible),
            min(mems) if mems else None,
            "one time-sliced GPU share",
        )
    count = gpu.count or 1
    selector[GPU_SHARING_LABEL] = "none"
    eligible = [
        p for p in candidates if p.shape.sharing == "none" and p.shape.gpu_resources.get(GPU_RESOURCE, 0) >= count
    ]
    mems = [_gpu_memory(p) * count for p in eligible]
    return Placement(
        GPU_RESOURCE,
        count,
        selector,
        gpu_tolerations(),
        tuple(p.shape.name for p in eligible),
        min(mems) if mems else None,
        f"{count} whole GPU{'s' if count > 1 else ''}",
    )
