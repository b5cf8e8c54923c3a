"""Layered stacks: a models-only stack reads the dev cluster stack's `clusterFacts` (and the models it
deploys itself, `modelReleases`) through a StackReference (stubbed by tools/offline PlanMocks) and deploys
its model releases exactly as a cluster stack would, and nothing the cluster stack owns."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.cluster.reference import cluster_raw, layered_problems, parse_layered, pool_output
from stacks.contract import pool_facts
from stacks.spec.errors import ConfigError
from stacks.spec.parse import parse_spec
from tests.conftest import Plan, plan_of
from tests.spec_helpers import mutate, raw_stack
from tools.offline import stack_outputs
from tools.offline.config import config_from_raw
from tools.offline.recording import PlanMocks, RecordingMonitor
from tools.offline.reference_outputs import UnknownStackError
from tools.offline.runner import run_stack

# The cluster stack models-dev names: organization/gpu-platform/dev on a self-managed backend, <org>/... on
# Pulumi Cloud; the offline fixture (tools/offline/stack_outputs/gpu-platform+dev.json) answers either.
DEV = raw_stack("models-dev")["clusterStack"]
PRIORITY_CLASS = "kubernetes:scheduling.k8s.io/v1:PriorityClass"


def dev_outputs(**changes: Any) -> dict[str, Any]:
    """The dev cluster stack's outputs as a deployed stack hands them over: the fixture's clusterFacts and
    the dev plan's modelReleases (the models dev deploys itself), with `changes` applied."""
    return {
        **copy.deepcopy(stack_outputs.load(DEV)),
        "modelReleases": copy.deepcopy(plan_of("dev").outputs["modelReleases"]),
        **changes,
    }


def _model_layer(p: Plan) -> dict[str, tuple[str, str, Any]]:
    """The model layer's resources keyed by URN without the stack name: type, parent, inputs."""
    prefix = f"urn:pulumi:{p.data['stack']}::"
    roots = {r["urn"] for r in p.resources if r["type"].startswith("gpu-platform:models:")}
    keep = [
        r
        for r in p.resources
        if any(
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
    # A stable identity from the cluster stack's facts: a new endpoint or credential in its kubeconfig
    # updates the provider instead of replacing every model object.
    assert provider["inputs"] == {"kubeconfig": "<secret>", "clusterIdentifier": "aws/us-west-2/gpu-dev"}
    assert all(
        r["provider"].endswith("pulumi:providers:kubernetes::cluster")
        for r in p.resources
        if r["custom"] and r["type"].startswith("kubernetes:")
    )
    assert p.outputs["clusterName"] == "gpu-dev" and p.outputs["environment"] == "dev"


def test_models_only_stack_deploys_its_releases_as_a_cluster_stack_would() -> None:
    # The dev stack file with models-dev's models instead of its own (and no gateway route, which names a
    # dev model): the models-only stack renders the very same release objects into the dev cluster.
    raw = mutate(raw_stack("dev"), "models", raw_stack("models-dev")["models"])
    raw = mutate(raw, "addons.istio.gateway.routes", [])
    as_cluster = Plan(run_stack("dev-with-mistral", config=config_from_raw(raw, "dev-with-mistral")))
    cluster, layered = _model_layer(as_cluster), _model_layer(plan_of("models-dev"))
    assert len(layered) == 23  # 21 Kubernetes objects + ModelRelease + ModelNamespace
    assert layered == cluster
    assert plan_of("models-dev").outputs["modelReleases"] == as_cluster.outputs["modelReleases"]
    assert plan_of("models-dev").outputs["modelCapacityReport"] == as_cluster.outputs["modelCapacityReport"]


def test_models_only_stack_creates_nothing_the_cluster_stack_owns() -> None:
    dev, layered = plan_of("dev"), plan_of("models-dev")
    # Cluster-scoped objects belong to the platform layer: the PriorityClasses are the cluster stack's.
    assert not layered.of_type(PRIORITY_CLASS)
    assert sorted(r["urn"].rsplit("::", 1)[1] for r in dev.of_type(PRIORITY_CLASS)) == [
        "models-batch",
        "models-critical",
        "models-standard",
    ]
    # No model, namespace or object name of the cluster stack is deployed again.
    assert not set(layered.outputs["modelReleases"]) & set(dev.outputs["modelReleases"])
    k8s_ids = lambda p: {  # noqa: E731
        (r["type"], r["inputs"].get("metadata", {}).get("namespace"), r["inputs"].get("metadata", {}).get("name"))
        for r in p.resources
        if r["custom"] and r["type"].startswith("kubernetes:")
    }
    assert not k8s_ids(layered) & k8s_ids(dev)
    # With the cluster stack's modelReleases in the fixture the models-only stack still plans.
    data = run_stack("models-dev", monitor=RecordingMonitor(PlanMocks({DEV: dev_outputs()})))
    assert data["outputs"]["modelReleases"] == layered.outputs["modelReleases"]


def test_platform_layer_creates_the_priority_classes_without_models() -> None:
    raw = mutate(mutate(raw_stack("dev"), "models", []), "addons.istio.gateway.routes", [])
    bare = Plan(run_stack("dev-no-models", config=config_from_raw(raw, "dev-no-models")))
    classes = {r["name"]: r for r in bare.of_type(PRIORITY_CLASS)}
    assert sorted(classes) == ["models-batch", "models-critical", "models-standard"]
    # Same URNs (stack-level, same logical names) as before the move: no alias, no replacement.
    for r in plan_of("dev").of_type(PRIORITY_CLASS):
        assert r["parent"] == ""
        # only the SDK's own apiVersion aliases (v1alpha1/v1beta1), none of ours
        assert all(set(a["spec"]) == {"type", "parentUrn"} for a in r["options"]["aliases"])
        assert r["urn"] == f"urn:pulumi:dev::gpu-platform::{PRIORITY_CLASS}::{r['name']}"
        assert classes[r["name"]]["inputs"] == r["inputs"]
    assert {c["inputs"]["metadata"]["name"]: c["inputs"]["value"] for c in classes.values()} == {
        "gpu-platform-critical": 1_000_000,
        "gpu-platform-standard": 100_000,
        "gpu-platform-batch": 1_000,
    }
    # Every model server waits for them.
    urns = {r["urn"] for r in plan_of("dev").of_type(PRIORITY_CLASS)}
    deployments = plan_of("dev").of_type("kubernetes:apps/v1:Deployment")
    assert deployments and all(urns <= set(d["options"]["dependsOn"]) for d in deployments if "llama3" in d["name"])


def test_models_only_stack_refuses_a_model_the_cluster_stack_deploys() -> None:
    raw = mutate(raw_stack("models-dev"), "models.0.name", "llama3-8b")
    raw = mutate(raw, "models.0.hosts", ["llama3-8b.models.dev.example.com"])
    monitor = RecordingMonitor(PlanMocks({DEV: dev_outputs()}))
    with pytest.raises(ConfigError) as err:
        run_stack("bad", config=config_from_raw(raw, "bad"), monitor=monitor)
    assert err.value.problems == [
        f"gpu-platform:models[0].name: model 'llama3-8b' is already deployed by cluster stack {DEV} "
        "(its modelReleases output); two stacks must never own the same release: rename the model here, or "
        f"remove it from the models of {DEV} and deploy that first"
    ]
    # Refused at plan time: nothing but the stack reference was registered.
    assert [r.type for r in monitor.registered] == ["pulumi:pulumi:StackReference"]


def test_models_only_stack_refuses_a_namespace_the_cluster_stack_deploys_into() -> None:
    raw = mutate(raw_stack("models-dev"), "models.0.namespace", "llama3-8b")
    with pytest.raises(ConfigError) as err:
        run_stack("bad", config=config_from_raw(raw, "bad"), monitor=RecordingMonitor(PlanMocks({DEV: dev_outputs()})))
    assert err.value.problems == [
        f"gpu-platform:models[0].namespace: namespace 'llama3-8b' is created by cluster stack {DEV} "
        "(model 'llama3-8b' deploys into it); a namespace belongs to one stack: set models[0].namespace to "
        "another namespace"
    ]
    # A model named like a shared namespace of the cluster stack would create it too.
    shared = dev_outputs(modelReleases={"a": {"namespace": "mistral-7b", "hosts": [], "weights": {}}})
    with pytest.raises(ConfigError) as err:
        run_stack("models-dev", monitor=RecordingMonitor(PlanMocks({DEV: shared})))
    assert err.value.problems[0].startswith(
        f"gpu-platform:models[0].name: namespace 'mistral-7b' is created by cluster stack {DEV}"
    )


def test_collisions_are_reported_with_the_other_problems() -> None:
    raw = mutate(raw_stack("models-dev"), "models.0.name", "llama3-8b")
    raw = mutate(raw, "models.0.traffic.stable", "v9")
    with pytest.raises(ConfigError) as err:
        run_stack("bad", config=config_from_raw(raw, "bad"), monitor=RecordingMonitor(PlanMocks({DEV: dev_outputs()})))
    assert err.value.problems[0].startswith("gpu-platform:models[0].name: model 'llama3-8b' is already deployed")
    assert len(err.value.problems) > 1 and all(p.startswith("gpu-platform:models[0]") for p in err.value.problems)
    bad = dev_outputs(modelReleases=["llama3-8b"])
    with pytest.raises(ConfigError) as err:
        run_stack("models-dev", monitor=RecordingMonitor(PlanMocks({DEV: bad})))
    assert err.value.problems == [
        f"gpu-platform:clusterStack: stack {DEV} exports modelReleases as ['llama3-8b'], not a map "
        "of model name to release; deploy it with this version of gpu-platform"
    ]


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
    assert ali["kubeconfig"] == "<secret>"  # the ACK exec kubeconfig holds no credential, but travels as one


def test_stack_reference_fixture_is_the_dev_plan_output() -> None:
    # Rewrite with `python -m tools.offline.stack_outputs dev organization/gpu-platform/dev` when this fails.
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
        "gpu-platform:models[0]: model 'mistral-7b' does not fit at rollout step 10% (stable v1 x1, candidate v2 x1): "
        "needs 2 nvidia.com/gpu; eligible pools gpu-l4 (maxSize 1) hold 1 nvidia.com/gpu; fixes: raise "
        f"nodePools[gpu-l4].maxSize from 1 to 2 (node pools of cluster stack {DEV})"
    ]


def test_models_only_stack_rejects_cluster_keys() -> None:
    raw = {**raw_stack("models-dev"), "region": "us-west-2", "nodePools": [], "addons": {}}
    assert layered_problems(raw) == [
        f"gpu-platform:region: not allowed with clusterStack; region comes from {DEV} (its "
        "clusterFacts output): set it in that stack and remove it here",
        f"gpu-platform:nodePools: not allowed with clusterStack; nodePools comes from {DEV} (its "
        "clusterFacts output): set it in that stack and remove it here",
        f"gpu-platform:addons: not allowed with clusterStack; addons comes from {DEV} (its "
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
        "<organization>/<project>/<stack>, e.g. organization/gpu-platform/prod on a self-managed backend "
        "or <org>/gpu-platform/prod on Pulumi Cloud" in err.value.problems
    )
    assert monitor.registered == []


def test_models_only_stack_reports_missing_output_and_model_problems() -> None:
    with pytest.raises(ConfigError) as err:
        run_stack("models-dev", monitor=RecordingMonitor(PlanMocks({DEV: {"vpcId": "vpc-1"}})))
    assert err.value.problems == [
        f"gpu-platform:clusterStack: stack {DEV} has no clusterFacts output; deploy it with this "
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
        p.startswith(f"gpu-platform:clusterStack: clusterFacts of {DEV}: gpu-platform:nodePools[1]")
        for p in err.value.problems
    ), err.value.problems


@pytest.mark.parametrize(
    ("facts", "lacking"),
    [
        ({"schemaVersion": 1}, None),
        ("pools", "pools (a list)"),
        ("cloud name region", "cloud (a string), name (a string), region (a string)"),
    ],
)
def test_cluster_facts_missing_keys_are_named_with_the_stack(facts: Any, lacking: str | None) -> None:
    """A clusterFacts output without what the models-only stack reads: one message naming the stack and every
    missing key, before anything registers (instead of a KeyError or a pile of spec errors)."""
    full = stack_outputs.load(DEV)["clusterFacts"]
    if isinstance(facts, str):
        facts = {k: v for k, v in full.items() if k not in facts.split()}
        expected = lacking
    else:
        expected = (
            "cloud (a string), name (a string), region (a string), zones (a list), kubernetesVersion (a string), "
            "pools (a list), addons (a mapping), registryUrls (a mapping)"
        )
    monitor = RecordingMonitor(PlanMocks({DEV: {"clusterFacts": facts}}))
    with pytest.raises(ConfigError) as err:
        run_stack("models-dev", monitor=monitor)
    assert err.value.problems == [
        f"gpu-platform:clusterStack: the clusterFacts output of stack {DEV} lacks {expected}, missing or of another "
        "type; redeploy that stack with this version of gpu-platform"
    ]
    assert [r.type for r in monitor.registered] == ["pulumi:pulumi:StackReference"]


def test_cluster_facts_that_are_not_a_mapping_are_named() -> None:
    with pytest.raises(ConfigError) as err:
        run_stack("models-dev", monitor=RecordingMonitor(PlanMocks({DEV: {"clusterFacts": ["x"]}})))
    assert err.value.problems == [
        f"gpu-platform:clusterStack: stack {DEV} exports clusterFacts as ['x'], not a mapping; deploy it with this "
        "version of gpu-platform (a cluster stack exports it) or fix the stack name"
    ]


def test_a_stack_with_no_outputs_at_all_names_the_missing_output() -> None:
    """What the engine hands over for a stack that exists but was never deployed: no outputs."""
    with pytest.raises(ConfigError) as err:
        run_stack("models-dev", monitor=RecordingMonitor(PlanMocks({DEV: {}})))
    assert err.value.problems == [
        f"gpu-platform:clusterStack: stack {DEV} has no clusterFacts output; deploy it with this "
        "version of gpu-platform (a cluster stack exports it) or fix the stack name"
    ]


def test_a_referenced_stack_without_outputs_offline_is_the_engines_unknown_stack() -> None:
    """A stack that does not exist: the engine fails the StackReference read with `unknown stack "<name>"`
    (pulumi pkg/backend/backend.go GetStackOutputs); offline, a name without a fixture fails the same way."""
    raw = mutate(raw_stack("models-dev"), "clusterStack", "organization/gpu-platform/qa")
    with pytest.raises(UnknownStackError) as err:
        run_stack("x", config=config_from_raw(raw, "x"))
    assert str(err.value).startswith(
        'unknown stack "organization/gpu-platform/qa": the offline runner has no outputs for this stack reference'
    )


def test_no_fixture_is_written_from_a_stack_without_cluster_facts(capsys: pytest.CaptureFixture[str]) -> None:
    """A fixture without clusterFacts would read as a stack with no outputs: the command refuses to write it."""
    assert stack_outputs.main(["models-dev", "organization/gpu-platform/nofacts"]) == 2
    assert capsys.readouterr().err == (
        "error: stack file Pulumi.models-dev.yaml exports no clusterFacts (a models-only stack?); name the stack "
        "file of a cluster stack\n"
    )
    assert not stack_outputs.fixture_path("organization/gpu-platform/nofacts").exists()
    assert stack_outputs.main(["dev", "a/b/c/d"]) == 2
    assert capsys.readouterr().err == "error: 'a/b/c/d' is not a stack name: write <organization>/<project>/<stack>\n"
