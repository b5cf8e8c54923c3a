"""Timing derived from two inputs, so the layers agree (reference model-release.md §4.3).

- load time -> startupProbe budget, progressDeadlineSeconds, Pulumi await timeout: a 15-minute model
  load is neither killed by the kubelet nor reported as a failed rollout (kserve#3795,
  pulumi-kubernetes#721);
- route timeout -> Istio drain duration and termination grace: a pod being scaled down stops taking
  requests (preStop), the sidecar keeps draining for a full request timeout, and the kubelet waits for
  both (istio#34855: Istio's default drain is 5s against a 30s grace).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STARTUP_PERIOD_SECONDS = 10
PRE_STOP_SECONDS = 10  # endpoints/Envoy need a few seconds to stop routing to a terminating pod
GRACE_SLACK_SECONDS = 15
DRAIN_SLACK_SECONDS = 5
PROGRESS_SLACK_SECONDS = 300  # image pull of multi-GB server images + scheduling
AWAIT_SLACK_SECONDS = 600  # a GPU node booting from zero (autoscaler + driver) on top of the progress deadline


@dataclass(frozen=True, slots=True)
class Budget:
    startup_failure_threshold: int
    progress_deadline_seconds: int
    await_timeout_seconds: int
    pre_stop_seconds: int
    drain_seconds: int
    termination_grace_seconds: int


def min_grace_seconds(timeout_seconds: int) -> int:
    """The shortest termination grace that lets an in-flight request finish after the preStop drain."""
    return PRE_STOP_SECONDS + timeout_seconds + DRAIN_SLACK_SECONDS


def budget(load_seconds: int, timeout_seconds: int, grace_seconds: int | None = None) -> Budget:
    progress = load_seconds + PROGRESS_SLACK_SECONDS
    grace = grace_seconds if grace_seconds is not None else PRE_STOP_SECONDS + timeout_seconds + GRACE_SLACK_SECONDS
    return Budget(
        startup_failure_threshold=math.ceil(load_seconds / STARTUP_PERIOD_SECONDS),
        progress_deadline_seconds=progress,
        await_timeout_seconds=progress + AWAIT_SLACK_SECONDS,
        pre_stop_seconds=PRE_STOP_SECONDS,
        # The sidecar outlives the app's preStop by one route timeout, but never the pod's grace.
        drain_seconds=min(timeout_seconds + DRAIN_SLACK_SECONDS, grace - PRE_STOP_SECONDS),
        termination_grace_seconds=grace,
    )
