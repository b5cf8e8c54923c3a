"""Model weights in the plan (docs/model-weights.md): every fetch scheme's rendered pod spec, the cache (PVC,
a Job per digest, read-only mounts) on the RWX storage each cloud's seam installs, the identities and
egress the fetch needs, the namespace quota for the Jobs. prod and alicloud-prod as committed; dev with an
hf:// and a pvc:// artifact added."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.cloud import ModelCacheStorage, model_cache_once
from components.models.fetcher import FETCHER_IMAGE, SCRIPT_PATH
from components.models.weights_plan import HF_HOSTS
from tests.conftest import Plan
from tools.offline.config import StackConfig, load_stack_config
from tools.offline.runner import PROJECT_DIR, run_stack

DEP = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
LLAMA_V1 = "751118dfe0d11ca87a15f08a949fc3f422de97bc4113c8046120d5ddd5fd0d4b"
LLAMA_V2 = "93de58f5522457dd0e30e192d4af322ba93e6764ccef3ac4da51c1edc5b50102"
EMBED_V3 = "cbe80d94a66b982a214d56c49da47b9987715c64d93f84233d0df5bc347b37e1"
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsGroup": 10001,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESOURCES = {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "500m", "memory": "256Mi"}}


def _pod(plan: Plan, name: str) -> dict[str, Any]:
    return plan.one(DEP, name)["inputs"]["spec"]["template"]


def _init(pod: dict[str, Any]) -> dict[str, Any]:
    (c,) = pod["spec"]["initContainers"]
    return c


def _server(pod: dict[str, Any]) -> dict[str, Any]:
    (c,) = pod["spec"]["containers"]
    return c


def _volumes(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod["spec"]["volumes"]}


@pytest.fixture(scope="module")
def dev_fetching() -> Plan:
    """dev with v1 from a Hugging Face revision (token secret) and v2 from a claim."""
    cfg = load_stack_config(PROJECT_DIR, "dev")
    models = json.loads(cfg.values["gpu-platform:models"])
    models[0]["versions"][0]["artifact"] = {
        "uri": "hf://meta-llama/Llama-3.2-3B@4e20de362430cd3b72f300e6b0f18e50e7166e08",
        "sha256": "0" * 63 + "1",
        "sizeGib": 6,
        "tokenSecret": "hf-token",
    }
    models[0]["versions"][1]["artifact"] = {"uri": "pvc://weights/llama/v2/", "sizeGib": 6.5}
    values = {**cfg.values, "gpu-platform:models": json.dumps(models, sort_keys=True)}
    return Plan(run_stack("dev", config=StackConfig(cfg.project, cfg.stack, values, cfg.secret_keys)))


def test_s3_fetch_without_cache(plan: Callable[[str], Plan]) -> None:
    pod = _pod(plan("prod"), "embeddings-v3")
    init = _init(pod)
    assert init["name"] == "fetch-weights" and init["image"] == FETCHER_IMAGE
    assert init["command"] == ["/usr/bin/python3"]
    assert init["args"] == [
        "/opt/fetcher/fetch.py",
        "fetch",
        "--uri",
        "s3://gpu-prod-embeddings-artifacts/v3/",
        "--dest",
        "/models/weights",
        "--sha256",
        EMBED_V3,
        "--require-sha256",  # prod
    ]
    # The seam's store environment (components/aws/seam.py); IRSA's token comes from EKS's webhook.
    assert init["env"] == [
        {"name": "PVC_ROOT", "value": "/models/source"},
        {"name": "AWS_REGION", "value": "us-east-1"},
        {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
    ]
    assert init["securityContext"] == RESTRICTED and init["resources"] == RESOURCES
    assert init["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert init["volumeMounts"] == [
        {"mountPath": "/opt/fetcher", "name": "fetcher", "readOnly": True},
        {"mountPath": "/models/weights", "name": "weights"},
    ]
    vols = _volumes(pod)
    assert vols["weights"] == {"emptyDir": {"sizeLimit": "2Gi"}, "name": "weights"}  # 1.3 GiB + 10%, rounded up
    assert vols["fetcher"]["configMap"] == {"defaultMode": 0o444, "name": "embeddings-fetcher"}
    server = _server(pod)
    assert {"mountPath": "/models/weights", "name": "weights", "readOnly": True} in server["volumeMounts"]
    assert {"name": "MODEL_DIR", "value": "/models/weights"} in server["env"]
    # The proxy starts before the init container, so the download goes out through the ServiceEntry.
    assert pod["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"] == "true"
    # The fetch (1.3 GiB at 90 MiB/s: 15s) comes before the load: loadSeconds 120 + 300s slack + 15s.
    dep = plan("prod").one(DEP, "embeddings-v3")["inputs"]
    assert dep["spec"]["progressDeadlineSeconds"] == 120 + 300 + 15
    assert dep["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == str(120 + 300 + 15 + 600)


def test_fetcher_config_map_carries_the_program(plan: Callable[[str], Plan]) -> None:
    for model in ("llama3-8b", "embeddings", "reranker"):
        cm = plan("prod").one("kubernetes:core/v1:ConfigMap", f"{model}-fetcher")["inputs"]
        assert cm["metadata"]["namespace"] == model
        assert cm["data"] == {"fetch.py": Path(SCRIPT_PATH).read_text()}


def test_cache_jobs_populate_once_per_digest_and_servers_mount_read_only(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    pvc = p.one("kubernetes:core/v1:PersistentVolumeClaim", "llama3-8b-cache")
    assert pvc["inputs"]["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "40Gi"}},
        "storageClassName": "efs-models",
    }
    # The claim binds only once the EFS add-on, mount targets and StorageClass exist.
    assert any("StorageClass::gpu-prod-model-cache-efs-models" in u for u in pvc["options"]["dependsOn"])
    jobs = {
        j["inputs"]["metadata"]["name"]: j
        for j in p.of_type(JOB)
        if j["inputs"]["metadata"]["namespace"] == "llama3-8b"
    }
    assert sorted(jobs) == [f"llama3-8b-cache-{LLAMA_V1[:12]}", f"llama3-8b-cache-{LLAMA_V2[:12]}"]
    job = jobs[f"llama3-8b-cache-{LLAMA_V1[:12]}"]
    assert job["inputs"]["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert any(u.endswith("PersistentVolumeClaim::llama3-8b-cache") for u in job["options"]["dependsOn"])
    spec = job["inputs"]["spec"]
    assert spec["backoffLimit"] == 3 and spec["template"]["spec"]["restartPolicy"] == "OnFailure"
    (c,) = spec["template"]["spec"]["containers"]
    assert c["name"] == "populate-cache"
    assert c["args"][c["args"].index("--dest") + 1] == f"/models/cache/{LLAMA_V1}"
    assert c["args"][c["args"].index("--uri") + 1] == "s3://gpu-prod-llama3-8b-artifacts/v1/"
    assert {"mountPath": "/models/cache", "name": "model-cache"} in c["volumeMounts"]  # the only writer
    assert c["securityContext"] == RESTRICTED
    assert _volumes(spec["template"])["model-cache"]["persistentVolumeClaim"] == {"claimName": "llama3-8b-cache"}
    # Servers wait for the Job's verified marker and read the cache in place, read-only.
    pod = _pod(p, "llama3-8b-v2")
    init = _init(pod)
    assert init["args"] == [
        "/opt/fetcher/fetch.py",
        "wait",
        "--sha256",
        LLAMA_V2,
        "--dest",
        f"/models/cache/{LLAMA_V2}",
        "--timeout",
        "3600",
    ]
    assert {"mountPath": "/models/cache", "name": "model-cache", "readOnly": True} in init["volumeMounts"]
    assert _volumes(pod)["model-cache"]["persistentVolumeClaim"] == {"claimName": "llama3-8b-cache", "readOnly": True}
    assert {"name": "MODEL_DIR", "value": f"/models/cache/{LLAMA_V2}"} in _server(pod)["env"]
    assert "weights" not in _volumes(pod)


def test_cache_jobs_fit_the_namespace_quota(plan: Callable[[str], Plan]) -> None:
    hard = plan("prod").one("kubernetes:core/v1:ResourceQuota", "llama3-8b-quota")["inputs"]["spec"]["hard"]
    without = plan("prod").one("kubernetes:core/v1:ResourceQuota", "embeddings-quota")["inputs"]["spec"]["hard"]
    # llama3-8b: worst step 2 stable + 2 candidate + 1 surge = 5 server pods, plus 2 cache Jobs.
    assert hard["pods"] == "7"
    assert "pods" in without  # embeddings has no cache: its quota counts only its servers


def test_efs_cache_storage_on_aws(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    fs = p.one("aws:efs/fileSystem:FileSystem")["inputs"]
    assert fs["encrypted"] is True and fs["kmsKeyId"] == "<computed>" and fs["throughputMode"] == "elastic"
    assert len(p.of_type("aws:efs/mountTarget:MountTarget")) == 3  # one per zone's private subnet
    sg = p.one("aws:ec2/securityGroup:SecurityGroup", "gpu-prod-model-cache-nfs")["inputs"]
    assert [(r["fromPort"], r["toPort"], r["cidrBlocks"]) for r in sg["ingress"]] == [(2049, 2049, ["10.40.0.0/16"])]
    addon = p.one("aws:eks/addon:Addon", "gpu-prod-model-cache-aws-efs-csi-driver")
    assert addon["inputs"]["addonVersion"] == "v2.1.4-eksbuild.1"  # charts/eks-addons.yaml
    assert addon["inputs"]["podIdentityAssociations"][0]["serviceAccount"] == "efs-csi-controller-sa"
    assert any("node_group" in u.lower() or "NodeGroup" in u for u in addon["options"]["dependsOn"])
    policies = [
        r["inputs"]["policyArn"]
        for r in p.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if "efs-csi" in r["name"]
    ]
    assert policies == ["arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"]
    sc = p.one("kubernetes:storage.k8s.io/v1:StorageClass", "gpu-prod-model-cache-efs-models")["inputs"]
    assert sc["provisioner"] == "efs.csi.aws.com" and sc["mountOptions"] == ["tls"]
    assert sc["parameters"]["provisioningMode"] == "efs-ap" and sc["parameters"]["uid"] == "10001"
    assert (sc["metadata"]["name"], sc["reclaimPolicy"], sc["volumeBindingMode"]) == (
        "efs-models",
        "Delete",
        "Immediate",
    )


def test_oss_through_rrsa_and_nas_cache_on_alibaba(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-prod")
    role = p.one("alicloud:ram/role:Role")["inputs"]
    assert role["roleName"] == "gpu-ali-prod-qwen2-72b-weights"
    policy = json.loads(p.one("alicloud:ram/policy:Policy")["inputs"]["policyDocument"])
    assert policy["Statement"] == [
        {
            "Action": ["oss:GetObject", "oss:ListObjects"],
            "Effect": "Allow",
            "Resource": ["acs:oss:*:*:gpu-ali-prod-models", "acs:oss:*:*:gpu-ali-prod-models/*"],
        }
    ]
    sa = p.one("kubernetes:core/v1:ServiceAccount", "qwen2-72b")["inputs"]
    assert "pod-identity.alibabacloud.com/role-name" in sa["metadata"]["annotations"]
    job = p.of_type(JOB)
    (populate,) = [j for j in job if j["inputs"]["metadata"]["namespace"] == "qwen2-72b"]
    pod = populate["inputs"]["spec"]["template"]
    vols = _volumes(pod)
    # RRSA wired by the pod spec: a projected token for STS, the role and provider for the fetcher.
    assert vols["artifact-identity"]["projected"]["sources"] == [
        {"serviceAccountToken": {"audience": "sts.aliyuncs.com", "expirationSeconds": 3600, "path": "token"}}
    ]
    (c,) = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["OSS_ENDPOINT"] == "oss-cn-shanghai-internal.aliyuncs.com"
    assert env["ALIBABA_CLOUD_STS_ENDPOINT"] == "https://sts-vpc.cn-shanghai.aliyuncs.com"
    assert env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"] == "/var/run/secrets/gpu-platform/artifact-identity/token"
    assert {"ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"} <= set(env)
    nas = p.one("alicloud:nas/fileSystem:FileSystem")["inputs"]
    assert nas["encryptType"] == 1 and nas["protocolType"] == "NFS"
    rule = p.one("alicloud:nas/accessRule:AccessRule")["inputs"]
    assert (rule["sourceCidrIp"], rule["userAccessType"]) == ("10.50.0.0/16", "root_squash")
    sc = p.one("kubernetes:storage.k8s.io/v1:StorageClass", "gpu-ali-prod-model-cache-nas-models")["inputs"]
    assert sc["provisioner"] == "nasplugin.csi.alibabacloud.com" and sc["parameters"]["volumeAs"] == "subpath"
    assert (sc["metadata"]["name"], sc["reclaimPolicy"], sc["volumeBindingMode"]) == (
        "nas-models",
        "Delete",
        "Immediate",
    )
    pvc = p.one("kubernetes:core/v1:PersistentVolumeClaim", "qwen2-72b-cache")["inputs"]["spec"]
    assert pvc["storageClassName"] == "nas-models"
    se = p.one("kubernetes:networking.istio.io/v1:ServiceEntry", "qwen2-72b-artifacts")["inputs"]["spec"]
    assert "sts-vpc.cn-shanghai.aliyuncs.com" in se["hosts"]
    assert "gpu-ali-prod-models.oss-cn-shanghai-internal.aliyuncs.com" in se["hosts"]


def test_hf_fetch_with_token_secret_and_its_egress(dev_fetching: Plan) -> None:
    pod = _pod(dev_fetching, "llama3-8b-v1")
    init = _init(pod)
    assert init["args"][:4] == [
        "/opt/fetcher/fetch.py",
        "fetch",
        "--uri",
        "hf://meta-llama/Llama-3.2-3B@4e20de362430cd3b72f300e6b0f18e50e7166e08",
    ]
    assert "--require-sha256" not in init["args"]  # dev
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"key": "token", "name": "hf-token"}}} in init["env"]
    assert not any(e["name"].startswith("AWS_") for e in init["env"])  # no object-store environment for hf://
    se = dev_fetching.one("kubernetes:networking.istio.io/v1:ServiceEntry", "llama3-8b-artifacts")["inputs"]["spec"]
    assert se["hosts"] == sorted(HF_HOSTS) and se["exportTo"] == ["."]


def test_pvc_fetch_mounts_the_claim_read_only(dev_fetching: Plan) -> None:
    pod = _pod(dev_fetching, "llama3-8b-v2")
    assert _volumes(pod)["weights-source"]["persistentVolumeClaim"] == {"claimName": "weights", "readOnly": True}
    init = _init(pod)
    assert {"mountPath": "/models/source", "name": "weights-source", "readOnly": True} in init["volumeMounts"]
    assert "--sha256" not in init["args"]  # dev without a digest: fetched, not verified
    assert _volumes(pod)["weights"]["emptyDir"] == {"sizeLimit": "8Gi"}  # 6.5 GiB + 10%, rounded up


def test_versions_without_artifact_have_no_fetch(plan: Callable[[str], Plan]) -> None:
    deps = [d for d in plan("dev").of_type(DEP) if d["inputs"]["metadata"]["namespace"] == "llama3-8b"]
    assert len(deps) == 2
    for dep in deps:
        tpl = dep["inputs"]["spec"]["template"]
        assert "initContainers" not in tpl["spec"]
        assert "sidecar.istio.io/nativeSidecar" not in tpl["metadata"]["annotations"]


def test_model_cache_storage_is_created_on_first_use_only() -> None:
    made: list[ModelCacheStorage] = []

    def create() -> ModelCacheStorage:
        made.append(ModelCacheStorage(storage_class=f"class-{len(made)}"))
        return made[-1]

    factory = model_cache_once(create)
    assert made == []  # nothing until a model asks for a cache
    first = factory(opts=pulumi.ResourceOptions())
    assert factory(opts=pulumi.ResourceOptions()) is first
    assert made == [first] and first.storage_class == "class-0"
