"""The mesh's REGISTRY_ONLY outbound policy would block artifact downloads (docs/models.md#model-releases,
"Artifact egress").

The cloud seam names the object-store hosts a workload reaches for artifacts (components/cloud.py
ObjectStoreEgress: AWS regional S3 and STS, Alibaba regional OSS internal and public, plus each bucket's
virtual-hosted name), and the workload layer renders, per model with artifacts, an Istio ServiceEntry
for exactly those hosts, visible to the model's namespace only, that its Deployments wait for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.alicloud.seam import alicloud_seam
from components.aws.seam import aws_seam
from components.cloud import ObjectStoreEgress
from components.models.release import ModelReleaseError, artifact_host_problems
from stacks.spec.parse import parse_spec
from tests.conftest import Plan
from tests.spec_helpers import raw_stack
from tests.validators import schemas
from tools.offline.artifacts import kubernetes_objects

SE = "kubernetes:networking.istio.io/v1:ServiceEntry"


def seam_egress(cloud: str, region: str) -> ObjectStoreEgress:
    if cloud == "alicloud":
        seam = alicloud_seam(region=region)
    else:
        seam = aws_seam(
            provider=None,
            oidc_provider_arn=None,
            oidc_issuer_url=None,
            cluster_name="c",
            region=region,
            kubernetes_version="1.33",
        )
    assert seam.artifact_egress is not None
    return seam.artifact_egress


# ---------------------------------------------------------------------------------------------------
# the seam


def test_aws_names_regional_s3_and_sts_and_each_buckets_virtual_host() -> None:
    egress = seam_egress("aws", "eu-west-1")
    assert egress.scheme == "s3"
    assert egress.hosts_for(["weights"]) == (
        "s3.eu-west-1.amazonaws.com",
        "sts.eu-west-1.amazonaws.com",
        "weights.s3.eu-west-1.amazonaws.com",
    )
    # us-east-1: SDKs still use the global S3 names there (botocore's legacy default)
    assert set(seam_egress("aws", "us-east-1").hosts_for(["wts"])) >= {"s3.amazonaws.com", "wts.s3.amazonaws.com"}
    assert seam_egress("aws", "cn-north-1").hosts_for([]) == (
        "s3.cn-north-1.amazonaws.com.cn",
        "sts.cn-north-1.amazonaws.com.cn",
    )


def test_alibaba_names_the_regional_oss_endpoints_internal_and_public() -> None:
    egress = seam_egress("alicloud", "cn-shanghai")
    assert egress.scheme == "oss"
    assert egress.hosts_for(["models"]) == (
        "models.oss-cn-shanghai-internal.aliyuncs.com",
        "models.oss-cn-shanghai.aliyuncs.com",
        "oss-cn-shanghai-internal.aliyuncs.com",
        "oss-cn-shanghai.aliyuncs.com",
        "sts-vpc.cn-shanghai.aliyuncs.com",  # RRSA's token exchange (components/alicloud/rrsa_reader.py)
    )


def test_buckets_come_from_the_uris_of_the_stores_scheme_only() -> None:
    egress = seam_egress("aws", "us-west-2")
    uris = ["s3://a-bucket/v1/", "s3://a-bucket/v2", "hf://org/model@abc", "oss://other/x", "s3://b.dotted/p"]
    assert egress.buckets(uris) == ("a-bucket", "b.dotted")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: seam_egress("aws", "us-east"), "'us-east' is not an AWS region name"),
        (lambda: seam_egress("alicloud", "Shanghai"), "'Shanghai' is not an Alibaba Cloud region id"),
        (lambda: seam_egress("aws", "us-west-2").buckets(["s3://Bad_Bucket/x"]), "'Bad_Bucket' is not a valid bucket"),
        (lambda: seam_egress("aws", "us-west-2").hosts_for(["a..b"]), "makes 'a..b.s3.us-west-2.amazonaws.com'"),
        (lambda: ObjectStoreEgress(scheme="s3", hosts=("*.s3.amazonaws.com",)), "are not host names"),
    ],
)
def test_bad_input_gets_a_clear_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("*", r"\*")):
        call()


def test_a_release_refuses_hosts_a_dns_service_entry_cannot_carry() -> None:
    assert artifact_host_problems("ModelRelease[m]", ["s3.us-east-1.amazonaws.com"]) == []
    problems = artifact_host_problems("ModelRelease[m]", ["*.s3.amazonaws.com", "S3.example.com"])
    assert problems == [
        "ModelRelease[m]: artifact hosts '*.s3.amazonaws.com', 'S3.example.com' are not DNS names; the artifact "
        "ServiceEntry resolves its hosts by DNS, which needs full lowercase host names without wildcards"
    ]
    assert "invalid model release (1 problem)" in str(ModelReleaseError(problems))


# ---------------------------------------------------------------------------------------------------
# the plans


def model_artifacts(stack: str) -> dict[str, dict[str, Any]]:
    """model -> {namespace, uris, bucket} from the stack file."""
    return {
        m["name"]: {
            "namespace": m.get("namespace") or m["name"],
            "uris": sorted({v["artifact"]["uri"] for v in m["versions"] if v.get("artifact")}),
            "bucket": bool(m.get("artifactBucket")),
        }
        for m in raw_stack(stack).get("models") or []
    }


@pytest.mark.parametrize("stack", ["prod", "alicloud-prod"])
def test_each_model_with_artifacts_gets_a_service_entry_for_its_store(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    spec = parse_spec(raw_stack(stack))
    egress = seam_egress(spec.cloud, spec.region)
    entries = {o["metadata"]["namespace"]: o for o in kubernetes_objects(p.data) if o["kind"] == "ServiceEntry"}
    want = {}
    for model, m in model_artifacts(stack).items():
        buckets = egress.buckets(m["uris"])
        if buckets or m["bucket"]:
            want[m["namespace"]] = (model, egress.hosts_for(buckets))
    assert want, "the stack's models download artifacts"
    assert sorted(entries) == sorted(want)
    for ns, (model, hosts) in want.items():
        se = entries[ns]
        assert se["metadata"]["name"] == f"{model}-artifacts"
        assert se["spec"] == {
            "hosts": list(hosts),
            "location": "MESH_EXTERNAL",
            "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
            "resolution": "DNS",
            "exportTo": ["."],  # the namespace it lives in: the model's own
        }
        assert schemas.errors(se, "1.33") == []


@pytest.mark.parametrize("stack", ["prod", "alicloud-prod"])
def test_the_service_entry_waits_for_istio_and_the_servers_wait_for_it(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    istio_base = p.one("kubernetes:helm.sh/v3:Release", "istio-base")["urn"]
    entries = p.of_type(SE)
    assert entries
    for se in entries:
        assert istio_base in se["options"]["dependsOn"], se["name"]
        model = se["name"].removesuffix("-artifacts")
        deployments = [d for d in p.of_type("kubernetes:apps/v1:Deployment") if d["name"].startswith(f"{model}-")]
        assert deployments
        for d in deployments:
            assert se["urn"] in d["options"]["dependsOn"], d["name"]


def test_prod_s3_entry_names_the_regional_endpoints_sts_and_the_granted_bucket(plan: Callable[[str], Plan]) -> None:
    se = next(o for o in kubernetes_objects(plan("prod").data) if o["kind"] == "ServiceEntry")
    hosts = set(se["spec"]["hosts"])
    assert {"s3.us-east-1.amazonaws.com", "sts.us-east-1.amazonaws.com"} <= hosts
    assert all(h.endswith(".amazonaws.com") for h in hosts)
    # and the virtual host of the bucket its artifact URIs name
    assert any(h.endswith(".s3.us-east-1.amazonaws.com") and h != "s3.us-east-1.amazonaws.com" for h in hosts), hosts


def test_models_without_artifacts_get_no_entry(plan: Callable[[str], Plan]) -> None:
    for stack in ("dev", "alicloud-dev", "models-dev"):
        artifacts = model_artifacts(stack)
        entries = plan(stack).of_type(SE)
        with_artifacts = [m for m, a in artifacts.items() if a["uris"] or a["bucket"]]
        assert len(entries) == len(with_artifacts), stack
