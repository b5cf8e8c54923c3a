"""Platform add-ons from the spec: Istio + API gateway, Prometheus, EFK logging, KEDA (docs/design.md#add-ons).

Cloud-neutral: everything goes through the cluster's Kubernetes provider in ClusterFacts. Each add-on
is switched on or off by `addons.<name>.enabled`; environment defaults (replicas, PDBs, protection)
are derived here from `spec.is_prod`, so the components stay free of environment logic.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.crds import CrdReleases
from components.keda import Keda, KedaArgs
from components.mesh.gateway import ApiGateway, ApiGatewayArgs, Jwt, RateLimit, Route
from components.mesh.istio import IstioMesh, IstioMeshArgs
from components.observability.logging import LoggingStack, LoggingStackArgs
from components.observability.prometheus import PrometheusStack, PrometheusStackArgs, Receiver
from components.scheduling import Taint, gpu_tolerations
from stacks.contract import ClusterFacts
from stacks.spec.base import SECRETS_NAMESPACE
from stacks.spec.stack import StackSpec


@dataclass(frozen=True)
class AddonsResult:
    istio: IstioMesh | None
    gateway: ApiGateway | None
    prometheus: PrometheusStack | None
    logging: LoggingStack | None
    keda: Keda | None = None

    @property
    def crds(self) -> CrdReleases:
        """The add-on releases that install CRDs (the GPU layer adds the GPU Operator's)."""
        return CrdReleases(
            istio=self.istio.base if self.istio else None,
            prometheus=self.prometheus.release if self.prometheus else None,
            eck=self.logging.operator if self.logging else None,
            keda=self.keda.release if self.keda else None,
        )


def storage_class(spec: StackSpec, cluster: ClusterFacts) -> str:
    """`addons.storageClass` wins, then the encrypted class the cluster layer created."""
    name = spec.addons.storage_class or cluster.storage_class
    if name is None:
        raise ValueError(
            "ClusterFacts.storage_class is None and addons.storageClass is not set: name the encrypted "
            "StorageClass for the Prometheus and Elasticsearch volumes in gpu-platform:addons.storageClass"
        )
    return name


def node_tolerations(cluster: ClusterFacts) -> tuple[dict[str, str], ...]:
    """Tolerations for node agents (Fluent Bit, the Istio CNI agent): the GPU taint plus every extra taint
    any pool carries."""
    taints: set[Taint] = {t for pool in cluster.pools for t in pool.shape.taints()}
    out = {tuple(sorted(t.items())) for t in gpu_tolerations()}
    out |= {tuple(sorted(t.toleration().items())) for t in taints}
    return tuple(dict(t) for t in sorted(out))


def _secret(key: str) -> pulumi.Output[str]:
    # Raises pulumi's ConfigMissingError naming `gpu-platform-secrets:<key>` and the command to set it.
    return pulumi.Config(SECRETS_NAMESPACE).require_secret(key)


def build(spec: StackSpec, cluster: ClusterFacts) -> AddonsResult:
    a = spec.addons
    prod = spec.is_prod
    provider = cluster.k8s_provider
    # Only Prometheus and logging have volumes; a cluster without a class fact needs one only for them.
    sc = storage_class(spec, cluster) if a.prometheus.enabled or a.logging.enabled else ""

    # Nothing is installed before the cluster can run it: nodes, DNS, the storage driver and class.
    ready = cluster.ready
    mesh = gateway = prom = logs = None
    if a.istio.enabled:
        mesh = IstioMesh(
            "istio",
            IstioMeshArgs(
                provider=provider,
                istiod_replicas=a.istio.istiod_replicas or (2 if prod else 1),
                # The CNI node agent must run on every node, GPU nodes included.
                node_tolerations=node_tolerations(cluster),
            ),
            depends_on=ready,
        )
        gw = a.istio.gateway
        if gw.enabled:
            assert gw.tls_secret is not None, "spec rules require tlsSecret when the gateway is enabled"
            gateway = ApiGateway(
                "api-gateway",
                ApiGatewayArgs(
                    provider=provider,
                    service_annotations=cluster.cloud.load_balancer_annotations(gw.load_balancer),
                    hosts=gw.hosts,
                    tls_secret=gw.tls_secret,
                    min_replicas=gw.min_replicas or (2 if prod else 1),
                    max_replicas=gw.max_replicas,
                    jwt=Jwt(gw.jwt.issuer, gw.jwt.jwks_uri, gw.jwt.audiences) if gw.jwt else None,
                    routes=tuple(
                        Route(
                            r.name,
                            r.path_prefix,
                            r.require_auth,
                            RateLimit(r.rate_limit.requests_per_minute, r.rate_limit.burst) if r.rate_limit else None,
                        )
                        for r in gw.routes
                    ),
                ),
                istiod=mesh.istiod,
                crds=mesh.base,
                depends_on=ready,
            )

    if a.prometheus.enabled:
        p = a.prometheus
        key = p.grafana.admin_password_key
        prom = PrometheusStack(
            "prometheus",
            PrometheusStackArgs(
                provider=provider,
                storage_class=sc,
                retention=p.retention,
                storage_gib=p.storage_gib,
                replicas=p.replicas or (2 if prod else 1),
                alertmanager_replicas=p.alertmanager.replicas or (2 if prod else 1),
                receivers=tuple(
                    Receiver(r.name, r.type, _secret(r.secret_key), r.channel, r.severities)
                    for r in p.alertmanager.receivers
                ),
                grafana_admin_password=_secret(key) if key else None,
                grafana_storage_gib=p.grafana.storage_gib,
                # The GPU layer scrapes its own exporter (components/gpu/nvidia.py); one ServiceMonitor only.
                dcgm_service_monitor=not (a.nvidia.enabled and a.nvidia.dcgm_exporter),
                # Model ServiceMonitors scrape through the sidecars with Istio's certificates.
                istio_certs=mesh is not None,
                pod_disruption_budgets=prod,
            ),
            istiod=mesh.istiod if mesh is not None else None,
            depends_on=ready,
        )
        pulumi.export("grafanaAdminPassword", prom.grafana_admin_password)

    if a.logging.enabled:
        lg = a.logging
        replicas = lg.replicas or (3 if prod else 1)
        logs = LoggingStack(
            "logging",
            LoggingStackArgs(
                provider=provider,
                storage_class=sc,
                replicas=replicas,
                storage_gib=lg.storage_gib,
                retention_days=lg.retention_days,
                kibana_replicas=lg.kibana_replicas or (2 if prod else 1),
                protect_data=prod,
                tolerations=node_tolerations(cluster),
                service_monitor=a.prometheus.enabled,
                zone_spread=replicas > 1,
            ),
            monitoring_depends_on=[prom.release] if prom is not None else (),
            depends_on=ready,
        )

    keda = None
    if a.keda.enabled:
        keda = Keda(
            "keda", KedaArgs(provider=provider, replicas=a.keda.replicas or (2 if prod else 1)), depends_on=ready
        )

    return AddonsResult(istio=mesh, gateway=gateway, prometheus=prom, logging=logs, keda=keda)
