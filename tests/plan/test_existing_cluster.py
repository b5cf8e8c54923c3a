"""A stack on an existing cluster (`cloud: existing`, docs/existing-cluster.md), through the real program
under the recording monitor: the plan of Pulumi.existing-dev.yaml creates no cloud resource, reaches the
cluster through one Kubernetes provider (stable cluster identifier, secret kubeconfig, context) and runs
the platform and workload layers as on EKS; a kubeconfig stored in plain text stops the program before
anything registers; a models-only stack layers on it through its `clusterFacts`."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from stacks.cluster.reference import parse_layered
from stacks.contract import pool_facts
from stacks.spec.errors import ConfigError
from stacks.spec.parse import parse_spec
from tests.conftest import Plan, plan_of
from tests.spec_helpers import mutate, raw_stack
from tools.offline import stack_outputs
from tools.offline.config import StackConfig, config_from_raw, load_stack_config
from tools.offline.recording import PlanMocks, RecordingMonitor
from tools.offline.runner import PROJECT_DIR, run_stack

STACK = "existing-dev"
PROVIDER = "pulumi:providers:kubernetes"
KUBECONFIG_KEY = "gpu-platform-secrets:kubeconfig"


def _plan() -> Plan:
    return plan_of(STACK)


def test_no_cloud_resource_at_all() -> None:
    types = {r["type"] for r in _plan().resources}
    cloudy = sorted(t for t in types if t.split(":")[0] in ("aws", "alicloud") or t.startswith("gpu-platform:aws"))
    cloudy += sorted(t for t in types if t.startswith(("pulumi:providers:aws", "pulumi:providers:alicloud")))
    cloudy += sorted(t for t in types if t.startswith("gpu-platform:alicloud"))
    assert cloudy == []
    assert sorted(t for t in types if t.startswith("pulumi:providers:")) == [PROVIDER]


def test_one_kubernetes_provider_with_the_configured_identity_and_a_secret_kubeconfig() -> None:
    [provider] = _plan().of_type(PROVIDER)
    assert provider["inputs"] == {
        "clusterIdentifier": "lab-gpu.fra1.example.com",  # from config: a kubeconfig change never replaces objects
        "context": "lab-gpu-admin",
        "enableServerSideApply": "true",
        "kubeconfig": "<secret>",
    }
    cluster = _plan().one("gpu-platform:existing:ExistingCluster", "lab-gpu")
    assert provider["parent"] == cluster["urn"]
    # Every Kubernetes object and Helm release of the platform and the models goes through it.
    k8s = [r for r in _plan().resources if r["custom"] and r["type"].startswith("kubernetes:")]
    assert k8s and {r["provider"] for r in k8s} == {provider["urn"]}


def test_the_platform_and_the_models_are_there() -> None:
    p = _plan()
    for kind in (
        "gpu-platform:mesh:IstioMesh",
        "gpu-platform:mesh:ApiGateway",
        "gpu-platform:observability:PrometheusStack",
        "gpu-platform:observability:LoggingStack",
        "gpu-platform:autoscaling:Keda",
        "gpu-platform:gpu:NvidiaGpuStack",
        "gpu-platform:models:ModelRelease",
    ):
        assert p.of_type(kind), kind
    assert len(p.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")) == 3
    charts = {r["name"] for r in p.of_type("kubernetes:helm.sh/v4:Chart")}
    # gpuDevicePlugin: install -> the platform's device plugin; no node autoscaler on an existing cluster.
    assert any(n.endswith("device-plugin") for n in charts) and not any("autoscaler" in n for n in charts)
    assert p.outputs["modelReleases"]["llama3-8b"]["weights"] == {"v1": 90, "v2": 10}


def _pods(p: Plan) -> dict[str, dict[str, Any]]:
    return {d["name"]: d["inputs"]["spec"]["template"]["spec"] for d in p.of_type("kubernetes:apps/v1:Deployment")}


def test_model_servers_are_placed_as_on_eks() -> None:
    # The same model on the same GPU shape (an L4 per node, whole GPUs) in the dev stack on EKS: the workload
    # layer derives the same placement from the declared pool as from the catalog's g6.xlarge.
    here, dev = _pods(_plan()), _pods(plan_of("dev"))
    for name in ("llama3-8b-v1", "llama3-8b-v2"):
        assert {k: here[name].get(k) for k in ("nodeSelector", "tolerations", "affinity")} == {
            k: dev[name].get(k) for k in ("nodeSelector", "tolerations", "affinity")
        }
        assert here[name]["nodeSelector"] == {"gpu-platform.io/gpu-sharing": "none"}


def test_outputs_say_what_the_nodes_must_carry_and_export_no_registry() -> None:
    out = _plan().outputs
    assert out["poolNodeLabels"]["gpu-l4"] == {
        "labels": {
            "gpu-platform.io/gpu-count": "1",
            "gpu-platform.io/gpu-model": "l4",
            "gpu-platform.io/gpu-sharing": "none",
            "gpu-platform.io/pool": "gpu-l4",
            "nvidia.com/device-plugin.config": "default",
        },
        "taints": ["nvidia.com/gpu=present:NoSchedule"],
    }
    assert out["poolNodeLabels"]["system"] == {"labels": {"gpu-platform.io/pool": "system"}, "taints": []}
    assert "repositoryUrls" not in out and out["kubeconfig"] == "<secret>"
    facts = out["clusterFacts"]
    assert (facts["cloud"], facts["registryUrls"], facts["storageClass"]) == ("existing", {}, None)
    assert facts["existing"]["clusterIdentifier"] == "lab-gpu.fra1.example.com"
    assert "kubeconfig" not in facts["existing"] and "kubeconfigSecret" not in facts["existing"]
    # No price for a declared node: the capacity report says so instead of inventing one.
    assert all(p["priceUsdPerNodeHour"] is None for p in facts["pools"])
    assert "price unknown" in out["capacityReport"]


def test_the_gateway_gets_the_declared_load_balancer_annotations() -> None:
    [gw] = [r for r in _plan().of_type("kubernetes:helm.sh/v3:Release") if r["inputs"]["chart"] == "gateway"]
    service = gw["inputs"]["values"]["service"]
    assert service["annotations"] == {"metallb.universe.tf/address-pool": "lab-internal"}
    assert service["type"] == "LoadBalancer"


def test_storage_comes_from_the_configured_class() -> None:
    [es] = _plan().of_type("kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch")
    claims = [c for ns in es["inputs"]["spec"]["nodeSets"] for c in ns["volumeClaimTemplates"]]
    assert {c["spec"]["storageClassName"] for c in claims} == {"ceph-rbd-encrypted"}


def _config(**changes: Any) -> StackConfig:
    return dataclasses.replace(load_stack_config(PROJECT_DIR, STACK), **changes)


def test_a_plain_text_kubeconfig_is_refused_before_anything_registers() -> None:
    cfg = _config()
    assert KUBECONFIG_KEY in cfg.secret_keys  # the example stores it encrypted
    plain = _config(
        values={**cfg.values, KUBECONFIG_KEY: "apiVersion: v1\nkind: Config\n"},
        secret_keys=[k for k in cfg.secret_keys if k != KUBECONFIG_KEY],
    )
    monitor = RecordingMonitor(PlanMocks())
    with pytest.raises(ConfigError) as err:
        run_stack(STACK, config=plain, monitor=monitor)
    # The spec's namespace check (stacks/spec/parse.py) refuses every plain gpu-platform-secrets: key
    # before the cluster layer's own kubeconfig check is reached.
    assert err.value.problems == [
        f"{KUBECONFIG_KEY}: given in plain text, but every gpu-platform-secrets: key is a secret (Alertmanager "
        "receiver keys, the Grafana admin password, kubeconfigs) and a plain value is committed unencrypted "
        f"with the stack file; remove it and store it encrypted: pulumi config set --secret {KUBECONFIG_KEY} "
        "<value>"
    ]
    assert "apiVersion" not in str(err.value)
    assert monitor.registered == []


def test_a_missing_kubeconfig_names_the_key_and_the_command() -> None:
    cfg = _config()
    missing = _config(
        values={k: v for k, v in cfg.values.items() if k != KUBECONFIG_KEY},
        secret_keys=[k for k in cfg.secret_keys if k != KUBECONFIG_KEY],
    )
    with pytest.raises(ConfigError) as err:
        run_stack(STACK, config=missing, monitor=RecordingMonitor(PlanMocks()))
    assert err.value.problems == [
        f"{KUBECONFIG_KEY}: required with cloud 'existing' (the kubeconfig that reaches the cluster); store it "
        f"encrypted: pulumi config set --secret {KUBECONFIG_KEY} < kubeconfig.yaml"
    ]


def test_the_kubeconfig_key_is_the_configured_one() -> None:
    cfg = _config()
    value = cfg.values[KUBECONFIG_KEY]
    values = {k: v for k, v in cfg.values.items() if k != KUBECONFIG_KEY}
    raw = mutate(raw_stack(STACK), "cluster.existing.kubeconfigSecret", "labKubeconfig")
    renamed = dataclasses.replace(
        config_from_raw(raw, "kc"),
        values={**config_from_raw(raw, "kc").values, "gpu-platform-secrets:labKubeconfig": value},
        secret_keys=["gpu-platform-secrets:labKubeconfig"],
    )
    assert KUBECONFIG_KEY not in renamed.values and values
    plan = Plan(run_stack("kc", config=renamed))
    assert plan.one(PROVIDER)["inputs"]["kubeconfig"] == "<secret>"


def test_a_cluster_that_provides_the_device_plugin_gets_none_of_ours() -> None:
    raw = mutate(raw_stack(STACK), "cluster.existing.gpuDevicePlugin", "provided")
    cfg = config_from_raw(raw, "provided")
    base = _config()
    cfg = dataclasses.replace(
        cfg, values={**cfg.values, KUBECONFIG_KEY: base.values[KUBECONFIG_KEY]}, secret_keys=[KUBECONFIG_KEY]
    )
    plan = Plan(run_stack("provided", config=cfg))
    names = {r["name"] for r in plan.of_type("kubernetes:helm.sh/v4:Chart")}
    assert not any(n.endswith("device-plugin") for n in names)
    assert any(n.endswith("dcgm-exporter") for n in names)  # DCGM and the planner work the same everywhere


def test_a_models_only_stack_layers_on_the_existing_cluster() -> None:
    ref = "organization/gpu-platform/existing-dev"
    outputs = stack_outputs.outputs_from_plan(_plan().data)
    raw = {
        "environment": "dev",
        "clusterStack": ref,
        "models": [
            {
                **copy.deepcopy(raw_stack(STACK)["models"][0]),
                "name": "mistral-7b",
                "hosts": ["mistral-7b.models.lab.example.com"],
            }
        ],
    }
    raw["models"][0]["traffic"] = {"stable": "v1"}
    raw["models"][0]["versions"] = raw["models"][0]["versions"][:1]
    plan = Plan(
        run_stack(
            "models-lab", config=config_from_raw(raw, "models-lab"), monitor=RecordingMonitor(PlanMocks({ref: outputs}))
        )
    )
    [provider] = plan.of_type(PROVIDER)
    assert provider["inputs"]["context"] == "lab-gpu-admin" and provider["inputs"]["kubeconfig"] == "<secret>"
    assert not [r for r in plan.resources if r["type"].startswith(("aws:", "alicloud:", "pulumi:providers:aws"))]
    assert plan.of_type("gpu-platform:models:ModelRelease")
    layered = parse_layered({"environment": "dev", "clusterStack": ref}, outputs["clusterFacts"])
    assert pool_facts(layered) == pool_facts(parse_spec(raw_stack(STACK)))
