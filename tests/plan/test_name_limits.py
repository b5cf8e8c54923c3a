"""Name limits the providers' Check and the cloud APIs enforce, applied to the offline plan
(tools/offline/limits.py): planted violations fail the plan with a message naming the resource, the
property, the value and the limit; every committed stack passes; every resource type the program creates
is classified."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STACKS, plan_of
from tools.offline import limits
from tools.offline.runner import PROJECT_DIR, run_stack

# Types whose resources carry no physical name (an id, a tag or the parent's name identifies them).
UNNAMED = {
    "aws:autoscaling/tag:Tag",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/eip:Eip",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration",
    "aws:ecr/repositoryPolicy:RepositoryPolicy",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/addon:Addon",  # addonName is one of EKS's add-on names
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kms/key:Key",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:efs/fileSystem:FileSystem",  # creationToken: generated unique by the provider when unset
    "aws:efs/mountTarget:MountTarget",
    "alicloud:cr/artifactLifecycleRule:ArtifactLifecycleRule",
    "alicloud:nas/fileSystem:FileSystem",
    "alicloud:nas/mountTarget:MountTarget",
    "alicloud:nas/accessRule:AccessRule",
    # accessGroupName is '<cluster>-model-cache' (components/alicloud/nas.py); pulumi_alicloud's
    # nas/access_group.py publishes no length limit to check it against.
    "alicloud:nas/accessGroup:AccessGroup",
    "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment",
    "alicloud:cr/scanRule:ScanRule",  # ruleName: an event rule label of the instance
    "alicloud:cr/vpcEndpointLinkedVpc:VpcEndpointLinkedVpc",
    "alicloud:cs/autoscalingConfig:AutoscalingConfig",
    "alicloud:ecs/eipAssociation:EipAssociation",
    "alicloud:kms/key:Key",
    "alicloud:vpc/routeTableAttachment:RouteTableAttachment",
    "pulumi:pulumi:StackReference",
    "random:index/randomPassword:RandomPassword",
}


def _res(type_: str, inputs: dict[str, Any], name: str = "r") -> dict[str, Any]:
    return {"type": type_, "name": name, "custom": True, "inputs": inputs}


def _messages(*resources: dict[str, Any]) -> list[str]:
    return [str(v) for v in limits.check(list(resources))]


# ------------------------------------------------------------------------------------------------
# The committed stacks


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stacks_pass_every_name_limit(stack: str) -> None:
    assert limits.check(plan_of(stack).resources) == []


def test_every_type_the_program_creates_is_classified() -> None:
    unknown = {
        r["type"]
        for stack in STACKS
        for r in plan_of(stack).resources
        if r["custom"]
        and not r["type"].startswith("pulumi:providers:")
        and r["type"] not in limits.LIMITS
        and r["type"] not in UNNAMED
        and not limits.is_kubernetes_object(r["type"])
    }
    assert unknown == set(), "add the type's name limits to tools/offline/limits.py LIMITS, or to UNNAMED here"


def test_the_table_names_a_source_for_every_limit() -> None:
    assert all(rule.source for rules in limits.LIMITS.values() for rule in rules)


# ------------------------------------------------------------------------------------------------
# Planted violations, one rule at a time


def test_auto_named_iam_role_over_64() -> None:
    assert _messages(_res("aws:iam/role:Role", {}, "r" * 57)) == [
        f"aws:iam/role:Role '{'r' * 57}': name (auto-named: '{'r' * 57}' + '-' + 7 random hex = 65 characters) is "
        "longer than 64: shorten the logical name to 56 characters or set name explicitly "
        "[IAM RoleName (IAM quotas; pulumi-aws AutoName maxlen 64)]"
    ]
    assert _messages(_res("aws:iam/role:Role", {}, "r" * 56)) == []
    # a name_prefix is not auto-named: the prefix rule applies instead
    assert _messages(_res("aws:iam/role:Role", {"namePrefix": "p" * 38}, "r" * 80)) == []
    assert _messages(_res("aws:iam/role:Role", {"namePrefix": "p" * 39})) == [
        f"aws:iam/role:Role 'r': namePrefix '{'p' * 39}' is 39 characters; the provider appends 26, making 65: at "
        "most 64 allowed, so the prefix may have 38 [IAM RoleName 64 = prefix + 26 (terraform-provider-aws "
        "validRolePrefix)]"
    ]
    assert _messages(_res("aws:iam/role:Role", {"name": "has space"})) == [
        "aws:iam/role:Role 'r': name 'has space' is not allowed: use letters, digits and +=,.@_- "
        "[IAM RoleName (IAM quotas; pulumi-aws AutoName maxlen 64)]"
    ]


def test_node_group_prefix_and_name() -> None:
    ng = "aws:eks/nodeGroup:NodeGroup"
    assert _messages(_res(ng, {"nodeGroupNamePrefix": "p" * 37})) == []
    assert (
        "making 64: at most 63 allowed, so the prefix may have 37"
        in _messages(_res(ng, {"nodeGroupNamePrefix": "p" * 38}))[0]
    )
    assert "is not allowed" in _messages(_res(ng, {"nodeGroupNamePrefix": "-gpu-"}))[0]
    assert "is 64 characters; at most 63 allowed" in _messages(_res(ng, {"nodeGroupName": "n" * 64}))[0]


@pytest.mark.parametrize(
    ("bucket", "problem"),
    [
        ("gpu-prod-llama3-8b-artifacts", None),
        ("b" * 64, "is 64 characters; at most 63 allowed"),
        ("ab", "is 2 characters; at least 3 required"),
        ("Gpu_Artifacts", "is not allowed"),
        ("192.168.1.10", "is not allowed"),
        ("a..b", "is not allowed"),
        ("xn--bucket", "is not allowed"),
        ("bucket-s3alias", "is not allowed"),
        ("-bucket", "is not allowed"),
    ],
)
def test_s3_bucket_names(bucket: str, problem: str | None) -> None:
    found = _messages(_res("aws:s3/bucket:Bucket", {"bucket": bucket}))
    assert found == [] if problem is None else (len(found) == 1 and problem in found[0] and repr(bucket) in found[0])


def test_s3_bucket_prefix_over_37() -> None:
    assert _messages(_res("aws:s3/bucket:Bucket", {"bucketPrefix": "p" * 37})) == []
    assert "so the prefix may have 37" in _messages(_res("aws:s3/bucket:Bucket", {"bucketPrefix": "p" * 38}))[0]


@pytest.mark.parametrize(
    ("type_", "inputs", "problem"),
    [
        ("aws:kms/alias:Alias", {"name": "eks/gpu-dev"}, "is not allowed: use 'alias/'"),
        ("aws:kms/alias:Alias", {"name": "alias/aws/ebs"}, "is not allowed"),
        ("aws:cloudwatch/logGroup:LogGroup", {"name": "/" + "l" * 512}, "is 513 characters; at most 512 allowed"),
        ("aws:iam/policy:Policy", {"name": "p" * 129}, "at most 128 allowed"),
        ("aws:iam/rolePolicy:RolePolicy", {"name": "p" * 129}, "at most 128 allowed"),
        ("aws:ec2/launchTemplate:LaunchTemplate", {"name": "l" * 129}, "at most 128 allowed"),
        ("aws:ec2/launchTemplate:LaunchTemplate", {"namePrefix": "l" * 100}, "so the prefix may have 99"),
        ("aws:ecr/repository:Repository", {"name": "Gpu-Dev/llama"}, "is not allowed: use lowercase"),
        ("aws:ecr/repository:Repository", {"name": "r" * 257}, "at most 256 allowed"),
        ("aws:eks/cluster:Cluster", {"name": "c" * 101}, "at most 100 allowed"),
        ("alicloud:cs/managedKubernetes:ManagedKubernetes", {"name": "c" * 64}, "at most 63 allowed"),
        ("alicloud:cs/managedKubernetes:ManagedKubernetes", {"name": "-ack"}, "is not allowed"),
        ("alicloud:cs/nodePool:NodePool", {"nodePoolName": "n" * 64}, "at most 63 allowed"),
        ("alicloud:ram/role:Role", {"roleName": "r" * 65}, "at most 64 allowed"),
        ("alicloud:ram/role:Role", {"roleName": "ack_role"}, "is not allowed"),
        ("alicloud:vpc/network:Network", {"vpcName": "v" * 129}, "at most 128 allowed"),
        ("alicloud:vpc/switch:Switch", {"vswitchName": "http://nodes"}, "is not allowed"),
        ("alicloud:vpc/natGateway:NatGateway", {"natGatewayName": "-nat"}, "is not allowed"),
        ("alicloud:vpc/snatEntry:SnatEntry", {"snatEntryName": "1-nodes"}, "is not allowed"),
        ("alicloud:ecs/eipAddress:EipAddress", {"addressName": "e" * 129}, "at most 128 allowed"),
        ("alicloud:cr/namespace:Namespace", {"name": "n" * 31}, "at most 30 allowed"),
        ("alicloud:cr/repo:Repo", {"name": "Qwen"}, "is not allowed"),
        ("alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance", {"instanceName": "ab"}, "at least 3"),
        ("kubernetes:helm.sh/v3:Release", {"name": "r" * 54}, "at most 53 allowed"),
        ("kubernetes:helm.sh/v3:Release", {"name": "Istiod"}, "is not allowed"),
    ],
)
def test_planted_violations(type_: str, inputs: dict[str, Any], problem: str) -> None:
    found = _messages(_res(type_, inputs))
    assert len(found) == 1 and found[0].startswith(f"{type_} 'r': ") and problem in found[0], found


def test_auto_named_alicloud_route_entry() -> None:
    assert _messages(_res("alicloud:vpc/routeEntry:RouteEntry", {}, "e" * 120)) == []
    assert "is longer than 128" in _messages(_res("alicloud:vpc/routeEntry:RouteEntry", {}, "e" * 121))[0]


def test_computed_values_are_not_checked() -> None:
    assert _messages(_res("aws:s3/bucket:Bucket", {"bucket": "<computed>"})) == []


@pytest.mark.parametrize(
    ("type_", "inputs", "name", "problem"),
    [
        (
            "kubernetes:core/v1:Namespace",
            {"metadata": {"name": "Models"}},
            "r",
            "metadata.name 'Models' is not allowed",
        ),
        ("kubernetes:core/v1:Namespace", {"metadata": {"name": "n" * 64}}, "r", "is 64 characters; at most 63"),
        ("kubernetes:core/v1:Namespace", {}, "n" * 55, "auto-named: '" + "n" * 55 + "' + '-' + 8 random hex = 64"),
        ("kubernetes:core/v1:Service", {"metadata": {"name": "1-gateway"}}, "r", "starting with a letter"),
        ("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "c" * 254}}, "r", "at most 253"),
        ("kubernetes:batch/v1:Job", {"metadata": {"name": "j" * 64}}, "r", "at most 63"),
        (
            "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch",
            {"metadata": {"name": "e" * 37}},
            "r",
            "at most 36",
        ),
        ("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "c", "namespace": "Bad"}}, "r", "metadata.namespace"),
        (
            "kubernetes:apps/v1:Deployment",
            {"metadata": {"name": "d", "labels": {"app": "v" * 64}}},
            "r",
            "metadata.labels['app'] '" + "v" * 64 + "' is 64 characters",
        ),
        (
            "kubernetes:apps/v1:Deployment",
            {"metadata": {"name": "d"}, "spec": {"template": {"metadata": {"labels": {"bad key": "x"}}}}},
            "r",
            "spec.template.metadata.labels['bad key'] key 'bad key'",
        ),
        (
            "kubernetes:apps/v1:Deployment",
            {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "-x"}}}},
            "r",
            "spec.selector.matchLabels['app'] '-x' is not allowed",
        ),
        (
            "kubernetes:core/v1:Service",
            {"metadata": {"name": "s", "annotations": {"Example.com/x": "1"}}},
            "r",
            "metadata.annotations['Example.com/x'] key 'Example.com/x' (prefix 'Example.com')",
        ),
    ],
)
def test_planted_kubernetes_violations(type_: str, inputs: dict[str, Any], name: str, problem: str) -> None:
    found = _messages(_res(type_, inputs, name))
    assert len(found) == 1 and found[0].startswith(f"{type_} '{name}': ") and problem in found[0], found


# ------------------------------------------------------------------------------------------------
# End to end: a program with planted violations fails its plan, cleanly


PROGRAM = """\
import pulumi_aws as aws
import pulumi_kubernetes as k8s

aws.iam.Role("r" * 57, assume_role_policy="{}")
k8s.core.v1.Namespace("ns", metadata={"name": "Bad_Namespace"})
aws.s3.Bucket("ok", bucket="fine-bucket-name")
"""


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: planted\nruntime: python\n")
    (tmp_path / "Pulumi.x.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(PROGRAM)
    return tmp_path


def test_a_plan_with_planted_violations_fails(planted: Path) -> None:
    with pytest.raises(limits.NameLimitError) as err:
        run_stack("x", planted)
    assert [f"{v.type} {v.prop}" for v in err.value.violations] == [  # in URN order, as the plan
        "aws:iam/role:Role name",
        "kubernetes:core/v1:Namespace metadata.name",
    ]


def test_the_cli_exits_2_with_every_violation_and_no_traceback(planted: Path, tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "tools.plan", "x", "--project-dir", str(planted), "--out", str(tmp_path / "out")],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("x: 2 name(s) the providers or cloud APIs refuse (a real preview or up fails):\n")
    assert "  - kubernetes:core/v1:Namespace 'ns': metadata.name 'Bad_Namespace' is not allowed" in res.stderr
    assert f"  - aws:iam/role:Role '{'r' * 57}': name (auto-named" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()
