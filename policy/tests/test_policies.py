"""The guardrail pack through the real analyzer servicer: one failing fixture per mandatory policy, passing
twins, unknown values in preview, and the real dev/prod plans of this repo (planned in this venv)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from analyzer import COMPUTED, ROOT, Finding, analyze, resource

from tools.offline.runner import run_stack

DIGEST = "123456789012.dkr.ecr.us-west-2.amazonaws.com/models/llama@sha256:" + "a" * 64
SAFE_CTX = {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False}
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def deployment(
    image: str = DIGEST,
    ctx: dict[str, Any] | None = None,
    gpus: str | None = "1",
    labels: dict[str, str] | None = None,
    kind: str = "Deployment",
    name: str = "llama",
    namespace: str = "models",
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "server", "image": image, "securityContext": SAFE_CTX if ctx is None else ctx}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": gpus}}
    api = "apps/v1"
    return resource(
        f"kubernetes:{api}:{kind}",
        name,
        {
            "apiVersion": api,
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name, **(labels or {})}},
                    "spec": {"containers": [container]},
                },
            },
        },
    )


# A PDB selecting the default fixture Deployment, so tests of other policies see no PDB advisory.
LLAMA_PDB = resource(
    "kubernetes:policy/v1:PodDisruptionBudget",
    "llama",
    {
        "metadata": {"name": "llama", "namespace": "models"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "llama"}}},
    },
)


def node_group(
    name: str = "gpu-l4",
    instance_types: list[str] | None = None,
    taints: list[Any] | None = None,
    capacity: str = "ON_DEMAND",
    ami: str | None = None,
) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "instanceTypes": instance_types or ["g6.xlarge"],
        "capacityType": capacity,
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
        if taints is None
        else taints,
    }
    if ami:
        inputs["amiType"] = ami
    return resource("aws:eks/nodeGroup:NodeGroup", name, inputs)


def ecr(**overrides: Any) -> dict[str, Any]:
    inputs = {
        "name": "models/llama",
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": COMPUTED}],
    }
    inputs.update(overrides)
    return resource("aws:ecr/repository:Repository", "llama", inputs)


def eks(public: bool, cidrs: list[str] | None) -> dict[str, Any]:
    vpc: dict[str, Any] = {"endpointPrivateAccess": True, "endpointPublicAccess": public, "subnetIds": COMPUTED}
    if cidrs is not None:
        vpc["publicAccessCidrs"] = cidrs
    return resource("aws:eks/cluster:Cluster", "gpu-dev", {"name": "gpu-dev", "vpcConfig": vpc})


def launch_template(tokens: str | None) -> dict[str, Any]:
    meta = {"httpEndpoint": "enabled", "httpPutResponseHopLimit": 1}
    if tokens:
        meta["httpTokens"] = tokens
    return resource("aws:ec2/launchTemplate:LaunchTemplate", "gpu-l4-lt", {"metadataOptions": meta})


def brief(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.policy, f.level, f.message.split("\n", 1)[1] if "\n" in f.message else f.message) for f in findings]


# -- failing fixtures, one per mandatory policy (exact policy, level and message) --------------------------


def test_fails_when_model_image_uses_a_tag() -> None:
    assert brief(analyze([deployment(image="ghcr.io/acme/llama:1.4.2"), LLAMA_PDB])) == [
        (
            "model-images-pinned-by-digest",
            "MANDATORY",
            "container 'server' image 'ghcr.io/acme/llama:1.4.2' is not pinned by digest; use "
            "<repository>@sha256:<64 hex> (tags can be moved to other images)",
        )
    ]


def test_model_label_makes_a_cpu_deployment_a_model_deployment() -> None:
    d = deployment(image="acme/tokenizer:latest", gpus=None, labels={"gpu-platform.io/model": "llama"})
    assert [f.policy for f in analyze([d, LLAMA_PDB])] == ["model-images-pinned-by-digest"]
    assert analyze([deployment(image="acme/web:latest", gpus=None)]) == []  # not a model Deployment


@pytest.mark.parametrize(
    ("ctx", "problem"),
    [
        ({"privileged": True, "runAsNonRoot": True}, "is privileged"),
        ({"runAsUser": 0}, "runs as UID 0"),
        ({}, "may run as root (set runAsNonRoot: true or a non-zero runAsUser)"),
    ],
)
def test_fails_when_container_is_root_or_privileged(ctx: dict[str, Any], problem: str) -> None:
    assert brief(analyze([deployment(ctx=ctx), LLAMA_PDB])) == [
        ("no-privileged-or-root-containers", "MANDATORY", f"models/llama: container 'server' {problem}")
    ]


def test_root_daemonset_allowed_only_when_allow_listed() -> None:
    allowed = deployment(
        kind="DaemonSet", name="nvidia-dcgm-exporter", namespace="gpu-operator", ctx={"privileged": True}, gpus=None
    )
    other = deployment(
        kind="DaemonSet", name="node-debugger", namespace="kube-system", ctx={"privileged": True}, gpus=None
    )
    assert brief(analyze([allowed, other])) == [
        ("no-privileged-or-root-containers", "MANDATORY", "kube-system/node-debugger: container 'server' is privileged")
    ]


def test_fails_when_gpu_node_group_is_not_tainted() -> None:
    assert brief(analyze([node_group(taints=[{"key": "dedicated", "value": "gpu", "effect": "NO_SCHEDULE"}])])) == [
        (
            "gpu-node-pools-tainted",
            "MANDATORY",
            "GPU node group 'gpu-l4' has no nvidia.com/gpu NO_SCHEDULE taint; pods that do not ask for GPUs "
            "would fill the GPU nodes",
        )
    ]


def test_gpu_detected_by_catalog_or_nvidia_ami_and_cpu_pools_are_exempt() -> None:
    untainted_unknown_type = node_group(instance_types=["g99.xlarge"], taints=[], ami="AL2023_x86_64_NVIDIA")
    cpu_pool = node_group(name="system", instance_types=["m6i.large"], taints=[], ami="AL2023_x86_64_STANDARD")
    assert [(f.policy, f.urn.rsplit("::", 1)[1]) for f in analyze([untainted_unknown_type, cpu_pool])] == [
        ("gpu-node-pools-tainted", "gpu-l4")
    ]


def test_fails_when_ecr_repository_is_mutable_unscanned_and_not_kms() -> None:
    bad = ecr(
        imageTagMutability="MUTABLE",
        imageScanningConfiguration={"scanOnPush": False},
        encryptionConfigurations=[{"encryptionType": "AES256"}],
    )
    assert brief(analyze([bad])) == [
        ("ecr-repositories-hardened", "MANDATORY", "imageTagMutability is 'MUTABLE'; must be 'IMMUTABLE'"),
        ("ecr-repositories-hardened", "MANDATORY", "imageScanningConfiguration.scanOnPush must be true"),
        ("ecr-repositories-hardened", "MANDATORY", "encryptionConfigurations[0].encryptionType must be 'KMS'"),
    ]


@pytest.mark.parametrize(
    ("cidrs", "message"),
    [
        (["0.0.0.0/0"], "public endpoint is open to 0.0.0.0/0"),
        (None, "public endpoint without publicAccessCidrs is open to 0.0.0.0/0 (the EKS default)"),
        (
            ["0.0.0.0/1", "128.0.0.0/1"],
            "public endpoint is open to the whole IPv4 internet: 0.0.0.0/1, 128.0.0.0/1 together cover it",
        ),
        (
            ["128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/3", "96.0.0.0/3", "10.0.0.0/8"],
            "public endpoint is open to the whole IPv4 internet: 128.0.0.0/1, 0.0.0.0/2, 64.0.0.0/3, 96.0.0.0/3, "
            "10.0.0.0/8 together cover it",
        ),
        (["::/1", "8000::/1"], "public endpoint is open to the whole IPv6 internet: ::/1, 8000::/1 together cover it"),
        (["::/0"], "public endpoint is open to ::/0"),
    ],
)
def test_fails_when_eks_endpoint_is_public_to_the_world(cidrs: list[str] | None, message: str) -> None:
    assert brief(analyze([eks(True, cidrs)])) == [("eks-endpoint-not-public-to-world", "MANDATORY", message)]


def test_eks_endpoint_private_or_restricted_passes() -> None:
    assert analyze([eks(False, None), eks(True, ["203.0.113.0/24"])]) == []
    # Nearly the world is not the world: one address missing (255.255.255.255) or half of it.
    almost = ["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/4", "240.0.0.0/5", "248.0.0.0/6"]
    assert analyze([eks(True, almost), eks(True, ["0.0.0.0/1", "not-a-cidr"])]) == []


def test_fails_when_launch_template_allows_imdsv1() -> None:
    assert brief(analyze([launch_template("optional"), launch_template(None)])) == [
        ("imdsv2-required", "MANDATORY", "metadataOptions.httpTokens is 'optional'; must be 'required' (IMDSv2 only)"),
        ("imdsv2-required", "MANDATORY", "metadataOptions.httpTokens is None; must be 'required' (IMDSv2 only)"),
    ]


def test_fails_when_prod_stateful_resource_is_not_protected() -> None:
    prod = copy.deepcopy(run_stack("prod"))
    cluster = next(r for r in prod["resources"] if r["type"] == "aws:eks/cluster:Cluster")
    cluster["options"]["protect"] = False
    assert brief(analyze(prod["resources"])) == [
        (
            "stateful-resources-protected",
            "MANDATORY",
            f"aws:eks/cluster:Cluster '{cluster['name']}' holds state and is not protected (protect=True)",
        )
    ]
    assert [f.urn for f in analyze(prod["resources"])] == [cluster["urn"]]


def test_unprotected_stateful_resources_are_fine_outside_prod() -> None:
    key = resource("aws:kms/key:Key", "k", {"enableKeyRotation": True}, stack="dev")
    assert analyze([key]) == []
    assert [f.policy for f in analyze([{**key, "urn": key["urn"].replace(":dev::", ":prod::")}])] == [
        "stateful-resources-protected"
    ]


# -- passing twins and advisory policies ---------------------------------------------------------------------


def test_hardened_fixtures_pass() -> None:
    assert analyze([deployment(), node_group(), ecr(), launch_template("required"), LLAMA_PDB]) == []


def test_advisory_when_model_deployment_has_no_pdb() -> None:
    other_ns_pdb = resource(
        "kubernetes:policy/v1:PodDisruptionBudget",
        "llama",
        {"metadata": {"name": "llama", "namespace": "other"}, "spec": {"selector": {"matchLabels": {"app": "llama"}}}},
    )
    assert brief(analyze([deployment(), other_ns_pdb])) == [
        (
            "model-deployments-have-pdb",
            "ADVISORY",
            "model Deployment models/llama has no PodDisruptionBudget; node drains and autoscaler scale-down can "
            "evict every replica at once",
        )
    ]


def test_advisory_when_spot_gpu_pool_has_no_on_demand_twin() -> None:
    spot_l4 = node_group(name="gpu-l4-spot", capacity="SPOT")
    spot_a10g = node_group(name="gpu-a10g-spot", instance_types=["g5.2xlarge"], capacity="SPOT")
    found = brief(analyze([spot_l4, spot_a10g, node_group(name="gpu-l4")]))
    assert found == [
        (
            "spot-gpu-pools-have-fallback",
            "ADVISORY",
            "spot GPU node group 'gpu-a10g-spot' (a10g) has no on-demand node group with the same GPU to fall back to "
            "when spot capacity is reclaimed",
        )
    ]


# -- unknowns in preview ---------------------------------------------------------------------------------


def test_unknown_image_in_preview_is_reported_as_cannot_run_not_as_pass_or_crash() -> None:
    found = analyze([deployment(image=COMPUTED), LLAMA_PDB])
    assert [(f.policy, f.level) for f in found] == [("model-images-pinned-by-digest", "ADVISORY")]
    assert found[0].message == (
        "can't run policy 'model-images-pinned-by-digest' from policy pack 'gpu-platform-guardrails@v0.1.0' "
        "during preview: string value at .spec.template.spec.containers.0.image can't be known during preview"
    )


def test_unknown_values_a_policy_does_not_read_do_not_matter() -> None:
    # kmsKey and subnetIds are computed in every real preview; the policies decide without them.
    assert analyze([ecr(), eks(False, None)]) == []


# -- the real plans -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_real_plans_pass_every_policy(stack: str) -> None:
    plan = run_stack(stack)
    assert len(plan["resources"]) > 10
    assert analyze(plan["resources"]) == []


def test_real_prod_plan_exercises_the_policies() -> None:
    # Guards the pass above against vacuity: prod has what each policy looks at.
    prod = run_stack("prod")["resources"]
    from gpu_policies import NODE_GROUP, STATEFUL_TYPES, is_gpu_node_group, is_model_workload

    stateful = [r for r in prod if r["type"] in STATEFUL_TYPES]
    assert {r["type"] for r in stateful} >= {"aws:eks/cluster:Cluster", "aws:kms/key:Key"}
    assert all(r["options"]["protect"] for r in stateful)
    assert sum(1 for r in prod if r["type"] == NODE_GROUP and is_gpu_node_group(r["inputs"])) >= 1
    assert sum(1 for r in prod if r["type"] == "kubernetes:apps/v1:Deployment" and is_model_workload(r["inputs"])) >= 1
    assert any(r["type"] == "aws:ec2/launchTemplate:LaunchTemplate" for r in prod)
    assert any(r["type"] == "aws:ecr/repository:Repository" for r in prod)
