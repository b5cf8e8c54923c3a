"""AWS cluster layer: network -> EKS control plane (+ KMS, logs, OIDC, access entries, node role) ->
add-ons the nodes need (CNI, kube-proxy, Pod Identity agent) -> node pools -> the other add-ons and the
default StorageClass -> registry -> ClusterFacts for the platform layer."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_aws as aws

from components.aws.artifact_names import artifact_bucket_name
from components.aws.ecr import Registry, RegistryArgs
from components.aws.efa_device_plugin import EfaDevicePlugin, EfaDevicePluginArgs
from components.aws.efs import EfsModelCacheArgs, efs_model_cache_factory
from components.aws.eks import EksCluster, EksClusterArgs
from components.aws.eks_addons import DEFAULT_STORAGE_CLASS, EBS_CSI, EksAddons, EksAddonsArgs
from components.aws.karpenter import Karpenter, KarpenterArgs, KarpenterPool
from components.aws.network import AwsNetwork, AwsNetworkArgs
from components.aws.node_pool import CapacityReservation, NodePool, NodePoolArgs
from components.aws.seam import aws_seam
from stacks.cluster.reference import export_cluster_facts
from stacks.cluster.tags import common_tags
from stacks.contract import ClusterFacts, PoolFacts, pool_facts
from stacks.spec.pools import default_ami_type, disk_size_gib, pool_shape
from stacks.spec.stack import StackSpec


def aws_pool_facts(spec: StackSpec) -> tuple[PoolFacts, ...]:
    """The pools' facts, with whether a GPU pool's AMI brings its own device plugin (Bottlerocket NVIDIA)."""
    amis = {p.name: p.ami_type for p in spec.node_pools}
    return tuple(
        dataclasses.replace(
            f,
            os_ships_device_plugin=f.shape.is_gpu
            and (amis[f.name] or default_ami_type(f.shape.instance)).startswith("BOTTLEROCKET"),
        )
        for f in pool_facts(spec)
    )


def build(spec: StackSpec) -> ClusterFacts:
    # An explicit provider pins the region to the spec (one source of truth) and tags everything.
    provider = aws.Provider(
        "aws",
        region=spec.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=common_tags(spec)),
    )
    opts = pulumi.ResourceOptions(provider=provider)
    name = spec.cluster_name
    version = spec.cluster.kubernetes_version
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
            kubernetes_version=version,
            subnet_ids=network.private_subnet_ids,
            service_cidr=spec.cluster.network.service_cidr,
            endpoint_private_access=endpoint.private_access,
            endpoint_public_access=endpoint.public_access,
            public_access_cidrs=endpoint.public_access_cidrs,
            private_access_cidrs=endpoint.private_access_cidrs,
            admin_principals=spec.cluster.admin_principals,
            log_retention_days=spec.cluster.log_retention_days,
            deletion_protection=spec.deletion_protection,
            protect=spec.is_prod,
        ),
        opts=opts,
    )
    cluster_name = eks.cluster.name
    core_addons = EksAddons(
        f"{name}-addons-core",
        EksAddonsArgs(phase="beforeNodes", cluster_name=cluster_name, kubernetes_version=version, region=spec.region),
        opts=opts,
    )

    pools: list[NodePool] = []
    karpenter_pools: list[KarpenterPool] = []
    for pool in spec.node_pools:
        shape = pool_shape(spec, pool)
        inst = shape.instance
        res = pool.reservation
        if pool.provisioner == "karpenter":
            karpenter_pools.append(
                KarpenterPool(
                    shape=shape,
                    instance_types=pool.instance_types,
                    # A reservation pool launches only into its reservation (rule karpenter_pools).
                    capacity_types=("reserved",) if res is not None else (pool.capacity_types or ("on-demand",)),
                    ami_type=pool.ami_type or default_ami_type(inst),
                    disk_size_gib=disk_size_gib(pool, inst),
                    reservation_id=res.id if res is not None else None,
                    zones=(res.zone,) if res is not None else (),
                )
            )
            continue
        pools.append(
            NodePool(
                f"{name}-{pool.name}",
                NodePoolArgs(
                    cluster_name=cluster_name,
                    autoscaler_cluster_name=name,
                    shape=shape,
                    node_role_arn=eks.node_role.arn,
                    subnet_ids=network.private_subnet_ids,
                    ami_type=pool.ami_type or default_ami_type(inst),
                    instance_types=pool.instance_types,
                    disk_size_gib=disk_size_gib(pool, inst),
                    min_size=pool.min_size,
                    max_size=pool.max_size,
                    capacity_type=pool.capacity_type,
                    efa=pool.efa,
                    cluster_security_group_id=eks.cluster_security_group_id if pool.efa else None,
                    vpc_id=network.vpc.id if pool.efa else None,
                    zone_index=spec.zones.index(res.zone) if res is not None else None,
                    reservation=(
                        CapacityReservation(res.type, res.id, res.instance_type, res.usd_per_hour)
                        if res is not None
                        else None
                    ),
                    kubernetes_version=version,
                    # The CNI/kube-proxy add-ons and the node role's policies: nodes join only with both.
                    depends_on=[*core_addons.addons.values(), *eks.node_role_policies],
                ),
                opts=opts,
            )
        )

    if karpenter_pools:
        # The controller runs on the first CPU node-group pool (rule karpenter_pools requires one).
        system = next(p for p in pools if not p.shape.is_gpu)
        Karpenter(
            f"{name}-karpenter",
            KarpenterArgs(
                cluster_name=name,
                eks_cluster_name=cluster_name,
                region=spec.region,
                account_id=eks.account_id,
                oidc_provider_arn=eks.oidc_provider.arn,
                oidc_issuer_url=eks.oidc_issuer_url,
                k8s_provider=eks.k8s_provider,
                zones=spec.zones,
                system_pool=system.shape.name,
                pools=tuple(karpenter_pools),
                depends_on=[system.node_group, *core_addons.addons.values()],
            ),
            opts=opts,
        )

    efa_pools = [p for p in pools if p.shape.name in {q.name for q in spec.node_pools if q.efa}]
    if efa_pools:
        # Pods request vpc.amazonaws.com/efa through it (docs/karpenter.md#efa-device-plugin).
        EfaDevicePlugin(
            f"{name}-efa-device-plugin",
            EfaDevicePluginArgs(
                region=spec.region,
                pools=tuple(p.shape for p in efa_pools),
                k8s_provider=eks.k8s_provider,
                depends_on=[p.node_group for p in efa_pools],
            ),
            opts=opts,
        )

    after_nodes = EksAddons(
        f"{name}-addons",
        EksAddonsArgs(
            phase="afterNodes",
            cluster_name=cluster_name,
            kubernetes_version=version,
            region=spec.region,
            cluster_arn=eks.cluster.arn,
            account_id=eks.account_id,
            k8s_provider=eks.k8s_provider,
            depends_on=[p.node_group for p in pools],
        ),
        opts=opts,
    )

    registry_urls: dict[str, pulumi.Output[str]] = {}
    reg = spec.registry
    if reg.enabled:
        registry = Registry(
            f"{name}-registry",
            RegistryArgs(
                prefix=name,
                repositories=tuple(m.name for m in spec.models) + reg.platform_repositories,
                node_role_arn=eks.node_role.arn,
                region=spec.region,
                account_id=eks.account_id,
                keep_release_images=reg.keep_release_images,
                untagged_expiry_days=reg.untagged_expiry_days,
                scan_type=reg.scan_type,
                manage_scanning=reg.manage_scanning,
                replication_regions=reg.replication_regions,
                ci_push_repos=reg.ci_push_repos,
                github_oidc_provider_arn=reg.github_oidc_provider_arn,
                github_oidc_provider=reg.github_oidc_provider,
                protect=spec.is_prod,
            ),
            opts=opts,
        )
        registry_urls = registry.repository_urls
        if registry.ci_role is not None:
            pulumi.export("ciPushRoleArn", registry.ci_role.arn)

    pulumi.export("vpcId", network.vpc.id)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    pulumi.export("clusterEndpoint", eks.cluster.endpoint)
    pulumi.export("oidcIssuerUrl", eks.oidc_issuer_url)
    pulumi.export("nodeRoleArn", eks.node_role.arn)
    # The artifact buckets the model releases create through the seam (deterministic names, the same
    # function names them: components/aws/artifact_names.py); versions' artifact.uri point into them.
    buckets = {m.name: artifact_bucket_name(name, m.name) for m in spec.models if m.artifact_bucket}
    if buckets:
        pulumi.export("artifactBuckets", buckets)
    facts = ClusterFacts(
        cloud=aws_seam(
            # EFS for model caches, made only if a model's cache names no storage class (docs/model-weights.md#cache).
            model_cache=efs_model_cache_factory(
                f"{name}-model-cache",
                EfsModelCacheArgs(
                    cluster_name=cluster_name,
                    kubernetes_version=version,
                    region=spec.region,
                    vpc_id=network.vpc.id,
                    vpc_cidr=spec.cluster.network.vpc_cidr,
                    subnet_ids=network.private_subnet_ids,
                    zone_count=len(spec.zones),
                    cluster_arn=eks.cluster.arn,
                    account_id=eks.account_id,
                    k8s_provider=eks.k8s_provider,
                    after=tuple(p.node_group for p in pools),
                    protect=spec.is_prod,
                ),
                opts,
            ),
            provider=provider,
            oidc_provider_arn=eks.oidc_provider.arn,
            oidc_issuer_url=eks.oidc_issuer_url,
            cluster_name=name,
            region=spec.region,
            kubernetes_version=version,
            protect_artifacts=spec.is_prod,
        ),
        name=name,
        region=spec.region,
        kubernetes_version=version,
        k8s_provider=eks.k8s_provider,
        pools=aws_pool_facts(spec),
        registry_urls=registry_urls,
        # The encrypted gp3 class the afterNodes add-ons create with the EBS CSI driver.
        storage_class=DEFAULT_STORAGE_CLASS if EBS_CSI in after_nodes.addons else None,
        # Before the platform installs anything: nodes to run on (the node groups), cluster DNS and the
        # storage driver (the afterNodes add-ons: CoreDNS, EBS CSI, metrics-server), the encrypted class.
        ready=(
            *(p.node_group for p in pools),
            *after_nodes.addons.values(),
            *((after_nodes.storage_class,) if after_nodes.storage_class is not None else ()),
        ),
    )
    export_cluster_facts(
        spec, facts, eks.kubeconfig, oidc_provider_arn=eks.oidc_provider.arn, oidc_issuer_url=eks.oidc_issuer_url
    )
    return facts
