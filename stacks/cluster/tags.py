"""Small helpers shared by the cloud layers."""

from __future__ import annotations

import pulumi

from stacks.spec.stack import StackSpec


def common_tags(spec: StackSpec) -> dict[str, str]:
    """Tags on every cloud resource: who owns it and which stack manages it (cost reports, clean-up)."""
    return {
        "gpu-platform/environment": spec.environment,
        "gpu-platform/cluster": spec.cluster_name,
        "gpu-platform/stack": f"{pulumi.get_project()}/{pulumi.get_stack()}",
        "managed-by": "pulumi",
    }
