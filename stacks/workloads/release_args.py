"""Stack spec `models[i]` -> components.models.args.ModelReleaseArgs (pure; used by the spec rules and
by the workload layer (stacks/workloads/layer.py), so validation and deployment read the config the same way)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from components.cloud import ArtifactStoreFactory
from components.models import args as ma
from stacks.spec.addons import GatewayRouteSpec
from stacks.spec.models import ModelAutoscalingSpec, ModelSpec, artifact_store_uri
from stacks.spec.stack import StackSpec


def _scaling(s: ModelAutoscalingSpec) -> ma.Autoscaling:
    return ma.Autoscaling(
        engine=s.engine,
        min_replicas=s.min_replicas,
        max_replicas=s.max_replicas,
        target_rps_per_replica=s.target_rps_per_replica,
    )


# release_args runs once per model, several times per plan (spec rules, capacity, layer): what it needs
# from all models or all routes is indexed once per (immutable) tuple, not scanned per model, which was
# quadratic in the number of models (docs/performance.md#capacity-check-at-scale).
_NAMESPACE_USES: list[tuple[tuple[ModelSpec, ...], Counter[str]]] = []
_ROUTES_BY_NAME: list[tuple[tuple[GatewayRouteSpec, ...], dict[str, GatewayRouteSpec]]] = []


def _namespace_uses(models: tuple[ModelSpec, ...]) -> Counter[str]:
    for ms, uses in _NAMESPACE_USES:
        if ms is models:
            return uses
    uses = Counter(o.namespace or o.name for o in models)
    _NAMESPACE_USES[:] = [*_NAMESPACE_USES[-3:], (models, uses)]
    return uses


def _routes_by_name(routes: tuple[GatewayRouteSpec, ...]) -> dict[str, GatewayRouteSpec]:
    for rs, by_name in _ROUTES_BY_NAME:
        if rs is routes:
            return by_name
    by_name: dict[str, GatewayRouteSpec] = {}
    for r in routes:
        by_name.setdefault(r.name, r)  # the first route of a name, as a scan in order finds it
    _ROUTES_BY_NAME[:] = [*_ROUTES_BY_NAME[-3:], (routes, by_name)]
    return by_name


def gateway_route(spec: StackSpec, model: ModelSpec) -> ma.GatewayRoute | None:
    """The API gateway route named after `model`, when Istio and its gateway are enabled."""
    ist = spec.addons.istio
    gw = ist.gateway
    if not (ist.enabled and gw.enabled):
        return None
    route = _routes_by_name(gw.routes).get(model.name)
    return ma.GatewayRoute(path_prefix=route.path_prefix, hosts=gw.hosts) if route is not None else None


def release_args(
    spec: StackSpec,
    index: int,
    pools: Sequence[ma.PoolLike],
    artifact_store: ArtifactStoreFactory | None = None,
    others: Sequence[object] = (),
) -> ma.ModelReleaseArgs:
    m: ModelSpec = spec.models[index]
    shared = _namespace_uses(spec.models)[m.namespace or m.name] > 1
    versions = tuple(
        ma.ModelVersion(
            name=v.name,
            semver=v.semver,
            image=v.image,
            runtime=v.runtime,
            server=ma.ServerOverrides(
                v.server.http_port, v.server.health_path, v.server.metrics_port, v.server.metrics_path
            ),
            args=v.args,
            gpu=ma.GpuRequest(
                count=v.gpu.count,
                mig_profile=v.gpu.mig_profile,
                time_sliced=v.gpu.time_sliced,
                model=v.gpu.model,
                model_memory_gib=v.gpu.model_memory_gib,
            ),
            cpu=v.cpu,
            memory_gib=v.memory_gib,
            load_seconds=v.load_seconds,
            artifact=(
                ma.Artifact(v.artifact.uri, v.artifact.sha256, v.artifact.size_gib, v.artifact.token_secret)
                if v.artifact
                else None
            ),
            image_size_gib=v.image_size_gib,
            cold_start_seconds=v.cold_start_seconds,
            autoscaling=_scaling(v.autoscaling) if v.autoscaling else None,
            metadata=dict(sorted(v.metadata.items())),
        )
        for v in m.versions
    )
    t = m.traffic
    traffic = ma.Traffic(
        stable=t.stable,
        candidate=t.candidate,
        candidate_weight=t.candidate_weight,
        ab_routes=tuple(ma.AbRoute(r.header, r.version, r.values, r.regex) for r in t.ab_routes),
        shadow=ma.Shadow(t.shadow.version, t.shadow.percent) if t.shadow else None,
        timeout_seconds=t.timeout_seconds,
        retries=ma.Retries(t.retries.attempts, t.retries.retry_on, t.retries.allow_gpu_retries),
    )
    return ma.ModelReleaseArgs(
        name=m.name,
        versions=versions,
        traffic=traffic,
        pools=tuple(pools),
        namespace=m.namespace,
        # A namespace named by several models is created once by stacks/workloads/layer.py, not by a release.
        own_namespace=False if shared else None,
        hosts=m.hosts,
        gateway=m.gateway,
        gateway_route=gateway_route(spec, m),
        tier=m.tier,
        autoscaling=_scaling(m.autoscaling),
        slo=ma.Slo(m.slo.p99_ms, m.slo.error_ratio, m.slo.window, m.slo.min_rps),
        rollout_steps=m.rollout_steps,
        stable_scaling=m.stable_scaling,
        max_surge=m.max_surge,
        termination_grace_seconds=m.termination_grace_seconds,
        artifact_bucket=m.artifact_bucket,
        cache=ma.Cache(m.cache.size_gib, m.cache.storage_class) if m.cache else None,
        environment=spec.environment,
        artifact_store=artifact_store,
        artifact_uri_prefix=artifact_store_uri(spec, m),
        other_release_demands=tuple(others),
        key=f"gpu-platform:models[{index}]",
    )
