"""ExistingCluster: the Kubernetes provider of a cluster this stack does not create (docs/existing-cluster.md).

    cluster = ExistingCluster("lab", ExistingClusterArgs(kubeconfig=secret, cluster_identifier="lab.example.com"))
    cluster.k8s_provider   # every Kubernetes object of the platform and the models goes through it

It creates nothing in the cluster: it only names how to reach it. The kubeconfig is a secret (it holds
credentials); the provider's `cluster_identifier` is the stable name from config, so a new kubeconfig (a
rotated credential, a new endpoint, another context) updates the provider in place instead of replacing
every object it manages.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class ExistingClusterArgs:
    kubeconfig: pulumi.Input[str]
    """The kubeconfig (YAML or JSON) that reaches the cluster, as a secret Output."""
    cluster_identifier: str
    """Stable name of the cluster for the provider: never change it while the stack exists."""
    context: str | None = None
    """Kubeconfig context to use. Default: the kubeconfig's current-context."""


class ExistingCluster(pulumi.ComponentResource):
    k8s_provider: k8s.Provider

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpu-platform:existing:ExistingCluster", name, None, opts)
        if not args.cluster_identifier:
            raise ValueError(f"{name}: cluster_identifier is empty; a stable name keeps objects from being replaced")
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.secret(args.kubeconfig),
            context=args.context,
            cluster_identifier=args.cluster_identifier,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"clusterIdentifier": args.cluster_identifier})
