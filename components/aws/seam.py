"""The cloud seam on AWS (components/cloud.py): what the EKS cluster layer hands the platform.

- load balancers: an NLB from EKS's built-in cloud provider (no controller to install);
- node autoscaling: cluster-autoscaler with an IRSA role (components/aws/cluster_autoscaler.py);
- artifact stores: S3 + KMS read through IRSA (components/aws/artifact_store.py), and the hosts a model
  server reaches to read them (regional S3 and STS endpoints, per bucket the virtual-hosted name);
- model caches: EFS with its CSI driver add-on, made on first use (components/aws/efs.py);
- the NVIDIA device plugin and MIG manager are the platform's to install.
"""

from __future__ import annotations

import re

import pulumi

from components.aws.artifact_store import artifact_store_factory
from components.aws.cluster_autoscaler import node_autoscaler_factory
from components.cloud import CloudSeam, LoadBalancerScheme, ModelCacheFactory, ObjectStoreEgress

# Annotations of the load balancer that EKS's built-in cloud provider (the legacy AWS provider of
# kubernetes/cloud-provider-aws, run by the EKS control plane) serves for a LoadBalancer Service
# (pkg/providers/v1/aws.go, aws_loadbalancer.go). The AWS Load Balancer Controller's values (`type:
# external`, `nlb-ip`, `aws-load-balancer-scheme`, `-nlb-target-type`, `-attributes`) are left alone by
# that provider (isLBExternal) and served only by the controller, which this platform does not install
# (its chart is not vendored yet; docs/aws.md#load-balancer). Subnets: an internet-facing NLB goes into the
# public subnets (a route to the internet gateway, tie-break `kubernetes.io/role/elb`), an internal one
# prefers the `kubernetes.io/role/internal-elb` subnets; both must carry `kubernetes.io/cluster/<name>`
# (components/aws/network.py tags all three).
LB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
LB_INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
LB_CROSS_ZONE = "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled"
CONTROLLER_ONLY_TYPES = ("external", "nlb-ip")
"""`aws-load-balancer-type` values only the AWS Load Balancer Controller serves."""


def load_balancer_annotations(scheme: LoadBalancerScheme) -> dict[str, str]:
    """An NLB from EKS's built-in cloud provider: instance targets (the gateway's NodePort; with
    `externalTrafficPolicy: Local` only nodes running a gateway pod pass the health check), cross-zone so
    each zone's NLB node reaches every gateway pod. Internet-facing is the provider's default scheme; the
    `internal` annotation makes it internal."""
    out = {LB_TYPE: "nlb", LB_CROSS_ZONE: "true"}
    if scheme == "internal":
        out[LB_INTERNAL] = "true"
    return out


_AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$")


def artifact_egress(region: str) -> ObjectStoreEgress:
    """What reading s3:// artifacts in `region` reaches: the regional S3 endpoint (path-style) and, per
    bucket, its virtual-hosted name; the regional STS endpoint, where IRSA exchanges the pod's token (the
    EKS identity webhook sets AWS_STS_REGIONAL_ENDPOINTS=regional). In us-east-1 SDKs still default to
    the global S3 names (botocore's us_east_1_regional_endpoint=legacy), so those too."""
    if not _AWS_REGION.match(region):
        raise ValueError(f"aws_seam: {region!r} is not an AWS region name (like 'us-east-1')")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    hosts = [f"s3.{region}.{suffix}", f"sts.{region}.{suffix}"]
    bucket_hosts = [f"{{bucket}}.s3.{region}.{suffix}"]
    if region == "us-east-1":
        hosts.append("s3.amazonaws.com")
        bucket_hosts.append("{bucket}.s3.amazonaws.com")
    # The weights fetcher (components/models/fetcher/fetch.py) signs for the region and trades the IRSA token
    # at the regional STS endpoint allowed above.
    fetch_env = (("AWS_REGION", region), ("AWS_STS_REGIONAL_ENDPOINTS", "regional"))
    return ObjectStoreEgress(scheme="s3", hosts=tuple(hosts), bucket_hosts=tuple(bucket_hosts), fetch_env=fetch_env)


def aws_seam(
    *,
    provider: pulumi.ProviderResource | None,
    oidc_provider_arn: pulumi.Input[str] | None,
    oidc_issuer_url: pulumi.Input[str] | None,
    cluster_name: str,
    region: str,
    kubernetes_version: str,
    protect_artifacts: bool = True,
    model_cache: ModelCacheFactory | None = None,
) -> CloudSeam:
    """`provider`: the regional AWS provider the cluster layer made (None: a models-only stack that
    creates no AWS resource). The node autoscaler needs it and the cluster's OIDC provider.
    `protect_artifacts`: protect the artifact stores (prod); False lets `pulumi destroy` remove them.
    `model_cache`: the EFS storage for model caches (components/aws/efs.py), made by the cluster layer that
    knows the network; None for a models-only stack (its caches name a storage class)."""
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
        artifact_egress=artifact_egress(region),
        artifact_store=artifact_store_factory(cluster_name, oidc_provider_arn, oidc_issuer_url, protect_artifacts),
        model_cache=model_cache,
        providers=(provider,) if provider is not None else (),
    )
