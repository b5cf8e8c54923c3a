"""Bad AWS registry config (stacks/spec/registry.py aws_registry): exact messages."""

from __future__ import annotations

import pytest

from stacks.spec.parse import parse_spec
from tests.spec_helpers import Case, assert_rejected, mutate, raw_stack

DEV = raw_stack("dev")
PROD = raw_stack("prod")
P = "gpu-platform:"
GOOD_ARN = "arn:aws:iam::444455556666:oidc-provider/token.actions.githubusercontent.com"

CASES: list[Case] = [
    (
        "github oidc arn malformed",
        mutate(PROD, "registry.githubOidcProviderArn", "arn:aws:iam::1:oidc-provider/x"),
        f"{P}registry.githubOidcProviderArn: 'arn:aws:iam::1:oidc-provider/x' is not the ARN of a GitHub Actions OIDC "
        "provider; write it like 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com'",
    ),
    (
        "github oidc arn without ci repos",
        mutate(DEV, "registry.githubOidcProviderArn", GOOD_ARN),
        f"{P}registry.githubOidcProviderArn: given while ciPushRepos is empty (no CI role uses it); list the "
        "repositories allowed to push or remove it",
    ),
    (
        "replication region malformed",
        mutate(PROD, "registry.replicationRegions", ["us-weast"]),
        f"{P}registry.replicationRegions[0]: 'us-weast' is not an AWS region; write it like 'us-west-2'",
    ),
    (
        "replication region twice",
        mutate(PROD, "registry.replicationRegions", ["us-west-2", "us-west-2"]),
        f"{P}registry.replicationRegions[1]: 'us-west-2' is listed twice; list each region once",
    ),
    # gpu-dev- (8) + 28 + - = 37 is the longest prefix EKS accepts (63 - the provider's 26-char suffix).
    (
        "node group name prefix too long",
        mutate(DEV, "nodePools.1.name", "gpu-l4-" + "x" * 22),
        f"{P}nodePools[1].name: 'gpu-l4-xxxxxxxxxxxxxxxxxxxxxx' makes the EKS node group name prefix "
        "'gpu-dev-gpu-l4-xxxxxxxxxxxxxxxxxxxxxx-' 38 characters long; EKS node group names are at most 63 "
        "characters, so the prefix may have at most 37: shorten the pool or the cluster name",
    ),
    # <cluster>-<model>-artifacts: a 30-character cluster name leaves 63 - 30 - 1 - 10 = 22 for the model.
    (
        "artifact bucket name too long",
        mutate(mutate(PROD, "cluster.name", "gpu-prod-" + "x" * 21), "models.0.name", "llama3-8b-instruct-fp16"),
        f"{P}models[0].name: 'llama3-8b-instruct-fp16' with artifactBucket: true gives the bucket name "
        "'gpu-prod-xxxxxxxxxxxxxxxxxxxxx-llama3-8b-instruct-fp16-artifacts' (<cluster>-<model>-artifacts), which is 64 "
        "characters long; S3 allows 3 to 63; shorten the model name to at most 22 characters, or cluster.name",
    ),
    (
        "artifact bucket name reserved prefix",
        mutate(PROD, "cluster.name", "xn--gpu-prod"),
        f"{P}cluster.name: 'xn--gpu-prod' makes the artifact bucket name 'xn--gpu-prod-llama3-8b-artifacts' of "
        "models[0] (llama3-8b) invalid: it begins with 'xn--', a prefix S3 reserves; choose another cluster name",
    ),
    (
        "github oidc provider created and named",
        mutate(mutate(PROD, "registry.githubOidcProvider", "create"), "registry.githubOidcProviderArn", GOOD_ARN),
        f"{P}registry.githubOidcProvider: 'create' while githubOidcProviderArn names an existing provider (an "
        "account has one); remove githubOidcProviderArn, or set githubOidcProvider: existing",
    ),
    (
        "github oidc provider created without ci repos",
        mutate(DEV, "registry.githubOidcProvider", "create"),
        f"{P}registry.githubOidcProvider: 'create' while ciPushRepos is empty (no CI role trusts it); list the "
        "repositories allowed to push, or remove githubOidcProvider",
    ),
    (
        "scan type without owning the scanning config",
        mutate(PROD, "registry.manageScanning", False),
        f"{P}registry.scanType: 'ENHANCED' while manageScanning is false: the scan type is the account's "
        "registry-wide scanning configuration, which this stack does not own; set manageScanning: true in the one "
        "stack of the account and region that owns it, or remove scanType",
    ),
    (
        "private access cidr not private",
        mutate(DEV, "cluster.endpoint.privateAccessCidrs", ["10.20.0.0/16", "203.0.113.0/24"]),
        f"{P}cluster.endpoint.privateAccessCidrs[1]: '203.0.113.0/24' is not a private network; list RFC 1918 "
        "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or RFC 6598 (100.64.0.0/10) ranges of your CI runners or "
        "VPN clients, e.g. '10.20.0.0/16' (public clients: publicAccess with publicAccessCidrs)",
    ),
    (
        "private access cidr the world",
        mutate(DEV, "cluster.endpoint.privateAccessCidrs", ["0.0.0.0/0"]),
        f"{P}cluster.endpoint.privateAccessCidrs[0]: '0.0.0.0/0' is not a private network; list RFC 1918 "
        "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or RFC 6598 (100.64.0.0/10) ranges of your CI runners or "
        "VPN clients, e.g. '10.20.0.0/16' (public clients: publicAccess with publicAccessCidrs)",
    ),
    (
        "private access cidr twice",
        mutate(DEV, "cluster.endpoint.privateAccessCidrs", ["100.64.0.0/16", "100.64.0.0/16"]),
        f"{P}cluster.endpoint.privateAccessCidrs: '100.64.0.0/16' is listed twice; list each CIDR once",
    ),
    (
        "private access cidrs without a private endpoint",
        mutate(
            DEV,
            "cluster.endpoint",
            {
                "privateAccess": False,
                "publicAccess": True,
                "publicAccessCidrs": ["203.0.113.0/24"],
                "privateAccessCidrs": ["10.20.0.0/16"],
            },
        ),
        f"{P}cluster.endpoint.privateAccessCidrs: given while privateAccess is false (no private endpoint to "
        "reach); set privateAccess: true or remove them",
    ),
    # Issue 18 (stacks/spec/pools.py karpenter_pools, reservations): prod's pools 3 (MIG), 4 (Karpenter), 5 (ODCR).
    (
        "karpenter on a mig pool",
        mutate(PROD, "nodePools.3.provisioner", "karpenter"),
        f"{P}nodePools[3].provisioner: 'karpenter' cannot provision a pool with sharing 'mig': Karpenter sizes nodes "
        "from whole nvidia.com/gpu requests and knows neither MIG slices nor time-sliced replicas "
        "(kubernetes-sigs/karpenter#729, aws/karpenter-provider-aws#8710); keep this pool on provisioner: "
        "cluster-autoscaler",
    ),
    (
        "karpenter on a time-sliced pool",
        mutate(PROD, "nodePools.2.provisioner", "karpenter"),
        f"{P}nodePools[2].provisioner: 'karpenter' cannot provision a pool with sharing 'time-slicing': Karpenter "
        "sizes nodes from whole nvidia.com/gpu requests and knows neither MIG slices nor time-sliced replicas "
        "(kubernetes-sigs/karpenter#729, aws/karpenter-provider-aws#8710); keep this pool on provisioner: "
        "cluster-autoscaler",
    ),
    (
        "karpenter with a minimum",
        mutate(PROD, "nodePools.4.minSize", 1),
        f"{P}nodePools[4].minSize: 1 with provisioner 'karpenter': a NodePool keeps no minimum of nodes (it launches "
        "them for pending pods); set minSize: 0, or use provisioner: cluster-autoscaler",
    ),
    (
        "karpenter with capacityType",
        mutate(PROD, "nodePools.4.capacityType", "SPOT"),
        f"{P}nodePools[4].capacityType: given with provisioner 'karpenter'; list capacityTypes instead, e.g. "
        "[spot, on-demand] (spot first, on-demand when spot has none)",
    ),
    (
        "capacity types on a node group",
        mutate(PROD, "nodePools.1.capacityTypes", ["spot", "on-demand"]),
        f"{P}nodePools[1].capacityTypes: given with provisioner 'cluster-autoscaler'; a managed node group has one "
        "capacity type: use capacityType (ON_DEMAND or SPOT), or provisioner: karpenter for spot with on-demand "
        "fallback",
    ),
    (
        "capacity type listed twice",
        mutate(PROD, "nodePools.4.capacityTypes", ["spot", "spot"]),
        f"{P}nodePools[4].capacityTypes[1]: 'spot' is listed twice; list each capacity type once",
    ),
    (
        "karpenter with efa",
        mutate(PROD, "nodePools.4.efa", True),
        f"{P}nodePools[4].efa: given with provisioner 'karpenter'; this platform builds efa on managed node groups "
        "only (launch template and placement group per pool): use provisioner: cluster-autoscaler for this pool",
    ),
    (
        "karpenter reservation with capacity types",
        mutate(
            mutate(PROD, "nodePools.4.instanceTypes", ["g6.xlarge"]),
            "nodePools.4.reservation",
            {
                "type": "odcr",
                "id": "cr-0a1b2c3d4e5f60718",
                "instanceType": "g6.xlarge",
                "zone": "us-east-1a",
                "count": 8,
            },
        ),
        f"{P}nodePools[4].capacityTypes: given with a reservation; a reservation pool launches only into its "
        "reservation (Karpenter capacity type 'reserved', no fallback, so maxSize stays within the count): remove "
        "capacityTypes",
    ),
    (
        "karpenter without a cpu node group",
        mutate(PROD, "nodePools.0.provisioner", "karpenter"),
        f"{P}nodePools[0].provisioner: 'karpenter' needs a CPU pool with provisioner cluster-autoscaler to run its "
        "controller on (it never runs on nodes it launches); add one, e.g. {name: system, instanceTypes: "
        "[m6i.xlarge], minSize: 2}",
    ),
    (
        "reservation in another zone",
        mutate(PROD, "nodePools.5.reservation.zone", "us-east-1d"),
        f"{P}nodePools[5].reservation.zone: 'us-east-1d' is not one of the stack's zones (us-east-1a, us-east-1b, "
        "us-east-1c); the pool's nodes launch only in those, so they could never use the reservation: use the zone "
        "the reservation was bought in and list it in zones",
    ),
    (
        "reservation of another instance type",
        mutate(PROD, "nodePools.5.reservation.instanceType", "p4d.24xlarge"),
        f"{P}nodePools[5].reservation.instanceType: 'p4d.24xlarge', but the pool's instanceTypes are "
        "[p4de.24xlarge]; a reservation holds one instance type: set instanceTypes: [p4d.24xlarge]",
    ),
    (
        "reservation id malformed",
        mutate(PROD, "nodePools.5.reservation.id", "odcr-123"),
        f"{P}nodePools[5].reservation.id: 'odcr-123' is not a capacity reservation id; write it like "
        "'cr-0123456789abcdef0'",
    ),
    (
        "pool larger than its reservation",
        mutate(PROD, "nodePools.5.maxSize", 3),
        f"{P}nodePools[5].maxSize: 3 is more than the 2 instances of reservation cr-0a1b2c3d4e5f60718; nodes beyond "
        "it cannot launch (a targeted reservation does not fall back to on-demand): set maxSize <= 2",
    ),
    (
        "capacity block on spot",
        mutate(
            mutate(
                DEV,
                "nodePools.1.reservation",
                {
                    "type": "capacity-block",
                    "id": "cr-0a1b2c3d4e5f60718",
                    "instanceType": "g6.xlarge",
                    "zone": "us-east-1a",
                    "count": 2,
                },
            ),
            "nodePools.1.capacityType",
            "SPOT",
        ),
        f"{P}nodePools[1].capacityType: 'SPOT' with a capacity-block reservation; a Capacity Block is paid in "
        "advance: remove capacityType",
    ),
    # Prod's pool 6 is the Capacity Block gpu-h200-block, pool 7 the EFA pool (stacks/spec/pools.py
    # capacity_block_price, efa_registry).
    (
        "capacity block without its price in prod",
        mutate(mutate(PROD, "nodePools.6.reservation.upfrontFee"), "nodePools.6.reservation.durationHours"),
        f"{P}nodePools[6].reservation.upfrontFee: missing for capacity-block reservation cr-0c2d3e4f5a6b70829 in a "
        "prod stack, so its cost would be unknown; a Capacity Block's rate is set per offering at purchase and no "
        "price book can know it: set upfrontFee (USD, the offering's UpfrontFee for the whole block) and "
        "durationHours (its CapacityBlockDurationHours)",
    ),
    (
        "capacity block fee without its duration",
        mutate(PROD, "nodePools.6.reservation.durationHours"),
        f"{P}nodePools[6].reservation.durationHours: missing while upfrontFee is given; the block's hourly cost is "
        "upfrontFee / durationHours: set durationHours as the purchased offering states it",
    ),
    (
        "upfront fee on an odcr",
        mutate(PROD, "nodePools.5.reservation.upfrontFee", 1000.0),
        f"{P}nodePools[5].reservation.upfrontFee: given with reservation type 'odcr'; an On-Demand Capacity "
        "Reservation has no upfront fee (it is billed at the on-demand rate): remove upfrontFee and durationHours",
    ),
    (
        "efa where the add-on registry account is not recorded",
        mutate(mutate(PROD, "region", "me-south-1"), "zones", ["me-south-1a", "me-south-1b", "me-south-1c"]),
        f"{P}nodePools[7].efa: true in region 'me-south-1', whose EKS add-on registry (where the EFA device "
        "plugin's image comes from) is served by an account this platform does not record; supported: every "
        "region but ap-east-1, me-south-1, cn-* (account 602401143452): set efa: false, or use another region",
    ),
    (
        "efa on a type without it",
        mutate(PROD, "nodePools.1.efa", True),
        f"{P}nodePools[1].efa: true, but g5.2xlarge, g5.4xlarge has no EFA; use an EFA instance type (p4d/p5 class) "
        "or set efa: false",
    ),
    (
        "unknown registry key suggests",
        mutate(PROD, "registry.githubOidcProviderArm", GOOD_ARN),
        f"{P}registry.githubOidcProviderArm: unknown key; did you mean 'githubOidcProviderArn'?",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fails_with_exact_message(case: Case) -> None:
    assert_rejected(case)


def test_existing_github_provider_is_accepted() -> None:
    spec = parse_spec(mutate(PROD, "registry.githubOidcProviderArn", GOOD_ARN))
    assert spec.registry.github_oidc_provider_arn == GOOD_ARN
    assert spec.registry.replication_regions == ()


def test_longest_node_group_prefix_is_accepted() -> None:
    from components.aws.asg_tags import NODE_GROUP_NAME_PREFIX_MAX, node_group_name_prefix

    spec = parse_spec(mutate(DEV, "nodePools.1.name", "gpu-l4-" + "x" * 21))
    assert len(node_group_name_prefix(spec.cluster_name, spec.node_pools[1].name)) == NODE_GROUP_NAME_PREFIX_MAX
