"""AWS cluster layer: network -> EKS control plane (+ KMS, logs, OIDC, access entries) -> add-ons needed
before nodes -> node pools -> remaining add-ons -> registry -> ClusterFacts for the platform layer."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.eks import EksCluster, EksClusterArgs
from components.aws.network import AwsNetwork, AwsNetworkArgs
from stacks.common import common_tags
from stacks.facts import ClusterFacts, pool_facts
from stacks.spec_models import StackSpec


def build(spec: StackSpec) -> ClusterFacts:
    # An explicit provider pins the region to the spec (one source of truth) and tags everything.
    provider = aws.Provider(
        "aws",
        region=spec.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=common_tags(spec)),
    )
    opts = pulumi.ResourceOptions(provider=provider)
    name = spec.cluster_name
    network = AwsNetwork(
        name,
        AwsNetworkArgs(
            cluster_name=name,
            vpc_cidr=spec.cluster.network.vpc_cidr,
            zones=spec.zones,
            nat_gateways=spec.nat_gateways,
        ),
        opts=opts,
    )
    endpoint = spec.cluster.endpoint
    eks = EksCluster(
        name,
        EksClusterArgs(
            cluster_name=name,
            region=spec.region,
            kubernetes_version=spec.cluster.kubernetes_version,
            subnet_ids=network.private_subnet_ids,
            service_cidr=spec.cluster.network.service_cidr,
            endpoint_private_access=endpoint.private_access,
            endpoint_public_access=endpoint.public_access,
            public_access_cidrs=endpoint.public_access_cidrs,
            admin_principals=spec.cluster.admin_principals,
            log_retention_days=spec.cluster.log_retention_days,
            deletion_protection=spec.deletion_protection,
            protect=spec.is_prod,
        ),
        opts=opts,
    )
    pulumi.export("vpcId", network.vpc.id)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    pulumi.export("clusterEndpoint", eks.cluster.endpoint)
    pulumi.export("oidcIssuerUrl", eks.oidc_issuer_url)
    pulumi.export("kubeconfig", eks.kubeconfig)
    return ClusterFacts(
        cloud="aws",
        name=name,
        region=spec.region,
        kubernetes_version=spec.cluster.kubernetes_version,
        k8s_provider=eks.k8s_provider,
        pools=pool_facts(spec),
        oidc_provider_arn=eks.oidc_provider.arn,
        oidc_issuer_url=eks.oidc_issuer_url,
    )
