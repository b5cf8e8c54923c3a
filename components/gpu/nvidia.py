"""The NVIDIA stack on a cluster's GPU nodes: device plugin + GPU feature discovery, MIG manager, DCGM exporter.

    NvidiaGpuStack("gpu", NvidiaGpuStackArgs(pools=gpu_pools, service_monitor=True),
                   opts=pulumi.ResourceOptions(provider=k8s_provider))

Who does what (../shared/reference/gpu-nvidia.md §2.5, EKS user guide "ml-eks-optimized-ami"):

- EKS AL2023 NVIDIA AMIs ship the driver and container toolkit but no device plugin: we install the
  standalone `nvidia-device-plugin` chart (with GFD and NFD) for every AL2023 GPU pool, MIG or not, so
  one config map serves all pools; each pool picks its entry through the `nvidia.com/device-plugin.config`
  node label (`default`, `time-slicing-<N>`, `mig-single`, `mig-mixed`; components/scheduling.py).
- MIG partitioning needs the MIG manager; it runs through the GPU Operator chart with driver, toolkit,
  device plugin, GFD, DCGM and NFD all disabled (the AMI or our own charts provide them), reading a
  mig-parted ConfigMap rendered here for exactly the layouts the pools use. The operator is only
  installed when some pool uses MIG.
- Bottlerocket NVIDIA AMIs ship driver, toolkit, device plugin and MIG manager: those pools are kept
  out of our device-plugin DaemonSet (node affinity), and spec rules keep them on whole GPUs.
- ACK installs its own driver and device plugin (`install_device_plugin=False`); DCGM still runs.
- dcgm-exporter comes from its own chart, not the operator: it must run on every GPU pool, also where
  no operator is installed (stacks without MIG, ACK). Its ServiceMonitor is rendered here as a
  CustomResource (schema-checked offline) and only when Prometheus is installed.

Every DaemonSet tolerates the GPU taint and the pools' extra taints and is pinned to GPU nodes by the
`gpu-platform.io/gpu-model` label, which the node pool sets at creation: no dependency on NFD labels
that only appear after NFD itself runs (reference §1.2, gotcha 1).

Helm flavour per chart (docs/design.md#helm-release-vs-chart): device plugin and dcgm-exporter use
`helm.v4.Chart` — plain DaemonSets and ConfigMaps without hooks, so `pulumi preview` diffs the rendered
config map entry by entry; the GPU Operator uses `helm.v3.Release` because its chart relies on Helm hooks
(CRD upgrade and pre-delete cleanup jobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import helm
from components.gpu import mig
from components.scheduling import (
    DEFAULT_DEVICE_PLUGIN_CONFIG,
    DEVICE_PLUGIN_CONFIG_LABEL,
    GPU_MODEL_LABEL,
    GPU_RESOURCE,
    POOL_LABEL,
    PoolShape,
    gpu_tolerations,
)

NAMESPACE = "nvidia-gpu"
MIG_PARTED_CONFIG_MAP = "mig-parted-config"
MIG_PARTED_CONFIG_KEY = "config.yaml"  # the key the MIG manager reads (gpu-operator values.yaml migManager.config)
DCGM_RELEASE = "dcgm-exporter"
DCGM_NAME_LABEL = {"app.kubernetes.io/name": "dcgm-exporter"}  # what the Prometheus side selects on
DCGM_SCRAPE_INTERVAL = "15s"  # dcgm-exporter collects every 15 s (chart default); faster scrapes see no new data

# Requests of the DaemonSets we configure, per GPU node. components/gpu/reservations.py subtracts the same
# numbers from each GPU node's allocatable for the capacity plan (stacks/platform/gpu.py) and the release
# capacity check, so the report and the cluster agree.
DEVICE_PLUGIN_REQUESTS = {"cpu": "50m", "memory": "64Mi"}
DCGM_REQUESTS = {"cpu": "100m", "memory": "512Mi"}  # DCGM host engine embedded: ~300-450 MiB RSS on 8-GPU nodes
DCGM_MEMORY_LIMIT = "1Gi"


@dataclass(frozen=True, slots=True)
class GpuPool:
    """A GPU pool as the NVIDIA stack sees it."""

    shape: PoolShape
    os_ships_device_plugin: bool = False  # Bottlerocket NVIDIA: device plugin + MIG manager come with the OS

    @property
    def name(self) -> str:
        return self.shape.name

    @property
    def device_plugin_config(self) -> str:
        # Read from the node labels themselves: the entry a node selects is whatever its label says.
        return self.shape.labels()[DEVICE_PLUGIN_CONFIG_LABEL]


@dataclass(frozen=True, slots=True)
class NvidiaGpuStackArgs:
    pools: tuple[GpuPool, ...]
    """GPU pools only (CPU pools never run NVIDIA DaemonSets)."""
    install_device_plugin: bool = True
    """Default: install the NVIDIA device plugin + GFD. False on ACK, which installs its own plugin and driver."""
    install_mig_manager: bool = True
    """Default: run the MIG manager (GPU Operator) when a pool uses MIG. False where the cloud partitions MIG."""
    dcgm_exporter: bool = True
    """Default: DCGM exporter on every GPU node (GPU metrics for alerts, SLOs and the capacity report)."""
    service_monitor: bool = False
    """Render the dcgm-exporter ServiceMonitor; set when kube-prometheus-stack is installed (its CRD)."""
    namespace: str = NAMESPACE

    def __post_init__(self) -> None:
        names = [p.name for p in self.pools]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate GPU pool names: {sorted(names)}")
        cpu = [p.name for p in self.pools if not p.shape.is_gpu]
        if cpu:
            raise ValueError(f"NvidiaGpuStackArgs.pools: {', '.join(cpu)} have no GPUs; pass GPU pools only")

    @property
    def plugin_pools(self) -> tuple[GpuPool, ...]:
        """Pools whose nodes run our device plugin DaemonSet."""
        if not self.install_device_plugin:
            return ()
        return tuple(p for p in self.pools if not p.os_ships_device_plugin)

    @property
    def mig_pools(self) -> tuple[GpuPool, ...]:
        """Pools whose MIG layout our MIG manager applies."""
        if not self.install_mig_manager:
            return ()
        return tuple(p for p in self.pools if p.shape.mig_config is not None and not p.os_ships_device_plugin)


# ----------------------------------------------------------------------------------------------------
# Pure renderers (no Pulumi): tests and golden files call these directly.


def daemonset_tolerations(pools: Sequence[GpuPool]) -> list[dict[str, str]]:
    """The GPU taint plus every extra taint a GPU pool carries, deduplicated and sorted."""
    seen: dict[tuple[str, str, str], dict[str, str]] = {}
    for tol in gpu_tolerations() + [t.toleration() for p in pools for t in p.shape.taints()]:
        seen[(tol["key"], tol["value"], tol["effect"])] = tol
    return [seen[k] for k in sorted(seen)]


def gpu_node_affinity(exclude_pools: Sequence[str] = ()) -> dict[str, Any]:
    """Required node affinity: nodes labelled with a GPU model (set at pool creation), minus `exclude_pools`."""
    expressions: list[dict[str, Any]] = [{"key": GPU_MODEL_LABEL, "operator": "Exists"}]
    if exclude_pools:
        expressions.append({"key": POOL_LABEL, "operator": "NotIn", "values": sorted(exclude_pools)})
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": expressions}]}
        }
    }


def device_plugin_config(name: str, pools: Sequence[GpuPool]) -> dict[str, Any]:
    """One named device-plugin config file (format v1, reference §1.3) for the pools that select `name`."""
    shapes = [p.shape for p in pools if p.device_plugin_config == name]
    flags: dict[str, Any] = {"failOnInitError": True, "migStrategy": "none"}
    config: dict[str, Any] = {"flags": flags, "version": "v1"}
    if name == DEFAULT_DEVICE_PLUGIN_CONFIG:
        return config
    strategies = {s.mig_strategy for s in shapes if s.sharing == "mig"}
    replicas = {s.time_slicing_replicas for s in shapes if s.sharing == "time-slicing"}
    if strategies:
        (strategy,) = strategies  # the entry name carries the strategy, so one per name
        flags["migStrategy"] = strategy
    elif replicas:
        (n,) = replicas
        config["sharing"] = {
            "timeSlicing": {
                # Keep the resource name nvidia.com/gpu: a renamed `.shared` resource is invisible to the
                # cluster autoscaler's GPU logic (kubernetes/autoscaler#8095) and to model releases.
                "renameByDefault": False,
                # A pod asking for 2 replicas would get 2 slices of possibly the same GPU: no more compute,
                # only a false promise. Reject such requests at admission instead.
                "failRequestsGreaterThanOne": True,
                "resources": [{"name": GPU_RESOURCE, "replicas": n}],
            }
        }
    else:
        raise ValueError(f"no pool selects device-plugin config {name!r}")
    return config


def device_plugin_configs(pools: Sequence[GpuPool]) -> dict[str, dict[str, Any]]:
    """`default` plus one entry per config name the pools select, sorted by name."""
    names = {DEFAULT_DEVICE_PLUGIN_CONFIG} | {p.device_plugin_config for p in pools}
    return {name: device_plugin_config(name, pools) for name in sorted(names)}


def _yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False)


def device_plugin_values(args: NvidiaGpuStackArgs) -> dict[str, Any]:
    """Values for the nvidia-device-plugin chart (merged over charts/values/nvidia-device-plugin.yaml)."""
    pools = args.plugin_pools
    excluded = [p.name for p in args.pools if p not in pools]
    tolerations = daemonset_tolerations(args.pools)
    return helm.values(
        "nvidia-device-plugin",
        {
            "affinity": gpu_node_affinity(excluded),
            "config": {
                # The chart builds a ConfigMap from these files and a sidecar switches the plugin to the
                # entry named by the node's nvidia.com/device-plugin.config label; `default` otherwise.
                "default": DEFAULT_DEVICE_PLUGIN_CONFIG,
                # Only a named entry; never fall back to "single" (one config for every node), which would
                # silently give a time-sliced or MIG node whole-GPU settings after a label typo.
                "fallbackStrategies": ["named"],
                "map": {name: _yaml(cfg) for name, cfg in device_plugin_configs(pools).items()},
            },
            "nfd": {
                # NFD's worker runs on every node; on GPU nodes it needs the same tolerations.
                "worker": {"tolerations": tolerations},
            },
            "resources": {"requests": dict(DEVICE_PLUGIN_REQUESTS)},
            "tolerations": tolerations,
        },
    )


def mig_parted_config(pools: Sequence[GpuPool]) -> dict[str, Any]:
    """mig-parted v1 config for exactly the (GPU model, layout) pairs the MIG pools use."""
    pairs: list[tuple[str, str]] = []
    for p in pools:
        s = p.shape
        if s.mig_config is not None and s.instance.gpu_model is not None and s.mig_layout is not None:
            pairs.append((s.instance.gpu_model, s.mig_layout))
    return mig.render_mig_parted_config(pairs)


def gpu_operator_values(args: NvidiaGpuStackArgs) -> dict[str, Any]:
    """Values for the GPU Operator chart: MIG manager only, reading our mig-parted ConfigMap."""
    return helm.values(
        "gpu-operator",
        {
            "daemonsets": {"tolerations": daemonset_tolerations(args.pools)},
            # Only passed on to the operator's device plugin and GFD, both disabled here; the strategy that
            # counts is the per-pool device-plugin config. Kept consistent with the pools anyway.
            "mig": {"strategy": "mixed" if any(p.shape.mig_strategy == "mixed" for p in args.mig_pools) else "single"},
            "migManager": {
                "config": {
                    # Nodes without a nvidia.com/mig.config label (whole-GPU pools on MIG-capable GPUs) get
                    # MIG disabled; MIG pools carry their label from creation (reference §2.2).
                    "default": mig.ALL_DISABLED,
                    "name": MIG_PARTED_CONFIG_MAP,
                }
            },
        },
    )


def dcgm_values(args: NvidiaGpuStackArgs) -> dict[str, Any]:
    return helm.values(
        "dcgm-exporter",
        {
            "affinity": gpu_node_affinity(),
            "resources": {"limits": {"memory": DCGM_MEMORY_LIMIT}, "requests": dict(DCGM_REQUESTS)},
            "tolerations": daemonset_tolerations(args.pools),
        },
    )


def service_monitor_manifest(namespace: str = NAMESPACE) -> dict[str, Any]:
    """ServiceMonitor for the dcgm-exporter Service (port `metrics`, labels from the chart's helpers)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {
            "name": DCGM_RELEASE,
            "namespace": namespace,
            "labels": {**DCGM_NAME_LABEL, "app.kubernetes.io/part-of": "gpu-platform"},
        },
        "spec": {
            "endpoints": [{"interval": DCGM_SCRAPE_INTERVAL, "path": "/metrics", "port": "metrics"}],
            "namespaceSelector": {"matchNames": [namespace]},
            "selector": {"matchLabels": {**DCGM_NAME_LABEL, "app.kubernetes.io/instance": DCGM_RELEASE}},
        },
    }


# ----------------------------------------------------------------------------------------------------


class NvidiaGpuStack(pulumi.ComponentResource):
    """Device plugin + GFD (AL2023 pools), MIG manager (when a pool uses MIG), DCGM exporter (+ ServiceMonitor)."""

    namespace: k8s.core.v1.Namespace
    device_plugin: k8s.helm.v4.Chart | None
    mig_config: k8s.core.v1.ConfigMap | None
    gpu_operator: k8s.helm.v3.Release | None
    dcgm_exporter: k8s.helm.v4.Chart | None
    service_monitor: k8s.apiextensions.CustomResource | None

    def __init__(
        self,
        name: str,
        args: NvidiaGpuStackArgs,
        opts: pulumi.ResourceOptions | None = None,
        monitoring_depends_on: Sequence[pulumi.Resource] = (),
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        """`monitoring_depends_on`: the release installing the ServiceMonitor CRD (kube-prometheus-stack);
        `depends_on`: what must exist before anything here is installed (ClusterFacts.ready: nodes, cluster
        DNS, the storage driver and class). Every child gets it, since a component's own depends_on would
        not hold back its children."""
        super().__init__("gpu-platform:gpu:NvidiaGpuStack", name, None, opts)
        ready = list(depends_on)
        child = pulumi.ResourceOptions(parent=self, depends_on=ready)
        ns = args.namespace
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns,
                labels={
                    # Device plugin, MIG manager and DCGM need host paths, privileged containers and
                    # SYS_ADMIN: this namespace is deliberately outside the restricted profile.
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "app.kubernetes.io/part-of": "gpu-platform",
                },
            ),
            opts=child,
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[*ready, self.namespace])

        self.device_plugin = None
        if args.plugin_pools:
            self.device_plugin = helm.chart(
                f"{name}-device-plugin",
                "nvidia-device-plugin",
                namespace=ns,
                overrides=device_plugin_values(args),
                opts=in_ns,
            )

        self.mig_config = self.gpu_operator = None
        if args.mig_pools:
            self.mig_config = k8s.core.v1.ConfigMap(
                f"{name}-mig-parted-config",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=MIG_PARTED_CONFIG_MAP, namespace=ns),
                data={MIG_PARTED_CONFIG_KEY: _yaml(mig_parted_config(args.mig_pools))},
                opts=in_ns,
            )
            self.gpu_operator = helm.release(
                f"{name}-gpu-operator",
                "gpu-operator",
                namespace=ns,
                overrides=gpu_operator_values(args),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*ready, self.namespace, self.mig_config]),
            )

        self.dcgm_exporter = self.service_monitor = None
        if args.dcgm_exporter and args.pools:
            # Release name = DCGM_RELEASE: the chart's Service carries app.kubernetes.io/instance=<release>.
            self.dcgm_exporter = helm.chart(
                DCGM_RELEASE, "dcgm-exporter", namespace=ns, overrides=dcgm_values(args), opts=in_ns
            )
            if args.service_monitor:
                sm = service_monitor_manifest(ns)
                self.service_monitor = k8s.apiextensions.CustomResource(
                    f"{name}-dcgm-servicemonitor",
                    api_version=sm["apiVersion"],
                    kind=sm["kind"],
                    metadata=sm["metadata"],
                    spec=sm["spec"],
                    # The CRD comes with kube-prometheus-stack: wait for it when the caller passes it.
                    opts=pulumi.ResourceOptions(
                        parent=self, depends_on=[*ready, self.namespace, *monitoring_depends_on]
                    ),
                )

        self.register_outputs(
            {
                "namespace": ns,
                "devicePluginConfigs": sorted(device_plugin_configs(args.plugin_pools)) if args.plugin_pools else [],
                "migConfigs": sorted(mig_parted_config(args.mig_pools)["mig-configs"]) if args.mig_pools else [],
            }
        )
