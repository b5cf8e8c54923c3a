"""Offline plans of the add-ons layer alone, for a stack file, until the cluster layers hand the
platform layer real ClusterFacts (then the stacks' own plans contain the same objects).

Runs through the same recording runner as `python -m tools.plan`: a scratch project directory holds
the real Pulumi.yaml and stack file (optionally edited) and a small program that builds ClusterFacts
from the spec and calls stacks/platform/addons.build.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tools.offline.runner import PROJECT_DIR, run_stack

PROGRAM = """
import pulumi_kubernetes as k8s

from components.alicloud.ack import DEFAULT_STORAGE_CLASS as ACK_CLASS
from components.alicloud.seam import alicloud_seam
from components.aws.seam import aws_seam
from components.aws.eks_addons import DEFAULT_STORAGE_CLASS as EKS_CLASS
from stacks.contract import ClusterFacts, pool_facts
from stacks.platform import addons
from stacks.spec.parse import load_spec

spec = load_spec()
provider = k8s.Provider("k8s", kubeconfig="offline")
seam = aws_seam(provider=None, oidc_provider_arn=None, oidc_issuer_url=None, cluster_name=spec.cluster_name,
               region=spec.region, kubernetes_version=spec.cluster.kubernetes_version)
addons.build(spec, ClusterFacts(
    cloud=seam if spec.cloud == "aws" else alicloud_seam(region=spec.region), name=spec.cluster_name, region=spec.region,
    kubernetes_version=spec.cluster.kubernetes_version, k8s_provider=provider, pools=pool_facts(spec),
    storage_class=EKS_CLASS if spec.cloud == "aws" else ACK_CLASS))
"""


def run_addons(stack: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Plan of the add-ons for `stack`, with `config` entries (full keys) added to the stack file."""
    text = (PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text()
    if config:
        stack_file = yaml.safe_load(text)
        stack_file["config"].update(config)
        text = yaml.safe_dump(stack_file)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
        (d / f"Pulumi.{stack}.yaml").write_text(text)
        (d / "__main__.py").write_text(PROGRAM)
        return run_stack(stack, d)


@functools.cache
def _cached(stack: str) -> str:
    return json.dumps(run_addons(stack))


def addons_plan(stack: str) -> dict[str, Any]:
    """Cached plan of an unmodified stack file (one run per stack per test session)."""
    return json.loads(_cached(stack))
