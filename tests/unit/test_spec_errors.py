"""Bad stack config: each case asserts the exact message (key path, value received, allowed, fix)."""

from __future__ import annotations

import pytest

from stacks.spec.errors import ConfigError
from stacks.spec.parse import parse_spec
from tests.spec_helpers import Case, assert_rejected, mutate, problems, raw_stack

DEV = raw_stack("dev")
PROD = raw_stack("prod")
P = "gpu-platform:"

CASES: list[Case] = [
    (
        "unknown pool key suggests",
        mutate(DEV, "nodePools.1.maxSze", 3),
        f"{P}nodePools[1].maxSze: unknown key; did you mean 'maxSize'?",
    ),
    ("unknown top-level key suggests", mutate(DEV, "clustr", {}), f"{P}clustr: unknown key; did you mean 'cluster'?"),
    (
        "unknown nested key suggests",
        mutate(DEV, "cluster.endpoint.publicAcess", True),
        f"{P}cluster.endpoint.publicAcess: unknown key; did you mean 'publicAccess'?",
    ),
    (
        "unknown key, nothing close",
        mutate(DEV, "registry.zzz", 1),
        f"{P}registry.zzz: unknown key; allowed keys: alicloud, ciPushRepos, enabled, githubOidcProvider, "
        "githubOidcProviderArn, keepReleaseImages, manageScanning, platformRepositories, replicationRegions, "
        "scanType, untaggedExpiryDays",
    ),
    (
        "bad environment",
        mutate(DEV, "environment", "qa"),
        f"{P}environment: 'qa' is not allowed; choose one of 'dev', 'staging' or 'prod'",
    ),
    (
        "bad cloud",
        mutate(DEV, "cloud", "gcp"),
        f"{P}cloud: 'gcp' is not allowed; choose one of 'aws', 'alicloud' or 'existing'",
    ),
    (
        "missing environment",
        mutate(DEV, "environment"),
        f"{P}environment: required key is missing; add it to the stack file",
    ),
    ("missing region", mutate(DEV, "region"), f"{P}region: required key is missing; add it to the stack file"),
    (
        "min > max",
        mutate(DEV, "nodePools.1.minSize", 5),
        f"{P}nodePools[1].minSize: 5 is greater than maxSize 2; make minSize <= maxSize",
    ),
    ("negative min", mutate(DEV, "nodePools.1.minSize", -1), f"{P}nodePools[1].minSize: must be >= 0, got -1"),
    ("max zero", mutate(DEV, "nodePools.1.maxSize", 0), f"{P}nodePools[1].maxSize: must be >= 1, got 0"),
    (
        "max not a number",
        mutate(DEV, "nodePools.1.maxSize", "lots"),
        f"{P}nodePools[1].maxSize: expected an integer, got 'lots'",
    ),
    (
        "duplicate pool names",
        mutate(DEV, "nodePools.1.name", "system"),
        f"{P}nodePools: pool name 'system' is used twice; pool names must be unique",
    ),
    (
        "bad pool name",
        mutate(DEV, "nodePools.1.name", "GPU_pool"),
        f"{P}nodePools[1].name: 'GPU_pool' is not a valid name; use 1-30 lowercase letters, digits and '-', "
        "starting with a letter",
    ),
    (
        "no instance types",
        mutate(DEV, "nodePools.1.instanceTypes", []),
        f"{P}nodePools[1].instanceTypes: needs at least 1 item(s), got 0",
    ),
    (
        "duplicate instance type",
        mutate(DEV, "nodePools.1.instanceTypes", ["g6.xlarge", "g6.xlarge"]),
        f"{P}nodePools[1].instanceTypes[1]: 'g6.xlarge' is listed twice; list each instance type once",
    ),
    (
        "bad capacity type",
        mutate(DEV, "nodePools.1.capacityType", "spot"),
        f"{P}nodePools[1].capacityType: 'spot' is not allowed; choose one of 'ON_DEMAND' or 'SPOT'",
    ),
    (
        "bad taint effect",
        mutate(DEV, "nodePools.0.taints", [{"key": "dedicated", "effect": "NoRun"}]),
        f"{P}nodePools[0].taints[0].effect: 'NoRun' is not allowed; choose one of 'NoSchedule', 'NoExecute' "
        "or 'PreferNoSchedule'",
    ),
    (
        "bad label key",
        mutate(DEV, "nodePools.0.labels", {"-team": "ml"}),
        f"{P}nodePools[0].labels.-team: '-team' is not a valid Kubernetes label key",
    ),
    (
        "mig sharing without mig block",
        mutate(DEV, "nodePools.1.gpu", {"sharing": "mig"}),
        f"{P}nodePools[1].gpu.mig: required when sharing is 'mig'; add mig: {{strategy: mixed, layout: <layout>}}",
    ),
    (
        "time-slicing replicas < 2",
        mutate(DEV, "nodePools.1.gpu", {"sharing": "time-slicing", "timeSlicing": {"replicas": 1}}),
        f"{P}nodePools[1].gpu.timeSlicing.replicas: 1 shares nothing; use 2 or more (or sharing: none for whole GPUs)",
    ),
    (
        "time-slicing block on whole GPUs",
        mutate(DEV, "nodePools.1.gpu", {"timeSlicing": {"replicas": 4}}),
        f"{P}nodePools[1].gpu.timeSlicing: given while sharing is 'none'; set sharing: time-slicing or remove the "
        "timeSlicing block",
    ),
    (
        "bad sharing mode",
        mutate(DEV, "nodePools.1.gpu", {"sharing": "mps"}),
        f"{P}nodePools[1].gpu.sharing: 'mps' is not allowed; choose one of 'none', 'mig' or 'time-slicing'",
    ),
    (
        "zone outside region",
        mutate(DEV, "zones", ["us-west-2a", "eu-west-1b"]),
        f"{P}zones[1]: 'eu-west-1b' is not a zone of region 'us-west-2'; use zones named us-west-2<letter>",
    ),
    (
        "one zone on AWS",
        mutate(DEV, "zones", ["us-west-2a"]),
        f"{P}zones: 1 zone(s) given; at least 2 required (EKS needs subnets in two zones); add a zone",
    ),
    (
        "duplicate zone",
        mutate(DEV, "zones", ["us-west-2a", "us-west-2a", "us-west-2b"]),
        f"{P}zones: 'us-west-2a' is listed twice; list each zone once",
    ),
    (
        "cidr with host bits",
        mutate(DEV, "cluster.network.vpcCidr", "10.20.0.1/16"),
        f"{P}cluster.network.vpcCidr: '10.20.0.1/16' is not a network CIDR; write it like '10.0.0.0/16' (host bits zero)",
    ),
    (
        "vpc too small",
        mutate(DEV, "cluster.network.vpcCidr", "10.20.0.0/24"),
        f"{P}cluster.network.vpcCidr: '10.20.0.0/24' has prefix /24; use a /16 to /20 (each zone needs a large "
        "private subnet for pod IPs)",
    ),
    (
        "service cidr overlaps vpc",
        mutate(DEV, "cluster.network.serviceCidr", "10.20.128.0/20"),
        f"{P}cluster.network.serviceCidr: '10.20.128.0/20' overlaps vpcCidr '10.20.0.0/16'; choose a Service CIDR "
        "outside the VPC, e.g. '172.20.0.0/16'",
    ),
    (
        "public vpc range",
        mutate(DEV, "cluster.network.vpcCidr", "8.8.0.0/16"),
        f"{P}cluster.network.vpcCidr: '8.8.0.0/16' is not a private (RFC 1918) range; use e.g. '10.0.0.0/16'",
    ),
    (
        "bad nat mode",
        mutate(DEV, "cluster.network.natGateways", "none"),
        f"{P}cluster.network.natGateways: 'none' is not allowed; choose one of 'single' or 'perZone'",
    ),
    (
        "world-open endpoint without ack",
        mutate(DEV, "cluster.endpoint", {"publicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}),
        f"{P}cluster.endpoint.publicAccessCidrs[0]: '0.0.0.0/0' opens the API server to the whole internet; list "
        "narrower CIDRs, or set allowWorld: true to accept the risk",
    ),
    (
        "public endpoint without cidrs",
        mutate(DEV, "cluster.endpoint", {"publicAccess": True}),
        f"{P}cluster.endpoint.publicAccessCidrs: empty while publicAccess is true; list the CIDRs allowed to reach "
        "the API server (e.g. your VPN egress '203.0.113.0/24')",
    ),
    (
        "no endpoint at all",
        mutate(DEV, "cluster.endpoint", {"privateAccess": False}),
        f"{P}cluster.endpoint.privateAccess: false while publicAccess is false leaves no API endpoint; set "
        "privateAccess: true",
    ),
    (
        "unsupported kubernetes",
        mutate(DEV, "cluster.kubernetesVersion", "1.27"),
        f"{P}cluster.kubernetesVersion: '1.27' is not supported; choose one of 1.31, 1.32, 1.33, 1.34",
    ),
    (
        "bad log retention",
        mutate(DEV, "cluster.logRetentionDays", 100),
        f"{P}cluster.logRetentionDays: 100 is not a CloudWatch retention period; use 90 (allowed: 1, 3, 5, 7, 14, "
        "30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)",
    ),
    (
        "bad admin principal",
        mutate(DEV, "cluster.adminPrincipals", ["admin"]),
        f"{P}cluster.adminPrincipals[0]: 'admin' is not an IAM role or user ARN; write it like "
        "'arn:aws:iam::123456789012:role/platform-admin'",
    ),
    (
        "bad cluster name",
        mutate(DEV, "cluster.name", "GPU cluster"),
        f"{P}cluster.name: 'GPU cluster' is not a valid name; use 1-30 lowercase letters, digits and '-', starting "
        "with a letter",
    ),
    (
        "replicate to own region",
        mutate(PROD, "registry.replicationRegions", ["us-east-1"]),
        f"{P}registry.replicationRegions[0]: 'us-east-1' is the stack's own region; replicate to other regions only",
    ),
    (
        "bad ci repo",
        mutate(PROD, "registry.ciPushRepos", ["not a repo"]),
        f"{P}registry.ciPushRepos[0]: 'not a repo' is not a GitHub repository; write 'owner/repo' or "
        "'owner/repo:refs/heads/main'",
    ),
    (
        "pools not a list",
        mutate(DEV, "nodePools", {"name": "x"}),
        f"{P}nodePools: expected a list, got {{'name': 'x'}}",
    ),
    (
        "unknown instance type suggests",
        mutate(DEV, "nodePools.1.instanceTypes", ["g6.xlarg"]),
        f"{P}nodePools[1].instanceTypes[0]: 'g6.xlarg' is not a known aws instance type; did you mean 'g6.xlarge'?",
    ),
    (
        "mixed pool shapes",
        mutate(DEV, "nodePools.1.instanceTypes", ["g6.xlarge", "g5.xlarge"]),
        f"{P}nodePools[1].instanceTypes[1]: 'g5.xlarge' (1x a10g, x86_64) differs from 'g6.xlarge' (1x l4, x86_64); "
        "all instance types of a pool need the same GPU model, GPU count and CPU architecture (the scheduler and "
        "autoscaler treat the pool as one shape); split them into two pools",
    ),
    (
        "CPU AMI on GPU instance",
        mutate(DEV, "nodePools.1.amiType", "AL2023_x86_64_STANDARD"),
        f"{P}nodePools[1].amiType: 'AL2023_x86_64_STANDARD' does not fit g6.xlarge (a GPU x86_64 instance); choose "
        "one of AL2023_x86_64_NVIDIA, BOTTLEROCKET_x86_64_NVIDIA, BOTTLEROCKET_x86_64_NVIDIA_FIPS",
    ),
    (
        "GPU AMI on CPU instance",
        mutate(DEV, "nodePools.0.amiType", "AL2023_x86_64_NVIDIA"),
        f"{P}nodePools[0].amiType: 'AL2023_x86_64_NVIDIA' does not fit m6i.large (a CPU x86_64 instance); choose one "
        "of AL2023_x86_64_STANDARD, BOTTLEROCKET_x86_64, BOTTLEROCKET_x86_64_FIPS",
    ),
    (
        "legacy AL2 AMI",
        mutate(DEV, "nodePools.0.amiType", "AL2_x86_64_GPU"),
        f"{P}nodePools[0].amiType: 'AL2_x86_64_GPU' is a legacy AL2 AMI (no longer published); choose one of "
        "AL2023_x86_64_STANDARD, BOTTLEROCKET_x86_64, BOTTLEROCKET_x86_64_FIPS",
    ),
    (
        "small GPU root volume",
        mutate(DEV, "nodePools.1.diskSizeGib", 50),
        f"{P}nodePools[1].diskSizeGib: 50 is too small for a GPU node; use at least 100 (driver, CUDA and "
        "model-server images)",
    ),
    (
        "EFA without EFA instance",
        mutate(DEV, "nodePools.1.efa", True),
        f"{P}nodePools[1].efa: true, but g6.xlarge, g6.2xlarge has no EFA; use an EFA instance type (p4d/p5 class) "
        "or set efa: false",
    ),
    (
        "gpu block on CPU pool",
        mutate(DEV, "nodePools.0.gpu", {"sharing": "time-slicing", "timeSlicing": {"replicas": 2}}),
        f"{P}nodePools[0].gpu: given, but m6i.large has no GPUs; remove the gpu block or use a GPU instance type",
    ),
    (
        "MIG on a non-MIG GPU",
        mutate(DEV, "nodePools.1.gpu", {"sharing": "mig", "mig": {"layout": "all-1g.10gb"}}),
        f"{P}nodePools[1].gpu.sharing: 'mig' is not possible on g6.xlarge: its l4 GPUs do not support MIG; use "
        "sharing: time-slicing, or a MIG GPU (A100, H100, H200, B200)",
    ),
    (
        "MIG layout not for this GPU",
        mutate(PROD, "nodePools.3.gpu.mig.layout", "all-2g"),
        f"{P}nodePools[3].gpu.mig.layout: 'all-2g' is not a layout for a100-40gb; choose one of all-1g.10gb, "
        "all-1g.5gb, all-1g.5gb.me, all-2g.10gb, all-3g.20gb, all-4g.20gb, all-7g.40gb, all-balanced",
    ),
    (
        "MIG single with mixed layout",
        mutate(PROD, "nodePools.3.gpu.mig.strategy", "single"),
        f"{P}nodePools[3].gpu.mig.strategy: 'single' needs a layout with one profile, but 'all-balanced' mixes "
        "1g.5gb, 2g.10gb, 3g.20gb; use strategy: mixed or an all-<profile> layout",
    ),
    (
        "unquoted kubernetes version read as a number",
        mutate(DEV, "cluster.kubernetesVersion", 1.3),  # `kubernetesVersion: 1.30` in the stack file
        f"{P}cluster.kubernetesVersion: expected a string, got the number 1.3; quote it in the stack file: "
        "unquoted, YAML reads digits as a number and drops trailing zeros (1.30 is read as 1.3), so write '1.30'",
    ),
    (
        "boolean where a string is expected",
        mutate(DEV, "cluster.name", True),  # `name: yes` is a string for yaml.v3, `true` is not
        f"{P}cluster.name: expected a string, got the boolean true; quote it in the stack file",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fails_with_exact_message(case: Case) -> None:
    assert_rejected(case)


def test_each_case_reports_a_problem_no_other_case_does() -> None:
    # A copied row would pass without testing anything new; rows differ in the problem they assert.
    messages = [m for _, _, m in CASES]
    assert sorted({m for m in messages if messages.count(m) > 1}) == []
    names = [n for n, _, _ in CASES]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_all_problems_reported_at_once() -> None:
    raw = mutate(
        mutate(mutate(DEV, "nodePools.1.minSize", 9), "zones", ["us-west-2a", "us-east-1a"]),
        "cluster.kubernetesVersion",
        "1.20",
    )
    got = problems(raw)
    assert len(got) == 3, got
    assert [p.split(":")[1].split(" ")[0] for p in got] == [
        "cluster.kubernetesVersion",
        "nodePools[1].minSize",
        "zones[1]",
    ]


def test_rendered_error_lists_every_problem_without_traceback() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_spec(mutate(mutate(DEV, "environment", "qa"), "nodePools.0.maxSze", 1))
    assert str(exc.value) == (
        "invalid stack configuration (2 problems):\n"
        "  - gpu-platform:environment: 'qa' is not allowed; choose one of 'dev', 'staging' or 'prod'\n"
        "  - gpu-platform:nodePools[0].maxSze: unknown key; did you mean 'maxSize'?"
    )


def test_stack_files_are_valid() -> None:
    for raw in (DEV, PROD):
        parse_spec(raw)


def test_defaults_follow_environment() -> None:
    dev, prod = parse_spec(DEV), parse_spec(PROD)
    assert (dev.nat_gateways, dev.deletion_protection, dev.cluster_name) == ("single", False, "gpu-dev")
    assert (prod.nat_gateways, prod.deletion_protection, prod.cluster_name) == ("perZone", True, "gpu-prod")
