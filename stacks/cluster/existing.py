"""Existing cluster layer (`cloud: existing`, docs/existing-cluster.md): no network, no control plane, no
node pools, no registry — a Kubernetes provider for a cluster that already exists, its pools as the
stack file declares them, and the cloud seam of a cluster this stack does not own -> ClusterFacts for the
platform layer, which runs unchanged.

The kubeconfig is a secret (`gpu-platform-secrets:<cluster.existing.kubeconfigSecret>`): one stored in
plain text is refused before anything registers. The provider's identity is `cluster.existing.clusterIdentifier`,
so a new kubeconfig never replaces the objects in the cluster.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from components.existing.cluster import ExistingCluster, ExistingClusterArgs
from components.existing.seam import existing_seam
from stacks.cluster.reference import export_cluster_facts
from stacks.contract import ClusterFacts, PoolFacts, pool_facts
from stacks.spec.base import SECRETS_NAMESPACE
from stacks.spec.errors import ConfigError
from stacks.spec.stack import StackSpec

NODE_LABELS_OUTPUT = "poolNodeLabels"


def _is_secret(key: str) -> bool:
    # The language host hands the secret keys over in the environment, the offline runner through
    # set_all_config (the same two sources stacks/spec/parse.py reads config from).
    return runtime_config.is_config_secret(key) or key in runtime_config.get_config_secret_keys_env()


def kubeconfig(secret_key: str) -> pulumi.Output[str]:
    """The kubeconfig under `gpu-platform-secrets:<secret_key>`, refused unless it is stored encrypted."""
    key = f"{SECRETS_NAMESPACE}:{secret_key}"
    fix = f"pulumi config set --secret {key} < kubeconfig.yaml"
    if runtime_config.get_config(key) is None:
        raise ConfigError(
            [
                f"{key}: required with cloud 'existing' (the kubeconfig that reaches the cluster); store it encrypted: {fix}"
            ]
        )
    if not _is_secret(key):
        raise ConfigError(
            [
                f"{key}: stored in plain text, but a kubeconfig holds credentials; remove it from the stack file "
                f"(pulumi config rm {key}) and store it encrypted: {fix}"
            ]
        )
    return pulumi.Config(SECRETS_NAMESPACE).require_secret(secret_key)


def node_labels(pools: tuple[PoolFacts, ...]) -> dict[str, Any]:
    """Per pool, the labels and taints its nodes must carry (this stack creates no nodes, so it cannot set
    them): the pool label that model releases select, the GPU labels the NVIDIA DaemonSets and device-plugin
    config select, and the GPU taint."""
    return {
        p.name: {
            "labels": dict(sorted(p.shape.labels().items())),
            "taints": [str(t) for t in p.shape.taints()],
        }
        for p in pools
    }


def build(spec: StackSpec) -> ClusterFacts:
    ex = spec.cluster.existing
    assert ex is not None, "spec rule cluster.existing_cluster requires cluster.existing with cloud 'existing'"
    secret = kubeconfig(ex.kubeconfig_secret)  # before anything registers
    name = spec.cluster_name
    cluster = ExistingCluster(
        name,
        ExistingClusterArgs(kubeconfig=secret, cluster_identifier=ex.cluster_identifier, context=ex.context),
    )
    lb = ex.load_balancer_annotations
    pools = pool_facts(spec)
    facts = ClusterFacts(
        cloud=existing_seam(
            provides_gpu_device_plugin=ex.gpu_device_plugin == "provided",
            load_balancer_annotations={"internal": lb.internal, "internet-facing": lb.internet_facing},
        ),
        name=name,
        region=spec.region,
        kubernetes_version=spec.cluster.kubernetes_version,
        k8s_provider=cluster.k8s_provider,
        pools=pools,
        registry_urls={},
        storage_class=None,  # the cluster layer creates none: addons.storageClass names it (a spec rule requires it)
        ready=(),  # the cluster, its nodes, DNS and storage exist before this program runs
    )
    pulumi.export(NODE_LABELS_OUTPUT, node_labels(pools))
    export_cluster_facts(spec, facts, secret, oidc_provider_arn=None, oidc_issuer_url=None)
    return facts
