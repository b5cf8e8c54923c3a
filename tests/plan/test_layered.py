"""Layered stacks: a models-only stack reads the dev cluster stack's `clusterFacts` through a
StackReference (stubbed by tools/offline PlanMocks) and deploys the same model releases."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.cluster.reference import cluster_raw, layered_problems, parse_layered, pool_output
from stacks.contract import pool_facts
from stacks.spec.errors import ConfigError
from stacks.spec.parse import parse_spec
from tests.conftest import Plan, plan_of
from tests.spec_helpers import raw_stack
from tools.offline import stack_outputs
from tools.offline.config import config_from_raw
from tools.offline.recording import PlanMocks, RecordingMonitor
from tools.offline.runner import run_stack

DEV = "acme/gpu-platform/dev"


def _model_layer(p: Plan) -> dict[str, tuple[str, str, Any]]:
    """The model layer's resources keyed by URN without the stack name: type, parent, inputs."""
    prefix = f"urn:pulumi:{p.data['stack']}::"
    roots = {r["urn"] for r in p.resources if r["type"].startswith("gpu-platform:models:")}
    keep = [
        r
        for r in p.resources
        if r["type"] == "kubernetes:scheduling.k8s.io/v1:PriorityClass"
        or any(
            r["urn"].startswith(u.split("::")[0]) and (r["urn"] in roots or r["parent"].startswith(tuple(roots)))
            for u in roots
        )
    ]
    return {r["urn"].removeprefix(prefix): (r["type"], r["parent"].removeprefix(prefix), r["inputs"]) for r in keep}


def test_models_only_stack_builds_no_cluster_or_platform() -> None:
    p = plan_of("models-dev")
    kinds = {r["type"] for r in p.resources}
    assert not [
        k
        for k in kinds
        if k.startswith(
            ("aws:", "alicloud:", "kubernetes:helm.sh", "gpu-platform:aws", "gpu-platform:alicloud", "gpu-platform:gpu")
        )
    ]
    assert [r["type"] for r in p.resources if r["type"].startswith("pulumi:")] == [
        "pulumi:providers:kubernetes",
        "pulumi:pulumi:StackReference",
    ]
    ref = p.one("pulumi:pulumi:StackReference", "cluster")
    assert ref["read"] is True and ref["inputs"] == {"name": DEV}
    provider = p.one("pulumi:providers:kubernetes", "cluster")
    assert provider["inputs"] == {"kubeconfig": "<secret>"}
    assert all(
        r["provider"].endswith("pulumi:providers:kubernetes::cluster")
        for r in p.resources
        if r["custom"] and r["type"].startswith("kubernetes:")
    )
    assert p.outputs["clusterName"] == "gpu-dev" and p.outputs["environment"] == "dev"


def test_models_only_stack_deploys_the_same_releases_as_the_cluster_stack() -> None:
    dev, layered = _model_layer(plan_of("dev")), _model_layer(plan_of("models-dev"))
    assert len(layered) == 26  # 24 Kubernetes objects + ModelRelease + ModelNamespace
    assert layered == dev
    assert plan_of("models-dev").outputs["modelReleases"] == plan_of("dev").outputs["modelReleases"]
    assert plan_of("models-dev").outputs["modelCapacityReport"] == plan_of("dev").outputs["modelCapacityReport"]


def test_cluster_stacks_export_cluster_facts() -> None:
    facts = plan_of("dev").outputs["clusterFacts"]
    assert {
        k: facts[k]
        for k in (
            "cloud",
            "name",
            "region",
            "zones",
            "kubernetesVersion",
            "kubeconfig",
            "storageClass",
            "schemaVersion",
        )
    } == {
        "cloud": "aws",
        "name": "gpu-dev",
        "region": "us-west-2",
        "zones": ["us-west-2a", "us-west-2b"],
        "kubernetesVersion": "1.33",
        "kubeconfig": "<secret>",
        "storageClass": "gp3-encrypted",
        "schemaVersion": 1,
    }
    assert facts["pools"][1] == {
        "name": "gpu-l4",
        "instanceType": "g6.xlarge",
        "capacityType": "ON_DEMAND",
        "minSize": 0,
        "maxSize": 2,
        "sharing": "none",
        "migStrategy": None,
        "migLayout": None,
        "timeSlicingReplicas": None,
        "labels": {},
        "taints": [],
        "gpusPerNode": {"nvidia.com/gpu": 1},
        "priceUsdPerNodeHour": 0.8048,
    }
    assert facts["oidcProviderArn"] == "<computed>" and facts["registryUrls"] == {"llama3-8b": "<computed>"}
    ali = plan_of("alicloud-prod").outputs["clusterFacts"]
    mig = next(p for p in ali["pools"] if p["name"] == "gpu-a100-mig")
    assert (ali["cloud"], mig["sharing"], mig["migStrategy"]) == ("alicloud", "mig", "mixed")
    assert plan_of("alicloud-prod").outputs["kubeconfig"] == "<secret>"


def test_stack_reference_fixture_is_the_dev_plan_output() -> None:
    # Rewrite with `python -m tools.offline.stack_outputs dev acme/gpu-platform/dev` when this fails.
    assert stack_outputs.load(DEV) == stack_outputs.outputs_from_plan(plan_of("dev").data)


@pytest.mark.parametrize("stack", ["dev", "alicloud-prod"])
def test_pool_facts_round_trip_to_the_same_pool_shapes(stack: str) -> None:
    spec = parse_spec(raw_stack(stack))
    facts = {
        "cloud": spec.cloud,
        "name": spec.cluster_name,
        "region": spec.region,
        "zones": list(spec.zones),
        "kubernetesVersion": spec.cluster.kubernetes_version,
        "pools": [pool_output(p) for p in pool_facts(spec)],
    }
    layered = parse_layered(
        {"environment": spec.environment, "clusterStack": "acme/gpu-platform/x"},
        {**facts, "addons": stack_outputs.load(DEV)["clusterFacts"]["addons"]},
    )
    assert pool_facts(layered) == pool_facts(spec)
    assert any(p.shape.sharing != "none" for p in pool_facts(layered)) == (stack != "dev")
    assert cluster_raw(facts)["cluster"] == {
        "name": spec.cluster_name,
        "kubernetesVersion": spec.cluster.kubernetes_version,
    }


def test_capacity_check_runs_against_the_referenced_pools() -> None:
    small = copy.deepcopy(stack_outputs.load(DEV))
    small["clusterFacts"]["pools"][1]["maxSize"] = 1
    with pytest.raises(ConfigError) as err:
        run_stack("models-dev", monitor=RecordingMonitor(PlanMocks({DEV: small})))
    assert err.value.problems == [
        "gpu-platform:models[0]: model 'llama3-8b' does not fit at rollout step 10% (stable v1 x1, candidate v2 x1): "
        "needs 2 nvidia.com/gpu; eligible pools gpu-l4 (maxSize 1) hold 1 nvidia.com/gpu; fixes: raise "
        "nodePools[gpu-l4].maxSize from 1 to 2 (node pools of cluster stack acme/gpu-platform/dev)"
    ]


def test_models_only_stack_rejects_cluster_keys() -> None:
    raw = {**raw_stack("models-dev"), "region": "us-west-2", "nodePools": [], "addons": {}}
    assert layered_problems(raw) == [
        "gpu-platform:region: not allowed with clusterStack; region comes from acme/gpu-platform/dev (its "
        "clusterFacts output): set it in that stack and remove it here",
        "gpu-platform:nodePools: not allowed with clusterStack; nodePools comes from acme/gpu-platform/dev (its "
        "clusterFacts output): set it in that stack and remove it here",
        "gpu-platform:addons: not allowed with clusterStack; addons comes from acme/gpu-platform/dev (its "
        "clusterFacts output): set it in that stack and remove it here",
    ]
    monitor = RecordingMonitor(PlanMocks())
    with pytest.raises(ConfigError) as err:  # through __main__.py, before the stack reference is read
        run_stack("bad", config=config_from_raw({**raw, "clusterStack": "gpu-platform/dev"}, "bad"), monitor=monitor)
    assert err.value.problems[0] == (
        "gpu-platform:addons: not allowed with clusterStack; addons comes from the cluster stack (its clusterFacts "
        "output): set it in that stack and remove it here"
    )
    assert (
        "gpu-platform:clusterStack: 'gpu-platform/dev' is not a stack name; write it as "
        "<organization>/<project>/<stack>, e.g. acme/gpu-platform/prod" in err.value.problems
    )
    assert monitor.registered == []


def test_models_only_stack_reports_missing_output_and_model_problems() -> None:
    with pytest.raises(ConfigError) as err:
        run_stack("models-dev", monitor=RecordingMonitor(PlanMocks({DEV: {"vpcId": "vpc-1"}})))
    assert err.value.problems == [
        "gpu-platform:clusterStack: stack acme/gpu-platform/dev has no clusterFacts output; deploy it with this "
        "version of gpu-platform (a cluster stack exports it) or fix the stack name"
    ]
    raw = raw_stack("models-dev")
    raw["models"][0]["traffic"]["stable"] = "v9"
    with pytest.raises(ConfigError) as err:
        run_stack("bad", config=config_from_raw(raw, "bad"))
    assert all(p.startswith("gpu-platform:models[0]") for p in err.value.problems)
    broken = copy.deepcopy(stack_outputs.load(DEV))
    broken["clusterFacts"]["pools"][1]["instanceType"] = "g9.huge"
    with pytest.raises(ConfigError) as err:
        run_stack("models-dev", monitor=RecordingMonitor(PlanMocks({DEV: broken})))
    assert all(
        p.startswith("gpu-platform:clusterStack: clusterFacts of acme/gpu-platform/dev: gpu-platform:nodePools[1]")
        for p in err.value.problems
    ), err.value.problems
