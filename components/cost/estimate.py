"""The monthly cost of a plan: every priced thing the plan asks for, read from its resources' inputs and priced
from the price book in the stack's own region (docs/cost.md#estimate).

Pure Python over plan.json (the offline plan, tools/offline) so the report, the PR comment and the policy
pack price the same thing the same way. Two figures per line:

- **floor**: what runs when nothing scales up (pools at minSize, every add-on);
- **peak**: every pool at maxSize (what the autoscaler may reach), the most the stack can cost.

A line whose price the book does not have is `Unpriced` and makes the totals unknown (never smaller).
Model versions get a derived figure, not added to the totals (their pods run on the pools' nodes): their
share of the cheapest eligible pool's node price, monthly at min and max replicas and per 1M requests
at the target requests per second of one replica.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from components.cost.price_book import (
    CAPACITY_ALIASES,
    HOURS_PER_MONTH,
    Lookup,
    PriceBook,
    Priced,
    ServiceItem,
    Unpriced,
    load_price_book,
)
from components.gpu.catalog import catalog

Group: TypeAlias = Literal["pool", "add-on"]
POOL_LABEL = "gpu-platform.io/pool"  # components/scheduling.py labels every pool's nodes with it
CAPACITY_BLOCK_PRICE_TAG = "gpu-platform/capacity-block-usd-per-hour"
"""Launch-template tag with the price paid for the pool's Capacity Block per hour, every instance together
(stacks/spec/pools.py ReservationSpec upfrontFee / durationHours; components/aws/node_pool.py sets it)."""
PAID_SOURCE = "price paid (nodePools[].reservation.upfrontFee / durationHours)"
"""The source of a Capacity Block's price: the purchase, stated in the stack file, not the price book. It
does not age, so it is left out of the book's staleness (CostEstimate.oldest_source)."""
SLICES_PER_GPU = 7  # MIG compute slices of an A100/H100-class GPU (components/gpu/capacity.py)
_QTY = re.compile(r"^([0-9.]+)(Ki|Mi|Gi|Ti)?$")
_GIB = {"Ki": 1 / 1024**2, "Mi": 1 / 1024, "Gi": 1.0, "Ti": 1024.0, None: 1 / 1024**3}


@dataclass(frozen=True)
class Usage:
    """Per-GB usage the plan cannot know (stacks/spec/budget.py UsageSpec)."""

    nat_data_gb_per_month: float = 0.0
    log_ingest_gb_per_month: float = 0.0
    registry_storage_gb: float = 0.0


@dataclass(frozen=True)
class Line:
    group: Group
    name: str  # the pool, or what the add-on is ("NAT gateways")
    item: str  # what is priced: "g5.2xlarge on-demand", "nat_gateway_hour"
    unit: str  # "node-hour", "hour", "GB-month", "GB", "key-month"
    floor_units: float  # per month
    peak_units: float
    price: Lookup

    @property
    def floor(self) -> float | None:
        return None if isinstance(self.price, Unpriced) else self.floor_units * self.price.hourly

    @property
    def peak(self) -> float | None:
        return None if isinstance(self.price, Unpriced) else self.peak_units * self.price.hourly


@dataclass(frozen=True)
class ModelCost:
    version: str  # <model>/<version>
    pool: str | None  # cheapest eligible pool, None when no pool is eligible or priced
    per_replica_hour: float | None
    min_replicas: int
    max_replicas: int
    target_rps: float | None  # per replica (the KEDA threshold)

    @property
    def floor(self) -> float | None:
        return None if self.per_replica_hour is None else self.per_replica_hour * self.min_replicas * HOURS_PER_MONTH

    @property
    def peak(self) -> float | None:
        return None if self.per_replica_hour is None else self.per_replica_hour * self.max_replicas * HOURS_PER_MONTH

    @property
    def per_million_requests(self) -> float | None:
        if self.per_replica_hour is None or not self.target_rps:
            return None
        return self.per_replica_hour / (self.target_rps * 3600) * 1_000_000


@dataclass(frozen=True)
class CostEstimate:
    stack: str
    cloud: str | None
    region: str | None
    currency: str
    lines: tuple[Line, ...] = ()
    models: tuple[ModelCost, ...] = ()

    def _total(self, attr: str) -> float | None:
        values = [getattr(line, attr) for line in self.lines]
        return None if any(v is None for v in values) else round(sum(values), 2)

    @property
    def floor(self) -> float | None:
        return self._total("floor")

    @property
    def peak(self) -> float | None:
        return self._total("peak")

    @property
    def known_peak(self) -> float:
        return round(sum(line.peak or 0.0 for line in self.lines), 2)

    @property
    def unpriced(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if isinstance(line.price, Unpriced))

    @property
    def unrecorded(self) -> tuple[Line, ...]:
        """Unpriced lines the book has no entry or gap for: an error for prod stacks (tools/plan.py)."""
        return tuple(line for line in self.unpriced if isinstance(line.price, Unpriced) and not line.price.recorded)

    @property
    def oldest_source(self) -> dt.date | None:
        dates = [
            line.price.source_date
            for line in self.lines
            if isinstance(line.price, Priced) and line.price.source != PAID_SOURCE
        ]
        return min(dates) if dates else None

    def to_json(self) -> dict[str, Any]:
        def price(p: Lookup) -> dict[str, Any]:
            if isinstance(p, Unpriced):
                return {"unpriced": p.reason, "recorded": p.recorded}
            if p.source == PAID_SOURCE:  # no book date: the purchase's own figure
                return {"price": p.hourly, "source": p.source, "confidence": p.confidence}
            out: dict[str, Any] = {"price": p.hourly, "source": p.source, "sourceDate": p.source_date.isoformat()}
            out |= {"confidence": p.confidence}
            if p.low is not None:
                out["low"] = p.low
            return out

        return {
            "stack": self.stack,
            "cloud": self.cloud,
            "region": self.region,
            "currency": self.currency,
            "monthlyFloor": self.floor,
            "monthlyPeak": self.peak,
            "monthlyPeakKnown": self.known_peak,
            "oldestSource": None if self.oldest_source is None else self.oldest_source.isoformat(),
            "lines": [
                {
                    "group": x.group,
                    "name": x.name,
                    "item": x.item,
                    "unit": x.unit,
                    "floorUnits": round(x.floor_units, 4),
                    "peakUnits": round(x.peak_units, 4),
                    "monthlyFloor": None if x.floor is None else round(x.floor, 2),
                    "monthlyPeak": None if x.peak is None else round(x.peak, 2),
                }
                | price(x.price)
                for x in self.lines
            ],
            "models": [
                {
                    "version": m.version,
                    "pool": m.pool,
                    "monthlyFloor": None if m.floor is None else round(m.floor, 2),
                    "monthlyPeak": None if m.peak is None else round(m.peak, 2),
                    "perMillionRequests": None if m.per_million_requests is None else round(m.per_million_requests, 4),
                    "targetRps": m.target_rps,
                }
                for m in self.models
            ],
        }


# -- reading the plan ---------------------------------------------------------------------------------------


def _custom(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in plan.get("resources", []) if r.get("custom")]


def _of(plan: Mapping[str, Any], *types: str) -> list[Mapping[str, Any]]:
    return [r for r in _custom(plan) if r["type"] in types]


def cloud_and_region(plan: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The stack's cloud and region, from its cloud provider resource (stacks/cluster/*.py makes one)."""
    for cloud in ("aws", "alicloud"):
        for r in _of(plan, f"pulumi:providers:{cloud}"):
            region = _get(r["inputs"], "region")
            if isinstance(region, str) and not region.startswith("<"):  # not "<computed>"
                return cloud, region
    return None, None


def _get(node: Any, *path: str) -> Any:
    """node[path...] or None: an input the engine only knows after apply is the string "<computed>", so a
    plan can hold a string where a mapping is expected."""
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _dict(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _list(node: Any) -> list[Any]:
    return node if isinstance(node, list) else []


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return 0.0  # "<computed>" or absent: nothing the plan can price


def _first(types: Any) -> str:
    return str(types[0]) if isinstance(types, list) and types else "?"


def _gib(q: Any) -> float:
    m = _QTY.match(str(q))
    return 0.0 if m is None else float(m[1]) * _GIB[m[2]]


def _labels(inputs: Mapping[str, Any]) -> dict[str, str]:
    raw = inputs.get("labels")
    if isinstance(raw, list):  # ACK node pools: [{key, value}]
        return {str(x.get("key")): str(x.get("value")) for x in raw if isinstance(x, dict)}
    return {str(k): str(v) for k, v in _dict(raw).items()}


@dataclass(frozen=True)
class _Pool:
    name: str
    instance_type: str
    capacity: str
    min_nodes: int
    max_nodes: int
    disk_gib: float  # per node: root + data volumes
    labels: Mapping[str, str]
    block_usd_per_hour: float | None = None  # a Capacity Block's price paid per hour (CAPACITY_BLOCK_PRICE_TAG)


def _aws_pools(plan: Mapping[str, Any]) -> Iterator[_Pool]:
    templates = {r["parent"]: _dict(r["inputs"]) for r in _of(plan, "aws:ec2/launchTemplate:LaunchTemplate")}
    for r in _of(plan, "aws:eks/nodeGroup:NodeGroup"):
        i = _dict(r["inputs"])
        lt = templates.get(r["parent"], {})
        disk = sum(_num(_get(m, "ebs", "volumeSize")) for m in _list(lt.get("blockDeviceMappings")))
        market = _get(lt, "instanceMarketOptions", "marketType")
        capacity = "capacity-block" if market == "capacity-block" else str(i.get("capacityType") or "ON_DEMAND")
        labels = _labels(i)
        paid = _get(lt, "tags", CAPACITY_BLOCK_PRICE_TAG)
        yield _Pool(
            block_usd_per_hour=_num(paid) or None if capacity == "capacity-block" else None,
            name=labels.get(POOL_LABEL) or str(r["name"]),
            # A Capacity Block node group names its one instance type on the launch template instead
            # (components/aws/node_pool.py).
            instance_type=_first(i.get("instanceTypes") or [lt.get("instanceType") or "?"]),
            capacity=capacity,
            min_nodes=int(_num(_get(i, "scalingConfig", "minSize"))),
            max_nodes=int(_num(_get(i, "scalingConfig", "maxSize"))),
            disk_gib=disk,
            labels=labels,
        )


def _karpenter_pools(plan: Mapping[str, Any], book: PriceBook, region: str) -> Iterator[_Pool]:
    """Karpenter NodePools: no minimum; at peak the NodePool's limits filled with whichever of its instance
    types costs the most that way (the most Karpenter could launch within them)."""
    for r in _of(plan, "kubernetes:karpenter.sh/v1:NodePool"):
        spec = _dict(_get(r["inputs"], "spec"))
        template = _dict(spec.get("template"))
        req = {x.get("key"): _list(x.get("values")) for x in _list(_get(template, "spec", "requirements")) if x}
        types = [str(t) for t in req.get("node.kubernetes.io/instance-type", [])]
        # `reserved` is an On-Demand Capacity Reservation the NodePool selects (components/aws/karpenter_objects.py):
        # billed at the on-demand rate, like an on-demand node. Only a spot-only NodePool is priced as spot.
        kinds = req.get("karpenter.sh/capacity-type", ["on-demand"])
        capacity = "spot" if set(kinds) == {"spot"} else "on-demand"
        limits = {k: (_gib(v) if k == "memory" else _num(v)) for k, v in _dict(spec.get("limits")).items()}
        best: tuple[float, int, str] | None = None
        for t in types:
            inst = catalog().instance("aws", t)
            if inst is None:
                continue
            per_node = {"cpu": float(inst.vcpu), "memory": inst.memory_gib, "nvidia.com/gpu": float(inst.gpu_count)}
            fits = [int(limits[k] // v) for k, v in per_node.items() if k in limits and v > 0]
            nodes = min(fits) if fits else 0
            price = book.instance("aws", region, t, capacity)
            cost = nodes * (price.hourly if isinstance(price, Priced) else 0.0)
            if best is None or (cost, nodes) > best[:2]:
                best = (cost, nodes, t)
        labels = {str(k): str(v) for k, v in _dict(_get(template, "metadata", "labels")).items()}
        yield _Pool(
            name=labels.get(POOL_LABEL) or str(r["name"]),
            instance_type=best[2] if best else (types[0] if types else "?"),
            capacity=capacity,
            min_nodes=0,
            max_nodes=best[1] if best else 0,
            disk_gib=0.0,
            labels=labels,
        )


def _alicloud_pools(plan: Mapping[str, Any]) -> Iterator[_Pool]:
    for r in _of(plan, "alicloud:cs/nodePool:NodePool"):
        i = _dict(r["inputs"])
        disks = _num(i.get("systemDiskSize")) + sum(_num(_get(d, "size")) for d in _list(i.get("dataDisks")))
        labels = _labels(i)
        yield _Pool(
            name=str(i.get("nodePoolName") or labels.get(POOL_LABEL, r["name"])),
            instance_type=_first(i.get("instanceTypes")),
            capacity="on-demand" if i.get("spotStrategy", "NoSpot") == "NoSpot" else "spot",
            min_nodes=int(_num(_get(i, "scalingConfig", "minSize"))),
            max_nodes=int(_num(_get(i, "scalingConfig", "maxSize"))),
            disk_gib=disks,
            labels=labels,
        )


def _load_balancers(plan: Mapping[str, Any]) -> int:
    """Services of type LoadBalancer, ours and in Helm values (the gateway's `service.type`)."""
    n = 0
    for r in _custom(plan):
        if r["type"] == "kubernetes:core/v1:Service":
            n += _get(r["inputs"], "spec", "type") == "LoadBalancer"
        elif r["type"] == "kubernetes:helm.sh/v3:Release":
            n += _get(r["inputs"], "values", "service", "type") == "LoadBalancer"
    return n


def _claims(node: Any, copies: float = 1.0) -> Iterator[float]:
    """GiB requested by volume claim templates anywhere in a values tree or custom resource, times the
    replicas or count next to them (ECK nodeSets, StatefulSet-like values)."""
    if isinstance(node, dict):
        here = copies
        for key in ("count", "replicas"):
            if isinstance(node.get(key), int):
                here = copies * node[key]
        for key, value in node.items():
            if key in ("volumeClaimTemplate", "volumeClaimTemplates"):
                for tpl in value if isinstance(value, list) else [value]:
                    storage = _get(tpl, "spec", "resources", "requests", "storage")
                    if storage is not None:
                        yield _gib(storage) * here
            else:
                yield from _claims(value, here)
    elif isinstance(node, list):
        for x in node:
            yield from _claims(x, copies)


def _volumes_gib(plan: Mapping[str, Any]) -> float:
    total = 0.0
    for r in _custom(plan):
        if r["type"] == "kubernetes:helm.sh/v3:Release":
            total += sum(_claims(_get(r["inputs"], "values")))
        elif r["type"].startswith("kubernetes:") and "elastic.co" in r["type"]:
            total += sum(_claims(_get(r["inputs"], "spec")))
    return total


def _retention_months(plan: Mapping[str, Any]) -> float:
    days = [_num(_get(r["inputs"], "retentionInDays")) for r in _of(plan, "aws:cloudwatch/logGroup:LogGroup")]
    return max(days, default=0.0) / 30.0


# -- pricing ------------------------------------------------------------------------------------------------


def _pool_lines(book: PriceBook, cloud: str, region: str, pools: list[_Pool]) -> Iterator[Line]:
    for p in pools:
        kind = CAPACITY_ALIASES.get(p.capacity, p.capacity)
        if p.block_usd_per_hour is not None:
            yield _paid_block_line(book, cloud, p)
        else:
            yield _node_line(book, cloud, region, p, kind)
        if p.disk_gib:
            yield Line(
                "pool",
                p.name,
                f"node volumes {p.disk_gib:g} GiB/node",
                "GB-month",
                p.min_nodes * p.disk_gib,
                p.max_nodes * p.disk_gib,
                book.service(cloud, region, "block_storage_gb_month"),
            )


def _paid_block_line(book: PriceBook, cloud: str, p: _Pool) -> Line:
    """A Capacity Block is paid upfront for all its instances and hours, whether its nodes run or not: floor
    and peak are both every hour of the month at the price paid per hour (docs/cost.md#capacity-blocks)."""
    assert p.block_usd_per_hour is not None
    price = Priced(
        hourly=p.block_usd_per_hour,
        currency=book.currency(cloud),
        source=PAID_SOURCE,
        source_date=book.date,  # required by Priced; not shown and not counted as the book's age
        confidence="published",  # AWS states the fee in the offering that was bought
        basis="upfront fee / duration, every instance of the block",
    )
    return Line(
        "pool",
        p.name,
        f"{p.instance_type} capacity-block (paid)",
        "block-hour",
        HOURS_PER_MONTH,
        HOURS_PER_MONTH,
        price,
    )


def _node_line(book: PriceBook, cloud: str, region: str, p: _Pool, kind: str) -> Line:
    price = book.instance(cloud, region, p.instance_type, p.capacity)
    return Line(
        "pool",
        p.name,
        f"{p.instance_type} {kind}",
        "node-hour",
        p.min_nodes * HOURS_PER_MONTH,
        p.max_nodes * HOURS_PER_MONTH,
        price,
    )


def _addon_lines(book: PriceBook, cloud: str, region: str, plan: Mapping[str, Any], usage: Usage) -> Iterator[Line]:
    def line(name: str, item: ServiceItem, unit: str, units: float) -> Line:
        return Line("add-on", name, item, unit, units, units, book.service(cloud, region, item))

    clusters = _of(plan, "aws:eks/cluster:Cluster", "alicloud:cs/managedKubernetes:ManagedKubernetes")
    if clusters:
        yield line("control plane", "control_plane_hour", "hour", len(clusters) * HOURS_PER_MONTH)
    nats = _of(plan, "aws:ec2/natGateway:NatGateway", "alicloud:vpc/natGateway:NatGateway")
    if nats:
        yield line(f"NAT gateways ×{len(nats)}", "nat_gateway_hour", "hour", len(nats) * HOURS_PER_MONTH)
        yield line("NAT data (budget.usage)", "nat_gateway_gb", "GB", usage.nat_data_gb_per_month)
    eips = _of(plan, "aws:ec2/eip:Eip", "alicloud:ecs/eipAddress:EipAddress")
    if eips:
        yield line(f"public IPv4 ×{len(eips)}", "public_ipv4_hour", "hour", len(eips) * HOURS_PER_MONTH)
    if lbs := _load_balancers(plan):
        yield line(f"load balancers ×{lbs}", "load_balancer_hour", "hour", lbs * HOURS_PER_MONTH)
    if gib := _volumes_gib(plan):
        yield line("add-on volumes", "block_storage_gb_month", "GB-month", gib)
    keys = _of(plan, "aws:kms/key:Key", "alicloud:kms/key:Key")
    if keys:
        yield line(f"KMS keys ×{len(keys)}", "kms_key_month", "key-month", float(len(keys)))
    if _of(plan, "aws:cloudwatch/logGroup:LogGroup"):
        ingest = usage.log_ingest_gb_per_month
        yield line("log ingestion (budget.usage)", "log_ingest_gb", "GB", ingest)
        yield line("log storage over retention", "log_storage_gb_month", "GB-month", ingest * _retention_months(plan))
    if _of(plan, "aws:ecr/repository:Repository"):
        yield line(
            "registry storage (budget.usage)", "registry_storage_gb_month", "GB-month", usage.registry_storage_gb
        )
    registries = _of(plan, "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance")
    if registries:
        yield line(f"registry instance ×{len(registries)}", "registry_instance_month", "month", float(len(registries)))


def _gpu_share(resource: str, qty: float, pool_cap: Mapping[str, Any]) -> float | None:
    """The fraction of one node a pod's GPU request takes: whole/time-sliced GPUs by the node's count of
    that resource, MIG slices by compute slices of the node's GPUs (components/models/capacity_check.py)."""
    per_node = _num(_get(pool_cap, "gpuResourcesPerNode", resource))
    if not per_node:
        return None
    if resource.startswith("nvidia.com/mig-"):
        gpu = catalog().gpus.get(str(pool_cap.get("gpuModel")))
        name = resource.removeprefix("nvidia.com/mig-").replace(".me", "+me")
        prof = gpu.profile(name) if gpu is not None else None
        gpus = _num(pool_cap.get("gpusPerNode"))
        if prof is not None and gpus:
            return qty * prof.compute_slices / (gpus * SLICES_PER_GPU)
    return qty / per_node


def _models(plan: Mapping[str, Any], lines: list[Line], pools: list[_Pool]) -> Iterator[ModelCost]:
    node_price = {x.name: x.price.hourly for x in lines if x.unit == "node-hour" and isinstance(x.price, Priced)}
    capacity = _dict(_get(dict(plan), "outputs", "capacity", "pools"))
    scalers = {
        (_get(r["inputs"], "metadata", "namespace"), _get(r["inputs"], "spec", "scaleTargetRef", "name")): _dict(
            _get(r["inputs"], "spec")
        )
        for r in _of(plan, "kubernetes:keda.sh/v1alpha1:ScaledObject")
    }
    for r in _of(plan, "kubernetes:apps/v1:Deployment"):
        meta = _dict(_get(r["inputs"], "metadata"))
        model = _get(meta, "annotations", "gpu-platform.io/model")
        if model is None:
            continue
        pod = _dict(_get(r["inputs"], "spec", "template", "spec"))
        containers = _list(pod.get("containers"))
        requests = _dict(_get(containers[0] if containers else {}, "resources", "requests"))
        gpu = [(k, _num(v)) for k, v in requests.items() if k.startswith(("nvidia.com/", "aliyun.com/gpu"))]
        selector = _dict(pod.get("nodeSelector"))
        best: tuple[float, str] | None = None
        for p in pools:
            if p.name not in node_price or any(p.labels.get(k) != v for k, v in selector.items()):
                continue
            shares = [_gpu_share(res, q, _dict(capacity.get(p.name))) for res, q in gpu]
            if not gpu or any(s is None for s in shares):
                continue
            cost = node_price[p.name] * sum(s or 0.0 for s in shares)
            if best is None or (cost, p.name) < best:
                best = (cost, p.name)
        scaler = scalers.get((meta.get("namespace"), meta.get("name")))
        replicas = int(_num(_get(r["inputs"], "spec", "replicas")) or 1)
        lo, hi, rps = replicas, replicas, None
        if scaler is not None:
            lo, hi = int(_num(scaler.get("minReplicaCount"))), int(_num(scaler.get("maxReplicaCount")))
            for t in _list(scaler.get("triggers")):
                if _get(t, "name") == "rps":
                    rps = _num(_get(t, "metadata", "threshold")) or None
        version = _get(meta, "labels", "version") or meta.get("name")
        yield ModelCost(
            version=f"{model}/{version}",
            pool=None if best is None else best[1],
            per_replica_hour=None if best is None else best[0],
            min_replicas=lo,
            max_replicas=hi,
            target_rps=rps,
        )


def estimate(plan: Mapping[str, Any], usage: Usage = Usage(), book: PriceBook | None = None) -> CostEstimate:
    """Price one offline plan (plan.json as a dict) in its own cloud and region."""
    book = book or load_price_book()
    cloud, region = cloud_and_region(plan)
    stack = str(plan.get("stack", ""))
    if cloud is None or region is None:
        return CostEstimate(stack, None, None, "USD")
    # Each reader matches its own cloud's resource types, so a plan yields only its cloud's pools.
    pools = [*_aws_pools(plan), *_karpenter_pools(plan, book, region), *_alicloud_pools(plan)]
    lines = [*_pool_lines(book, cloud, region, pools), *_addon_lines(book, cloud, region, plan, usage)]
    return CostEstimate(
        stack=stack,
        cloud=cloud,
        region=region,
        currency=book.currency(cloud),
        lines=tuple(lines),
        models=tuple(_models(plan, lines, pools)),
    )
