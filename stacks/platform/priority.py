"""The model tiers' PriorityClasses: cluster-scoped, so the platform layer creates them, once per
cluster, whether or not the cluster stack deploys models itself. A models-only stack (layered stacks,
docs/design.md#layered-stacks) creates none: its releases name them, the cluster stack owns them (two
stacks creating one cluster-scoped object collide: pulumi-kubernetes >= 4.29 refuses to create an object
that exists).

The logical names (`models-<tier>`) and the parent (the stack) are those the workload layer used before,
so a cluster stack's URNs do not change and no alias is needed.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.models.objects import PRIORITY_CLASSES, priority_class
from stacks.contract import ClusterFacts

TIER_TEXT = {
    "critical": "Model servers that must keep serving: preempt standard and batch pods when GPUs are short.",
    "standard": "Default tier for model servers.",
    "batch": "Batch / offline inference: first to be preempted, never preempts others.",
}


def logical_name(tier: str) -> str:
    return f"models-{tier}"


def build(cluster: ClusterFacts) -> tuple[k8s.scheduling.v1.PriorityClass, ...]:
    """One PriorityClass per model tier (components/models/objects.py PRIORITY_CLASSES)."""
    opts = pulumi.ResourceOptions(provider=cluster.k8s_provider)
    return tuple(
        k8s.scheduling.v1.PriorityClass(
            logical_name(tier),
            metadata=k8s.meta.v1.ObjectMetaArgs(name=priority_class(tier)),
            value=value,
            global_default=False,
            description=TIER_TEXT[tier],
            preemption_policy="Never" if tier == "batch" else "PreemptLowerPriority",
            opts=opts,
        )
        for tier, value in PRIORITY_CLASSES.items()
    )
