"""Cloud-neutral node-autoscaling facts for GPU pools.

Which pool a node autoscaler should grow first (the cheapest GPU node-hour in the catalog) and the
scale-down settings GPU nodes need. The cloud's own autoscaler turns them into its configuration
(AWS: components/aws/cluster_autoscaler.py, reached through the cloud seam, components/cloud.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.scheduling import PoolShape

# Priority expander: higher wins. GPU pools get GPU_PRIORITY_BASE + 10 * rank (cheapest highest);
# unpriced GPU pools and CPU pools share the floor (a GPU pod never fits a CPU pool anyway).
PRIORITY_FLOOR = 1
GPU_PRIORITY_BASE = 10
GPU_PRIORITY_STEP = 10


@dataclass(frozen=True, slots=True)
class NodeAutoscalerSettings:
    scale_down_unneeded_time: str = "10m"
    """Default: a node must be unneeded for 10 minutes before removal (GPU nodes take minutes to boot
    and pull model images, so flapping costs more than a few idle minutes)."""
    scale_down_gpu_utilization_threshold: float = 0.5
    """Default 0.5: a GPU node whose GPU requests are under half its GPUs is a scale-down candidate."""

    def __post_init__(self) -> None:
        if not 0 < self.scale_down_gpu_utilization_threshold <= 1:
            raise ValueError("scale_down_gpu_utilization_threshold must be in (0, 1]")


def pool_priorities(pools: Sequence[PoolShape]) -> dict[int, list[str]]:
    """Priority -> pool names: priced GPU pools ranked by $/node-hour (cheapest highest), the rest at
    the floor. Keys ascending, names sorted."""
    priced = sorted(
        (p for p in pools if p.is_gpu and p.instance.price_usd_per_hour is not None),
        key=lambda p: (-(p.instance.price_usd_per_hour or 0.0), p.name),
    )
    out: dict[int, list[str]] = {}
    for rank, p in enumerate(priced):
        out.setdefault(GPU_PRIORITY_BASE + GPU_PRIORITY_STEP * rank, []).append(p.name)
    rest = sorted(p.name for p in pools if p not in priced)
    if rest:
        out[PRIORITY_FLOOR] = rest
    return {k: sorted(v) for k, v in sorted(out.items())}
