"""ModelRelease in the dev and prod plans: the objects, their key inputs, and change safety."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import yaml

from components.aws.artifact_store import read_policy
from tests.conftest import Plan
from tools.offline.config import StackConfig, load_stack_config
from tools.offline.diff import diff_plans
from tools.offline.runner import PROJECT_DIR, run_stack

DEP = "kubernetes:apps/v1:Deployment"
VS = "kubernetes:networking.istio.io/v1:VirtualService"
DR = "kubernetes:networking.istio.io/v1:DestinationRule"
REL = "gpu-platform:models:ModelRelease"


def obj(plan: Plan, type_: str, name: str) -> dict[str, Any]:
    return plan.one(type_, name)["inputs"]


def container(dep: dict[str, Any]) -> dict[str, Any]:
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c


def test_dev_renders_one_release_with_its_objects(plan: Callable[[str], Plan]) -> None:
    p = plan("dev")
    (rel,) = p.of_type(REL)
    kinds = sorted(r["type"].rsplit(":", 1)[-1] for r in p.resources if r["parent"] == rel["urn"])
    assert kinds == sorted(
        [
            "ModelNamespace",
            "ServiceAccount",
            "Service",
            "NetworkPolicy",
            "NetworkPolicy",
            "DestinationRule",
            "VirtualService",
            *["Deployment", "PodDisruptionBudget", "ScaledObject", "ServiceMonitor", "PrometheusRule"] * 2,
        ]
    )
    ns = obj(p, "kubernetes:core/v1:Namespace", "llama3-8b-ns")["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns["istio-injection"] == "enabled"
    quota = obj(p, "kubernetes:core/v1:ResourceQuota", "llama3-8b-quota")["spec"]["hard"]
    # worst weight: stable 1 + candidate 1 (maxSurge 0 in dev)
    assert quota["requests.nvidia.com/gpu"] == "2" and quota["pods"] == "2"


def test_canary_split_is_rendered_in_the_virtual_service(plan: Callable[[str], Plan]) -> None:
    vs = obj(plan("dev"), VS, "llama3-8b")["spec"]
    host = "llama3-8b.llama3-8b.svc.cluster.local"
    # the model's own host, then the gateway's (gateway route `llama3-8b`, test_platform_wiring.py)
    assert vs["hosts"] == [host, "llama3-8b.models.dev.example.com", "models.dev.example.com"]
    assert vs["gateways"] == ["mesh", "istio-ingress/api-gateway"]
    (route,) = vs["http"]
    assert route["name"] == "llama3-8b"
    assert [(r["destination"]["subset"], r["weight"]) for r in route["route"]] == [("v1", 90), ("v2", 10)]
    assert route["timeout"] == "120s"
    assert route["retries"] == {"attempts": 1, "perTryTimeout": "120s", "retryOn": "connect-failure,refused-stream"}


def test_destination_rule_has_a_subset_per_version_and_circuit_breaking(plan: Callable[[str], Plan]) -> None:
    dr = obj(plan("dev"), DR, "llama3-8b")["spec"]
    assert dr["subsets"] == [{"labels": {"version": "v1"}, "name": "v1"}, {"labels": {"version": "v2"}, "name": "v2"}]
    assert dr["trafficPolicy"]["outlierDetection"]["maxEjectionPercent"] == 50
    assert dr["trafficPolicy"]["connectionPool"]["http"]["http1MaxPendingRequests"] == 256


def test_deployment_is_hardened_pinned_and_sized_from_the_load_budget(plan: Callable[[str], Plan]) -> None:
    dep = obj(plan("dev"), DEP, "llama3-8b-v2")
    assert dep["metadata"]["name"] == "llama3-8b-v2"
    assert "replicas" not in dep["spec"]  # KEDA owns it
    # loadSeconds 600: startup budget 60 x 10s, progress deadline +300s, Pulumi await +600s more
    assert dep["spec"]["progressDeadlineSeconds"] == 900
    assert dep["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "1500"
    pod = dep["spec"]["template"]["spec"]
    c = container(dep)
    assert c["startupProbe"] == {
        "failureThreshold": 60,
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
    }
    assert c["image"].endswith("@sha256:" + "2" * 64) and c["imagePullPolicy"] == "Always"
    assert c["resources"] == {
        "limits": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"},
    }
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsGroup": 10001,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["tolerations"] == [
        {"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Equal", "value": "present"}
    ]
    assert pod["nodeSelector"] == {"gpu-platform.io/gpu-sharing": "none"}
    # timeout 120s: preStop 10 + 120 + 15 grace; sidecar drains for the timeout + 5s
    assert pod["terminationGracePeriodSeconds"] == 145
    proxy = json.loads(dep["spec"]["template"]["metadata"]["annotations"]["proxy.istio.io/config"])
    assert proxy == {"holdApplicationUntilProxyStarts": True, "terminationDrainDuration": "125s"}
    assert pod["priorityClassName"] == "gpu-platform-standard"


def test_mig_model_requests_its_slice(plan: Callable[[str], Plan]) -> None:
    dep = obj(plan("prod"), DEP, "embeddings-v3")
    c = container(dep)
    assert c["resources"]["limits"]["nvidia.com/mig-2g.10gb"] == "1"
    assert "nvidia.com/gpu" not in c["resources"]["limits"]
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"gpu-platform.io/gpu-sharing": "mig"}
    assert [p["containerPort"] for p in c["ports"]] == [8000, 8001, 8002]  # Triton preset


def test_prod_ab_route_comes_before_the_split_and_shadow_mirrors(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    ab, weighted = obj(p, VS, "llama3-8b")["spec"]["http"]
    assert ab["name"] == "llama3-8b-ab-x-model-variant-v2"
    # from inside the mesh on any path, through the gateway only under its route's prefix
    assert ab["match"] == [
        {"headers": {"x-model-variant": {"exact": "v2"}}, "gateways": ["mesh"]},
        {
            "headers": {"x-model-variant": {"exact": "v2"}},
            "gateways": ["istio-ingress/api-gateway"],
            "uri": {"exact": "/v1/models/llama3-8b"},
        },
        {
            "headers": {"x-model-variant": {"exact": "v2"}},
            "gateways": ["istio-ingress/api-gateway"],
            "uri": {"prefix": "/v1/models/llama3-8b/"},
        },
    ]
    assert [r["destination"]["subset"] for r in ab["route"]] == ["v2"]
    assert [(r["destination"]["subset"], r["weight"]) for r in weighted["route"]] == [("v1", 90), ("v2", 10)]
    (emb,) = obj(p, VS, "embeddings")["spec"]["http"]
    assert emb["mirror"]["subset"] == "v4" and emb["mirrorPercentage"] == {"value": 20}
    assert [(r["destination"]["subset"], r["weight"]) for r in emb["route"]] == [("v3", 100)]


def test_autoscaler_and_slo_rules_use_the_same_series(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    so = obj(p, "kubernetes:keda.sh/v1alpha1:ScaledObject", "llama3-8b-v2")["spec"]
    assert (so["minReplicaCount"], so["maxReplicaCount"]) == (1, 2)
    trig = so["triggers"][0]["metadata"]
    assert trig["threshold"] == "4"
    assert 'destination_canonical_service="llama3-8b"' in trig["query"] and 'destination_version="v2"' in trig["query"]
    rule = obj(p, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "llama3-8b-v2")["spec"]["groups"][0]
    assert [r["alert"] for r in rule["rules"]] == ["Llama38bV2HighP99Latency", "Llama38bV2HighErrorRatio"]
    assert "> 5000 and" in rule["rules"][0]["expr"]


def test_prod_artifact_store_is_protected_and_identity_is_read_only(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    assert p.one("aws:s3/bucket:Bucket", "llama3-8b-bucket")["options"]["protect"] is True
    assert p.one("aws:kms/key:Key", "llama3-8b-key")["options"]["protect"] is True
    assert (
        obj(p, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "llama3-8b-public-access")[
            "restrictPublicBuckets"
        ]
        is True
    )
    # The reader role is the shared IRSA WorkloadRole: trusted by this model's ServiceAccount only, and
    # its one inline policy reads objects and decrypts — nothing else.
    role = p.one("gpu-platform:aws:WorkloadRole", "llama3-8b-reader")
    inline = next(r for r in p.children(role["urn"]) if r["type"] == "aws:iam/rolePolicy:RolePolicy")
    assert inline["name"] == "llama3-8b-reader-inline"
    statements = json.loads(read_policy("arn:aws:s3:::b", "arn:aws:kms:us-east-1:1:key/k"))["Statement"]
    assert sorted(
        a for st in statements for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    ) == ["kms:Decrypt", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
    sa = obj(p, "kubernetes:core/v1:ServiceAccount", "llama3-8b")
    assert sa["automountServiceAccountToken"] is False
    assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]
    dep = obj(p, DEP, "llama3-8b-v1")
    # Pulumi.prod.yaml's llama3-8b v1 artifact digest, which its fetch-weights init container verifies.
    assert dep["metadata"]["annotations"]["gpu-platform.io/artifact-sha256"] == (
        "751118dfe0d11ca87a15f08a949fc3f422de97bc4113c8046120d5ddd5fd0d4b"
    )
    assert dep["metadata"]["annotations"]["gpu-platform.io/meta-source-run"] == "mlflow-6f2a"


def test_priority_classes_per_tier(plan: Callable[[str], Plan]) -> None:
    pcs = {
        r["inputs"]["metadata"]["name"]: r["inputs"]
        for r in plan("prod").of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")
        if r["inputs"]["metadata"]["name"].startswith("gpu-platform-")
    }
    assert {n: (v["value"], v["preemptionPolicy"]) for n, v in pcs.items()} == {
        "gpu-platform-critical": (1000000, "PreemptLowerPriority"),
        "gpu-platform-standard": (100000, "PreemptLowerPriority"),
        "gpu-platform-batch": (1000, "Never"),
    }


def test_no_deployment_under_an_autoscaler_declares_replicas(plan: Callable[[str], Plan]) -> None:
    for stack in ("dev", "prod"):
        deps = [
            r
            for r in plan(stack).of_type(DEP)
            if r["parent"].endswith(tuple(f"::{n}" for n in ("llama3-8b", "embeddings", "reranker")))
        ]
        assert deps and all("replicas" not in r["inputs"]["spec"] for r in deps)


# ------------------------------------------------------------------------------------------------
# Change safety: plans of edited configs, diffed with the offline diff tool


def _plan_with(stack: str, edit: Callable[[list[dict[str, Any]]], None]) -> dict[str, Any]:
    cfg = load_stack_config(PROJECT_DIR, stack)
    key = "gpu-platform:models"
    models = json.loads(cfg.values[key])
    edit(models)
    values = {**cfg.values, key: json.dumps(models, sort_keys=True)}
    return run_stack(stack, config=StackConfig(cfg.project, cfg.stack, values, cfg.secret_keys))


def test_changing_a_candidate_weight_changes_only_its_virtual_service(plan: Callable[[str], Plan]) -> None:
    def edit(models: list[dict[str, Any]]) -> None:
        models[0]["traffic"]["candidateWeight"] = 25

    d = diff_plans(plan("prod").data, _plan_with("prod", edit))
    assert [(c.op, c.type, c.name) for c in d.changes] == [("update", VS, "llama3-8b")]
    assert [(path, a, b) for path, a, b in d.changes[0].paths] == [
        ("inputs.spec.http[1].route[0].weight", 90, 75),
        ("inputs.spec.http[1].route[1].weight", 10, 25),
    ]


def test_adding_a_release_changes_nothing_outside_its_subtree(plan: Callable[[str], Plan]) -> None:
    def edit(models: list[dict[str, Any]]) -> None:
        new = copy.deepcopy(models[2])  # reranker: time-sliced L4 shares
        new["name"] = "classifier"
        for v in new["versions"]:  # its own artifact bucket (artifactBucket: true)
            v["artifact"]["uri"] = v["artifact"]["uri"].replace("-reranker-", "-classifier-")
        models.append(new)

    head = _plan_with("prod", edit)
    d = diff_plans(plan("prod").data, head)
    parent = {r["urn"]: r["parent"] for r in head["resources"]}
    root = "urn:pulumi:prod::gpu-platform::gpu-platform:models:ModelRelease::classifier"

    def in_subtree(urn: str) -> bool:
        while urn and urn != root:
            urn = parent.get(urn, "")
        return urn == root

    assert d.changes and all(c.op == "create" for c in d.changes)
    # The registry gives every model its own ECR repository (docs/design.md#registry): that is the model's, too.
    outside = [
        c.urn
        for c in d.changes
        if not in_subtree(c.urn)
        and not (
            c.urn.startswith("urn:pulumi:prod::gpu-platform::gpu-platform:aws:Registry$aws:ecr/")
            and "-classifier" in c.name
        )
    ]
    assert outside == []
    assert {"classifier", "classifier-v1"} <= {c.name for c in d.changes}


def test_stack_files_keep_models_key_yaml_valid() -> None:
    for stack in ("dev", "prod"):
        cfg = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
        assert isinstance(cfg["gpu-platform:models"], list)


def test_capacity_report_shows_gpu_cost_per_release_at_min_and_peak(plan: Callable[[str], Plan]) -> None:
    rows = [line for line in plan("prod").outputs["modelCapacityReport"].splitlines() if line.startswith("| ")]
    assert rows[1:] == [
        "| llama3-8b | 2 nvidia.com/gpu | $2.42 | 100% | 5 nvidia.com/gpu | $6.06 |",
        # MIG slices cost their share of the GPU's compute (2 of 7 slices of one of 8 A100s on a p4d)
        "| embeddings | 2 nvidia.com/mig-2g.10gb | $1.57 | steady | 6 nvidia.com/mig-2g.10gb | $4.71 |",
        "| reranker | 1 nvidia.com/gpu | $0.20 | steady | 3 nvidia.com/gpu | $0.60 |",
    ]
