"""AWS cluster layer: network -> (EKS, node pools, registry: later issues) -> facts for the next layers."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.network import AwsNetwork, AwsNetworkArgs
from stacks.common import common_tags
from stacks.spec_models import StackSpec


@dataclass(frozen=True)
class AwsClusterLayer:
    provider: aws.Provider
    network: AwsNetwork


def build(spec: StackSpec) -> AwsClusterLayer:
    # An explicit provider pins the region to the spec (one source of truth) and tags everything.
    provider = aws.Provider(
        "aws",
        region=spec.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=common_tags(spec)),
    )
    opts = pulumi.ResourceOptions(provider=provider)
    network = AwsNetwork(
        spec.cluster_name,
        AwsNetworkArgs(
            cluster_name=spec.cluster_name,
            vpc_cidr=spec.cluster.network.vpc_cidr,
            zones=spec.zones,
            nat_gateways=spec.nat_gateways,
        ),
        opts=opts,
    )
    pulumi.export("vpcId", network.vpc.id)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    return AwsClusterLayer(provider=provider, network=network)
