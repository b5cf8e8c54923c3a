"""NVIDIA stack: device-plugin configs per pool, MIG manager via the GPU Operator, DCGM exporter, as planned."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.gpu import mig, nvidia
from components.gpu.nvidia import GpuPool, NvidiaGpuStackArgs
from components.scheduling import DEVICE_PLUGIN_CONFIG_LABEL, Taint, pool_shape
from tests.conftest import Plan
from tests.spec_helpers import mutate, raw_stack
from tests.validators.schemas import CRD_DIR
from tools.offline.config import config_from_raw
from tools.offline.runner import run_stack

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CHART = "kubernetes:helm.sh/v4:Chart"
RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
GPU_TOLERATION = {"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Equal", "value": "present"}
GPU_NODES = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "gpu-platform.io/gpu-model", "operator": "Exists"}]}]
        }
    }
}


def _golden(name: str, rendered: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered)
    assert path.exists(), f"{path} missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    assert rendered == path.read_text(), f"{name} changed; review the diff, then UPDATE_GOLDEN=1"


def _chart(p: Plan, name: str) -> dict[str, Any]:
    return p.one(CHART, name)["inputs"]


def _configs(values: dict[str, Any]) -> dict[str, Any]:
    return {k: yaml.safe_load(v) for k, v in values["config"]["map"].items()}


# ----------------------------------------------------------------------------------------------------
# Device plugin


def test_prod_device_plugin_has_one_config_per_sharing_mode_the_pools_use(plan: Callable[[str], Plan]) -> None:
    values = _chart(plan("prod"), "gpu-prod-device-plugin")["values"]
    assert values["config"]["default"] == "default"
    assert values["config"]["fallbackStrategies"] == ["named"]
    assert _configs(values) == {
        "default": {"version": "v1", "flags": {"failOnInitError": True, "migStrategy": "none"}},
        "mig-mixed": {"version": "v1", "flags": {"failOnInitError": True, "migStrategy": "mixed"}},
        "time-slicing-4": {
            "version": "v1",
            "flags": {"failOnInitError": True, "migStrategy": "none"},
            "sharing": {
                "timeSlicing": {
                    "failRequestsGreaterThanOne": True,
                    "renameByDefault": False,
                    "resources": [{"name": "nvidia.com/gpu", "replicas": 4}],
                }
            },
        },
    }


def test_every_pool_label_names_an_existing_config_entry(plan: Callable[[str], Plan]) -> None:
    # The node label (set by the node pool) and the config map must agree, or the plugin falls back.
    for stack, expected in (
        ("dev", {"gpu-l4": "default"}),
        (
            "prod",
            {
                "gpu-a10g": "default",
                "gpu-l4-shared": "time-slicing-4",
                "gpu-a100-mig": "mig-mixed",
                "gpu-a100-reserved": "default",
                "gpu-h200-block": "default",
                "gpu-h100-efa": "default",
            },
        ),
    ):
        p = plan(stack)
        entries = set(_chart(p, f"gpu-{stack}-device-plugin")["values"]["config"]["map"])
        labels = {
            r["inputs"]["nodeGroupNamePrefix"].removeprefix(f"gpu-{stack}-").rstrip("-"): r["inputs"]["labels"].get(
                DEVICE_PLUGIN_CONFIG_LABEL
            )
            for r in p.of_type("aws:eks/nodeGroup:NodeGroup")
        }
        gpu_labels = {k: v for k, v in labels.items() if v is not None}
        assert gpu_labels == expected
        assert set(gpu_labels.values()) <= entries


def test_device_plugin_runs_on_gpu_nodes_only_and_tolerates_the_gpu_taint(plan: Callable[[str], Plan]) -> None:
    chart = _chart(plan("dev"), "gpu-dev-device-plugin")
    assert (chart["chart"], chart["version"], chart["namespace"]) == ("nvidia-device-plugin", "0.20.0", "nvidia-gpu")
    values = chart["values"]
    assert values["affinity"] == GPU_NODES
    assert values["tolerations"] == [GPU_TOLERATION]
    assert values["nfd"]["worker"]["tolerations"] == [GPU_TOLERATION]
    assert values["gfd"] == {"enabled": True}
    assert values["nvidiaDriverRoot"] == "/"
    assert values["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"}}
    assert "migStrategy" not in values  # a global strategy would override every per-pool config
    assert list(values["config"]["map"]) == ["default"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_golden_device_plugin_values(stack: str, plan: Callable[[str], Plan]) -> None:
    values = _chart(plan(stack), f"gpu-{stack}-device-plugin")["values"]
    _golden(f"device-plugin-values-{stack}.yaml", yaml.safe_dump(values, sort_keys=True, width=120))


def test_extra_pool_taints_are_tolerated_and_bottlerocket_pools_are_excluded() -> None:
    dedicated = Taint("dedicated", "inference", "NoSchedule")
    shared = pool_shape(
        "aws", "l4", "g6.xlarge", sharing="time-slicing", time_slicing_replicas=8, extra_taints=(dedicated,)
    )
    bottlerocket = pool_shape("aws", "br", "g5.xlarge")
    args = NvidiaGpuStackArgs(pools=(GpuPool(shared), GpuPool(bottlerocket, os_ships_device_plugin=True)))
    values = nvidia.device_plugin_values(args)
    assert values["tolerations"] == [
        {"effect": "NoSchedule", "key": "dedicated", "operator": "Equal", "value": "inference"},
        GPU_TOLERATION,
    ]
    assert values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ] == [
        {
            "matchExpressions": [
                {"key": "gpu-platform.io/gpu-model", "operator": "Exists"},
                {"key": "gpu-platform.io/pool", "operator": "NotIn", "values": ["br"]},
            ]
        }
    ]
    assert sorted(values["config"]["map"]) == ["default", "time-slicing-8"]
    # DCGM still runs on the Bottlerocket pool: only the device plugin comes with its OS.
    assert nvidia.dcgm_values(args)["affinity"] == GPU_NODES


def test_single_strategy_pools_get_their_own_entry() -> None:
    single = pool_shape("aws", "h100", "p5.48xlarge", sharing="mig", mig_strategy="single", mig_layout="all-1g.10gb")
    assert GpuPool(single).device_plugin_config == "mig-single"
    assert nvidia.device_plugin_config("mig-single", [GpuPool(single)]) == {
        "version": "v1",
        "flags": {"failOnInitError": True, "migStrategy": "single"},
    }
    with pytest.raises(ValueError, match="no pool selects device-plugin config 'time-slicing-3'"):
        nvidia.device_plugin_config("time-slicing-3", [GpuPool(single)])


def test_ack_installs_neither_device_plugin_nor_mig_manager_but_keeps_dcgm() -> None:
    # Alibaba: ACK ships driver + device plugin; the seam is install_device_plugin / install_mig_manager.
    args = NvidiaGpuStackArgs(
        pools=(GpuPool(pool_shape("alicloud", "gpu", "ecs.gn7e-c16g1.4xlarge")),),
        install_device_plugin=False,
        install_mig_manager=False,
    )
    assert args.plugin_pools == () and args.mig_pools == ()
    assert nvidia.dcgm_values(args)["tolerations"] == [GPU_TOLERATION]


def test_cpu_pools_are_rejected() -> None:
    with pytest.raises(ValueError, match="system have no GPUs; pass GPU pools only"):
        NvidiaGpuStackArgs(pools=(GpuPool(pool_shape("aws", "system", "m6i.large")),))


# ----------------------------------------------------------------------------------------------------
# MIG manager (GPU Operator) and the mig-parted ConfigMap


def test_prod_mig_parted_config_map_holds_exactly_the_pools_layouts(plan: Callable[[str], Plan]) -> None:
    cm = plan("prod").one(CONFIG_MAP, "gpu-prod-mig-parted-config")["inputs"]
    assert cm["metadata"] == {"name": "mig-parted-config", "namespace": "nvidia-gpu"}
    assert list(cm["data"]) == ["config.yaml"]
    rendered = yaml.safe_load(cm["data"]["config.yaml"])
    assert rendered == mig.render_mig_parted_config([("a100-40gb", "all-balanced")])
    assert rendered == {
        "version": "v1",
        "mig-configs": {
            "all-balanced-a100-40gb": [
                {"devices": "all", "mig-enabled": True, "mig-devices": {"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1}}
            ],
            "all-disabled": [{"devices": "all", "mig-enabled": False}],
        },
    }
    _golden("mig-parted-config-prod.yaml", cm["data"]["config.yaml"])


def test_mig_pool_label_selects_a_config_in_the_config_map(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    ng = next(r for r in p.of_type("aws:eks/nodeGroup:NodeGroup") if "gpu-a100-mig" in r["name"])
    configs = yaml.safe_load(p.one(CONFIG_MAP, "gpu-prod-mig-parted-config")["inputs"]["data"]["config.yaml"])
    assert ng["inputs"]["labels"]["nvidia.com/mig.config"] in configs["mig-configs"]


def test_gpu_operator_runs_only_the_mig_manager(plan: Callable[[str], Plan]) -> None:
    rel = plan("prod").one(RELEASE, "gpu-prod-gpu-operator")
    inputs = rel["inputs"]
    assert (inputs["chart"], inputs["version"], inputs["namespace"]) == ("gpu-operator", "v26.7.0", "nvidia-gpu")
    values = inputs["values"]
    disabled = ("driver", "toolkit", "devicePlugin", "gfd", "dcgmExporter", "dcgm", "nfd", "nodeStatusExporter")
    assert {k: values[k]["enabled"] for k in disabled} == dict.fromkeys(disabled, False)
    assert values["migManager"] == {
        "config": {"default": "all-disabled", "name": "mig-parted-config"},
        "enabled": True,
        "env": [{"name": "WITH_REBOOT", "value": "false"}],
    }
    assert values["mig"] == {"strategy": "mixed"}
    assert values["daemonsets"] == {"tolerations": [GPU_TOLERATION]}
    # The operator waits for the ConfigMap it reads.
    cm_urn = plan("prod").one(CONFIG_MAP, "gpu-prod-mig-parted-config")["urn"]
    assert cm_urn in rel["options"]["dependsOn"]


def test_gpu_operator_values_are_valid_cluster_policy_fields(plan: Callable[[str], Plan]) -> None:
    # The chart copies these sections into the ClusterPolicy CR; check them against its CRD schema.
    schema = json.loads((CRD_DIR / "nvidia.com" / "clusterpolicy_v1.json").read_text())
    spec_schema = schema["properties"]["spec"]
    values = plan("prod").one(RELEASE, "gpu-prod-gpu-operator")["inputs"]["values"]
    cr_spec = {k: v for k, v in values.items() if k in spec_schema["properties"]}
    assert set(cr_spec) == {
        "daemonsets",
        "dcgm",
        "dcgmExporter",
        "devicePlugin",
        "driver",
        "gfd",
        "mig",
        "migManager",
        "nodeStatusExporter",
        "toolkit",
    }
    sub = {**spec_schema, "required": []}
    errors = sorted(e.message for e in jsonschema.Draft7Validator(sub).iter_errors(cr_spec))
    assert errors == []


def test_dev_without_mig_pools_has_no_operator_and_no_mig_config(plan: Callable[[str], Plan]) -> None:
    p = plan("dev")
    assert [r["name"] for r in p.of_type(RELEASE) if r["inputs"]["chart"] == "gpu-operator"] == []
    assert [r for r in p.of_type(CONFIG_MAP) if r["name"].endswith("mig-parted-config")] == []


# ----------------------------------------------------------------------------------------------------
# DCGM exporter and its ServiceMonitor


def test_dcgm_exporter_tolerates_gpu_nodes_and_has_requests(plan: Callable[[str], Plan]) -> None:
    chart = _chart(plan("prod"), "dcgm-exporter")
    assert (chart["chart"], chart["version"]) == ("dcgm-exporter", "4.8.2")
    values = chart["values"]
    assert values["affinity"] == GPU_NODES
    assert values["tolerations"] == [GPU_TOLERATION]
    assert values["resources"] == {"limits": {"memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "512Mi"}}
    assert values["serviceMonitor"] == {"enabled": False}  # ours below, created only with Prometheus
    assert values["priorityClassName"] == "system-node-critical"


def test_service_monitor_selects_the_dcgm_service(plan: Callable[[str], Plan]) -> None:
    sm = plan("prod").one("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "gpu-prod-dcgm-servicemonitor")[
        "inputs"
    ]
    assert sm["metadata"]["labels"]["app.kubernetes.io/name"] == "dcgm-exporter"
    assert sm["spec"] == {
        "endpoints": [{"interval": "15s", "path": "/metrics", "port": "metrics"}],
        "namespaceSelector": {"matchNames": ["nvidia-gpu"]},
        "selector": {
            "matchLabels": {"app.kubernetes.io/instance": "dcgm-exporter", "app.kubernetes.io/name": "dcgm-exporter"}
        },
    }


def test_gpu_namespace_allows_privileged_daemonsets(plan: Callable[[str], Plan]) -> None:
    ns = plan("dev").one("kubernetes:core/v1:Namespace", "gpu-dev-ns")["inputs"]
    assert ns["metadata"]["name"] == "nvidia-gpu"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_toggles_remove_dcgm_service_monitor_and_autoscaler() -> None:
    raw = mutate(raw_stack("dev"), "addons.prometheus.enabled", False)
    raw = mutate(raw, "addons.nvidia.dcgmExporter", False)
    raw = mutate(raw, "addons.clusterAutoscaler.enabled", False)
    p = Plan(run_stack("dev", config=config_from_raw(raw, "dev")))
    assert [
        r["name"] for r in p.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor") if "dcgm" in r["name"]
    ] == []
    assert [r["inputs"]["chart"] for r in p.of_type(CHART) if r["parent"].endswith("NvidiaGpuStack::gpu-dev")] == [
        "nvidia-device-plugin"
    ]
    assert p.of_type("gpu-platform:gpu:ClusterAutoscaler") == []
    raw = mutate(raw, "addons.nvidia.enabled", False)
    p = Plan(run_stack("dev", config=config_from_raw(raw, "dev")))
    assert p.of_type("gpu-platform:gpu:NvidiaGpuStack") == []
    assert [r for r in p.of_type(CHART) if r["inputs"]["chart"] in ("nvidia-device-plugin", "dcgm-exporter")] == []
    assert "capacityReport" in p.outputs  # the plan of the pools does not depend on the add-ons
