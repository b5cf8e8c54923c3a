"""Workload layer: the stack's model releases on a cluster that hands over ClusterFacts.

    models.build(spec, cluster)     # from __main__.py, after the platform layer

Creates the tier PriorityClasses once, the shared model namespaces (a namespace named by several
models), and one ModelRelease per `models[i]`. Each release's capacity check also counts the other
releases' floors on the same pools. Exports `modelReleases` (namespace, hosts, weights per model) and
`modelCapacityReport` (GPUs and $/h per release at its floor and its worst rollout step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.crds import CrdReleases
from components.gpu import capacity
from components.models import args as ma
from components.models.capacity_check import add_quotas, floor_demands, quota, release_cost, render_costs, step_demands, steps
from components.models.namespace import ModelNamespace, ModelNamespaceArgs
from components.models.objects import PRIORITY_CLASSES, priority_class
from components.models.release import ModelRelease
from stacks.common import common_tags
from stacks.facts import ClusterFacts, PlatformFacts
from stacks.model_args import release_args
from stacks.spec_models import StackSpec

_TIER_TEXT = {
    "critical": "Model servers that must keep serving: preempt standard and batch pods when GPUs are short.",
    "standard": "Default tier for model servers.",
    "batch": "Batch / offline inference: first to be preempted, never preempts others.",
}


def plain_args(spec: StackSpec, pools: Sequence[ma.PoolLike]) -> list[ma.ModelReleaseArgs]:
    """Release args without cloud identity: enough for capacity and cost views."""
    base = [release_args(spec, i, pools) for i in range(len(spec.models))]
    floors = [floor_demands(a) for a in base]
    return [release_args(spec, i, pools, others=[d for k, ds in enumerate(floors) if k != i for d in ds])
            for i in range(len(spec.models))]


def release_demands(spec: StackSpec, pools: Sequence[ma.PoolLike]) -> list[capacity.Demand]:
    """Each release's pods at its worst rollout step, for the platform capacity report (stacks/gpu_layer.py)."""
    out: list[capacity.Demand] = []
    for a in plain_args(spec, pools):
        worst = max(steps(a), key=lambda st: sum(n for _, _, n in st.pods))
        out += step_demands(a, worst)
    return out


def build(spec: StackSpec, cluster: ClusterFacts, platform: PlatformFacts | None = None) -> list[ModelRelease]:
    """`platform`: from stacks/platform.build; its CRD releases order each release's custom resources.
    None when another stack installed the platform (its CRDs exist before this program runs)."""
    if not spec.models:
        return []
    k8s_opts = pulumi.ResourceOptions(provider=cluster.k8s_provider)
    tiers = [k8s.scheduling.v1.PriorityClass(
        f"models-{tier}",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=priority_class(tier)),
        value=value, global_default=False, description=_TIER_TEXT[tier],
        preemption_policy="Never" if tier == "batch" else "PreemptLowerPriority",
        opts=k8s_opts) for tier, value in PRIORITY_CLASSES.items()]
    identity = (ma.WorkloadIdentity(cluster.oidc_provider_arn, cluster.oidc_issuer_url)
                if cluster.oidc_provider_arn is not None and cluster.oidc_issuer_url is not None else None)
    releases_args = [release_args(spec, i, cluster.pools, identity, others=a.other_release_demands)
                     for i, a in enumerate(plain_args(spec, cluster.pools))]
    shared: dict[str, list[ma.ModelReleaseArgs]] = {}
    for a in releases_args:
        if not a.owns_namespace:
            shared.setdefault(a.ns, []).append(a)
    crds = platform.crds if platform is not None else CrdReleases()
    namespaces: dict[str, ModelNamespace] = {
        ns: ModelNamespace(f"models-{ns}", ModelNamespaceArgs(name=ns, quota=add_quotas([quota(a) for a in group])),
                           opts=k8s_opts, crds=crds)
        for ns, group in sorted(shared.items())}
    providers: list[pulumi.ProviderResource] = [cluster.k8s_provider]
    aws_provider = cluster.extra.get("aws_provider")
    if isinstance(aws_provider, pulumi.ProviderResource):
        providers.append(aws_provider)
    elif spec.cloud == "aws" and any(m.artifact_bucket for m in spec.models):
        # The cluster layer keeps its AWS provider to itself; pin ours to the same region and tags.
        providers.append(aws.Provider("models-aws", region=spec.region,
                                      default_tags=aws.ProviderDefaultTagsArgs(tags=common_tags(spec))))
    releases: list[ModelRelease] = []
    for a in releases_args:
        deps: list[pulumi.Resource] = [*tiers, *([namespaces[a.ns]] if a.ns in namespaces else [])]
        releases.append(ModelRelease(a.name, a, opts=pulumi.ResourceOptions(providers=providers), depends_on=deps,
                                     crds=crds))
    summary: dict[str, Any] = {r.args.name: {"namespace": r.args.ns, "hosts": list(r.args.hosts), "weights": r.weights()}
                               for r in releases}
    pulumi.export("modelReleases", summary)
    pulumi.export("modelCapacityReport", render_costs([release_cost(a) for a in releases_args]))
    return releases
