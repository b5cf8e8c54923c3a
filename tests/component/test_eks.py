"""EKS control plane, add-ons and the Kubernetes provider as the engine would receive them (dev, prod)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from components.aws.eks import CONTROL_PLANE_LOG_TYPES, kubeconfig
from components.aws.eks_addons import addon_pins
from components.aws.irsa import IAM_ROLE_NAME_MAX, NAME_PREFIX_MAX, long_name_prefix
from stacks.spec.base import KUBERNETES_VERSIONS
from tests.conftest import STACKS, Plan
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import config_from_raw
from tools.offline.runner import run_stack

AWS_STACKS = [
    s for s in STACKS if raw_stack(s).get("cloud", "aws") == "aws" and "clusterStack" not in raw_stack(s)
]  # models-only stacks build no cluster

CLUSTER = "aws:eks/cluster:Cluster"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ADDON = "aws:eks/addon:Addon"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOC = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
K8S_PROVIDER = "pulumi:providers:kubernetes"
AWS_PROVIDER = "pulumi:providers:aws"
CLUSTER_LAYER = ("Network", "EksCluster", "EksAddons", "NodePool", "Registry")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_control_plane_secure_defaults(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    c = p.one(CLUSTER)
    i = c["inputs"]
    assert i["name"] == f"gpu-{stack}" and i["version"] == "1.33"
    assert i["vpcConfig"]["endpointPrivateAccess"] is True
    assert i["vpcConfig"]["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in i["vpcConfig"]
    assert i["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert i["bootstrapSelfManagedAddons"] is False
    assert i["encryptionConfig"]["resources"] == ["secrets"]
    assert i["enabledClusterLogTypes"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert tuple(i["enabledClusterLogTypes"]) == CONTROL_PLANE_LOG_TYPES
    assert i["upgradePolicy"] == {"supportType": "STANDARD"}
    assert i["kubernetesNetworkConfig"] == {"ipFamily": "ipv4", "serviceIpv4Cidr": "172.20.0.0/16"}
    assert c["options"]["ignoreChanges"] == [
        "accessConfig.bootstrapClusterCreatorAdminPermissions",
        "bootstrapSelfManagedAddons",
    ]
    # The log group exists before EKS would create an unbounded, unencrypted one.
    log_group = p.one(LOG_GROUP)
    assert log_group["urn"] in c["options"]["dependsOn"]
    assert log_group["inputs"]["name"] == f"/aws/eks/gpu-{stack}/cluster"
    assert log_group["inputs"]["retentionInDays"] == {"dev": 90, "prod": 365}[stack]
    assert log_group["inputs"]["kmsKeyId"] == "<computed>"


def test_cluster_keys_and_logs_protected_in_prod_destroyable_in_dev(plan: Callable[[str], Plan]) -> None:
    dev, prod = plan("dev"), plan("prod")
    assert dev.one(CLUSTER)["inputs"]["deletionProtection"] is False
    assert prod.one(CLUSTER)["inputs"]["deletionProtection"] is True
    for p, protected in ((dev, False), (prod, True)):
        s = p.data["stack"]
        # docs/design.md#nothing-lost: prod keeps cluster, keys and logs; dev goes with `pulumi destroy` (the keys
        # with their 30-day deletion window, so a mistake can be cancelled).
        for type_, name in (
            (CLUSTER, f"gpu-{s}-eks"),
            (LOG_GROUP, f"gpu-{s}-control-plane"),
            (KEY, f"gpu-{s}-secrets"),
            (KEY, f"gpu-{s}-logs"),
        ):
            assert p.one(type_, name)["options"]["protect"] is protected, name
        for name in (f"gpu-{s}-secrets", f"gpu-{s}-logs"):
            assert p.one(KEY, name)["inputs"]["deletionWindowInDays"] == 30


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_kms_keys_rotate_and_log_key_is_scoped_to_the_log_group(stack: str, plan: Callable[[str], Plan]) -> None:
    keys = {r["name"]: r["inputs"] for r in plan(stack).of_type(KEY)}
    for name in (f"gpu-{stack}-secrets", f"gpu-{stack}-logs", f"gpu-{stack}-registry-key"):
        assert keys[name]["enableKeyRotation"] is True and keys[name]["deletionWindowInDays"] == 30
    logs = json.loads(keys[f"gpu-{stack}-logs"]["policy"])
    service = logs["Statement"][1]
    region = {"dev": "us-west-2", "prod": "us-east-1"}[stack]
    assert service["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
    assert service["Condition"] == {
        "StringEquals": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:123456789012:log-group:/aws/eks/gpu-{stack}/cluster"
        }
    }


def test_admin_principals_get_access_entries_with_cluster_admin(plan: Callable[[str], Plan]) -> None:
    p = plan("prod")
    # The Karpenter node role's EC2_LINUX entry is the other one (tests/component/test_karpenter.py).
    admins = [r for r in p.of_type(ENTRY) if "karpenter" not in r["name"]]
    entries = sorted(r["inputs"]["principalArn"] for r in admins)
    assert entries == [
        "arn:aws:iam::444455556666:role/platform-admin",
        "arn:aws:iam::444455556666:role/platform-breakglass",
    ]
    for r in admins:
        assert r["inputs"]["type"] == "STANDARD"
    assocs = p.of_type(ASSOC)
    assert len(assocs) == 2
    for a in assocs:
        assert a["inputs"]["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert a["inputs"]["accessScope"] == {"type": "cluster"}
        assert len(a["options"]["dependsOn"]) == 1 and ENTRY in a["options"]["dependsOn"][0]


def test_addon_pins_cover_every_supported_kubernetes_version() -> None:
    pins = addon_pins()
    assert sorted(pins) == [
        "aws-ebs-csi-driver",
        "aws-efs-csi-driver",  # phase onDemand: components/aws/efs.py installs it with a model cache
        "coredns",
        "eks-pod-identity-agent",
        "kube-proxy",
        "metrics-server",
        "vpc-cni",
    ]
    for pin in pins.values():
        assert sorted(pin.versions) == sorted(KUBERNETES_VERSIONS), pin.name
        assert all(v.startswith("v") and "eksbuild" in v for v in pin.versions.values()), pin.name
        assert pin.source
    # kube-proxy must match the control-plane minor.
    for k8s, version in pins["kube-proxy"].versions.items():
        assert version.startswith(f"v{k8s}."), version
    with pytest.raises(KeyError, match="coredns has no pin for Kubernetes 1.20; pinned: 1.31, 1.32, 1.33, 1.34"):
        pins["coredns"].version("1.20")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_addons_pinned_and_ordered_around_the_node_groups(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    # EksAddons installs every pin but the onDemand ones (the EFS CSI driver comes with a model cache).
    addons = {r["inputs"]["addonName"]: r for r in p.of_type(ADDON) if "model-cache" not in r["name"]}
    assert sorted(addons) == sorted(n for n, pin in addon_pins().items() if pin.phase != "onDemand")
    for name, r in addons.items():
        assert r["inputs"]["addonVersion"] == addon_pins()[name].version("1.33")
        assert r["inputs"]["resolveConflictsOnCreate"] == "OVERWRITE" and r["inputs"]["preserve"] is True
    core = {addons[n]["urn"] for n in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")}
    late = {addons[n]["urn"] for n in ("coredns", "aws-ebs-csi-driver", "metrics-server")}
    node_groups = p.of_type("aws:eks/nodeGroup:NodeGroup")
    assert node_groups
    for ng in node_groups:
        # Explicit on the node group: no CNI, no Ready node.
        assert core <= set(ng["options"]["dependsOn"]) and not late & set(ng["options"]["dependsOn"])
    for urn in late:
        addon = next(r for r in p.resources if r["urn"] == urn)
        assert set(addon["options"]["dependsOn"]) == {ng["urn"] for ng in node_groups}
    ebs = addons["aws-ebs-csi-driver"]["inputs"]
    assert ebs["podIdentityAssociations"] == [{"roleArn": "<computed>", "serviceAccount": "ebs-csi-controller-sa"}]


def test_ebs_csi_role_is_pod_identity_scoped_to_its_service_account(plan: Callable[[str], Plan]) -> None:
    from tests.validators.test_iam_policies import rendered_policies

    (trust,) = [
        json.loads(doc)
        for name, _, key, doc in rendered_policies("dev")
        if name == "gpu-dev-addons-ebs-csi-role" and key == "assumeRolePolicy"
    ]
    (stmt,) = trust["Statement"]
    assert stmt["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert stmt["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert stmt["Condition"]["StringEquals"] == {
        "aws:RequestTag/kubernetes-namespace": "kube-system",
        "aws:RequestTag/kubernetes-service-account": "ebs-csi-controller-sa",
        "aws:SourceAccount": "123456789012",
    }
    assert stmt["Condition"]["ArnEquals"] == {"aws:SourceArn": "arn:aws:eks:us-east-1:123456789012:cluster/gpu-dev-eks"}
    attach = [
        r
        for r in plan("dev").of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r["name"].startswith("gpu-dev-addons-ebs-csi")
    ]
    assert [a["inputs"]["policyArn"] for a in attach] == [
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_default_storage_class_is_encrypted_gp3(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    sc = p.one("kubernetes:storage.k8s.io/v1:StorageClass", f"gpu-{stack}-addons-gp3-encrypted")
    i = sc["inputs"]
    assert i["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert i["provisioner"] == "ebs.csi.aws.com"
    assert i["parameters"] == {"encrypted": "true", "fsType": "ext4", "type": "gp3"}
    assert i["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["provider"] == p.one(K8S_PROVIDER)["urn"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_k8s_provider_has_a_stable_identity_and_no_embedded_secret(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    prov = p.one(K8S_PROVIDER)
    assert prov["inputs"]["clusterIdentifier"] == f"gpu-{stack}"
    assert prov["inputs"]["enableServerSideApply"] == "true"
    assert "kubeconfig" in p.outputs


def test_kubeconfig_uses_exec_auth_without_credentials() -> None:
    cfg = json.loads(kubeconfig("gpu-dev", "us-west-2", "https://ABC.gr7.us-west-2.eks.amazonaws.com", "Q0E="))
    (user,) = cfg["users"]
    assert user["user"] == {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "interactiveMode": "Never",
            "args": ["--region", "us-west-2", "eks", "get-token", "--cluster-name", "gpu-dev", "--output", "json"],
        }
    }
    assert cfg["clusters"][0]["cluster"] == {
        "server": "https://ABC.gr7.us-west-2.eks.amazonaws.com",
        "certificate-authority-data": "Q0E=",
    }
    text = json.dumps(cfg)
    assert "token" not in text.replace("get-token", "") and "password" not in text and "client-key" not in text


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_cluster_layer_resource_is_parented_and_uses_the_stack_provider(
    stack: str, plan: Callable[[str], Plan]
) -> None:
    p = plan(stack)
    aws_provider = p.one(AWS_PROVIDER, "aws")["urn"]
    ours = [r for r in p.resources if r["type"].startswith("aws:") and "::gpu-platform:aws:" in r["urn"]]
    # Every component of the cluster layer is among them (the top-level component in each URN).
    components = {r["urn"].split("::")[2].split("$")[0] for r in ours}
    assert {f"gpu-platform:aws:{c}" for c in CLUSTER_LAYER} <= components, components
    for r in ours:
        assert r["parent"], f"{r['name']} is not inside a component"
        assert r["provider"] == aws_provider, f"{r['name']} uses {r['provider'] or 'the default provider'}"


def test_oidc_provider_for_irsa(plan: Callable[[str], Plan]) -> None:
    oidc = [
        r
        for r in plan("dev").of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
        if r["name"] == "gpu-dev-oidc"
    ]
    assert len(oidc) == 1
    assert oidc[0]["inputs"]["clientIdLists"] == ["sts.amazonaws.com"] and oidc[0]["inputs"]["url"] == "<computed>"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_iam_permissions_exist_before_the_cluster_and_node_groups(stack: str, plan: Callable[[str], Plan]) -> None:
    # EKS checks the cluster role (and its access to the secrets key) at create, and needs it on delete to
    # clean up; nodes join only with the worker/CNI/ECR policies attached (aws_eks_cluster / aws_eks_node_group
    # docs: "Ensure that IAM Role permissions are created before and deleted after").
    p = plan(stack)
    urn = {r["name"]: r["urn"] for r in p.resources}
    deps = set(p.one(CLUSTER)["options"]["dependsOn"])
    assert {urn[f"gpu-{stack}-cluster-policy"], urn[f"gpu-{stack}-cluster-encryption"]} <= deps
    node_policies = {
        r["urn"]
        for r in p.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r["name"].startswith(f"gpu-{stack}-node-")
    }
    assert len(node_policies) == 3
    for ng in p.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert node_policies <= set(ng["options"]["dependsOn"]), ng["name"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_k8s_provider_waits_for_the_admin_access(stack: str, plan: Callable[[str], Plan]) -> None:
    # Authentication mode API without the creator-admin bootstrap: Kubernetes calls are authorised only once
    # the admin access entries and their policy associations exist.
    p = plan(stack)
    deps = set(p.one(K8S_PROVIDER)["options"]["dependsOn"])
    assocs = {r["urn"] for r in p.of_type(ASSOC)}
    assert assocs and assocs <= deps


def test_long_cluster_names_keep_role_names_within_iam_limits() -> None:
    """The longest cluster name the spec allows (30): every IAM role's auto-name ("<name>-<7 hex>") fits
    IAM's 64 characters. WorkloadRole (also used by other stacks with their own names) switches to a
    provider-completed name_prefix when a resource name would not fit."""
    name = "a" * 30  # one-letter pools keep the node group prefixes legal
    raw = mutate(
        mutate(mutate(raw_stack("dev"), "cluster.name", name), "nodePools.0.name", "s"), "nodePools.1.name", "g"
    )
    p = run_stack("long", config=config_from_raw(raw, "long"))
    roles = [r for r in p["resources"] if r["type"] == "aws:iam/role:Role"]
    assert f"{name}-cluster-autoscaler-role" in {r["name"] for r in roles}
    for r in roles:
        assert "name" not in r["inputs"] and "namePrefix" not in r["inputs"]
        assert len(r["name"]) + 8 <= IAM_ROLE_NAME_MAX, r["name"]
    assert long_name_prefix(f"{name}-cluster-autoscaler-role") is None
    long = "b" * 50 + "-reader-role"
    prefix = long_name_prefix(long)
    assert prefix is not None and prefix == "b" * 37 + "-" and len(prefix) <= NAME_PREFIX_MAX
