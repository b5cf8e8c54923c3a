"""Workload layer: the stack's model releases on a cluster that hands over ClusterFacts.

    models.build(spec, cluster)     # from __main__.py, after the platform layer

Creates the shared model namespaces (a namespace named by several models) and one ModelRelease per
`models[i]`; the releases wait for the tier PriorityClasses the platform layer creates (cluster-scoped
objects are the platform's: stacks/platform/priority.py). Each release's capacity check also counts the
other releases' floors on the same pools. Exports `modelReleases` (namespace, hosts, weights per model) and
`modelCapacityReport` (GPUs and $/h per release at its floor and its worst rollout step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from components.cloud import ObjectStoreEgress
from components.crds import CrdReleases
from components.gpu import capacity
from components.models import args as ma
from components.models.capacity_check import add_quotas, quota, render_costs
from components.models.cold_start import cold_start, render_cold_starts
from components.models.namespace import ModelNamespace, ModelNamespaceArgs
from components.models.objects import artifact_uris, has_artifacts
from components.models.release import ModelRelease
from components.models.weights import weights_context
from stacks.contract import ClusterFacts, PlatformFacts
from stacks.spec.stack import StackSpec
from stacks.workloads.capacity import model_capacity
from stacks.workloads.capacity import release_demands as model_capacity_demands
from stacks.workloads.release_args import release_args


def plain_args(spec: StackSpec, pools: Sequence[ma.PoolLike]) -> list[ma.ModelReleaseArgs]:
    """Release args without cloud identity: enough for capacity and cost views."""
    return list(model_capacity(spec, pools).args)


def release_demands(spec: StackSpec, pools: Sequence[ma.PoolLike]) -> list[capacity.Demand]:
    """Each release's pods at its worst rollout step, for the platform capacity report (stacks/platform/gpu.py)."""
    return model_capacity_demands(spec, pools)


def artifact_hosts(a: ma.ModelReleaseArgs, egress: ObjectStoreEgress | None) -> tuple[str, ...]:
    """The object-store hosts a release's servers download artifacts from, for its ServiceEntry: the
    cloud's regional endpoints and token service plus the virtual-hosted names of the buckets its
    versions' artifact URIs name. None when it has no artifacts in the cloud's store (an artifact
    store, or a URI with the store's scheme) or the cloud names no hosts."""
    if egress is None or not has_artifacts(a):
        return ()
    buckets = egress.buckets(artifact_uris(a))
    if not buckets and not a.artifact_bucket:
        return ()  # artifacts elsewhere only (e.g. hf://): not the cloud's store
    return egress.hosts_for(buckets)


def build(spec: StackSpec, cluster: ClusterFacts, platform: PlatformFacts | None = None) -> list[ModelRelease]:
    """`platform`: from stacks/platform/layer.build; its CRD releases order each release's custom resources.
    None when another stack installed the platform (its CRDs exist before this program runs)."""
    if not spec.models:
        return []
    k8s_opts = pulumi.ResourceOptions(provider=cluster.k8s_provider)
    checked = model_capacity(spec, cluster.pools)  # once per spec: the spec rule already computed it
    releases_args = [
        release_args(spec, i, cluster.pools, cluster.cloud.artifact_store, others=a.other_release_demands)
        for i, a in enumerate(checked.args)
    ]
    shared: dict[str, list[ma.ModelReleaseArgs]] = {}
    for a in releases_args:
        if not a.owns_namespace:
            shared.setdefault(a.ns, []).append(a)
    crds = platform.crds if platform is not None else CrdReleases()
    tiers = platform.priority_classes if platform is not None else ()
    namespaces: dict[str, ModelNamespace] = {
        ns: ModelNamespace(
            f"models-{ns}",
            ModelNamespaceArgs(name=ns, quota=add_quotas([quota(a) for a in group])),
            opts=k8s_opts,
            crds=crds,
        )
        for ns, group in sorted(shared.items())
    }
    # The cloud's providers ride along for what a release creates through the seam (artifact stores).
    providers: list[pulumi.ProviderResource] = [cluster.k8s_provider, *cluster.cloud.providers]
    # The seam's offer for the weights (store environment, RWX cache storage, bucket reader): docs/model-weights.md.
    weights = weights_context(cluster.cloud, releases_args, pulumi.ResourceOptions(providers=providers))
    releases: list[ModelRelease] = []
    for i, a in enumerate(releases_args):
        deps: list[pulumi.Resource] = [*tiers, *([namespaces[a.ns]] if a.ns in namespaces else [])]
        releases.append(
            ModelRelease(
                a.name,
                a,
                opts=pulumi.ResourceOptions(providers=providers),
                depends_on=deps,
                crds=crds,
                capacity_problems=checked.problems_of(i),
                artifact_hosts=artifact_hosts(a, cluster.cloud.artifact_egress),
                weights=weights,
            )
        )
    summary: dict[str, Any] = {
        r.args.name: {"namespace": r.args.ns, "hosts": list(r.args.hosts), "weights": r.weights()} for r in releases
    }
    pulumi.export("modelReleases", summary)
    pulumi.export("modelCapacityReport", render_costs(checked.costs()))
    # Each version's cold-start budget (docs/model-weights.md#cold-start-budget), shown in the plan report.
    pulumi.export(
        "modelColdStartReport", render_cold_starts([cold_start(r.args, v) for r in releases for v in r.args.versions])
    )
    return releases
