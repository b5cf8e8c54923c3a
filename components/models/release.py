"""ModelRelease: one AI model, its versions and their traffic, as a typed Pulumi component.

    release = ModelRelease("llama", ModelReleaseArgs(name="llama", versions=(...), traffic=Traffic(...),
                           pools=cluster.pools), opts=pulumi.ResourceOptions(providers=[k8s_provider]))

Per model: a namespace fit for model servers (or a shared one), one Service, a DestinationRule with a
subset per version, the VirtualService with the traffic split, NetworkPolicy allows, a ServiceAccount,
optionally an artifact store (the cloud's, through components/cloud.py) and a model cache PVC. Per version: a Deployment
`<model>-<version>`, a PodDisruptionBudget, a KEDA ScaledObject, a ServiceMonitor and a PrometheusRule.

Everything is validated, including the capacity of every rollout step, before the component registers
itself: an invalid release fails `pulumi preview` with every problem listed and nothing created.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.cloud import HOST_NAME, ArtifactAccess
from components.crds import CrdReleases
from components.models import objects, traffic
from components.models.args import ModelReleaseArgs, ModelVersion
from components.models.capacity_check import check_capacity, quota
from components.models.cold_start import check_cold_start
from components.models.names import model_labels, version_selector, workload
from components.models.namespace import ModelNamespace, ModelNamespaceArgs
from components.models.validation import check_release
from components.models.weights import (
    NO_WEIGHTS,
    WeightsContext,
    cache_job_spec,
    pod_weights,
    register_fetcher_config_map,
)
from components.models.weights_plan import (
    cache_job,
    cached_artifacts,
    check_weights,
    egress_hosts,
    fetches,
    reader_buckets,
)

TYPE = "gpu-platform:models:ModelRelease"


class ModelReleaseError(pulumi.RunError):
    """Invalid release: a RunError, so `pulumi preview` prints the problems without a traceback."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = sorted(set(problems))
        n = len(self.problems)
        super().__init__(
            "\n".join(
                [f"invalid model release ({n} problem{'s' if n != 1 else ''}):", *(f"  - {p}" for p in self.problems)]
            )
        )


def _path(label: str, loc: tuple[str | int, ...]) -> str:
    out = label
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate(args: ModelReleaseArgs, capacity_problems: Sequence[str] | None = None) -> None:
    """Raise ModelReleaseError listing every problem of `args` (rules first, then capacity).

    `capacity_problems`: the capacity check's result when the caller computed it for all its releases
    at once (stacks/workloads/capacity.py); None runs check_capacity(args) here."""
    found = [*check_release(args), *check_weights(args)]
    if not found:
        found = list(check_cold_start(args))  # reads the pools: only for an otherwise valid release
    problems = [f"{_path(args.label, loc)}: {msg}" for loc, msg in found]
    if not problems:
        found = check_capacity(args) if capacity_problems is None else capacity_problems
        problems = [f"{args.label}: {msg}" for msg in found]
    if problems:
        raise ModelReleaseError(problems)


def artifact_host_problems(label: str, hosts: Sequence[str]) -> list[str]:
    """Hosts a ServiceEntry resolved by DNS cannot carry (Istio's validation: full names, no wildcard)."""
    bad = sorted({h for h in hosts if not HOST_NAME.match(h)})
    if not bad:
        return []
    return [
        f"{label}: artifact hosts {', '.join(map(repr, bad))} are not DNS names; the artifact ServiceEntry "
        "resolves its hosts by DNS, which needs full lowercase host names without wildcards"
    ]


def _after(opts: pulumi.ResourceOptions, extra: Sequence[pulumi.Resource]) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(extra))) if extra else opts


class ModelRelease(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: ModelReleaseArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        depends_on: Sequence[pulumi.Resource] = (),
        crds: CrdReleases = CrdReleases(),
        capacity_problems: Sequence[str] | None = None,
        artifact_hosts: Sequence[str] = (),
        weights: WeightsContext = NO_WEIGHTS,
    ) -> None:
        """`depends_on` holds back every child (a component's own depends_on would not: the engine
        orders children only by their own dependencies); `crds` names the releases installing the
        Istio, prometheus-operator and KEDA CRDs, and each custom resource depends on its own;
        `capacity_problems`: a precomputed capacity check (None: this release checks itself);
        `artifact_hosts`: the object-store hosts the servers download artifacts from (the cloud seam's
        ObjectStoreEgress for this release's buckets): an Istio ServiceEntry opens exactly those to the
        model's namespace, and every version waits for it. Empty: no ServiceEntry.
        `weights`: what the cluster offers the fetch of the versions' artifacts (the store's fetcher
        environment, the RWX storage for caches, an identity for buckets the stack does not create;
        components/models/weights.py)."""
        validate(args, capacity_problems)  # before registering anything
        artifact_hosts = tuple(sorted({*artifact_hosts, *egress_hosts(args)}))
        if problems := artifact_host_problems(args.label, artifact_hosts):
            raise ModelReleaseError(problems)
        super().__init__(TYPE, name, None, opts)
        self.args = args
        self.crds = crds
        ns = args.ns
        child = pulumi.ResourceOptions(parent=self)
        deps: list[pulumi.Resource] = list(depends_on)
        if args.owns_namespace:
            self.namespace: ModelNamespace | None = ModelNamespace(
                name, ModelNamespaceArgs(name=ns, quota=quota(args)), opts=child, crds=crds
            )
            deps.append(self.namespace)
        else:
            self.namespace = None
        inside = pulumi.ResourceOptions(parent=self, depends_on=deps)

        def meta(
            obj_name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
        ) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=obj_name, namespace=ns, labels=labels or model_labels(args.name), annotations=annotations
            )

        sa_annotations: dict[str, pulumi.Input[str]] = {}
        access: ArtifactAccess | None = None
        if args.artifact_bucket and args.artifact_store is not None:
            # The cloud's store (components/cloud.py); its resources use the cloud provider in opts.providers.
            access = args.artifact_store(
                name, model=args.name, namespace=ns, service_account=objects.service_account(args), opts=child
            )
        elif weights.reader is not None and (buckets := reader_buckets(args, weights.reader_scheme)):
            # Buckets of the cloud's store the stack does not create: a read-only identity on exactly those.
            access = weights.reader(
                name,
                model=args.name,
                namespace=ns,
                service_account=objects.service_account(args),
                buckets=buckets,
                opts=child,
            )
        if access is not None:
            sa_annotations.update(access.service_account_annotations)
        self.service_account = k8s.core.v1.ServiceAccount(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=objects.service_account(args),
                namespace=ns,
                labels=model_labels(args.name),
                annotations=sa_annotations or None,
            ),
            automount_service_account_token=False,
            opts=inside,
        )
        self.service = k8s.core.v1.Service(name, metadata=meta(args.name), spec=objects.service_spec(args), opts=inside)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-ingress",
            metadata=meta(workload(args.name, "allow-ingress")),
            spec=objects.ingress_policy_spec(args),
            opts=inside,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-egress",
            metadata=meta(workload(args.name, "allow-egress")),
            spec=objects.egress_policy_spec(args),
            opts=inside,
        )
        istio = _after(inside, crds.for_api_version("networking.istio.io/v1"))
        self.destination_rule = k8s.apiextensions.CustomResource(
            name,
            api_version="networking.istio.io/v1",
            kind="DestinationRule",
            metadata=meta(args.name),
            spec=traffic.destination_rule_spec(args),
            opts=istio,
        )
        self.virtual_service = k8s.apiextensions.CustomResource(
            name,
            api_version="networking.istio.io/v1",
            kind="VirtualService",
            metadata=meta(args.name),
            spec=traffic.virtual_service_spec(args),
            opts=istio,
        )
        version_deps: list[pulumi.Resource] = [self.service_account]
        self.artifact_egress: k8s.apiextensions.CustomResource | None = None
        if artifact_hosts:
            # The mesh refuses traffic to hosts outside its registry (REGISTRY_ONLY): the servers reach
            # their artifact store through this entry, so they start only once it exists.
            self.artifact_egress = k8s.apiextensions.CustomResource(
                f"{name}-artifacts",
                api_version="networking.istio.io/v1",
                kind="ServiceEntry",
                metadata=meta(objects.artifact_service_entry(args)),
                spec=objects.artifact_service_entry_spec(artifact_hosts),
                opts=istio,
            )
            version_deps.append(self.artifact_egress)
        if fetches(args):
            # The fetcher program every fetching pod runs (components/models/fetcher/fetch.py).
            version_deps.append(register_fetcher_config_map(name, args, model_labels(args.name), inside))
        self.cache_jobs: list[k8s.batch.v1.Job] = []
        if args.cache is not None:
            storage = None if args.cache.storage_class is not None else weights.cache
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-cache",
                metadata=meta(objects.cache_claim(args)),
                spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteMany"],
                    storage_class_name=args.cache.storage_class or (storage.storage_class if storage else None),
                    resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                        requests={"storage": f"{args.cache.size_gib}Gi"}
                    ),
                ),
                # The cache holds data a rollout waits for: kept like every other stateful resource in prod
                # (components/stateful.py, docs/design.md#nothing-lost).
                opts=pulumi.ResourceOptions.merge(
                    _after(inside, storage.ready if storage else ()),
                    pulumi.ResourceOptions(protect=args.environment == "prod"),
                ),
            )
            version_deps.append(claim)
            for sha, art in cached_artifacts(args).items():
                # Once per digest: the claim's only writer. Not awaited (a 100 GiB copy outlasts any
                # sensible `pulumi up`); the servers' init containers wait for its verified marker.
                job_name = cache_job(args, sha)
                self.cache_jobs.append(
                    k8s.batch.v1.Job(
                        f"{name}-cache-{sha[:12]}",
                        metadata=meta(job_name, annotations={"pulumi.com/skipAwait": "true"}),
                        spec=cache_job_spec(
                            args,
                            art,
                            weights,
                            access,
                            service_account=objects.service_account(args),
                            labels={**model_labels(args.name), "job": job_name},
                        ),
                        opts=_after(inside, list(version_deps)),
                    )
                )
        self.deployments: dict[str, k8s.apps.v1.Deployment] = {}
        for v in args.versions:
            self.deployments[v.name] = self._add_version(
                name,
                v,
                pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(depends_on=version_deps)),
                weights,
                access,
            )
        self.register_outputs(
            {
                "namespace": ns,
                "host": traffic.fqdn(args),
                "hosts": list(args.hosts),
                "weights": self.weights(),
                "deployments": sorted(workload(args.name, v.name) for v in args.versions),
            }
        )

    def weights(self) -> dict[str, int]:
        t = self.args.traffic
        out = {t.stable: 100 - (t.candidate_weight if t.candidate else 0)}
        if t.candidate is not None:
            out[t.candidate] = t.candidate_weight
        return dict(sorted(out.items()))

    def _add_version(
        self,
        name: str,
        v: ModelVersion,
        opts: pulumi.ResourceOptions,
        weights: WeightsContext = NO_WEIGHTS,
        access: ArtifactAccess | None = None,
    ) -> k8s.apps.v1.Deployment:
        a = self.args
        rname = f"{name}-{v.name}"
        wl = workload(a.name, v.name)
        labels = {**model_labels(a.name), **version_selector(a.name, v.name)}
        md = k8s.meta.v1.ObjectMetaArgs(name=wl, namespace=a.ns, labels=labels)
        dep = k8s.apps.v1.Deployment(
            rname,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=wl, namespace=a.ns, labels=labels, annotations=objects.deployment_annotations(a, v)
            ),
            spec=objects.deployment_spec(a, v, pod_weights(a, v, weights, access)),
            opts=opts,
        )
        k8s.policy.v1.PodDisruptionBudget(rname, metadata=md, spec=objects.pdb_spec(a, v), opts=opts)
        if a.scaling(v).engine == "keda":
            k8s.apiextensions.CustomResource(
                rname,
                api_version="keda.sh/v1alpha1",
                kind="ScaledObject",
                metadata=md,
                spec=objects.scaled_object_spec(a, v),
                opts=_after(opts, [dep, *self.crds.for_api_version("keda.sh/v1alpha1")]),
            )
        monitoring = _after(opts, self.crds.for_api_version("monitoring.coreos.com/v1"))
        k8s.apiextensions.CustomResource(
            rname,
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=md,
            spec=objects.service_monitor_spec(a, v),
            opts=monitoring,
        )
        k8s.apiextensions.CustomResource(
            rname,
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{wl}-slo", namespace=a.ns, labels=labels),
            spec=objects.prometheus_rule_spec(a, v),
            opts=monitoring,
        )
        return dep
