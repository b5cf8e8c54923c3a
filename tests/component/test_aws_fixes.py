"""The real path on AWS (docs/design.md#real-path): what a real `pulumi up` on EKS needs that the offline plan
used to let through."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from components.aws.seam import load_balancer_annotations
from tests.conftest import Plan

AWS_STACKS = ("dev", "prod")

# -- the gateway's load balancer comes from EKS's built-in cloud provider (docs/aws.md#load-balancer) -------------

# Every Service annotation the legacy AWS cloud provider that EKS runs reads (kubernetes/cloud-provider-aws
# pkg/providers/v1/aws.go and aws_loadbalancer.go, the ServiceAnnotation* constants). Anything else under
# `service.beta.kubernetes.io/aws-` (scheme, nlb-target-type, attributes, ...) is the AWS Load Balancer
# Controller's, which no stack installs.
IN_TREE_ANNOTATIONS = {
    f"service.beta.kubernetes.io/aws-load-balancer-{suffix}"
    for suffix in (
        "access-log-emit-interval",
        "access-log-enabled",
        "access-log-s3-bucket-name",
        "access-log-s3-bucket-prefix",
        "additional-resource-tags",
        "backend-protocol",
        "connection-draining-enabled",
        "connection-draining-timeout",
        "connection-idle-timeout",
        "cross-zone-load-balancing-enabled",
        "eip-allocations",
        "extra-security-groups",
        "healthcheck-healthy-threshold",
        "healthcheck-interval",
        "healthcheck-path",
        "healthcheck-port",
        "healthcheck-protocol",
        "healthcheck-timeout",
        "healthcheck-unhealthy-threshold",
        "internal",
        "private-ipv4-addresses",
        "proxy-protocol",
        "security-groups",
        "ssl-cert",
        "ssl-negotiation-policy",
        "ssl-ports",
        "subnets",
        "target-group-attributes",
        "target-node-labels",
        "type",
    )
}


def test_gateway_annotations_ask_eks_cloud_provider_for_an_nlb() -> None:
    assert load_balancer_annotations("internal") == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
    }
    # internet-facing is the provider's default scheme: no `internal` annotation at all
    assert load_balancer_annotations("internet-facing") == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
    }


def _annotations(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and k.startswith("service.beta.kubernetes.io/aws-"):
                yield k, v
            yield from _annotations(v)
    elif isinstance(value, list):
        for v in value:
            yield from _annotations(v)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_nothing_needs_the_aws_load_balancer_controller(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    found = [(r["name"], k, v) for r in p.resources for k, v in _annotations(r["inputs"])]
    assert found, "the gateway Service carries load-balancer annotations"
    for name, key, value in found:
        assert key in IN_TREE_ANNOTATIONS, f"{name}: {key} is read only by the AWS Load Balancer Controller"
        if key.endswith("aws-load-balancer-type"):
            assert value == "nlb", f"{name}: type {value!r} is served only by the AWS Load Balancer Controller"
    # ... and no LoadBalancer Service asks for another controller's class
    text = str([r["inputs"] for r in p.resources])
    assert "service.k8s.aws/nlb" not in text and "loadBalancerClass" not in text
    gateway = p.one("kubernetes:helm.sh/v3:Release", "istio-ingressgateway")["inputs"]["values"]["service"]
    assert gateway["type"] == "LoadBalancer"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_subnets_carry_the_tags_the_cloud_provider_picks_load_balancer_subnets_by(
    stack: str, plan: Callable[[str], Plan]
) -> None:
    p = plan(stack)
    cluster = p.one("aws:eks/cluster:Cluster")["inputs"]["name"]
    subnets = p.of_type("aws:ec2/subnet:Subnet")
    assert subnets
    for s in subnets:
        tags = s["inputs"]["tags"]
        # findSubnets: only subnets with the cluster tag (or none with any cluster tag) are candidates
        assert tags[f"kubernetes.io/cluster/{cluster}"] == "shared", s["name"]
        role = "kubernetes.io/role/elb" if "-public-" in s["name"] else "kubernetes.io/role/internal-elb"
        assert tags[role] == "1", s["name"]
    # internet-facing NLBs go only into subnets whose route table sends 0.0.0.0/0 to an internet gateway
    public_rt = p.one(
        "aws:ec2/routeTable:RouteTable",
        next(r["name"] for r in p.of_type("aws:ec2/routeTable:RouteTable") if r["name"].endswith("-public-rt")),
    )
    assert [r["cidrBlock"] for r in public_rt["inputs"]["routes"] if "gatewayId" in r] == ["0.0.0.0/0"]


# -- artifact buckets are named after cluster and model, and the versions point into them -------------------
# (docs/aws.md#model-artifact-buckets)


def test_artifact_buckets_are_named_deterministically_and_exported(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    buckets = {r["name"]: r for r in p.of_type("aws:s3/bucket:Bucket")}
    # Every prod model reads its weights from its own bucket (docs/model-weights.md#identity).
    assert set(buckets) == {"llama3-8b-bucket", "embeddings-bucket", "reranker-bucket"}
    bucket = buckets["llama3-8b-bucket"]["inputs"]
    assert bucket["bucket"] == "gpu-prod-llama3-8b-artifacts" and "bucketPrefix" not in bucket
    assert p.outputs["artifactBuckets"] == {
        "embeddings": "gpu-prod-embeddings-artifacts",
        "llama3-8b": "gpu-prod-llama3-8b-artifacts",
        "reranker": "gpu-prod-reranker-artifacts",
    }
    # every version of the model loads from that bucket, which its reader role may read
    uris = [
        m["inputs"]["metadata"]["annotations"]["gpu-platform.io/artifact-uri"]
        for m in p.of_type("kubernetes:apps/v1:Deployment")
        if m["inputs"]["metadata"]["name"].startswith("llama3-8b-")
    ]
    assert uris and all(u.startswith("s3://gpu-prod-llama3-8b-artifacts/") for u in uris), uris


def test_every_allowed_model_name_fits_the_bucket_name_with_the_default_cluster_names() -> None:
    from components.aws.artifact_names import S3_BUCKET_MAX, artifact_bucket_name, bucket_name_problem

    longest_model = "m" + "x" * 29  # DnsName: 1-30 characters
    for env in ("dev", "staging", "prod"):
        name = artifact_bucket_name(f"gpu-{env}", longest_model)
        assert len(name) <= S3_BUCKET_MAX and bucket_name_problem(name) is None, name


def test_the_store_refuses_a_name_s3_would_refuse() -> None:
    from components.aws.artifact_store import ModelArtifactStore, ModelArtifactStoreArgs

    args = ModelArtifactStoreArgs(
        model="m", bucket="x" * 64, namespace="m", service_account="m", oidc_provider_arn=None, oidc_issuer_url=None
    )
    with pytest.raises(ValueError, match="is 64 characters long; S3 allows 3 to 63"):
        ModelArtifactStore("m", args)


# -- the machine running `pulumi up` can reach the private endpoint -----------------------------------------
# (docs/deploying.md#bootstrap-where-pulumi-up-runs)

SG_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


@pytest.mark.parametrize(("stack", "cidr"), [("dev", "10.20.0.0/16"), ("prod", "10.40.0.0/16")])
def test_listed_networks_reach_the_private_endpoint_before_any_kubernetes_object(
    stack: str, cidr: str, plan: Callable[[str], Plan]
) -> None:
    p = plan(stack)
    eks = p.one("aws:eks/cluster:Cluster")
    assert eks["inputs"]["vpcConfig"]["endpointPrivateAccess"] is True
    rules = p.of_type(SG_RULE)
    assert [r["inputs"] | {"securityGroupId": None, "tags": None} for r in rules] == [
        {
            "cidrIpv4": cidr,
            "description": f"Kubernetes API from {cidr} (cluster.endpoint.privateAccessCidrs)",
            "fromPort": 443,
            "toPort": 443,
            "ipProtocol": "tcp",
            "securityGroupId": None,
            "tags": None,
        }
    ]
    # on the EKS-made cluster security group (the one the control plane ENIs and the nodes use): known
    # only once the cluster exists, inside the same EksCluster component
    assert rules[0]["inputs"]["securityGroupId"] == "<computed>" and rules[0]["parent"] == eks["parent"]
    # every Kubernetes object goes through the provider, which waits for the rules
    provider = p.one("pulumi:providers:kubernetes")
    assert rules[0]["urn"] in provider["options"]["dependsOn"]


def test_no_rule_without_listed_networks() -> None:
    from tests.spec_helpers import mutate, raw_stack
    from tools.offline.config import config_from_raw
    from tools.offline.runner import run_stack

    raw = mutate(raw_stack("dev"), "cluster.endpoint")
    p = Plan(run_stack("noacl", config=config_from_raw(raw, "noacl")))
    assert p.of_type(SG_RULE) == []


@pytest.mark.parametrize("stack", ["alicloud-dev", "alicloud-prod"])
def test_ack_api_server_is_the_intranet_load_balancer_of_the_vpc(stack: str, plan: Callable[[str], Plan]) -> None:
    """ACK: the API server answers on an intranet CLB in the VPC, which no security group guards, so the
    VPC (and what is routed into it) reaches it with nothing rendered for it; no internet address."""
    p = plan(stack)
    ack = p.one("alicloud:cs/managedKubernetes:ManagedKubernetes")
    assert ack["inputs"]["slbInternetEnabled"] is False
    assert not [r for r in p.resources if "securityGroupRule" in r["type"] or "SecurityGroupIngress" in r["type"]]


# -- cluster side: ClusterFacts.ready holds what the platform must wait for (docs/design.md#real-path) ------------

READY_PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s

from stacks.cluster import layer
from stacks.spec.parse import load_spec

facts = layer.build(load_spec())
# What a platform resource that waits for `ready` sends the engine (components expand to their children).
k8s.core.v1.ConfigMap(
    "ready-probe",
    metadata={"name": "ready-probe", "namespace": "default"},
    opts=pulumi.ResourceOptions(provider=facts.k8s_provider, depends_on=list(facts.ready)),
)
"""


@functools.cache
def _ready_plan(stack: str) -> Plan:
    from tools.offline.runner import PROJECT_DIR, run_stack

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
        (d / f"Pulumi.{stack}.yaml").write_text((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
        (d / "__main__.py").write_text(READY_PROGRAM)
        return Plan(run_stack(stack, d))


def _waited_for(p: Plan) -> set[str]:
    return set(p.one("kubernetes:core/v1:ConfigMap", "ready-probe")["options"]["dependsOn"])


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_eks_ready_holds_node_groups_after_node_addons_and_the_storage_class(stack: str) -> None:
    p = _ready_plan(stack)
    waited = _waited_for(p)
    node_groups = {r["urn"] for r in p.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert node_groups and node_groups <= waited
    addons = {r["inputs"]["addonName"]: r["urn"] for r in p.of_type("aws:eks/addon:Addon")}
    for name in ("coredns", "aws-ebs-csi-driver", "metrics-server"):
        assert addons[name] in waited, name
    storage_class = p.one("kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage_class["inputs"]["metadata"]["name"] == "gp3-encrypted" and storage_class["urn"] in waited
    # the beforeNodes add-ons come through the node groups, which wait for them
    for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert addons[name] not in waited, name


@pytest.mark.parametrize("stack", ["alicloud-dev", "alicloud-prod"])
def test_ack_ready_holds_node_pools_the_cluster_and_the_storage_class(stack: str) -> None:
    p = _ready_plan(stack)
    waited = _waited_for(p)
    pools = {r["urn"] for r in p.of_type("alicloud:cs/nodePool:NodePool")}
    assert pools and pools <= waited
    assert p.one("alicloud:cs/managedKubernetes:ManagedKubernetes")["urn"] in waited  # with the add-ons ACK installs
    storage_class = p.one("kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage_class["inputs"]["metadata"]["name"] == "alicloud-disk-essd-encrypted"
    assert storage_class["urn"] in waited


# -- account-wide singletons, physical names, a destroyable dev (docs/design.md#nothing-lost) ---------------------

# Resources whose physical name is fixed by an input (no auto-name): a replacement must delete first.
FIXED_NAMES = {
    "aws:eks/cluster:Cluster": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:kms/alias:Alias": "name",
    "aws:ecr/repository:Repository": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:eks/accessEntry:AccessEntry": "principalArn",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "principalArn",
}


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_fixed_physical_names_are_replaced_delete_first(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    checked = [r for r in p.resources if r["type"] in FIXED_NAMES]
    assert {r["type"] for r in checked} >= set(FIXED_NAMES) - {"aws:s3/bucket:Bucket"}
    for r in checked:
        assert FIXED_NAMES[r["type"]] in r["inputs"], r["urn"]
        assert r["options"]["deleteBeforeReplace"] is True, r["urn"]


def test_dev_has_nothing_protected_and_its_keys_keep_their_deletion_window(plan: Callable[[str], Plan]) -> None:
    p = plan("dev")
    assert [r["urn"] for r in p.resources if r["options"]["protect"]] == []
    keys = p.of_type("aws:kms/key:Key")
    assert keys and all(k["inputs"]["deletionWindowInDays"] == 30 for k in keys)


def test_prod_keeps_keys_logs_cluster_buckets_and_repositories(plan: Callable[[str], Plan]) -> None:
    from components.stateful import is_stateful

    p = plan("prod")
    kept = {r["type"] for r in p.resources if r["options"]["protect"]}
    assert kept >= {
        "aws:kms/key:Key",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:eks/cluster:Cluster",
        "aws:s3/bucket:Bucket",
        "aws:ecr/repository:Repository",
    }
    assert [r["urn"] for r in p.resources if is_stateful(r["type"]) and not r["options"]["protect"]] == []
    assert [b["inputs"]["forceDestroy"] for b in p.of_type("aws:s3/bucket:Bucket")] == [False, False, False]


def _dev_plan(**changes: Any) -> Plan:
    from tests.spec_helpers import mutate, raw_stack
    from tools.offline.config import config_from_raw
    from tools.offline.runner import run_stack

    raw = raw_stack("dev")
    for path, value in changes.items():
        raw = mutate(raw, path.replace("__", "."), value)
    return Plan(run_stack("devx", config=config_from_raw(raw, "devx")))


def test_dev_artifact_store_goes_with_destroy() -> None:
    p = _dev_plan(models__0__artifactBucket=True)
    bucket = p.one("aws:s3/bucket:Bucket")
    assert bucket["inputs"]["bucket"] == "gpu-dev-llama3-8b-artifacts"
    assert bucket["options"]["protect"] is False and bucket["inputs"]["forceDestroy"] is True
    key = p.one("aws:kms/key:Key", "llama3-8b-key")
    assert key["options"]["protect"] is False and key["inputs"]["deletionWindowInDays"] == 30


GITHUB_OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"


def test_github_oidc_provider_is_referenced_unless_the_stack_owns_it() -> None:
    import json

    repos = {"registry__ciPushRepos": ["acme/models"]}
    existing = _dev_plan(**repos)
    assert [r for r in existing.of_type(GITHUB_OIDC) if "github" in r["name"]] == []
    (role,) = [r for r in existing.of_type("aws:iam/role:Role") if r["name"] == "gpu-dev-registry-ci-push"]
    (stmt,) = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
    # the only ARN the account's provider can have (the offline account id is the fixture's)
    assert stmt["Principal"] == {
        "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    }
    owner = _dev_plan(**repos, registry__githubOidcProvider="create")
    (provider,) = [r for r in owner.of_type(GITHUB_OIDC) if "github" in r["name"]]
    assert provider["inputs"]["url"] == "https://token.actions.githubusercontent.com"


def test_registry_scanning_config_only_in_the_stack_that_owns_it() -> None:
    scan = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
    assert _dev_plan().of_type(scan) == []
    owner = _dev_plan(registry__manageScanning=True).one(scan)
    assert owner["inputs"]["scanType"] == "BASIC"
