"""The Karpenter controller's permission policy, as plain data (rendered by components/aws/iam_docs.py).

Least privilege, scoped to this cluster (docs/karpenter.md#iam):
- launch (RunInstances, CreateFleet, CreateLaunchTemplate) only with the request tagged
  `kubernetes.io/cluster/<cluster>=owned` and a `karpenter.sh/nodepool` tag; the shared inputs (images,
  subnets, security groups, capacity reservations, ...) in this region;
- tag at creation only (`ec2:CreateAction`), terminate / delete launch templates only what is tagged as ours;
- PassRole of the one node role, to EC2 only; instance profiles only with this cluster's tag;
- read-only EC2/SSM/pricing lookups (no resource-level permissions exist for them), this region only;
- the interruption queue: receive and delete only; eks:DescribeCluster on this cluster.
"""

from __future__ import annotations

from components.aws import iam_docs

DESCRIBE_ACTIONS = (
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeCapacityReservations",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypeOfferings",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribePlacementGroups",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSpotPriceHistory",
    "ec2:DescribeSubnets",
)
LAUNCH_ACTIONS = ("ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:RunInstances")
# What RunInstances/CreateFleet may use without creating it (no tag of ours on these).
SHARED_LAUNCH_RESOURCES = ("capacity-reservation/*", "placement-group/*", "security-group/*", "subnet/*")
PUBLIC_LAUNCH_RESOURCES = ("image/*", "snapshot/*")  # AMIs and their snapshots: ARNs without an account
CREATED_RESOURCES = (
    "fleet/*",
    "instance/*",
    "launch-template/*",
    "network-interface/*",
    "spot-instances-request/*",
    "volume/*",
)
INSTANCE_PROFILE_ACTIONS = (
    "iam:AddRoleToInstanceProfile",
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
)


def controller_policy(
    *, partition: str, region: str, account_id: str, cluster_name: str, node_role_arn: str, queue_arn: str
) -> str:
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = {f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    ours = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    in_region = {"aws:RequestedRegion": region}
    return iam_docs.document(
        {
            "Sid": "ReadOnlyLookups",
            "Effect": "Allow",
            "Action": list(DESCRIBE_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": in_region},
        },
        {
            "Sid": "LaunchWithSharedInputs",
            "Effect": "Allow",
            "Action": ["ec2:CreateFleet", "ec2:RunInstances"],
            "Resource": [f"{ec2}::{r}" for r in PUBLIC_LAUNCH_RESOURCES]
            + [f"{ec2}:{account_id}:{r}" for r in (*SHARED_LAUNCH_RESOURCES, "launch-template/*")],
        },
        {
            "Sid": "LaunchOnlyTaggedAsOurs",
            "Effect": "Allow",
            "Action": list(LAUNCH_ACTIONS),
            "Resource": [f"{ec2}:{account_id}:{r}" for r in CREATED_RESOURCES],
            "Condition": {
                "StringEquals": owned,
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "TagOnlyAtCreation",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": [f"{ec2}:{account_id}:{r}" for r in CREATED_RESOURCES],
            "Condition": {
                "StringEquals": {**owned, "ec2:CreateAction": ["CreateFleet", "CreateLaunchTemplate", "RunInstances"]},
            },
        },
        {
            "Sid": "TagOurInstances",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": f"{ec2}:{account_id}:instance/*",
            "Condition": {
                "StringEquals": ours,
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                },
            },
        },
        {
            "Sid": "TerminateOnlyOurs",
            "Effect": "Allow",
            "Action": ["ec2:DeleteLaunchTemplate", "ec2:TerminateInstances"],
            "Resource": [f"{ec2}:{account_id}:instance/*", f"{ec2}:{account_id}:launch-template/*"],
            "Condition": {"StringEquals": ours, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}},
        },
        {
            "Sid": "PassNodeRoleToEc2",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": node_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        },
        {
            "Sid": "InstanceProfilesOfThisCluster",
            "Effect": "Allow",
            "Action": list(INSTANCE_PROFILE_ACTIONS),
            "Resource": f"arn:{partition}:iam::{account_id}:instance-profile/*",
            "Condition": {"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}},
        },
        {
            "Sid": "CreateInstanceProfileTagged",
            "Effect": "Allow",
            "Action": ["iam:CreateInstanceProfile", "iam:TagInstanceProfile"],
            "Resource": f"arn:{partition}:iam::{account_id}:instance-profile/*",
            "Condition": {"StringEquals": owned},
        },
        {
            "Sid": "ReadInstanceProfiles",
            "Effect": "Allow",
            "Action": "iam:GetInstanceProfile",
            "Resource": f"arn:{partition}:iam::{account_id}:instance-profile/*",
        },
        {"Sid": "ListInstanceProfiles", "Effect": "Allow", "Action": "iam:ListInstanceProfiles", "Resource": "*"},
        {
            "Sid": "AmiParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
        },
        {"Sid": "Pricing", "Effect": "Allow", "Action": "pricing:GetProducts", "Resource": "*"},
        {
            "Sid": "InterruptionQueue",
            "Effect": "Allow",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            "Resource": queue_arn,
        },
        {
            "Sid": "DescribeThisCluster",
            "Effect": "Allow",
            "Action": "eks:DescribeCluster",
            "Resource": f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster_name}",
        },
    )
