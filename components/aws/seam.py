"""The cloud seam on AWS (components/cloud.py): what the EKS cluster layer hands the platform.

- load balancers: the AWS Load Balancer Controller's annotations (an NLB straight to pod IPs);
- node autoscaling: cluster-autoscaler with an IRSA role (components/aws/cluster_autoscaler.py);
- artifact stores: S3 + KMS read through IRSA (components/aws/artifact_store.py);
- the NVIDIA device plugin and MIG manager are the platform's to install.
"""

from __future__ import annotations

import pulumi

from components.aws.artifact_store import artifact_store_factory
from components.aws.cluster_autoscaler import node_autoscaler_factory
from components.cloud import CloudSeam, LoadBalancerScheme


def load_balancer_annotations(scheme: LoadBalancerScheme) -> dict[str, str]:
    # AWS Load Balancer Controller: an NLB sending traffic straight to pod IPs (no extra node hop).
    return {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": scheme,
        "service.beta.kubernetes.io/aws-load-balancer-attributes": "load_balancing.cross_zone.enabled=true",
    }


def aws_seam(
    *,
    provider: pulumi.ProviderResource | None,
    oidc_provider_arn: pulumi.Input[str] | None,
    oidc_issuer_url: pulumi.Input[str] | None,
    cluster_name: str,
    region: str,
    kubernetes_version: str,
) -> CloudSeam:
    """`provider`: the regional AWS provider the cluster layer made (None: a models-only stack that
    creates no AWS resource). The node autoscaler needs it and the cluster's OIDC provider."""
    autoscaler = None
    if provider is not None and oidc_provider_arn is not None and oidc_issuer_url is not None:
        autoscaler = node_autoscaler_factory(
            cluster_name=cluster_name,
            region=region,
            kubernetes_version=kubernetes_version,
            oidc_provider_arn=oidc_provider_arn,
            oidc_issuer_url=oidc_issuer_url,
            aws_provider=provider,
        )
    return CloudSeam(
        name="aws",
        load_balancer_annotations=load_balancer_annotations,
        node_autoscaler=autoscaler,
        artifact_store=artifact_store_factory(oidc_provider_arn, oidc_issuer_url),
        providers=(provider,) if provider is not None else (),
    )
