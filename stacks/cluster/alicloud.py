"""Alibaba Cloud cluster layer: network -> ACK Pro control plane (+ KMS, logs, RRSA, encrypted
StorageClass, Kubernetes provider) -> node pools -> managed autoscaler -> ACR -> ClusterFacts for the
platform layer. The same spec shape as stacks/cluster/aws.py; Alibaba-only knobs live under
`cluster.alicloud` and `registry.alicloud` (models and rules in stacks/spec/cluster.py, stacks/spec/registry.py).
"""

from __future__ import annotations

import pulumi
import pulumi_alicloud as alicloud

from components.alicloud.ack import AckCluster, AckClusterArgs
from components.alicloud.acr import AcrRegistry, AcrRegistryArgs
from components.alicloud.autoscaling import AckAutoscaling, AckAutoscalingArgs
from components.alicloud.nas import NasModelCacheArgs, nas_model_cache_factory
from components.alicloud.network import AlicloudNetwork, AlicloudNetworkArgs
from components.alicloud.node_pool import AckNodePool, AckNodePoolArgs
from components.alicloud.pins import ack_pins
from components.alicloud.rrsa_reader import rrsa_reader_factory
from components.alicloud.seam import alicloud_seam
from components.scheduling import MIG_CONFIG_LABEL
from stacks.cluster.reference import export_cluster_facts
from stacks.cluster.tags import common_tags
from stacks.contract import ClusterFacts, pool_facts
from stacks.spec.cluster import AlicloudClusterSpec
from stacks.spec.pools import disk_size_gib, pool_shape
from stacks.spec.registry import AlicloudRegistrySpec
from stacks.spec.stack import StackSpec


def registry_edition(spec: StackSpec) -> str:
    """`registry.alicloud.edition`, defaulting to Enterprise in prod and Personal elsewhere."""
    ali = spec.registry.alicloud or AlicloudRegistrySpec()
    return ali.edition or ("enterprise" if spec.is_prod else "personal")


def build(spec: StackSpec) -> ClusterFacts:
    # An explicit provider pins the region to the spec (one source of truth; no ALICLOUD_REGION drift).
    provider = alicloud.Provider("alicloud", region=spec.region)
    opts = pulumi.ResourceOptions(provider=provider)
    tags = common_tags(spec)
    name = spec.cluster_name
    ali = spec.cluster.alicloud or AlicloudClusterSpec()
    terway = ali.network_plugin == "terway"

    network = AlicloudNetwork(
        name,
        AlicloudNetworkArgs(
            cluster_name=name,
            vpc_cidr=spec.cluster.network.vpc_cidr,
            zones=spec.zones,
            network_plugin=ali.network_plugin,
            nat_gateways=spec.nat_gateways,
            tags=tags,
        ),
        opts=opts,
    )
    ack = AckCluster(
        name,
        AckClusterArgs(
            cluster_name=name,
            kubernetes_version=spec.cluster.kubernetes_version,
            vswitch_ids=network.node_vswitch_ids,
            service_cidr=spec.cluster.network.service_cidr,
            network_plugin=ali.network_plugin,
            pod_vswitch_ids=network.pod_vswitch_ids if terway else None,
            pod_cidr=None if terway else ali.pod_cidr,
            cluster_spec=ali.cluster_spec,
            public_access=spec.cluster.endpoint.public_access,
            log_retention_days=spec.cluster.log_retention_days,
            deletion_protection=spec.deletion_protection,
            protect=spec.is_prod,
            tags=tags,
            # The SNAT entries and routes must exist before the cluster: nodes pull images through them.
            after=(network,),
        ),
        opts=opts,
    )
    cluster_id = ack.cluster.id

    driver = ali.nvidia_driver_version or ack_pins().nvidia_driver
    for pool in spec.node_pools:
        if pool.gpu is not None and pool.gpu.sharing == "mig":
            # The platform installs no MIG manager on ACK (stacks/platform/gpu.py), and the ACK node-pool label
            # that selects a MIG profile is not verified (reference alicloud-ack.md section 6): say so.
            pulumi.log.warn(
                f"nodePools[{pool.name}]: MIG on ACK is partitioned by ACK, not by this platform; the pool "
                f"carries {MIG_CONFIG_LABEL} for the scheduler and planner, but enable MIG mode and the layout "
                "with ACK's MIG node-pool guide before scheduling MIG workloads"
            )
    pools: list[AckNodePool] = []
    for pool in spec.node_pools:
        shape = pool_shape(spec, pool)
        inst = shape.instance
        pools.append(
            AckNodePool(
                f"{name}-{pool.name}",
                AckNodePoolArgs(
                    cluster_id=cluster_id,
                    shape=shape,
                    vswitch_ids=network.node_vswitch_ids,
                    instance_types=pool.instance_types,
                    disk_size_gib=disk_size_gib(pool, inst),
                    kms_key_id=ack.secrets_key.id,
                    min_size=pool.min_size,
                    max_size=pool.max_size,
                    capacity_type=pool.capacity_type,
                    nvidia_driver_version=driver if inst.is_gpu else None,
                    tags=tags,
                ),
                opts=opts,
            )
        )

    ca = spec.addons.cluster_autoscaler
    if ca.enabled:
        AckAutoscaling(
            f"{name}-autoscaler",
            AckAutoscalingArgs(
                cluster_id=cluster_id,
                scale_down_unneeded_time=ca.scale_down_unneeded_time,
                gpu_utilization_threshold=ca.scale_down_gpu_utilization_threshold,
                create_service_roles=ali.create_service_roles,
                after=tuple(pools),
            ),
            opts=opts,
        )

    registry_urls: dict[str, pulumi.Output[str]] = {}
    reg = spec.registry
    if reg.enabled:
        areg = reg.alicloud or AlicloudRegistrySpec()
        edition = "enterprise" if registry_edition(spec) == "enterprise" else "personal"
        registry = AcrRegistry(
            f"{name}-registry",
            AcrRegistryArgs(
                edition=edition,
                instance_name=name,
                namespace=areg.namespace or name,
                repositories=tuple(m.name for m in spec.models) + reg.platform_repositories,
                region=spec.region,
                vpc_id=network.vpc.id,
                vswitch_id=network.node_vswitches[0].id,
                instance_type=areg.instance_type,
                subscription_months=areg.subscription_months,
                keep_release_images=reg.keep_release_images,
                protect=spec.is_prod,
                tags=tags,
            ),
            opts=opts,
        )
        registry_urls = registry.repository_urls

    rrsa = ack.cluster.rrsa_metadata
    issuer = rrsa.apply(lambda r: r.rrsa_oidc_issuer_url or "")
    oidc_arn = rrsa.apply(lambda r: r.ram_oidc_provider_arn or "")
    pulumi.export("vpcId", network.vpc.id)
    pulumi.export("nodeVswitchIds", network.node_vswitch_ids)
    pulumi.export("clusterId", cluster_id)
    pulumi.export("rrsaOidcIssuerUrl", issuer)
    facts = ClusterFacts(
        cloud=alicloud_seam(
            region=spec.region,
            provider=provider,
            artifact_reader=rrsa_reader_factory(name, oidc_arn, issuer),
            # NAS for model caches, made only if a model's cache names no storage class (docs/model-weights.md#cache).
            model_cache=nas_model_cache_factory(
                f"{name}-model-cache",
                NasModelCacheArgs(
                    cluster_name=name,
                    vpc_id=network.vpc.id,
                    vpc_cidr=spec.cluster.network.vpc_cidr,
                    vswitch_id=network.node_vswitches[0].id,
                    zone_id=spec.zones[0],
                    k8s_provider=ack.k8s_provider,
                    tags=tags,
                ),
                opts,
            ),
        ),
        name=name,
        region=spec.region,
        kubernetes_version=spec.cluster.kubernetes_version,
        k8s_provider=ack.k8s_provider,
        pools=pool_facts(spec),
        registry_urls=registry_urls,
        storage_class=ack.storage_class,  # the encrypted ESSD class the ACK component creates
        # Before the platform installs anything: nodes to run on (the node pools) and what the ACK component
        # makes in the cluster. Depending on a component waits for all its children (Pulumi expands a local
        # component into its descendants): the cluster with the add-ons ACK installs at create, and the
        # encrypted StorageClass.
        ready=(*(p.node_pool for p in pools), ack),
    )
    export_cluster_facts(spec, facts, ack.kubeconfig, oidc_provider_arn=oidc_arn, oidc_issuer_url=issuer)
    return facts
