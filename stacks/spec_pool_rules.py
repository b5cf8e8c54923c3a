"""Pool rules that need the GPU catalog: instance types, AMI types, disks, EFA, MIG layouts.

Registered into spec_rules.RULES on import (stacks/spec.py imports this module).
"""

from __future__ import annotations

from collections.abc import Iterator

from components.gpu import mig
from components.gpu.catalog import InstanceType, catalog, layout_problems
from stacks.errors import did_you_mean, show
from stacks.spec_models import NodePoolSpec, StackSpec
from stacks.spec_rules import Loc, Problem, rule

MIN_GPU_DISK_GIB = 100  # NVIDIA AMIs + CUDA/model-server images need the room (EKS BPG)


def default_ami_type(instance: InstanceType) -> str:
    arch = "x86_64" if instance.arch == "x86_64" else "ARM_64"
    return f"AL2023_{arch}_{'NVIDIA' if instance.is_gpu else 'STANDARD'}"


def disk_size_gib(pool: NodePoolSpec, instance: InstanceType) -> int:
    return pool.disk_size_gib or (200 if instance.is_gpu else 50)


@rule
def pool_catalog(spec: StackSpec) -> Iterator[Problem]:
    cat = catalog()
    names = cat.instance_names(spec.cloud)
    for i, pool in enumerate(spec.node_pools):
        loc: Loc = ("nodePools", i)
        found: list[InstanceType] = []
        for j, typ in enumerate(pool.instance_types):
            inst = cat.instance(spec.cloud, typ)
            if inst is None:
                hint = did_you_mean(typ, names).replace("allowed keys", "known instance types")
                yield (*loc, "instanceTypes", j), f"{show(typ)} is not a known {spec.cloud} instance type; {hint}"
            else:
                found.append(inst)
        if not found:
            continue
        first = found[0]
        for j, inst in enumerate(found[1:], start=1):
            if (inst.gpu_model, inst.gpu_count, inst.arch) != (first.gpu_model, first.gpu_count, first.arch):
                yield (
                    (*loc, "instanceTypes", j),
                    (
                        f"{show(inst.name)} ({_shape(inst)}) differs from {show(first.name)} ({_shape(first)}); "
                        "all instance types of a pool need the same GPU model, GPU count and CPU architecture "
                        "(the scheduler and autoscaler treat the pool as one shape); split them into two pools"
                    ),
                )
        yield from _ami(spec, pool, first, loc)
        yield from _gpu(pool, first, loc)
        if pool.efa and not all(x.efa for x in found):
            bad = [x.name for x in found if not x.efa]
            yield (
                (*loc, "efa"),
                (f"true, but {', '.join(bad)} has no EFA; use an EFA instance type (p4d/p5 class) or set efa: false"),
            )
        if pool.efa and spec.cloud != "aws":
            yield (*loc, "efa"), "EFA exists only on AWS; remove it"


def _shape(inst: InstanceType) -> str:
    gpu = f"{inst.gpu_count}x {inst.gpu_model}" if inst.is_gpu else "no GPU"
    return f"{gpu}, {inst.arch}"


def _ami(spec: StackSpec, pool: NodePoolSpec, inst: InstanceType, loc: Loc) -> Iterator[Problem]:
    if spec.cloud != "aws" or pool.ami_type is None:
        return
    ami = catalog().ami_types.get(pool.ami_type)
    allowed = catalog().gpu_ami_types(inst.arch) if inst.is_gpu else catalog().standard_ami_types(inst.arch)
    if ami is None or ami.legacy or pool.ami_type not in allowed:
        kind = "a GPU" if inst.is_gpu else "a CPU"
        why = (
            "is not a known EKS AMI type"
            if ami is None
            else (
                "is a legacy AL2 AMI (no longer published)"
                if ami.legacy
                else f"does not fit {inst.name} ({kind} {inst.arch} instance)"
            )
        )
        yield (*loc, "amiType"), f"{show(pool.ami_type)} {why}; choose one of {', '.join(allowed)}"


def _gpu(pool: NodePoolSpec, inst: InstanceType, loc: Loc) -> Iterator[Problem]:
    if not inst.is_gpu:
        if pool.gpu is not None:
            yield (
                (*loc, "gpu"),
                (f"given, but {inst.name} has no GPUs; remove the gpu block or use a GPU instance type"),
            )
        return
    if pool.disk_size_gib is not None and pool.disk_size_gib < MIN_GPU_DISK_GIB:
        yield (
            (*loc, "diskSizeGib"),
            (
                f"{pool.disk_size_gib} is too small for a GPU node; use at least "
                f"{MIN_GPU_DISK_GIB} (driver, CUDA and model-server images)"
            ),
        )
    if pool.gpu is None or pool.gpu.sharing != "mig" or pool.gpu.mig is None:
        return
    gpu = inst.gpu
    assert gpu is not None
    mloc: Loc = (*loc, "gpu", "mig")
    if not gpu.mig_supported:
        yield (
            (*loc, "gpu", "sharing"),
            (
                f"'mig' is not possible on {inst.name}: its {gpu.key} GPUs do not support "
                "MIG; use sharing: time-slicing, or a MIG GPU (A100, H100, H200, B200)"
            ),
        )
        return
    if not inst.mig_allowed:
        capable = [
            i.name for i in catalog().instances[inst.cloud].values() if i.mig_allowed and i.gpu_model == inst.gpu_model
        ] or [i.name for i in catalog().instances[inst.cloud].values() if i.mig_allowed]
        # ACK's own device plugin ignores our time-slicing config, so only suggest it where it works.
        alternative = "sharing: time-slicing" if inst.cloud == "aws" else "sharing: none"
        yield (
            (*loc, "gpu", "sharing"),
            (
                f"'mig' is not possible on {inst.name}: the cloud does not let you enable "
                f"MIG on it; use a MIG-capable instance type ({', '.join(sorted(capable))}) "
                f"or {alternative}"
            ),
        )
        return
    layout = pool.gpu.mig.layout
    if layout not in gpu.mig_layouts:
        yield (
            (*mloc, "layout"),
            (f"{show(layout)} is not a layout for {gpu.key}; choose one of " + ", ".join(gpu.layout_names())),
        )
        return
    counts = mig.layout_counts(gpu.key, layout)
    for problem in layout_problems(gpu, counts):
        yield (*mloc, "layout"), f"{show(layout)} cannot be created on {gpu.key}: {problem}"
    if pool.gpu.mig.strategy == "single" and len(counts) != 1:
        yield (
            (*mloc, "strategy"),
            (
                f"'single' needs a layout with one profile, but {show(layout)} mixes "
                f"{', '.join(sorted(counts))}; use strategy: mixed or an all-<profile> layout"
            ),
        )
