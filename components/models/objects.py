"""Kubernetes objects of one model version and of the release: typed pulumi_kubernetes args (core kinds)
and plain dicts for custom resources (validated against their CRD schemas in tests).

Deployments follow the restricted Pod Security profile and the checkov CKV_K8S checks: non-root, read-only
root filesystem, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault, no service
account token, digest-pinned image pulled Always, probes and limits everywhere.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pulumi_kubernetes as k8s

from components.mesh.istio import prometheus_tls_config
from components.models.args import ModelReleaseArgs, ModelVersion
from components.models.budget import STARTUP_PERIOD_SECONDS, Budget, budget
from components.models.capacity_check import SIDECAR_CPU, SIDECAR_MEMORY_GIB
from components.models.cold_start import cold_start
from components.models.names import (
    DOMAIN,
    INGRESS_NAMESPACE,
    ISTIO_NAMESPACE,
    MONITORING_NAMESPACE,
    camel,
    label_value,
    model_labels,
    version_selector,
    workload,
)
from components.models.placement import placement
from components.models.pod_security import CACHE_MOUNT, container_security, pod_security
from components.models.runtimes import RuntimePreset, server_for
from components.models.weights import PodWeights
from components.observability.slo import SloTarget, Workload, request_rate, slo_alert_rules

# Non-root UID/GID above the host's range (CKV_K8S_40); model images must run as any UID.
PRIORITY_CLASSES = {"critical": 1_000_000, "standard": 100_000, "batch": 1_000}


def priority_class(tier: str) -> str:
    return f"gpu-platform-{tier}"


def cpu_quantity(cores: float) -> str:
    return str(int(cores)) if float(cores).is_integer() else f"{round(cores * 1000)}m"


def memory_quantity(gib: float) -> str:
    return f"{int(gib)}Gi" if float(gib).is_integer() else f"{round(gib * 1024)}Mi"


def version_budget(a: ModelReleaseArgs, v: ModelVersion) -> Budget:
    b = budget(v.load_seconds, a.traffic.timeout_seconds, a.termination_grace_seconds)
    # The weights download (or the cache Job's) comes before the server starts: the rollout deadline and
    # Pulumi's await get its time on top; the startup probe starts after it (docs/model-weights.md).
    fetch = cold_start(a, v).fetch_miss_seconds or 0
    return dataclasses.replace(
        b,
        progress_deadline_seconds=b.progress_deadline_seconds + fetch,
        await_timeout_seconds=b.await_timeout_seconds + fetch,
    )


def metrics_port_name(srv: RuntimePreset) -> str:
    """Service/container port carrying the server's metrics: its own port, or the HTTP port it shares."""
    return "http" if srv.metrics_port == srv.http_port else "metrics"


def _ports(srv: RuntimePreset) -> list[k8s.core.v1.ContainerPortArgs]:
    ports = [k8s.core.v1.ContainerPortArgs(name="http", container_port=srv.http_port, protocol="TCP")]
    if srv.grpc_port is not None:
        ports.append(k8s.core.v1.ContainerPortArgs(name="grpc", container_port=srv.grpc_port, protocol="TCP"))
    if srv.metrics_port != srv.http_port:
        ports.append(k8s.core.v1.ContainerPortArgs(name="metrics", container_port=srv.metrics_port, protocol="TCP"))
    return ports


def _probe(path: str, period: int, failures: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port="http"),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=5,
    )


def deployment_annotations(a: ModelReleaseArgs, v: ModelVersion) -> dict[str, str]:
    b = version_budget(a, v)
    out = {
        # pulumi-kubernetes waits 10 minutes by default (pulumi-kubernetes#721), less than a large model load.
        "pulumi.com/timeoutSeconds": str(b.await_timeout_seconds),
        f"{DOMAIN}/model": a.name,
        f"{DOMAIN}/semver": v.semver,
        f"{DOMAIN}/runtime": v.runtime,
        f"{DOMAIN}/image": v.image,
    }
    if v.artifact is not None:
        out[f"{DOMAIN}/artifact-uri"] = v.artifact.uri
        if v.artifact.sha256:
            out[f"{DOMAIN}/artifact-sha256"] = v.artifact.sha256
    out.update({f"{DOMAIN}/meta-{k}": val for k, val in v.metadata.items()})
    return dict(sorted(out.items()))


def pod_labels(a: ModelReleaseArgs, v: ModelVersion) -> dict[str, str]:
    return {
        **model_labels(a.name),
        **version_selector(a.name, v.name),
        "app.kubernetes.io/version": label_value(v.semver),
        # Istio reads these for telemetry: destination_canonical_service / _revision, as slo.py selects.
        "service.istio.io/canonical-name": a.name,
        "service.istio.io/canonical-revision": v.name,
        "sidecar.istio.io/inject": "true",
    }


def deployment_spec(
    a: ModelReleaseArgs, v: ModelVersion, weights: PodWeights | None = None
) -> k8s.apps.v1.DeploymentSpecArgs:
    """`weights`: the fetch-and-verify init container, volumes and mounts of `v`'s artifact
    (components/models/weights.py)."""
    srv = server_for(a.name, v)
    b = version_budget(a, v)
    p = placement(v.gpu, a.pools)
    scaling = a.scaling(v)
    quantities = {"cpu": cpu_quantity(v.cpu), "memory": memory_quantity(v.memory_gib), p.resource: str(p.quantity)}
    proxy = {"holdApplicationUntilProxyStarts": True, "terminationDrainDuration": f"{b.drain_seconds}s"}
    volumes = [
        k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="1Gi")),
        # NCCL / PyTorch data loaders need more shared memory than the container runtime's 64 MiB.
        k8s.core.v1.VolumeArgs(
            name="dshm",
            empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                medium="Memory", size_limit=memory_quantity(max(1.0, v.memory_gib / 4))
            ),
        ),
    ]
    mounts = [
        k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        k8s.core.v1.VolumeMountArgs(name="dshm", mount_path="/dev/shm"),
    ]
    if a.cache is not None:
        volumes.append(
            k8s.core.v1.VolumeArgs(
                name="model-cache",
                persistent_volume_claim=(
                    k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=cache_claim(a), read_only=True)
                ),
            )
        )
        mounts.append(k8s.core.v1.VolumeMountArgs(name="model-cache", mount_path=CACHE_MOUNT, read_only=True))
    if weights is not None:
        volumes += weights.volumes
        mounts += weights.server_mounts
    container = k8s.core.v1.ContainerArgs(
        name="server",
        image=v.image,
        # Digest-pinned, so Always costs one registry HEAD per start and proves the pull is still authorised.
        image_pull_policy="Always",
        args=list(v.args) or None,
        ports=_ports(srv),
        env=[
            k8s.core.v1.EnvVarArgs(name="MODEL_NAME", value=a.name),
            k8s.core.v1.EnvVarArgs(name="MODEL_VERSION", value=v.name),
            *([k8s.core.v1.EnvVarArgs(name="MODEL_ARTIFACT_URI", value=v.artifact.uri)] if v.artifact else []),
            *([k8s.core.v1.EnvVarArgs(name="MODEL_CACHE_DIR", value=CACHE_MOUNT)] if a.cache else []),
            *(weights.server_env if weights is not None else []),
        ],
        resources=k8s.core.v1.ResourceRequirementsArgs(requests=quantities, limits=quantities),
        startup_probe=_probe(srv.ready_path, STARTUP_PERIOD_SECONDS, b.startup_failure_threshold),
        readiness_probe=_probe(srv.ready_path, 5, 3),
        liveness_probe=_probe(srv.live_path, 15, 4),
        lifecycle=k8s.core.v1.LifecycleArgs(
            pre_stop=k8s.core.v1.LifecycleHandlerArgs(sleep=k8s.core.v1.SleepActionArgs(seconds=b.pre_stop_seconds))
        ),
        security_context=container_security(),
        volume_mounts=mounts,
    )
    selector = version_selector(a.name, v.name)
    return k8s.apps.v1.DeploymentSpecArgs(
        # Omitted under an autoscaler: a declared count would fight KEDA's HPA on every `pulumi up`
        # (server-side-apply conflict, pulumi-kubernetes#2491) and show scaling as a diff.
        replicas=None if scaling.engine == "keda" else scaling.min_replicas,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
        progress_deadline_seconds=b.progress_deadline_seconds,
        revision_history_limit=3,
        strategy=k8s.apps.v1.DeploymentStrategyArgs(
            type="RollingUpdate",
            rolling_update=(
                k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=a.max_surge, max_unavailable=0 if a.max_surge else 1)
            ),
        ),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                labels=pod_labels(a, v),
                annotations={
                    "proxy.istio.io/config": json.dumps(proxy, sort_keys=True),
                    "sidecar.istio.io/proxyCPU": cpu_quantity(SIDECAR_CPU),
                    "sidecar.istio.io/proxyCPULimit": cpu_quantity(SIDECAR_CPU * 10),
                    "sidecar.istio.io/proxyMemory": memory_quantity(SIDECAR_MEMORY_GIB),
                    "sidecar.istio.io/proxyMemoryLimit": memory_quantity(SIDECAR_MEMORY_GIB * 2),
                    **(weights.annotations if weights is not None else {}),
                },
            ),
            spec=k8s.core.v1.PodSpecArgs(
                service_account_name=service_account(a),
                # IRSA needs no API token: the EKS identity webhook projects its own audience-bound token.
                automount_service_account_token=False,
                priority_class_name=priority_class(a.tier),
                termination_grace_period_seconds=b.termination_grace_seconds,
                node_selector=dict(sorted(p.node_selector.items())),
                tolerations=[
                    k8s.core.v1.TolerationArgs(
                        key=t["key"], operator=t["operator"], value=t["value"], effect=t["effect"]
                    )
                    for t in p.tolerations
                ],
                topology_spread_constraints=[
                    k8s.core.v1.TopologySpreadConstraintArgs(
                        max_skew=1,
                        topology_key="topology.kubernetes.io/zone",
                        when_unsatisfiable="ScheduleAnyway",
                        label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                    )
                ],
                security_context=pod_security(),
                init_containers=weights.init_containers if weights is not None else None,
                containers=[container],
                volumes=volumes,
            ),
        ),
    )


def service_account(a: ModelReleaseArgs) -> str:
    return a.name


def cache_claim(a: ModelReleaseArgs) -> str:
    return workload(a.name, "cache")


def service_spec(a: ModelReleaseArgs) -> k8s.core.v1.ServiceSpecArgs:
    """One Service for every version; DestinationRule subsets pick the version. Ports target container
    port names, so versions on different runtimes (different port numbers) sit behind the same Service."""
    srvs = [server_for(a.name, v) for v in a.versions]
    ports = [k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http", app_protocol="http")]
    if any(s.grpc_port is not None for s in srvs):
        ports.append(k8s.core.v1.ServicePortArgs(name="grpc", port=9000, target_port="grpc", app_protocol="grpc"))
    if any(metrics_port_name(s) == "metrics" for s in srvs):
        ports.append(
            k8s.core.v1.ServicePortArgs(name="http-metrics", port=9090, target_port="metrics", app_protocol="http")
        )
    return k8s.core.v1.ServiceSpecArgs(type="ClusterIP", selector={"app": a.name}, ports=ports)


def pdb_spec(a: ModelReleaseArgs, v: ModelVersion) -> k8s.policy.v1.PodDisruptionBudgetSpecArgs:
    return k8s.policy.v1.PodDisruptionBudgetSpecArgs(
        max_unavailable=1,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=version_selector(a.name, v.name)),
        # A crash-looping pod must not block node drains and cluster upgrades.
        unhealthy_pod_eviction_policy="AlwaysAllow",
    )


def scaled_object_spec(a: ModelReleaseArgs, v: ModelVersion) -> dict[str, Any]:
    """KEDA ScaledObject on the version's Istio request rate: the same series the SLO alerts read."""
    s = a.scaling(v)
    query = request_rate(Workload(a.ns, a.name, v.name), "2m")
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload(a.name, v.name)},
        "minReplicaCount": s.min_replicas,
        "maxReplicaCount": s.max_replicas,
        "pollingInterval": 15,
        # Scale-down after 10 minutes of low traffic: a GPU pod costs minutes to bring back.
        "cooldownPeriod": 600,
        "fallback": {"failureThreshold": 3, "replicas": max(1, s.min_replicas)},
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "behavior": {
                    "scaleDown": {
                        "stabilizationWindowSeconds": 600,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
                    },
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}],
                    },
                }
            }
        },
        "triggers": [
            {
                "type": "prometheus",
                "name": "rps",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": a.prometheus_url,
                    "query": query,
                    "threshold": _num(s.target_rps_per_replica),
                    "activationThreshold": "0.01" if s.min_replicas == 0 else "0",
                    "ignoreNullValues": "true",
                },
            }
        ],
    }


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def service_monitor_spec(a: ModelReleaseArgs, v: ModelVersion) -> dict[str, Any]:
    """The server's own metrics (queue depth, batch sizes, GPU memory) for one version. Scraped through
    the sidecar with Istio's workload certificates, which the Prometheus pod mounts at
    PROMETHEUS_CERTS_DIR (Istio's documented setup for STRICT mTLS, components/mesh/istio.py)."""
    srv = server_for(a.name, v)
    return {
        "selector": {"matchLabels": {"app": a.name}},
        "namespaceSelector": {"matchNames": [a.ns]},
        "podTargetLabels": ["version", "app.kubernetes.io/version"],
        "endpoints": [
            {
                "port": "http-metrics" if metrics_port_name(srv) == "metrics" else "http",
                "path": srv.metrics_path,
                "interval": "15s",
                "scheme": "https",
                "tlsConfig": prometheus_tls_config(),
                # The Service spans every version: keep only this version's pods.
                "relabelings": [
                    {"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_label_version"], "regex": v.name}
                ],
            }
        ],
    }


def slo_target(a: ModelReleaseArgs) -> SloTarget:
    return SloTarget(p99_ms=a.slo.p99_ms, error_ratio=a.slo.error_ratio, window=a.slo.window, min_rps=a.slo.min_rps)


def prometheus_rule_spec(a: ModelReleaseArgs, v: ModelVersion) -> dict[str, Any]:
    rules = slo_alert_rules(
        Workload(a.ns, a.name, v.name),
        slo_target(a),
        name_prefix=camel(a.name, v.name),
        labels={"model": a.name, "model_version": v.name},
    )
    return {"groups": [{"name": f"{workload(a.name, v.name)}.slo", "rules": rules}]}


def _ns_peer(name: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": name})
    )


def ingress_policy_spec(a: ModelReleaseArgs) -> k8s.networking.v1.NetworkPolicySpecArgs:
    srvs = [server_for(a.name, v) for v in a.versions]
    serving = ["http"] + (["grpc"] if any(s.grpc_port for s in srvs) else [])
    metrics = ["http"] + (["metrics"] if any(metrics_port_name(s) == "metrics" for s in srvs) else [])

    def ports(names: list[str], extra: tuple[int, ...] = ()) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
        return [k8s.networking.v1.NetworkPolicyPortArgs(port=n, protocol="TCP") for n in names] + [
            k8s.networking.v1.NetworkPolicyPortArgs(port=p, protocol="TCP") for p in extra
        ]

    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": a.name}),
        policy_types=["Ingress"],
        ingress=[
            # Requests through the ingress gateway; istio-system for mesh health checks.
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[_ns_peer(INGRESS_NAMESPACE), _ns_peer(ISTIO_NAMESPACE)], ports=ports(serving)
            ),
            # Prometheus: the server's metrics and the sidecar's (15090 envoy stats, 15020 merged).
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[_ns_peer(MONITORING_NAMESPACE)], ports=ports(metrics, (15020, 15090))
            ),
        ],
    )


def has_artifacts(a: ModelReleaseArgs) -> bool:
    """The release's servers download artifacts: an artifact store, or a version naming an artifact."""
    return a.artifact_bucket or any(v.artifact is not None for v in a.versions)


def artifact_uris(a: ModelReleaseArgs) -> tuple[str, ...]:
    return tuple(sorted({v.artifact.uri for v in a.versions if v.artifact is not None}))


def artifact_service_entry(a: ModelReleaseArgs) -> str:
    """Name of the ServiceEntry letting the release's servers reach their artifact store."""
    return workload(a.name, "artifacts")


def artifact_service_entry_spec(hosts: Sequence[str]) -> dict[str, Any]:
    """Istio ServiceEntry for the artifact store's hosts: with the mesh's REGISTRY_ONLY outbound policy
    the sidecar forwards nothing else out of the mesh. TLS on 443 (the SNI picks the host), each host
    resolved by DNS, visible to the model's own namespace only (exportTo "."), so the entry opens the
    store to no other workload."""
    return {
        "hosts": sorted(set(hosts)),
        "location": "MESH_EXTERNAL",
        "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
        "resolution": "DNS",
        "exportTo": ["."],
    }


def egress_policy_spec(a: ModelReleaseArgs) -> k8s.networking.v1.NetworkPolicySpecArgs:
    rules = [
        k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                        match_labels={"kubernetes.io/metadata.name": "kube-system"}
                    ),
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
                )
            ],
            ports=[
                k8s.networking.v1.NetworkPolicyPortArgs(port=53, protocol="UDP"),
                k8s.networking.v1.NetworkPolicyPortArgs(port=53, protocol="TCP"),
            ],
        ),
        # istiod: xDS and certificates for the sidecar.
        k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[_ns_peer(ISTIO_NAMESPACE)], ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=15012, protocol="TCP")]
        ),
    ]
    if has_artifacts(a):
        # Artifact store and STS (IRSA) over HTTPS; never the node's instance metadata service.
        rules.append(
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[
                    k8s.networking.v1.NetworkPolicyPeerArgs(
                        ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0", except_=["169.254.169.254/32"])
                    )
                ],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=443, protocol="TCP")],
            )
        )
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": a.name}), policy_types=["Egress"], egress=rules
    )
