"""MIG configuration and the extended resources a GPU node advertises.

Two consumers share these functions so they can never disagree: the platform layer renders the
mig-parted ConfigMap and labels each MIG pool with `nvidia.com/mig.config`, and the capacity planner
needs to know what a node offers (`nvidia.com/gpu` or `nvidia.com/mig-<profile>`) before any pod lands.

    >>> render_mig_parted_config([("h100-80gb", "all-balanced")])["mig-configs"]["all-balanced-h100-80gb"]
    [{'devices': 'all', 'mig-devices': {'1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1}, 'mig-enabled': True}]
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Literal, TypeAlias

from components.gpu.catalog import GpuModel, InstanceType, catalog

Sharing: TypeAlias = Literal["none", "mig", "time-slicing"]
MigStrategy: TypeAlias = Literal["single", "mixed"]

GPU_RESOURCE = "nvidia.com/gpu"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
ALL_DISABLED = "all-disabled"


def _mig_gpu(gpu_model: str) -> GpuModel:
    cat = catalog()
    if gpu_model not in cat.gpus:
        raise ValueError(f"unknown GPU model {gpu_model!r}; known: {', '.join(sorted(cat.gpus))}")
    gpu = cat.gpu(gpu_model)
    if not gpu.mig_supported:
        raise ValueError(f"{gpu_model} does not support MIG; MIG-capable GPUs: {', '.join(cat.mig_gpu_keys())}")
    return gpu


def layout_counts(gpu_model: str, layout: str) -> dict[str, int]:
    """Per-GPU {profile: count} of a named layout; ValueError naming the valid layouts otherwise."""
    gpu = _mig_gpu(gpu_model)
    counts = gpu.mig_layouts.get(layout)
    if counts is None:
        raise ValueError(
            f"{layout!r} is not a MIG layout for {gpu_model}; choose one of {', '.join(gpu.layout_names())}"
        )
    return dict(counts)


@functools.cache
def _ambiguous_layout_names() -> frozenset[str]:
    # Decided over the whole catalog, not just the pools in one stack: the label on a node must not
    # change when someone adds an unrelated pool, because a new label makes MIG Manager repartition
    # (and drain) every GPU on that node.
    seen: dict[str, set[tuple[tuple[str, int], ...]]] = {}
    for gpu in catalog().gpus.values():
        for name, counts in gpu.mig_layouts.items():
            seen.setdefault(name, set()).add(tuple(sorted(counts.items())))
    return frozenset(name for name, contents in seen.items() if len(contents) > 1)


def mig_config_label(gpu_model: str, layout: str) -> str:
    """Value for the node label `nvidia.com/mig.config` (and the mig-configs key) of a pool.

    The plain layout name (`all-7g.80gb`) when it means the same partitioning on every catalog GPU
    that defines it; otherwise `<layout>-<gpu_model>` (`all-1g.10gb` is 7 slices on an H100 but 4 on an
    A100-40GB, so it becomes `all-1g.10gb-h100-80gb`).
    """
    layout_counts(gpu_model, layout)  # validates both names
    return f"{layout}-{gpu_model}" if layout in _ambiguous_layout_names() else layout


def render_mig_parted_config(layouts: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """mig-parted v1 config holding `all-disabled` plus exactly the (gpu_model, layout) pairs given.

    Keys are inserted sorted so yaml/json dumps are byte-stable whatever order pools are declared in.
    """
    configs: dict[str, list[dict[str, Any]]] = {}
    for gpu_model, layout in sorted(set(layouts)):
        counts = layout_counts(gpu_model, layout)
        configs[mig_config_label(gpu_model, layout)] = [
            {"devices": "all", "mig-devices": dict(sorted(counts.items())), "mig-enabled": True}
        ]
    configs[ALL_DISABLED] = [{"devices": "all", "mig-enabled": False}]
    return {"mig-configs": dict(sorted(configs.items())), "version": "v1"}


def gpu_resources_per_node(
    instance: InstanceType,
    sharing: Sharing = "none",
    strategy: MigStrategy | None = None,
    layout: str | None = None,
    time_slicing_replicas: int | None = None,
) -> dict[str, int]:
    """Extended resources one node of `instance` advertises under the given GPU sharing.

    - none: {"nvidia.com/gpu": gpus}
    - time-slicing: {"nvidia.com/gpu": gpus * replicas} (device plugin replicas, no isolation)
    - mig + single: {"nvidia.com/gpu": gpus * devices per GPU}; needs a one-profile layout
    - mig + mixed: {"nvidia.com/mig-<profile>": gpus * count, ...}; no whole GPUs remain because the
      rendered config enables MIG on all devices.
    """
    where = f"{instance.cloud} {instance.name}"
    if not instance.is_gpu or instance.gpu_model is None:
        raise ValueError(f"{where} has no GPUs; GPU sharing {sharing!r} needs a GPU instance type")
    n = instance.gpu_count
    if sharing != "mig" and (strategy is not None or layout is not None):
        raise ValueError(f"MIG strategy/layout given while sharing is {sharing!r}; set sharing to 'mig'")
    if sharing != "time-slicing" and time_slicing_replicas is not None:
        raise ValueError(f"time-slicing replicas given while sharing is {sharing!r}; set sharing to 'time-slicing'")
    if sharing == "none":
        return {GPU_RESOURCE: n}
    if sharing == "time-slicing":
        if time_slicing_replicas is None or time_slicing_replicas < 2:
            raise ValueError(f"time-slicing needs replicas >= 2, got {time_slicing_replicas}")
        return {GPU_RESOURCE: n * time_slicing_replicas}
    if strategy is None or layout is None:
        raise ValueError("sharing 'mig' needs both a strategy (single or mixed) and a layout")
    gpu = _mig_gpu(instance.gpu_model)
    if not instance.mig_allowed:
        raise ValueError(
            f"{where}: the {gpu.key} GPUs cannot be put in MIG mode on this instance type "
            f"(cloud restriction); use a bare-metal type or sharing 'none'/'time-slicing'"
        )
    counts = layout_counts(gpu.key, layout)
    if strategy == "single":
        if len(counts) != 1:
            raise ValueError(
                f"MIG strategy 'single' needs a layout with one profile; {layout!r} on {gpu.key} mixes "
                f"{', '.join(sorted(counts))}; use strategy 'mixed' or an all-<profile> layout"
            )
        return {GPU_RESOURCE: n * next(iter(counts.values()))}
    resources: dict[str, int] = {}
    for name, count in sorted(counts.items()):
        profile = gpu.profile(name)
        assert profile is not None  # layouts are validated against profiles at catalog load
        resources[profile.resource_name] = n * count
    return resources
