"""Alibaba Cloud cluster layer under the plan runner: network, ACK control plane secure defaults,
the Kubernetes provider and the encrypted StorageClass (stacks/cluster/alicloud.py, components/alicloud/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pulumi.runtime import mocks

from components.alicloud.ack import CLUSTER_IGNORE_CHANGES, CONTROL_PLANE_LOG_COMPONENTS
from components.network_plan import split_nodes_pods, subnet_plan
from tests.conftest import Plan
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import config_from_raw
from tools.offline.recording import PlanMocks, RecordingMonitor
from tools.offline.runner import run_stack

ACK = "alicloud:cs/managedKubernetes:ManagedKubernetes"
SWITCH = "alicloud:vpc/switch:Switch"
NAT = "alicloud:vpc/natGateway:NatGateway"
SNAT = "alicloud:vpc/snatEntry:SnatEntry"
ROUTE = "alicloud:vpc/routeEntry:RouteEntry"
KEY = "alicloud:kms/key:Key"
SC = "kubernetes:storage.k8s.io/v1:StorageClass"


_VARIANTS: dict[str, Plan] = {}


def variant(name: str, *changes: tuple[str, Any]) -> Plan:
    """Plan alicloud-dev with some keys changed (in-memory stack file), once per name."""
    if name not in _VARIANTS:
        raw = raw_stack("alicloud-dev")
        for path, value in changes:
            raw = mutate(raw, path, value)
        _VARIANTS[name] = Plan(run_stack(name, config=config_from_raw(raw, name)))
    return _VARIANTS[name]


def test_cluster_secure_defaults_dev(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-dev")
    ack = p.one(ACK, "gpu-dev-ack")
    i = ack["inputs"]
    assert i["name"] == "gpu-dev" and i["clusterSpec"] == "ack.pro.small" and i["profile"] == "Default"
    assert i["version"] == "1.33.1-aliyun.1"  # spec 1.33 through charts/ack.yaml
    assert i["slbInternetEnabled"] is False  # private API server: no EIP
    assert i["newNatGateway"] is False  # our NAT + SNAT, not ACK's
    assert i["enableRrsa"] is True
    assert i["disableEncryption"] is False
    assert i["encryptionProviderKey"] == "<computed>"  # the KMS key created next to it
    assert (
        i["controlPlaneLogComponents"]
        == list(CONTROL_PLANE_LOG_COMPONENTS)
        == ["apiserver", "kcm", "scheduler", "ccm", "controlplane-events"]
    )
    assert i["controlPlaneLogTtl"] == "90"
    assert i["auditLogConfig"] == {"enabled": True}
    assert i["isEnterpriseSecurityGroup"] is True
    assert i["deletionProtection"] is False
    assert {"deleteMode": "retain", "resourceType": "SLS_ControlPlane"} in i["deleteOptions"]
    # Terway is listed explicitly (pulumi-alicloud#1027), first, with pod vSwitches.
    assert [a["name"] for a in i["addons"]] == [
        "terway-eniip",
        "csi-plugin",
        "managed-csiprovisioner",
        "ack-node-problem-detector",
        "node-lifecycle-controller",
    ]
    assert i["podVswitchIds"] == "<computed>" and "podCidr" not in i
    assert (
        ack["options"]["ignoreChanges"]
        == sorted(CLUSTER_IGNORE_CHANGES)
        == ["addons", "isEnterpriseSecurityGroup", "newNatGateway", "podVswitchIds", "slbInternetEnabled"]
    )
    assert ack["options"]["protect"] is False
    # dev destroys cleanly; the deleted key stays recoverable for its 30-day pending window
    assert p.one(KEY)["options"]["protect"] is False and p.one(KEY)["inputs"]["pendingWindowInDays"] == 30
    key = p.one(KEY)["inputs"]
    assert (key["keySpec"], key["automaticRotation"], key["rotationInterval"]) == ("Aliyun_AES_256", "Enabled", "365d")


def test_prod_cluster_is_protected_and_keeps_logs_a_year(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-prod")
    ack = p.one(ACK, "gpu-ali-prod-ack")
    assert ack["inputs"]["deletionProtection"] is True and ack["options"]["protect"] is True
    assert ack["inputs"]["controlPlaneLogTtl"] == "365"
    key = p.one(KEY)
    assert key["options"]["protect"] is True and key["inputs"]["deletionProtection"] == "Enabled"
    assert key["name"] == "gpu-ali-prod-secrets"


def test_public_endpoint_only_when_configured() -> None:
    p = variant(
        "ali-public",
        ("cluster.endpoint", {"publicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"], "allowWorld": True}),
    )
    assert p.one(ACK)["inputs"]["slbInternetEnabled"] is True


def test_flannel_uses_pod_cidr_and_no_pod_vswitches() -> None:
    p = variant("ali-flannel", ("cluster.alicloud", {"networkPlugin": "flannel", "podCidr": "172.18.0.0/16"}))
    i = p.one(ACK)["inputs"]
    assert i["podCidr"] == "172.18.0.0/16" and "podVswitchIds" not in i
    assert i["addons"][0] == {"name": "flannel"}
    switches = {r["name"]: r["inputs"]["cidrBlock"] for r in p.of_type(SWITCH)}
    # Without Terway the node vSwitch takes the zone's whole private block.
    assert switches["gpu-dev-nodes-cn-hangzhou-h"] == "10.30.0.0/19"
    assert not [n for n in switches if "-pods-" in n]


def test_vswitches_follow_the_shared_subnet_plan(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-dev")
    switches = {r["name"]: (r["inputs"]["cidrBlock"], r["inputs"]["zoneId"]) for r in p.of_type(SWITCH)}
    zones = ("cn-hangzhou-h", "cn-hangzhou-i")
    expected: dict[str, tuple[str, str]] = {}
    for z in subnet_plan("10.30.0.0/16", zones):
        nodes, pods = split_nodes_pods(z.private_cidr)
        expected[f"gpu-dev-nodes-{z.zone}"] = (nodes, z.zone)
        expected[f"gpu-dev-pods-{z.zone}"] = (pods, z.zone)
    expected["gpu-dev-nat-cn-hangzhou-h"] = ("10.30.224.0/22", "cn-hangzhou-h")  # single NAT: first zone
    assert switches == expected
    assert switches["gpu-dev-nodes-cn-hangzhou-i"] == ("10.30.32.0/20", "cn-hangzhou-i")
    assert switches["gpu-dev-pods-cn-hangzhou-i"] == ("10.30.48.0/20", "cn-hangzhou-i")


def test_enhanced_nat_eip_and_snat_for_every_node_and_pod_vswitch(plan: Callable[[str], Plan]) -> None:
    dev = plan("alicloud-dev")
    nat = dev.one(NAT)
    assert nat["inputs"]["natType"] == "Enhanced" and nat["inputs"]["networkType"] == "internet"
    assert dev.one("alicloud:ecs/eipAssociation:EipAssociation")["inputs"]["instanceType"] == "Nat"
    snats = dev.of_type(SNAT)
    assert sorted(s["name"] for s in snats) == [
        "gpu-dev-snat-nodes-cn-hangzhou-h",
        "gpu-dev-snat-nodes-cn-hangzhou-i",
        "gpu-dev-snat-pods-cn-hangzhou-h",
        "gpu-dev-snat-pods-cn-hangzhou-i",
    ]
    assoc_urn = dev.one("alicloud:ecs/eipAssociation:EipAssociation")["urn"]
    assert all(s["options"]["dependsOn"] == [assoc_urn] for s in snats)
    # The cluster is created only once its nodes have egress (SNAT + routes) to pull images.
    waits_for = set(dev.one(ACK)["options"]["dependsOn"])
    assert {s["urn"] for s in snats} | {r["urn"] for r in dev.of_type(ROUTE)} <= waits_for
    routes = dev.of_type(ROUTE)
    assert {(r["inputs"]["destinationCidrblock"], r["inputs"]["nexthopType"]) for r in routes} == {
        ("0.0.0.0/0", "NatGateway")
    }
    assert len(routes) == 2
    prod = plan("alicloud-prod")
    assert sorted(r["name"] for r in prod.of_type(NAT)) == [
        "gpu-ali-prod-nat-cn-shanghai-e",
        "gpu-ali-prod-nat-cn-shanghai-f",
        "gpu-ali-prod-nat-cn-shanghai-g",
    ]
    assert len(prod.of_type(SNAT)) == 6 and len(prod.of_type("alicloud:ecs/eipAddress:EipAddress")) == 3


def test_every_alicloud_resource_uses_the_regional_provider(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-prod")
    provider = p.one("pulumi:providers:alicloud", "alicloud")
    assert provider["inputs"]["region"] == "cn-shanghai"
    ali = [r for r in p.resources if r["type"].startswith("alicloud:")]
    assert ali and all(r["provider"] == provider["urn"] for r in ali)
    tagged = [r for r in ali if "tags" in r["inputs"]]
    assert all(r["inputs"]["tags"]["gpu-platform/environment"] == "prod" for r in tagged)


def test_encrypted_essd_storage_class_is_the_default(plan: Callable[[str], Plan]) -> None:
    sc = plan("alicloud-dev").one(SC)
    i = sc["inputs"]
    assert i["metadata"]["name"] == "alicloud-disk-essd-encrypted"
    assert i["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert i["provisioner"] == "diskplugin.csi.alibabacloud.com"
    assert i["parameters"]["type"] == "cloud_essd" and i["parameters"]["encrypted"] == "true"
    assert i["parameters"]["kmsKeyId"] == "<computed>"
    assert i["volumeBindingMode"] == "WaitForFirstConsumer"


class _KnownIds(PlanMocks):
    """Like a preview of an existing stack: the cluster and key have ids, so invokes run."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        rid, state = super().new_resource(args)
        if args.typ == ACK:
            return "c-known", state
        return rid, state


def test_provider_from_credential_keyed_on_cluster_id() -> None:
    monitor = RecordingMonitor(_KnownIds())
    data = run_stack("alicloud-dev", monitor=monitor)
    p = Plan(data)
    provider = p.one("pulumi:providers:kubernetes", "gpu-dev-k8s")
    # cluster_identifier is the cluster id: a rotated kubeconfig updates the provider, never replaces it.
    assert provider["inputs"]["clusterIdentifier"] == "c-known"
    # An exec kubeconfig from the cluster's endpoint: unknown until the endpoint is (test_alicloud_fixes.py).
    assert provider["inputs"]["kubeconfig"] == "<computed>"
    # Every Kubernetes object goes through that provider.
    k8s_objects = [r for r in p.resources if r["type"].startswith("kubernetes:")]
    assert k8s_objects and all(r["provider"] == provider["urn"] for r in k8s_objects)
    assert json.loads(json.dumps(data["outputs"]["kubeconfig"])) == "<computed>"


def test_platform_layers_get_the_alicloud_facts(plan: Callable[[str], Plan]) -> None:
    p = plan("alicloud-dev")
    # ACK brings its own device plugin and autoscaler: no NVIDIA device plugin or CA chart of ours.
    charts = [r["name"] for r in p.resources if r["type"].startswith("kubernetes:helm.sh")]
    assert not [c for c in charts if "device-plugin" in c or "cluster-autoscaler" in c or "gpu-operator" in c]
    assert p.outputs["capacity"]["pools"]["gpu-a10"]["gpuModel"] == "a10"
    assert p.outputs["capacity"]["pools"]["gpu-a10"]["usdPerNodeHour"] is None  # no Alibaba price: unknown
