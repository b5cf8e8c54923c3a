"""Capacity and cost planner: does every demand fit the node pools at their max sizes, and what does it cost?

Pure Python so the offline plan and `pulumi preview` can both refuse a release that cannot schedule
before anything deploys (docs/design.md#capacity-check, on the pool facts of docs/design.md#gpu-scheduling).
It models what the Kubernetes scheduler and the cluster autoscaler would do with the pools' declared facts,
not live cluster state:

- a pod may use a pool if the pool's labels satisfy its nodeSelector, it tolerates every NoSchedule /
  NoExecute taint, and one node's allocatable covers every request (`eligible`);
- replicas are packed first-fit-decreasing (largest pods first) into open nodes, then new nodes are
  opened in the pool with the lowest price per replica, up to `max_nodes`; demands are interleaved a
  quarter node at a time so CPU-heavy and memory-heavy pods share nodes (1.29 -> 1.07 x the lower
  bound on the mixed benchmark, benchmarks/bench_capacity.py);
- whatever is left over is packed into hypothetical extra nodes to turn "does not fit" into a concrete
  fix ("raise nodePools[gpu-a10g].maxSize from 2 to 3").

    >>> gpu = PoolCapacity("gpu", {"cpu": 4, "memory": 16, "nvidia.com/gpu": 1}, max_nodes=2)
    >>> plan([gpu], [Demand("m", "chat", 3, {"nvidia.com/gpu": 1})]).demands[0].fixes
    ('raise nodePools[gpu].maxSize from 2 to 3',)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from components.gpu.catalog import InstanceType
from components.scheduling import Taint, Toleration

SLICES_PER_GPU = 7  # MIG compute slices of an A100/H100-class GPU; a whole GPU counts as all 7
GPU_RESOURCE_PREFIXES = ("nvidia.com/", "aliyun.com/gpu")
_ROUNDS_PER_NODE = 4  # interleaving granularity, see plan(): a quarter node per demand per round
_EPS = 1e-9  # requests are floats (0.5 cpu); keep 3 x 0.1 from "overflowing" 0.3
_UNITS = {"nvidia.com/gpu": ("GPU", "GPUs"), "cpu": ("CPU", "CPUs"), "memory": ("GiB memory", "GiB memory")}


def is_gpu_resource(resource: str) -> bool:
    return resource.startswith(GPU_RESOURCE_PREFIXES)


@dataclass(frozen=True)
class PoolCapacity:
    name: str  # the nodePools[...] key used in fixes
    allocatable: Mapping[
        str, float
    ]  # per node, after DaemonSet reservations: cpu cores, memory GiB, pods, GPU resources
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    min_nodes: int = 0  # nodes that exist (and are paid for) even when idle
    max_nodes: int = 1
    price_usd_per_node_hour: float | None = None  # None: cost reported as unknown
    gpu_slices_per_node: int = 0  # physical GPUs x 7; 0 for CPU pools. Turns nodes into GPU-hours.
    note: str = ""  # how the pool's nodes come (Karpenter limits, a reservation); shown in the report

    def __post_init__(self) -> None:
        if not 0 <= self.min_nodes <= self.max_nodes:
            raise ValueError(
                f"pool {self.name}: need 0 <= min_nodes ({self.min_nodes}) <= max_nodes ({self.max_nodes})"
            )
        if any(v < 0 for v in self.allocatable.values()):
            raise ValueError(f"pool {self.name}: allocatable must not be negative")


@dataclass(frozen=True)
class Demand:
    name: str
    group: str  # what the demand belongs to (a model release, "platform"); shown in the report
    replicas: int
    requests: Mapping[str, float]  # per pod: cpu cores, memory GiB, GPU resources
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()

    def __post_init__(self) -> None:
        if self.replicas < 0 or any(v < 0 for v in self.requests.values()):
            raise ValueError(f"demand {self.name}: replicas and requests must not be negative")


@dataclass(frozen=True)
class DemandFit:
    name: str
    group: str
    replicas: int
    placed: int
    placements: Mapping[str, int]  # pool -> replicas placed there
    problems: tuple[str, ...]
    fixes: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return self.placed == self.replicas


@dataclass(frozen=True)
class PoolUsage:
    name: str
    min_nodes: int
    max_nodes: int
    nodes_used: int  # at peak: every demand replica placed, never below min_nodes
    allocatable: Mapping[str, float]  # per node
    requested: Mapping[str, float]  # summed over placed replicas
    node_loads: tuple[Mapping[str, float], ...]  # what each used node carries
    price_usd_per_node_hour: float | None
    gpu_slices_per_node: int
    note: str = ""

    def utilisation(self, resource: str) -> float:
        capacity = self.nodes_used * self.allocatable.get(resource, 0.0)
        return self.requested.get(resource, 0.0) / capacity if capacity else 0.0

    @property
    def gpu_resources(self) -> list[str]:
        return sorted(r for r in self.allocatable if is_gpu_resource(r))

    @property
    def usd_per_hour_at_min(self) -> float | None:
        return None if self.price_usd_per_node_hour is None else self.min_nodes * self.price_usd_per_node_hour

    @property
    def usd_per_hour_at_peak(self) -> float | None:
        return None if self.price_usd_per_node_hour is None else self.nodes_used * self.price_usd_per_node_hour

    @property
    def gpus_at_peak(self) -> float:
        return self.nodes_used * self.gpu_slices_per_node / SLICES_PER_GPU


@dataclass(frozen=True)
class CapacityPlan:
    pools: tuple[PoolUsage, ...]
    demands: tuple[DemandFit, ...]

    @property
    def fits(self) -> bool:
        return all(d.fits for d in self.demands)

    def _total(self, costs: Iterable[tuple[int, float | None]]) -> float | None:
        total = 0.0
        for nodes, cost in costs:
            if nodes and cost is None:
                return None  # one unpriced pool with nodes makes the total unknown, not smaller
            total += cost or 0.0
        return total

    @property
    def usd_per_hour_at_min(self) -> float | None:
        return self._total((p.min_nodes, p.usd_per_hour_at_min) for p in self.pools)

    @property
    def usd_per_hour_at_peak(self) -> float | None:
        return self._total((p.nodes_used, p.usd_per_hour_at_peak) for p in self.pools)

    @property
    def unpriced_pools(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pools if p.price_usd_per_node_hour is None and p.nodes_used)


def pool_allocatable(
    instance: InstanceType,
    gpu_resources: Mapping[str, int],
    reserved_cpu: float = 0.0,
    reserved_memory_gib: float = 0.0,
) -> dict[str, float]:
    """Per-node allocatable of a pool: the catalog's kubelet-reserve estimate (or raw vCPU/memory when the
    catalog has none) minus what DaemonSets reserve, plus the GPU resources from `mig.gpu_resources_per_node`."""
    cpu = (instance.allocatable_cpu if instance.allocatable_cpu is not None else float(instance.vcpu)) - reserved_cpu
    mem = (
        instance.allocatable_memory_gib if instance.allocatable_memory_gib is not None else instance.memory_gib
    ) - reserved_memory_gib
    if cpu <= 0 or mem <= 0:
        raise ValueError(
            f"{instance.name}: reservations ({reserved_cpu} cpu, {reserved_memory_gib} GiB) leave nothing allocatable"
        )
    out: dict[str, float] = {"cpu": round(cpu, 3), "memory": round(mem, 3)}
    if instance.max_pods is not None:
        out["pods"] = float(instance.max_pods)
    out.update({k: float(v) for k, v in sorted(gpu_resources.items())})
    return out


def pool_capacity(
    name: str,
    instance: InstanceType,
    gpu_resources: Mapping[str, int],
    *,
    labels: Mapping[str, str] | None = None,
    taints: tuple[Taint, ...] = (),
    min_nodes: int = 0,
    max_nodes: int = 1,
    reserved_cpu: float = 0.0,
    reserved_memory_gib: float = 0.0,
    note: str = "",
) -> PoolCapacity:
    """A PoolCapacity for one catalog instance type, with its price and GPU count filled in."""
    return PoolCapacity(
        name=name,
        allocatable=pool_allocatable(instance, gpu_resources, reserved_cpu, reserved_memory_gib),
        labels=dict(labels or {}),
        taints=taints,
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        price_usd_per_node_hour=instance.price_usd_per_hour,
        gpu_slices_per_node=instance.gpu_count * SLICES_PER_GPU,
        note=note,
    )


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else format(round(x, 3), "f").rstrip("0").rstrip(".")


def _needs(pool: PoolCapacity, demand: Demand) -> dict[str, float]:
    need = {r: q for r, q in demand.requests.items() if q > _EPS}
    if "pods" in pool.allocatable:
        need.setdefault("pods", 1.0)  # every replica takes a pod slot where the pool counts them
    return need


def _scheduling_reasons(pool: PoolCapacity, demand: Demand) -> list[str]:
    reasons: list[str] = []
    for key, want in sorted(demand.node_selector.items()):
        have = pool.labels.get(key)
        if have is None:
            reasons.append(f"nodeSelector {key}={want}: pool has no label {key}")
        elif have != want:
            reasons.append(f"nodeSelector {key}={want}: pool has {key}={have}")
    for taint in pool.taints:
        if taint.effect != "PreferNoSchedule" and not any(t.tolerates(taint) for t in demand.tolerations):
            reasons.append(f"taint {taint} is not tolerated")
    return reasons


def _resource_reasons(pool: PoolCapacity, demand: Demand) -> list[str]:
    reasons: list[str] = []
    for res, qty in sorted(_needs(pool, demand).items()):
        have = pool.allocatable.get(res, 0.0)
        if have <= 0:
            reasons.append(f"no {res} on this pool")
        elif have + _EPS < qty:
            reasons.append(f"requests {res}={_fmt(qty)} per pod, a node has {_fmt(have)}")
    return reasons


def eligible(pool: PoolCapacity, demand: Demand) -> list[str]:
    """Why a replica of `demand` can never run on `pool` ([] when it can, on an empty node)."""
    return _scheduling_reasons(pool, demand) + _resource_reasons(pool, demand)


class _Node:
    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used: dict[str, float] = {}

    def room_for(self, alloc: Mapping[str, float], need: Mapping[str, float], cap: int) -> int:
        room = cap
        for res, qty in need.items():
            fit = (alloc.get(res, 0.0) - self.used.get(res, 0.0) + _EPS) // qty
            if fit < room:  # compare as floats first: a tiny request gives a quotient too big for int()
                room = int(fit)
        return max(room, 0)

    def add(self, need: Mapping[str, float], count: int) -> None:
        for res, qty in need.items():
            self.used[res] = self.used.get(res, 0.0) + qty * count


_Key = frozenset[tuple[str, float]]
_ANY: _Key = frozenset()  # the one list of a pool with many pod shapes: nodes that can take any of them
_SHAPE_LISTS_UP_TO = 32  # pod shapes per pool that get a list each; beyond, one list and a quick full test


@dataclass
class _State:
    pool: PoolCapacity
    nodes: list[_Node]
    overflow: list[_Node] = field(default_factory=lambda: list[_Node]())  # hypothetical nodes beyond max_nodes
    needs: list[Mapping[str, float]] = field(default_factory=lambda: list[Mapping[str, float]]())
    keys: set[_Key] = field(default_factory=lambda: set[_Key]())
    # Per distinct pod shape: the nodes (of `nodes`, of `overflow`) that can still take one such pod, in the
    # order they were opened. A node only fills up, so one dropped from a list never has room for that
    # shape again and first fit over the list places exactly as first fit over every node, without
    # rescanning full nodes: 10k replicas, or 1,000 releases that do not fit, stay near-linear
    # (docs/performance.md#capacity-check-when-models-do-not-fit). With more shapes than
    # _SHAPE_LISTS_UP_TO (releases that differ in a request each) a list per shape costs shapes x nodes,
    # so the pool keeps one list (_ANY) of the nodes that can take some shape, as first fit over every
    # node would see them; `is_full` first tests what every shape needs (`least`).
    room: dict[_Key, list[_Node]] = field(default_factory=lambda: dict[_Key, list[_Node]]())
    overflow_room: dict[_Key, list[_Node]] = field(default_factory=lambda: dict[_Key, list[_Node]]())
    least: dict[str, float] = field(default_factory=lambda: dict[str, float]())

    def register(self, need: Mapping[str, float]) -> None:
        """A pod shape that may land here; every shape is registered before `start`."""
        key = frozenset(need.items())
        if key not in self.keys:
            self.keys.add(key)
            self.needs.append(need)

    def start(self) -> None:
        """Build the lists once every shape is registered."""
        if len(self.needs) > _SHAPE_LISTS_UP_TO:
            common = set.intersection(*(set(n) for n in self.needs))
            self.least = {r: min(n[r] for n in self.needs) for r in sorted(common)}
            self.room = {_ANY: [n for n in self.nodes if not self.is_full(n)]}
            self.overflow_room = {_ANY: [n for n in self.overflow if not self.is_full(n)]}
            return
        alloc = self.pool.allocatable
        for need in self.needs:
            key = frozenset(need.items())
            self.room[key] = [n for n in self.nodes if n.room_for(alloc, need, 1)]
            self.overflow_room[key] = [n for n in self.overflow if n.room_for(alloc, need, 1)]

    def key(self, need: Mapping[str, float]) -> _Key:
        return _ANY if _ANY in self.room else frozenset(need.items())

    def is_full(self, node: _Node) -> bool:
        alloc = self.pool.allocatable
        for res, q in self.least.items():  # below what every shape needs: no shape fits (x // q is 0 for x < q)
            if alloc.get(res, 0.0) - node.used.get(res, 0.0) + _EPS < q:
                return True
        return not any(node.room_for(alloc, need, 1) for need in self.needs)

    def keeps(self, node: _Node, need: Mapping[str, float]) -> bool:
        """Whether `node` stays on the list it just took `need` pods from."""
        if _ANY in self.room:
            return not self.is_full(node)
        return bool(node.room_for(self.pool.allocatable, need, 1))


def _fill_from(state: _State, rooms: dict[_Key, list[_Node]], need: Mapping[str, float], remaining: int) -> int:
    if remaining <= 0:
        return 0
    key = state.key(need)
    shared = key is _ANY
    nodes = rooms[key]
    placed = 0
    keep: list[_Node] = []
    for idx, node in enumerate(nodes):
        k = node.room_for(state.pool.allocatable, need, remaining - placed)
        if k:
            node.add(need, k)
            placed += k
            if state.keeps(node, need):
                keep.append(node)
        elif shared:  # no room for this shape; another shape may still fit
            keep.append(node)
        if placed == remaining:
            keep.extend(nodes[idx + 1 :])
            break
    rooms[key] = keep
    return placed


def _fill(state: _State, need: Mapping[str, float], remaining: int) -> int:
    return _fill_from(state, state.room, need, remaining)


def _fill_overflow(state: _State, need: Mapping[str, float], remaining: int) -> int:
    return _fill_from(state, state.overflow_room, need, remaining)


def _open(state: _State, nodes: list[_Node], need: Mapping[str, float], remaining: int) -> int:
    node = _Node()
    k = node.room_for(state.pool.allocatable, need, remaining)
    if k:
        node.add(need, k)
        nodes.append(node)
        rooms = state.room if nodes is state.nodes else state.overflow_room
        if _ANY in rooms:
            if not state.is_full(node):
                rooms[_ANY].append(node)
        else:
            for shape in state.needs:
                if node.room_for(state.pool.allocatable, shape, 1):
                    rooms[frozenset(shape.items())].append(node)
    return k


def _price_per_replica(pool: PoolCapacity, need: Mapping[str, float]) -> float:
    per_node = _Node().room_for(pool.allocatable, need, 1 << 30)
    if pool.price_usd_per_node_hour is None or per_node == 0:
        return math.inf
    return pool.price_usd_per_node_hour / per_node


def _dominant_share(demand: Demand, pools: Sequence[PoolCapacity]) -> float:
    # FFD order: the pod that takes the largest share of the biggest node of its scarcest resource first.
    share = 0.0
    for res, qty in demand.requests.items():
        if qty <= _EPS:
            continue
        biggest = max((p.allocatable.get(res, 0.0) for p in pools), default=0.0)
        share = max(share, qty / biggest if biggest > 0 else math.inf)
    return share


def _unfit_fixes(demand: Demand, pools: Sequence[PoolCapacity]) -> tuple[list[str], list[str]]:
    """Problems and fixes for a demand no pool accepts at all."""
    problems = [f"{p.name}: {r}" for p in pools for r in eligible(p, demand)]
    fixes: list[str] = []
    wanted = {r: q for r, q in demand.requests.items() if q > _EPS}
    for res, qty in sorted(wanted.items()):
        if not any(p.allocatable.get(res, 0.0) > 0 for p in pools):
            if res.startswith("nvidia.com/mig-"):
                fixes.append(
                    f"no pool offers {res}: add a MIG pool with layout all-{res.removeprefix('nvidia.com/mig-')}"
                )
            else:
                fixes.append(f"no pool offers {res}: add a pool whose nodes advertise {res}")
            continue
        # Prefer the pools the pod may schedule on; fall back to all pools if none matches its selector.
        reachable = [p for p in pools if not _scheduling_reasons(p, demand)] or list(pools)
        largest = max(p.allocatable.get(res, 0.0) for p in reachable)
        if largest + _EPS < qty:
            singular, plural = _UNITS.get(res, (res, res))
            unit = singular if largest == 1 else plural
            fixes.append(f"request ≤ {_fmt(largest)} {unit} per pod: largest node has {_fmt(largest)}")
    if not fixes:
        big_enough = [p for p in pools if not _resource_reasons(p, demand)]
        # Resources exist somewhere; only selectors or taints keep the pod away from those pools.
        for p in big_enough:
            fixes.append(f"to use pool {p.name}: " + "; ".join(_scheduling_reasons(p, demand)))
        if not big_enough:  # every resource is offered, but never all of them on one node
            wants = ", ".join(f"{r}={_fmt(q)}" for r, q in sorted(wanted.items()))
            fixes.append(f"no pool's node has all of {wants}: add a pool whose nodes do, or lower the requests")
    return problems, fixes


def plan(pools: Sequence[PoolCapacity], demands: Sequence[Demand]) -> CapacityPlan:
    """Pack every replica of every demand into the pools at their max sizes; report fit, fixes and cost."""
    names = [p.name for p in pools]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate pool names: {sorted({n for n in names if names.count(n) > 1})}")
    states = {p.name: _State(p, [_Node() for _ in range(p.min_nodes)]) for p in pools}
    # What depends only on a pod's shape (requests, selector, tolerations) is worked out once per shape:
    # a stack's releases share a few shapes, and thousands of demands must not mean thousands of
    # eligibility checks (docs/performance.md#capacity-check-when-models-do-not-fit).
    shapes = [(tuple(d.requests.items()), tuple(d.node_selector.items()), d.tolerations) for d in demands]
    by_shape: dict[object, tuple[float, list[PoolCapacity], dict[str, dict[str, float]]]] = {}
    for i, key in enumerate(shapes):
        if key not in by_shape:
            d = demands[i]
            fit = [p for p in pools if not eligible(p, d)]
            # Cheapest per replica first; unpriced pools last, then by name, so ties are deterministic.
            fit.sort(key=lambda p: (_price_per_replica(p, _needs(p, d)), p.name))
            by_shape[key] = (_dominant_share(d, pools), fit, {p.name: _needs(p, d) for p in fit})
    needs = [by_shape[key][2] for key in shapes]
    order = sorted(range(len(demands)), key=lambda i: (-by_shape[shapes[i]][0], demands[i].name, i))
    candidates: dict[int, list[_State]] = {}
    placements: dict[int, dict[str, int]] = {i: {} for i in range(len(demands))}
    remaining = {i: d.replicas for i, d in enumerate(demands)}

    def place(i: int, states_: list[_State], *, new_nodes: bool, limit: int | None = None) -> None:
        goal = remaining[i] - (remaining[i] if limit is None else min(limit, remaining[i]))
        for st in states_:  # open nodes first: their cost is already paid at peak
            _record(i, st, _fill(st, needs[i][st.pool.name], remaining[i] - goal))
        while new_nodes and remaining[i] > goal:
            st = next((s for s in states_ if len(s.nodes) < s.pool.max_nodes), None)
            if st is None:
                return
            _record(i, st, _open(st, st.nodes, needs[i][st.pool.name], remaining[i] - goal))

    def _record(i: int, st: _State, k: int) -> None:
        if k:
            placements[i][st.pool.name] = placements[i].get(st.pool.name, 0) + k
            remaining[i] -= k

    chunk: dict[int, int] = {}
    for i in order:
        ok = [states[p.name] for p in by_shape[shapes[i]][1]]
        candidates[i] = ok
        for st in ok:
            # One entry per distinct pod shape: an opened node is checked against each, and many
            # releases share a shape (docs/performance.md#capacity-check-at-scale).
            st.register(needs[i][st.pool.name])
        if ok:
            per_node = _Node().room_for(ok[0].pool.allocatable, needs[i][ok[0].pool.name], remaining[i])
            chunk[i] = max(1, -(-per_node // _ROUNDS_PER_NODE))
    for st in states.values():
        st.start()
    # Interleave demands a fraction of a node at a time (largest first in each round): placing one demand
    # wholesale fills nodes along a single dimension (all CPU, or all memory) and strands the other.
    active = [i for i in order if candidates[i] and remaining[i]]
    while active:
        progressed: list[int] = []
        for i in active:
            before = remaining[i]
            place(i, candidates[i], new_nodes=True, limit=chunk[i])
            if remaining[i] and remaining[i] < before:
                progressed.append(i)
        active = progressed
    # Second chance: nodes opened by later (smaller) demands may have room for an earlier leftover.
    for i in order:
        if remaining[i]:
            place(i, candidates[i], new_nodes=False)
    # What is still left goes onto hypothetical nodes beyond max_nodes; their count is the fix.
    overflow_by_demand: dict[int, set[str]] = {}
    for i in order:
        left = remaining[i]
        for st in candidates[i]:
            if not left:
                break
            need = needs[i][st.pool.name]
            left -= _fill_overflow(st, need, left)
            while left:
                k = _open(st, st.overflow, need, left)
                if not k:  # cannot happen for an eligible pool; never loop forever on float edge cases
                    break
                left -= k
            overflow_by_demand.setdefault(i, set()).add(st.pool.name)

    fits: list[DemandFit] = []
    for i, d in enumerate(demands):
        problems: list[str] = []
        fixes: list[str] = []
        if remaining[i] and not candidates[i]:
            problems, fixes = _unfit_fixes(d, pools)
        elif remaining[i]:
            problems.append(
                f"{d.replicas - remaining[i]} of {d.replicas} replicas fit; "
                f"{remaining[i]} need nodes beyond the pools' maxSize"
            )
            for name in sorted(overflow_by_demand.get(i, ())):
                st = states[name]
                fixes.append(
                    f"raise nodePools[{name}].maxSize from {st.pool.max_nodes} "
                    f"to {st.pool.max_nodes + len(st.overflow)}"
                )
        fits.append(
            DemandFit(
                d.name,
                d.group,
                d.replicas,
                d.replicas - remaining[i],
                dict(sorted(placements[i].items())),
                tuple(problems),
                tuple(fixes),
            )
        )

    usages: list[PoolUsage] = []
    for p in pools:
        st = states[p.name]
        requested: dict[str, float] = {}
        for node in st.nodes:
            for res, qty in node.used.items():
                requested[res] = requested.get(res, 0.0) + qty
        usages.append(
            PoolUsage(
                p.name,
                p.min_nodes,
                p.max_nodes,
                len(st.nodes),
                dict(p.allocatable),
                dict(sorted(requested.items())),
                tuple(dict(n.used) for n in st.nodes),
                p.price_usd_per_node_hour,
                p.gpu_slices_per_node,
                p.note,
            )
        )
    return CapacityPlan(tuple(usages), tuple(fits))


def _bar(fraction: float, width: int = 10) -> str:
    filled = min(width, int(fraction * width + 0.5))
    return f"[{'#' * filled}{'-' * (width - filled)}] {int(fraction * 100 + 0.5)}%"


def _money(x: float | None) -> str:
    return "unknown" if x is None else f"${x:,.2f}"


def render_markdown(plan: CapacityPlan) -> str:
    """The capacity section of the plan report: demands, fixes, one table per pool, cost. Deterministic."""
    unfit = [d for d in plan.demands if not d.fits]
    lines = ["## Capacity", ""]
    if unfit:
        lines.append(f"**{len(plan.demands) - len(unfit)} of {len(plan.demands)} demands fit; {len(unfit)} do not.**")
    else:
        lines.append(f"**All {len(plan.demands)} demands fit at the pools' max sizes.**")
    lines += ["", "| demand | group | replicas | placed | pools | status |", "|---|---|---:|---:|---|---|"]
    for d in plan.demands:
        where = ", ".join(f"{p} ×{n}" for p, n in d.placements.items()) or "—"
        lines.append(
            f"| {d.name} | {d.group} | {d.replicas} | {d.placed} | {where} | {'fits' if d.fits else 'DOES NOT FIT'} |"
        )
    if unfit:
        lines += ["", "### What to change", ""]
        for d in unfit:
            lines.append(f"- **{d.name}** ({d.group}):")
            lines += [f"  - problem: {p}" for p in d.problems]
            lines += [f"  - fix: {f}" for f in d.fixes]
    for p in plan.pools:
        price = (
            "price unknown" if p.price_usd_per_node_hour is None else f"${_fmt(p.price_usd_per_node_hour)}/node-hour"
        )
        lines += [
            "",
            f"### Pool {p.name}",
            "",
            f"nodes: min {p.min_nodes}, max {p.max_nodes}, used at peak {p.nodes_used} · {price}"
            + (f" · {p.note}" if p.note else ""),
            "",
            "| resource | per node | requested | capacity at peak | utilisation |",
            "|---|---:|---:|---:|---|",
        ]
        gpu_first = p.gpu_resources + sorted(r for r in p.allocatable if not is_gpu_resource(r))
        for res in gpu_first:
            cap = p.allocatable[res] * p.nodes_used
            lines.append(
                f"| {res} | {_fmt(p.allocatable[res])} | {_fmt(p.requested.get(res, 0.0))} | {_fmt(cap)} | "
                f"{_bar(p.utilisation(res))} |"
            )
    lines += [
        "",
        "### Cost (USD per hour, on-demand)",
        "",
        "| pool | nodes at min | at min | nodes at peak | at peak |",
        "|---|---:|---:|---:|---:|",
    ]
    for p in plan.pools:
        lines.append(
            f"| {p.name} | {p.min_nodes} | {_money(p.usd_per_hour_at_min)} | {p.nodes_used} | "
            f"{_money(p.usd_per_hour_at_peak)} |"
        )
    lines.append(
        f"| **total** | {sum(p.min_nodes for p in plan.pools)} | {_money(plan.usd_per_hour_at_min)} | "
        f"{sum(p.nodes_used for p in plan.pools)} | {_money(plan.usd_per_hour_at_peak)} |"
    )
    if plan.unpriced_pools:
        lines += ["", f"Cost is unknown: no sourced price for {', '.join(plan.unpriced_pools)}."]
    return "\n".join(lines) + "\n"
