"""The cluster layer for the stack's cloud: the one place the program chooses a cloud.

cluster = build(spec)   # ClusterFacts (stacks/contract.py) for the platform and workload layers
"""

from __future__ import annotations

from stacks.cluster import alicloud, aws
from stacks.contract import ClusterFacts
from stacks.spec.stack import StackSpec


def build(spec: StackSpec) -> ClusterFacts:
    if spec.cloud == "aws":
        return aws.build(spec)
    return alicloud.build(spec)
