"""The stack's model capacity, computed once per stack and shared by its three readers:

- the spec rule `models` (stacks/workloads/checks.py): capacity problems per release, as config errors;
- the workload layer (stacks/workloads/layer.py): each ModelRelease gets its precomputed check instead of
  re-packing every other release's pods (ModelRelease still checks itself when used on its own);
- the platform capacity plan (stacks/platform/gpu.py via stacks/platform/layer.py): each release's pods at its
  worst rollout step, so `capacityReport` / `capacity` show what the releases cost at peak.

The result is memoised on the spec object (and compared pools), so validation in load_spec() and the
layers built from the same spec pay for it once. components/models/capacity_check.check_all does the
work in one pack when everything fits (see there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.gpu import capacity
from components.models import args as ma
from components.models.capacity_check import ReleaseCost, check_all, floor_demands, release_cost, worst_step
from stacks.spec.stack import StackSpec
from stacks.workloads.release_args import release_args


@dataclass(frozen=True)
class ModelCapacity:
    checked: tuple[int, ...]
    """Indexes of spec.models that were checked (those with no other problem)."""
    args: tuple[ma.ModelReleaseArgs, ...]
    """Plain args (no identity) of the checked releases, with the other checked releases' floors."""
    problems: tuple[tuple[str, ...], ...]
    """Capacity messages per checked release ([] when every rollout step fits)."""

    def problems_of(self, index: int) -> tuple[str, ...]:
        return self.problems[self.checked.index(index)]

    def costs(self) -> list[ReleaseCost]:
        return [release_cost(a) for a in self.args]

    def peak_demands(self) -> list[capacity.Demand]:
        """Each release's pods at its worst rollout step (largest GPU need), for the platform plan."""
        return [d for a in self.args for d in worst_step(a)[1]]


_LAST: list[tuple[StackSpec, tuple[ma.PoolLike, ...], tuple[int, ...], ModelCapacity]] = []


def model_capacity(
    spec: StackSpec, pools: Sequence[ma.PoolLike], checked: Sequence[int] | None = None
) -> ModelCapacity:
    """Capacity of `spec.models[checked]` (default: all) on `pools`; computed once per spec object."""
    idx = tuple(range(len(spec.models))) if checked is None else tuple(checked)
    key_pools = tuple(pools)
    for s, p, c, result in _LAST:
        if s is spec and c == idx and p == key_pools:
            return result
    base = [release_args(spec, i, key_pools) for i in idx]
    floors = [floor_demands(a) for a in base]
    full = tuple(
        release_args(spec, i, key_pools, others=[d for k, ds in enumerate(floors) if k != n for d in ds])
        for n, i in enumerate(idx)
    )
    problems = tuple(tuple(p) for p in check_all(full))
    result = ModelCapacity(idx, full, problems)
    _LAST[:] = [*_LAST[-3:], (spec, key_pools, idx, result)]  # a few specs per process (tests plan several)
    return result


def release_demands(spec: StackSpec, pools: Sequence[ma.PoolLike]) -> list[capacity.Demand]:
    """Each model release's pods at its worst rollout step (stacks/platform/layer.py feeds them to the GPU layer)."""
    return model_capacity(spec, pools).peak_demands() if spec.models else []
