"""The cloud seam (components/cloud.py): what each cloud's cluster layer hands the platform, and that
the platform and workload layers act on it rather than on a cloud's name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.alicloud.seam import alicloud_seam
from components.aws.seam import aws_seam
from stacks.spec.errors import ConfigError
from stacks.spec.parse import parse_spec
from tests.conftest import Plan
from tests.spec_helpers import mutate, raw_stack

CA = "gpu-platform:gpu:ClusterAutoscaler"
STORE = "gpu-platform:models:ModelArtifactStore"


def test_alibaba_brings_its_own_device_plugin_and_autoscaler() -> None:
    seam = alicloud_seam(region="cn-shanghai")
    assert seam.provides_gpu_device_plugin is True
    assert seam.node_autoscaler is None and seam.artifact_store is None and seam.providers == ()
    assert seam.load_balancer_annotations("internal") == {
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "intranet"
    }


def test_aws_installs_the_autoscaler_only_with_a_provider_and_an_oidc_issuer() -> None:
    common: dict[str, Any] = {"cluster_name": "gpu-dev", "region": "us-west-2", "kubernetes_version": "1.33"}
    bare = aws_seam(provider=None, oidc_provider_arn=None, oidc_issuer_url=None, **common)
    assert bare.provides_gpu_device_plugin is False
    assert bare.node_autoscaler is None and bare.providers == ()
    assert bare.artifact_store is not None  # a models-only stack still creates stores (with its own provider)
    assert bare.load_balancer_annotations("internet-facing")["service.beta.kubernetes.io/aws-load-balancer-type"] == (
        "nlb"
    )


@pytest.mark.parametrize(("stack", "autoscalers"), [("dev", 1), ("prod", 1), ("alicloud-dev", 0), ("alicloud-prod", 0)])
def test_the_node_autoscaler_is_installed_where_the_seam_offers_one(
    plan: Callable[[str], Plan], stack: str, autoscalers: int
) -> None:
    assert len(plan(stack).of_type(CA)) == autoscalers


def test_artifact_stores_come_from_the_seam_with_the_cloud_provider(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    stores = p.of_type(STORE)
    assert stores, "prod sets artifactBucket on a model"
    for store in stores:
        buckets = [r for r in p.children(store["urn"]) if r["type"] == "aws:s3/bucket:Bucket"]
        assert len(buckets) == 1
        # The AWS resources a release makes through the seam use the cluster layer's regional provider.
        assert buckets[0]["provider"].startswith(p.one("pulumi:providers:aws")["urn"])


def test_artifact_bucket_is_refused_on_a_cloud_without_an_artifact_store() -> None:
    raw = mutate(raw_stack("alicloud-prod"), "models.0.artifactBucket", True)
    with pytest.raises(ConfigError) as err:
        parse_spec(raw)
    assert err.value.problems == [
        "gpu-platform:models[0].artifactBucket: true while cloud is 'alicloud'; the platform creates artifact "
        "buckets on AWS only (S3 + IRSA): remove artifactBucket and point versions[].artifact.uri at weights you "
        "store yourself (e.g. oss://<bucket>/<path> on Alibaba Cloud)"
    ]
