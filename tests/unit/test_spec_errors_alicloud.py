"""Bad Alibaba Cloud config (the alicloud_* rules of stacks/spec/cluster.py, pools.py and registry.py,
stack.alicloud_only_keys, and the catalog rules as ACK users meet them): exact messages."""

from __future__ import annotations

import pytest

from stacks.spec.parse import parse_spec
from tests.spec_helpers import Case, assert_rejected, mutate, raw_stack

ADEV = raw_stack("alicloud-dev")
APROD = raw_stack("alicloud-prod")
DEV = raw_stack("dev")
P = "gpu-platform:"
ECR = "an ECR (AWS) setting with no effect on ACR"

CASES: list[Case] = [
    (
        "private access cidrs on alicloud",
        mutate(ADEV, "cluster.endpoint.privateAccessCidrs", ["10.0.0.0/16"]),
        f"{P}cluster.endpoint.privateAccessCidrs: 10.0.0.0/16: nothing to open on ACK, whose API server listens on "
        "an intranet load balancer in the VPC that answers every address routed into the VPC (no security group "
        "applies to it); remove privateAccessCidrs and route your CI/VPN network into the VPC",
    ),
    (
        "alicloud cluster block on aws",
        mutate(DEV, "cluster.alicloud", {"networkPlugin": "flannel"}),
        f"{P}cluster.alicloud: given while cloud is 'aws'; these settings apply to Alibaba Cloud only "
        "(cloud: alicloud); remove the block",
    ),
    (
        "alicloud registry block on aws",
        mutate(DEV, "registry.alicloud", {"edition": "personal"}),
        f"{P}registry.alicloud: given while cloud is 'aws'; these settings apply to Alibaba Cloud only "
        "(cloud: alicloud); remove the block",
    ),
    (
        "zone without dash",
        mutate(ADEV, "zones", ["cn-hangzhou-h", "cn-hangzhouj"]),
        f"{P}zones[1]: 'cn-hangzhouj' is not an Alibaba Cloud zone name; write it like 'cn-hangzhou-h' "
        "(region, '-', zone letter)",
    ),
    (
        "zone of another region",
        mutate(ADEV, "zones", ["cn-hangzhou-h", "cn-shanghai-e"]),
        f"{P}zones[1]: 'cn-shanghai-e' is not a zone of region 'cn-hangzhou'; use zones named cn-hangzhou<letter>",
    ),
    (
        "six zones",
        mutate(ADEV, "zones", [f"cn-hangzhou-{c}" for c in "bfghij"]),
        f"{P}zones: 6 zones given; an ACK cluster takes at most 5 control-plane vSwitches; list at most 5 zones",
    ),
    (
        "iam admin principals",
        mutate(ADEV, "cluster.adminPrincipals", ["arn:aws:iam::111122223333:role/admin"]),
        f"{P}cluster.adminPrincipals: given on alicloud, where cluster-admin is granted through RAM authorisation in "
        "ACK (console Authorizations, or cs.KubernetesPermission), which this stack does not manage; remove "
        "adminPrincipals",
    ),
    (
        "private endpoint off",
        mutate(
            ADEV,
            "cluster.endpoint",
            {"privateAccess": False, "publicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"], "allowWorld": True},
        ),
        f"{P}cluster.endpoint.privateAccess: false is not possible on ACK: the API server always has a VPC "
        "(intranet) address; remove privateAccess",
    ),
    (
        "public endpoint with an allowlist",
        mutate(ADEV, "cluster.endpoint", {"publicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}),
        f"{P}cluster.endpoint.publicAccessCidrs: 203.0.113.0/24: ACK's public API endpoint (an EIP on the API "
        "server's load balancer) has no source-CIDR allowlist this stack can set; keep the endpoint private (reach "
        "it over VPN), or list '0.0.0.0/0' with allowWorld: true and restrict it with the load balancer's access "
        "control in ACK",
    ),
    (
        "flannel pod cidr inside the vpc",
        mutate(ADEV, "cluster.alicloud", {"networkPlugin": "flannel", "podCidr": "10.30.0.0/16"}),
        f"{P}cluster.alicloud.podCidr: '10.30.0.0/16' overlaps vpcCidr '10.30.0.0/16'; choose a pod CIDR outside "
        "both, e.g. '172.16.0.0/16'",
    ),
    (
        "flannel pod cidr on the service cidr",
        mutate(ADEV, "cluster.alicloud", {"networkPlugin": "flannel", "podCidr": "172.20.0.0/16"}),
        f"{P}cluster.alicloud.podCidr: '172.20.0.0/16' overlaps serviceCidr '172.20.0.0/16'; choose a pod CIDR "
        "outside both, e.g. '172.16.0.0/16'",
    ),
    (
        "pod cidr with terway",
        mutate(ADEV, "cluster.alicloud", {"podCidr": "172.18.0.0/16"}),
        f"{P}cluster.alicloud.podCidr: given with networkPlugin 'terway', which takes pod addresses from pod "
        "vSwitches; remove podCidr or use networkPlugin: flannel",
    ),
    (
        "unknown network plugin",
        mutate(ADEV, "cluster.alicloud", {"networkPlugin": "calico"}),
        f"{P}cluster.alicloud.networkPlugin: 'calico' is not allowed; choose one of 'terway' or 'flannel'",
    ),
    (
        "driver not a version",
        mutate(APROD, "cluster.alicloud.nvidiaDriverVersion", "latest"),
        f"{P}cluster.alicloud.nvidiaDriverVersion: 'latest' is not an NVIDIA driver version; write it like "
        "'550.144.03'",
    ),
    (
        "driver 515 on A100",
        mutate(APROD, "cluster.alicloud.nvidiaDriverVersion", "515.65.01"),
        f"{P}cluster.alicloud.nvidiaDriverVersion: '515.65.01': ACK documents issues of drivers 510.x/515.x on the "
        "A100 families (ecs.ebmgn7e.32xlarge, ecs.gn7e-c16g1.16xlarge); use 550 or newer (fixes XID 119/120 errors)",
    ),
    (
        "driver too old for A100 bare metal",
        mutate(APROD, "cluster.alicloud.nvidiaDriverVersion", "450.80.02"),
        f"{P}cluster.alicloud.nvidiaDriverVersion: '450.80.02' is older than 460.32.03, the minimum ACK supports on "
        "A100 bare metal (ecs.ebmgn7e.32xlarge, ecs.gn7e-c16g1.16xlarge); use 550 or newer",
    ),
    (
        "eks ami type",
        mutate(ADEV, "nodePools.1.amiType", "AL2023_x86_64_NVIDIA"),
        f"{P}nodePools[1].amiType: 'AL2023_x86_64_NVIDIA' is an EKS AMI type; ACK nodes run Alibaba Cloud Linux 3 "
        "with ACK's NVIDIA driver, so remove amiType",
    ),
    (
        "time-slicing on ack",
        mutate(ADEV, "nodePools.1.gpu", {"sharing": "time-slicing", "timeSlicing": {"replicas": 4}}),
        f"{P}nodePools[1].gpu.sharing: 'time-slicing' is configured in the NVIDIA device plugin, which ACK replaces "
        "with its own (ack-nvidia-device-plugin); use sharing: none (whole GPUs) or MIG on a bare-metal A100 pool",
    ),
    # The catalog rule (stacks/spec/pools.py) as ACK users meet it: gn7e is a passthrough A100 VM.
    (
        "mig on gn7e",
        mutate(APROD, "nodePools.3.gpu", {"sharing": "mig", "mig": {"layout": "all-balanced"}}),
        f"{P}nodePools[3].gpu.sharing: 'mig' is not possible on ecs.gn7e-c16g1.16xlarge: the cloud does not let you "
        "enable MIG on it; use a MIG-capable instance type (ecs.ebmgn7e.32xlarge) or sharing: none",
    ),
    (
        "log TTL out of range on ack",
        mutate(ADEV, "cluster.logRetentionDays", 5000),
        f"{P}cluster.logRetentionDays: 5000 is outside 1..3650 days (Log Service TTL); choose a value in that range",
    ),
    (
        "mig on A10",
        mutate(ADEV, "nodePools.1.gpu", {"sharing": "mig", "mig": {"layout": "all-balanced"}}),
        f"{P}nodePools[1].gpu.sharing: 'mig' is not possible on ecs.gn7i-c8g1.2xlarge: its a10 GPUs do not support "
        "MIG; use sharing: time-slicing, or a MIG GPU (A100, H100, H200, B200)",
    ),
    (
        "efa on ack",
        mutate(ADEV, "nodePools.1.efa", True),
        f"{P}nodePools[1].efa: EFA exists only on AWS; on ACK the RDMA fabric is eRDMA (ebmgn* bare-metal families), "
        "which this platform does not configure yet (no eRDMA device plugin or ENI settings): remove efa",
    ),
    (
        "enhanced scanning",
        mutate(ADEV, "registry.scanType", "ENHANCED"),
        f"{P}registry.scanType: {ECR} (ACR Enterprise Edition scans every push with its own scanner); remove scanType",
    ),
    (
        "manage scanning",
        mutate(ADEV, "registry.manageScanning", True),
        f"{P}registry.manageScanning: {ECR} (ACR Enterprise Edition scans every push with its own scanner); remove "
        "manageScanning",
    ),
    (
        "github oidc provider",
        mutate(ADEV, "registry.githubOidcProvider", "existing"),
        f"{P}registry.githubOidcProvider: {ECR} (it is the IAM OIDC provider); remove githubOidcProvider",
    ),
    (
        "github ci push",
        mutate(ADEV, "registry.ciPushRepos", ["acme/models"]),
        f"{P}registry.ciPushRepos: {ECR} (CI pushes to ACR with a RAM user or role, not GitHub OIDC here); remove "
        "ciPushRepos",
    ),
    (
        "replication",
        mutate(ADEV, "registry.replicationRegions", ["cn-beijing"]),
        f"{P}registry.replicationRegions: {ECR} (ACR replication is not managed by this stack); remove "
        "replicationRegions",
    ),
    (
        "untagged expiry",
        mutate(ADEV, "registry.untaggedExpiryDays", 3),
        f"{P}registry.untaggedExpiryDays: {ECR} (ACR retention keeps the newest keepReleaseImages tags); remove "
        "untaggedExpiryDays",
    ),
    (
        "ee period",
        mutate(APROD, "registry.alicloud.subscriptionMonths", 10),
        f"{P}registry.alicloud.subscriptionMonths: 10 is not an ACR Enterprise period; choose one of 1, 2, 3, 4, 5, "
        "6, 7, 8, 9, 12, 24, 36",
    ),
    (
        "instance type on personal",
        mutate(ADEV, "registry.alicloud", {"instanceType": "Advanced"}),
        f"{P}registry.alicloud.instanceType: given with the Personal Edition, which has no instance; remove "
        "instanceType or set edition: enterprise",
    ),
    (
        "retention on personal",
        mutate(ADEV, "registry.keepReleaseImages", 10),
        f"{P}registry.keepReleaseImages: the ACR Personal Edition has no retention rules; remove it or set "
        "registry.alicloud.edition: enterprise",
    ),
    (
        "artifact bucket on ack",
        mutate(APROD, "models.0.artifactBucket", True),
        f"{P}models[0].artifactBucket: true while cloud is 'alicloud'; the platform creates artifact buckets on AWS "
        "only (S3 + IRSA): remove artifactBucket and point versions[].artifact.uri at weights you store yourself "
        "(e.g. oss://<bucket>/<path> on Alibaba Cloud)",
    ),
    (
        "edition typo",
        mutate(ADEV, "registry.alicloud", {"editon": "personal"}),
        f"{P}registry.alicloud.editon: unknown key; did you mean 'edition'?",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fails_with_exact_message(case: Case) -> None:
    assert_rejected(case)


def test_alicloud_stacks_parse_with_their_defaults() -> None:
    dev = parse_spec(ADEV)
    assert dev.cloud == "alicloud" and dev.cluster.alicloud is None and dev.registry.alicloud is None
    prod = parse_spec(APROD)
    assert prod.cluster.alicloud is not None and prod.cluster.alicloud.network_plugin == "terway"
    assert prod.registry.alicloud is not None and prod.registry.alicloud.edition == "enterprise"


def test_open_public_endpoint_is_accepted_with_explicit_acknowledgement() -> None:
    spec = parse_spec(
        mutate(ADEV, "cluster.endpoint", {"publicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"], "allowWorld": True})
    )
    assert spec.cluster.endpoint.public_access is True


def test_keep_release_images_is_fine_on_enterprise() -> None:
    spec = parse_spec(mutate(APROD, "registry.keepReleaseImages", 10))
    assert spec.registry.keep_release_images == 10
