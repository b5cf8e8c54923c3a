"""The whole stack spec (StackSpec: environment, cloud, region, zones and every block) and the rules that
span blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from stacks.spec.addons import AddonsSpec
from stacks.spec.base import Cloud, Environment, Problem, Spec, duplicates
from stacks.spec.budget import BudgetSpec
from stacks.spec.cluster import ClusterSpec
from stacks.spec.errors import show
from stacks.spec.models import ModelSpec
from stacks.spec.pools import NodePoolSpec
from stacks.spec.registry import RegistrySpec
from stacks.spec.safety import Acknowledgements


class StackSpec(Spec):
    environment: Environment
    """Drives the safer defaults: NAT per zone, deletion protection and protected state in prod."""
    cloud: Cloud = "aws"
    """Which cloud layer builds the cluster; the Kubernetes layers are shared. `existing`: a cluster this
    stack does not create, reached through a kubeconfig (cluster.existing, docs/existing-cluster.md)."""
    region: str
    """Cloud region, e.g. us-west-2 or cn-hangzhou. Zones must belong to it. With `cloud: existing`, where
    the cluster runs (a name of your choosing, e.g. fra1), in exports and messages only."""
    zones: tuple[str, ...] = Field(min_length=1)
    """Availability zones for subnets and node pools; at least 2 on AWS and in prod."""
    cluster: ClusterSpec = ClusterSpec()
    """Control plane, network and API endpoint."""
    node_pools: tuple[NodePoolSpec, ...] = Field(min_length=1)
    """Node pools; a pool whose instance type has GPUs is a GPU pool (tainted, labelled from the catalog)."""
    registry: RegistrySpec = RegistrySpec()
    """Container registry (ECR / ACR) for model and platform images."""
    addons: AddonsSpec = AddonsSpec()
    """Cluster add-ons; each can be switched off per environment."""
    models: tuple[ModelSpec, ...] = ()
    """Model releases deployed on the cluster."""
    budget: BudgetSpec | None = None
    """Monthly cost budget the PR check enforces on the stack's peak, and the usage the estimate cannot
    read from the plan (stacks/spec/budget.py, docs/cost.md). Default: none, cost is reported only."""
    cluster_stack: str | None = None
    """Models-only (layered) stack: the cluster stack `<organization>/<project>/<stack>` to deploy the
    models into, read through a StackReference. Its `clusterFacts` output supplies cloud, region, zones,
    cluster, node pools (the capacity check runs against them) and registry, so `cloud`, `region`,
    `zones`, `cluster`, `nodePools`, `registry` and `addons` are not allowed here (an error, not ignored).
    Default: none — this stack builds its own cluster and platform (stacks/cluster/reference.py)."""
    acknowledge: Acknowledgements = {}
    """Risks a prod stack takes on purpose, each with the reason reviewers read, e.g.
    `{publicEndpointOpenToWorld: 'ACK public endpoint behind the SLB ACL, ticket OPS-1234'}`. Prod refuses
    without one: `deletionProtectionOff` (cluster.deletionProtection false), `publicEndpointOpenToWorld`
    (public API CIDRs covering every address), `unauthenticatedRouteWithoutRateLimit` (a gateway route, or a
    model with hosts, that has neither auth nor a rate limit). Naming a risk the stack does not take is an
    error. Default: none (docs/deploying.md#acknowledged-risks-in-prod)."""

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def cluster_name(self) -> str:
        return self.cluster.name or f"gpu-{self.environment}"

    @property
    def nat_gateways(self) -> Literal["single", "perZone"]:
        return self.cluster.network.nat_gateways or ("perZone" if self.is_prod else "single")

    @property
    def deletion_protection(self) -> bool:
        d = self.cluster.deletion_protection
        return self.is_prod if d is None else d


def zones(spec: StackSpec) -> Iterator[Problem]:
    for i, zone in enumerate(spec.zones):
        if not zone.startswith(spec.region):
            yield (
                ("zones", i),
                (f"{show(zone)} is not a zone of region {show(spec.region)}; use zones named {spec.region}<letter>"),
            )
    for zone in sorted(duplicates(spec.zones)):
        yield ("zones",), f"{show(zone)} is listed twice; list each zone once"
    need = 2 if (spec.cloud == "aws" or spec.is_prod) else 1
    if len(set(spec.zones)) < need:
        why = "EKS needs subnets in two zones" if spec.cloud == "aws" else "prod must survive a zone outage"
        yield ("zones",), f"{len(set(spec.zones))} zone(s) given; at least {need} required ({why}); add a zone"


def alicloud_only_keys(spec: StackSpec) -> Iterator[Problem]:
    if spec.cloud == "alicloud":
        return
    for loc, block in (
        (("cluster", "alicloud"), spec.cluster.alicloud),
        (("registry", "alicloud"), spec.registry.alicloud),
    ):
        if block is not None:
            yield (
                loc,
                (
                    f"given while cloud is {show(spec.cloud)}; these settings apply to Alibaba Cloud only "
                    "(cloud: alicloud); remove the block"
                ),
            )


def aws_only_model_keys(spec: StackSpec) -> Iterator[Problem]:
    """`artifactBucket` creates an S3 bucket read through IRSA (components/aws/artifact_store.py); no
    other cloud has an artifact store yet, and silently creating nothing would leave servers without weights."""
    if spec.cloud == "aws":
        return
    example = "oss://<bucket>/<path> on Alibaba Cloud" if spec.cloud == "alicloud" else "in your own object store"
    for i, m in enumerate(spec.models):
        if m.artifact_bucket:
            yield (
                ("models", i, "artifactBucket"),
                (
                    f"true while cloud is {show(spec.cloud)}; the platform creates artifact buckets on AWS only "
                    "(S3 + IRSA): remove artifactBucket and point versions[].artifact.uri at weights you store "
                    f"yourself (e.g. {example})"
                ),
            )
