"""ACR under the plan runner: Enterprise Edition in prod (immutable, scanned, protected), Personal
Edition in dev; one repository per model and per platform repository."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Plan
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import config_from_raw
from tools.offline.runner import run_stack

EE = "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance"
EE_NS = "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace"
EE_REPO = "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo"
PE_NS = "alicloud:cr/namespace:Namespace"
PE_REPO = "alicloud:cr/repo:Repo"


def test_prod_enterprise_registry_is_immutable_scanned_and_protected(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-prod")
    inst = p.one(EE)
    assert inst["inputs"]["instanceName"] == "gpu-ali-prod"
    assert inst["inputs"]["paymentType"] == "Subscription" and inst["inputs"]["period"] == 12
    assert inst["inputs"]["renewalStatus"] == "AutoRenewal" and inst["inputs"]["imageScanner"] == "ACR"
    assert inst["inputs"]["instanceType"] == "Standard"
    ns = p.one(EE_NS)
    assert ns["inputs"]["name"] == "gpu-ali-prod" and ns["inputs"]["autoCreate"] is False
    assert ns["inputs"]["defaultVisibility"] == "PRIVATE"
    repos = {r["inputs"]["name"]: r for r in p.of_type(EE_REPO)}
    assert sorted(repos) == ["qwen2-72b", "triton-base"]  # one per model + platformRepositories
    for r in repos.values():
        assert r["inputs"]["tagImmutability"] is True and r["inputs"]["repoType"] == "PRIVATE"
    assert all(r["options"]["protect"] for r in [inst, ns, *repos.values()])
    scan = p.one("alicloud:cr/scanRule:ScanRule")["inputs"]
    assert (scan["triggerType"], scan["scanType"], scan["scanScope"]) == ("AUTO", "VUL", "NAMESPACE")
    assert p.one("alicloud:cr/artifactLifecycleRule:ArtifactLifecycleRule")["inputs"]["retentionTagCount"] == 30
    ep = p.one("alicloud:cr/vpcEndpointLinkedVpc:VpcEndpointLinkedVpc")["inputs"]
    assert ep["moduleName"] == "Registry" and ep["enableCreateDnsRecordInPvzt"] is True
    assert p.outputs["repositoryUrls"] == {
        "qwen2-72b": "gpu-ali-prod-registry-vpc.cn-shanghai.cr.aliyuncs.com/gpu-ali-prod/qwen2-72b",
        "triton-base": "gpu-ali-prod-registry-vpc.cn-shanghai.cr.aliyuncs.com/gpu-ali-prod/triton-base",
    }
    assert not p.of_type(PE_NS)


def test_dev_personal_edition(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-dev")
    assert not p.of_type(EE)
    ns = p.one(PE_NS)
    assert ns["inputs"] == {"name": "gpu-dev", "autoCreate": False, "defaultVisibility": "PRIVATE"}
    repo = p.one(PE_REPO)
    assert repo["inputs"]["name"] == "qwen2-7b" and repo["inputs"]["repoType"] == "PRIVATE"
    assert repo["options"]["protect"] is False  # dev: not protected
    assert p.outputs["repositoryUrls"] == {"qwen2-7b": "registry-vpc.cn-hangzhou.aliyuncs.com/gpu-dev/qwen2-7b"}


def test_registry_can_be_switched_off() -> None:
    raw = mutate(raw_stack("alicloud-dev"), "registry", {"enabled": False})
    p = Plan(run_stack("ali-noreg", config=config_from_raw(raw, "ali-noreg")))
    assert not p.of_type(PE_NS) and not p.of_type(PE_REPO) and "repositoryUrls" not in p.outputs
