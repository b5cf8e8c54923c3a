"""The cluster layer for the stack's cloud: the one place the program chooses a cloud.

cluster = build(spec)   # ClusterFacts (stacks/contract.py) for the platform and workload layers
"""

from __future__ import annotations

from stacks.cluster import alicloud, aws, existing
from stacks.contract import ClusterFacts
from stacks.spec.stack import StackSpec


def build(spec: StackSpec) -> ClusterFacts:
    if spec.cloud == "aws":
        return aws.build(spec)
    if spec.cloud == "existing":
        return existing.build(spec)  # a cluster this stack does not create (docs/existing-cluster.md)
    return alicloud.build(spec)
