"""Typed, read-only view of `catalog.yaml`: GPU models, MIG profiles and layouts, instance types, AMI types.

One source of truth for GPU facts (docs/design.md#gpu-catalog): node pools, the config validator, MIG rendering and the
capacity planner all read this module, never the YAML. Pure Python, no Pulumi imports, so tests and the
offline plan can use it without an engine.

    >>> cat = catalog()
    >>> cat.instance("aws", "p5.48xlarge").gpu.mig_layouts["all-balanced"]
    mappingproxy({'1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1})
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, cast

import yaml

from components.cost.price_book import reference_on_demand

# `existing`: a cluster the stack does not create (docs/existing-cluster.md). The catalog lists no instance
# types for it: its pools declare what one node is (components/existing/nodes.py).
Cloud: TypeAlias = Literal["aws", "alicloud", "existing"]
Arch: TypeAlias = Literal["x86_64", "arm64"]
CLOUDS: tuple[Cloud, ...] = ("aws", "alicloud")  # the clouds whose instance types the catalog lists
CATALOG_PATH = Path(__file__).with_name("catalog.yaml")


@dataclass(frozen=True, slots=True)
class MigProfile:
    name: str  # mig-parted / nvidia-smi name, e.g. "1g.10gb", "1g.10gb+me"
    compute_slices: int
    memory_gb: int  # nominal, from the profile name
    max_per_gpu: int
    resource_name: str  # advertised under migStrategy=mixed, e.g. "nvidia.com/mig-1g.10gb.me"
    memory_slices: int = 1
    placement_starts: tuple[int, ...] = ()
    usable_gib_observed: float | None = None  # third-party nvidia-smi capture; None when never measured

    @property
    def media_extensions(self) -> bool:
        # "+me" profiles take the GPU's only media engine set, so at most one fits per GPU.
        return "+me" in self.name


@dataclass(frozen=True, slots=True)
class GpuModel:
    key: str
    product: str
    architecture: str
    compute_capability: str
    memory_gb: int
    mig_supported: bool
    mig_profiles: tuple[MigProfile, ...] = ()
    mig_layouts: Mapping[str, Mapping[str, int]] = field(default_factory=lambda: MappingProxyType({}))
    compute_slices_total: int = 0  # 7 on A100/H100-class GPUs, 4 on A30
    memory_slices_total: int = 0  # 8 on A100/H100-class GPUs, 4 on A30
    sources: tuple[str, ...] = ()

    def profile(self, name: str) -> MigProfile | None:
        return next((p for p in self.mig_profiles if p.name == name), None)

    def profile_by_resource(self, resource_name: str) -> MigProfile | None:
        return next((p for p in self.mig_profiles if p.resource_name == resource_name), None)

    def layout_names(self) -> list[str]:
        return sorted(self.mig_layouts)


@dataclass(frozen=True, slots=True)
class InstanceType:
    name: str
    cloud: Cloud
    vcpu: int
    memory_gib: float
    arch: Arch
    gpu_model: str | None
    gpu_count: int
    efa: bool
    # From the price book, not this file: the reference on-demand price (components/cost/price_book.py
    # reference_on_demand; us-east-1 on AWS, None on Alibaba whose figures are CNY) that ranks pools by price.
    # A stack's cost is priced in its own region and capacity type by components/cost/estimate.py.
    price_usd_per_hour: float | None
    price_source: str | None  # a source key of the price book
    spec_source: str
    allocatable_cpu: float | None = None  # Karpenter's estimate after kubelet/system reserve, when known
    allocatable_memory_gib: float | None = None
    max_pods: int | None = None
    mig_allowed: bool = False  # GPU supports MIG *and* the cloud lets you enable it on this instance
    note: str | None = None
    efa_interfaces: int = 0
    """EFA interfaces the instance takes, one per network card (0 without EFA; 1 unless the catalog says
    more: p4d 4, p5 32). The launch template of an EFA pool creates all of them (components/aws/efa.py)."""
    efa_only_secondary: bool = False
    """Interfaces after the first may be `efa-only` (no IP address; p5-class): saves VPC addresses."""

    @property
    def is_gpu(self) -> bool:
        return self.gpu_count > 0

    @property
    def gpu(self) -> GpuModel | None:
        return None if self.gpu_model is None else catalog().gpu(self.gpu_model)


@dataclass(frozen=True, slots=True)
class AmiType:
    name: str
    arch: Arch
    gpu: bool  # ships the NVIDIA driver (pick for GPU pools)
    neuron: bool = False
    legacy: bool = False  # AL2: no longer published, reject in config


@dataclass(frozen=True, slots=True)
class Catalog:
    gpus: Mapping[str, GpuModel]
    instances: Mapping[Cloud, Mapping[str, InstanceType]]
    ami_types: Mapping[str, AmiType]
    sources: Mapping[str, str]

    def gpu(self, model_key: str) -> GpuModel:
        try:
            return self.gpus[model_key]
        except KeyError:
            raise KeyError(f"unknown GPU model {model_key!r}; known: {', '.join(sorted(self.gpus))}") from None

    def instance(self, cloud: Cloud, instance_type: str) -> InstanceType | None:
        return self.instances.get(cloud, {}).get(instance_type)

    def instance_names(self, cloud: Cloud) -> list[str]:
        return sorted(self.instances.get(cloud, {}))

    def mig_gpu_keys(self) -> list[str]:
        return sorted(k for k, g in self.gpus.items() if g.mig_supported)

    def gpu_ami_types(self, arch: Arch) -> list[str]:
        return sorted(a.name for a in self.ami_types.values() if a.gpu and not a.legacy and a.arch == arch)

    def standard_ami_types(self, arch: Arch) -> list[str]:
        return sorted(a.name for a in self.ami_types.values() if not a.gpu and not a.neuron and a.arch == arch)


def layout_problems(gpu: GpuModel, counts: Mapping[str, int]) -> list[str]:
    """Why a per-GPU layout {profile: count} cannot be created on `gpu` ([] when it can).

    Checks what mig-parted would reject at apply time on the node: unknown profiles, max_per_gpu,
    the compute-slice budget, at most one media-extension profile, and a real non-overlapping placement
    on the memory-slice axis (e.g. 2 x 3g + 1g is 7 compute slices but needs 9 of 8 memory slots).
    """
    if not gpu.mig_supported:
        return [f"{gpu.key} does not support MIG"]
    problems: list[str] = []
    profiles: list[tuple[MigProfile, int]] = []
    for name, count in sorted(counts.items()):
        p = gpu.profile(name)
        if p is None:
            known = ", ".join(x.name for x in gpu.mig_profiles)
            problems.append(f"{name!r} is not a MIG profile of {gpu.key}; known: {known}")
        elif count < 1 or count > p.max_per_gpu:
            problems.append(f"{name}: {count} per GPU, allowed 1..{p.max_per_gpu}")
        else:
            profiles.append((p, count))
    if problems:
        return problems
    compute = sum(p.compute_slices * n for p, n in profiles)
    if compute > gpu.compute_slices_total:
        problems.append(f"uses {compute} compute slices, a {gpu.key} has {gpu.compute_slices_total}")
    if sum(n for p, n in profiles if p.media_extensions) > 1:
        problems.append("more than one +me (media extension) instance; a GPU has one set of media engines")
    if not problems and not _placeable(profiles, gpu.memory_slices_total):
        problems.append(f"no non-overlapping placement on the {gpu.memory_slices_total} memory slices of a {gpu.key}")
    return problems


def _placeable(profiles: list[tuple[MigProfile, int]], slots: int) -> bool:
    # Largest first; at most 7 instances per GPU, so plain backtracking is instant.
    items = sorted((p for p, n in profiles for _ in range(n)), key=lambda p: -p.memory_slices)

    def place(i: int, used: int) -> bool:
        if i == len(items):
            return True
        p = items[i]
        for start in p.placement_starts:
            mask = ((1 << p.memory_slices) - 1) << start
            if start + p.memory_slices <= slots and not used & mask and place(i + 1, used | mask):
                return True
        return False

    return place(0, 0)


def _mig_profile(raw: Mapping[str, Any]) -> MigProfile:
    return MigProfile(
        name=str(raw["name"]),
        compute_slices=int(raw["compute_slices"]),
        memory_gb=int(raw["memory_gb"]),
        max_per_gpu=int(raw["max_per_gpu"]),
        resource_name=str(raw["resource_name"]),
        memory_slices=int(raw["memory_slices"]),
        placement_starts=tuple(int(s) for s in raw["placement_starts"]),
        usable_gib_observed=None if raw.get("usable_gib_observed") is None else float(raw["usable_gib_observed"]),
    )


def _gpu_model(key: str, raw: Mapping[str, Any]) -> GpuModel:
    layouts = {
        str(name): MappingProxyType({str(p): int(n) for p, n in sorted(counts.items())})
        for name, counts in sorted(raw.get("mig_layouts", {}).items())
    }
    return GpuModel(
        key=key,
        product=str(raw["product"]),
        architecture=str(raw["architecture"]),
        compute_capability=str(raw["compute_capability"]),
        memory_gb=int(raw["memory_gb"]),
        mig_supported=bool(raw["mig_supported"]),
        mig_profiles=tuple(_mig_profile(p) for p in raw.get("mig_profiles", [])),
        mig_layouts=MappingProxyType(layouts),
        compute_slices_total=int(raw.get("compute_slices_total", 0)),
        memory_slices_total=int(raw.get("memory_slices_total", 0)),
        sources=tuple(str(s) for s in raw.get("sources", [])),
    )


def _instance(cloud: Cloud, name: str, raw: Mapping[str, Any], gpus: Mapping[str, GpuModel]) -> InstanceType:
    gpu_key = raw.get("gpu_model")
    gpu = gpus.get(str(gpu_key)) if gpu_key is not None else None
    alloc: Mapping[str, Any] = raw.get("allocatable") or {}
    price = reference_on_demand(cloud, name)
    # An instance may only run MIG if its GPU can and the cloud does not forbid it (ACK: VMs can't).
    mig_allowed = bool(raw.get("mig_allowed", gpu.mig_supported if gpu is not None else False))
    arch = str(raw["arch"])
    if arch not in ("x86_64", "arm64"):
        raise ValueError(f"catalog.yaml {cloud} {name}: arch {arch!r} is not x86_64 or arm64")
    return InstanceType(
        name=name,
        cloud=cloud,
        vcpu=int(raw["vcpu"]),
        memory_gib=float(raw["memory_gib"]),
        arch=cast(Arch, arch),
        gpu_model=None if gpu_key is None else str(gpu_key),
        gpu_count=int(raw["gpu_count"]),
        efa=bool(raw["efa"]),
        price_usd_per_hour=None if price is None else price[0],
        price_source=None if price is None else price[1],
        spec_source=str(raw["spec_source"]),
        allocatable_cpu=None if "cpu" not in alloc else float(alloc["cpu"]),
        allocatable_memory_gib=None if "memory_gib" not in alloc else float(alloc["memory_gib"]),
        max_pods=None if "pods" not in alloc else int(alloc["pods"]),
        mig_allowed=mig_allowed,
        note=raw.get("price_note"),
        efa_interfaces=int(raw.get("efa_interfaces", 1 if raw["efa"] else 0)),
        efa_only_secondary=bool(raw.get("efa_only_secondary", False)),
    )


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    """Parse and cross-check a catalog file; raises ValueError naming every inconsistency at once."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text())
    gpus = {k: _gpu_model(k, v) for k, v in sorted(raw["gpu_models"].items())}
    sections: dict[Cloud, str] = {"aws": "aws_instance_types", "alicloud": "alicloud_instance_types"}
    instances: dict[Cloud, Mapping[str, InstanceType]] = {
        cloud: MappingProxyType({n: _instance(cloud, n, v, gpus) for n, v in sorted(raw[sec].items())})
        for cloud, sec in sections.items()
    }
    amis = {
        n: AmiType(
            name=n,
            arch=cast(Arch, v["arch"]),
            gpu=bool(v["gpu"]),
            neuron=bool(v.get("neuron", False)),
            legacy=bool(v.get("legacy", False)),
        )
        for n, v in sorted(raw["eks_ami_types"].items())
    }
    cat = Catalog(
        gpus=MappingProxyType(gpus),
        instances=MappingProxyType(instances),
        ami_types=MappingProxyType(amis),
        sources=MappingProxyType(dict(raw["sources"])),
    )
    errors = consistency_errors(cat) + [
        f"{cloud} {name}: {key} belongs in the price book (components/cost/prices.yaml), not the catalog"
        for cloud, sec in sections.items()
        for name, v in sorted(raw[sec].items())
        for key in ("price_usd_per_hour", "price_source")
        if key in v
    ]
    if errors:
        raise ValueError(f"{path.name} is inconsistent:\n  " + "\n  ".join(errors))
    return cat


def consistency_errors(cat: Catalog) -> list[str]:
    """Every way the data contradicts itself; the loader refuses to start on any of them."""
    errs: list[str] = []
    for g in cat.gpus.values():
        for s in g.sources:
            if s not in cat.sources:
                errs.append(f"gpu {g.key}: source {s!r} is not in sources")
        if g.mig_supported and not g.mig_layouts:
            errs.append(f"gpu {g.key}: MIG-capable but has no layouts")
        if not g.mig_supported and (g.mig_profiles or g.mig_layouts):
            errs.append(f"gpu {g.key}: MIG profiles/layouts on a GPU without MIG")
        for p in g.mig_profiles:
            if p.resource_name != "nvidia.com/mig-" + p.name.replace("+", "."):
                errs.append(
                    f"gpu {g.key} profile {p.name}: resource name {p.resource_name!r} is not the device plugin's"
                )
        for name, counts in g.mig_layouts.items():
            errs.extend(f"gpu {g.key} layout {name}: {e}" for e in layout_problems(g, counts))
    for cloud, items in cat.instances.items():
        for it in items.values():
            where = f"{cloud} {it.name}"
            if it.gpu_model is not None and it.gpu_model not in cat.gpus:
                errs.append(f"{where}: gpu_model {it.gpu_model!r} is not in gpu_models")
            if (it.gpu_model is None) != (it.gpu_count == 0):
                errs.append(f"{where}: gpu_model and gpu_count disagree")
            if it.spec_source not in cat.sources:
                errs.append(f"{where}: source {it.spec_source!r} is not in sources")
            if it.efa_interfaces != 0 and not it.efa or it.efa and it.efa_interfaces < 1:
                errs.append(f"{where}: efa_interfaces {it.efa_interfaces} disagrees with efa {it.efa}")
            gpu = cat.gpus.get(it.gpu_model or "")
            if it.mig_allowed and not (gpu is not None and gpu.mig_supported):
                errs.append(f"{where}: mig_allowed on a GPU without MIG")
    return errs


@functools.cache
def catalog() -> Catalog:
    """The project catalog, parsed and checked once per process."""
    return load_catalog()


@dataclass(frozen=True, slots=True)
class ColdStartFacts:
    """The catalog's `cold_start` section: node boot, pull and fetch throughputs, per-instance network and
    local NVMe (components/models/cold_start.py)."""

    boot_seconds: int
    image_pull_mibps: float
    fetch_mibps: Mapping[str, float]
    """Per artifact URI scheme: one sequential stream."""
    network_gbps: Mapping[tuple[str, str], float]
    """(cloud, instance type) -> baseline network bandwidth."""
    instance_store_gib: Mapping[tuple[str, str], int]
    sources: Mapping[str, str]


@functools.cache
def cold_start_facts(path: Path = CATALOG_PATH) -> ColdStartFacts:
    """The `cold_start` section, every figure checked to name a source and every instance to be listed."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text())["cold_start"]
    sources = dict(raw["sources"])
    d = raw["defaults"]
    errors = [
        f"cold_start.defaults.{k}: source {d[k]!r} is not in cold_start.sources"
        for k in ("boot_source", "pull_source", "fetch_source")
        if d[k] not in sources
    ]
    cat = catalog()
    network: dict[tuple[str, str], float] = {}
    nvme: dict[tuple[str, str], int] = {}
    for cloud, items in sorted(raw["instances"].items()):
        for name, f in sorted(items.items()):
            if cat.instance(cast(Cloud, cloud), name) is None:
                errors.append(f"cold_start.instances.{cloud}.{name}: not an instance type of the catalog")
            if f.get("source") not in sources:
                errors.append(
                    f"cold_start.instances.{cloud}.{name}: source {f.get('source')!r} is not in cold_start.sources"
                )
            network[(cloud, name)] = float(f["network_gbps"])
            nvme[(cloud, name)] = int(f["instance_store_gib"])
    if errors:
        raise ValueError(f"{path.name}: " + "; ".join(errors))
    return ColdStartFacts(
        boot_seconds=int(d["boot_seconds"]),
        image_pull_mibps=float(d["image_pull_mibps"]),
        fetch_mibps=MappingProxyType({str(k): float(v) for k, v in d["fetch_mibps"].items()}),
        network_gbps=MappingProxyType(network),
        instance_store_gib=MappingProxyType(nvme),
        sources=MappingProxyType(sources),
    )
