"""The cloud seam on Alibaba Cloud (components/cloud.py): what the ACK cluster layer hands the platform.

- load balancers: ACK's cloud-controller-manager annotations (intranet or internet SLB address);
- node autoscaling: ACK scales node pools itself (components/alicloud/autoscaling.py), nothing to install;
- the NVIDIA driver, device plugin and MIG partitioning: ACK's own;
- artifact stores: none yet; oss:// weights in buckets you manage are read through a RAM role per model
  trusted by RRSA (components/alicloud/rrsa_reader.py); the hosts the fetch reaches: the regional OSS
  endpoints, internal (VPC) and public, per bucket their virtual-hosted names, and the VPC STS endpoint;
- model caches: NAS with ACK's NAS CSI plugin, made on first use (components/alicloud/nas.py).
"""

from __future__ import annotations

import re

import pulumi

from components.cloud import (
    ArtifactReaderFactory,
    CloudSeam,
    LoadBalancerScheme,
    ModelCacheFactory,
    ObjectStoreEgress,
)

_ALICLOUD_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+(-[0-9]+)?$")


def load_balancer_annotations(scheme: LoadBalancerScheme) -> dict[str, str]:
    # ACK cloud-controller-manager: intranet = VPC-only SLB address, internet = public address.
    address = "internet" if scheme == "internet-facing" else "intranet"
    return {"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": address}


def artifact_egress(region: str) -> ObjectStoreEgress:
    """What reading oss:// artifacts in `region` reaches: the regional OSS endpoints — internal (from the
    VPC, no internet traffic) and public — and per bucket their virtual-hosted names, which the OSS SDKs
    use by default; and the VPC STS endpoint where RRSA trades the pod's token (components/alicloud/rrsa_reader.py).
    The weights fetcher reads the internal endpoint and that STS endpoint (fetch_env)."""
    if not _ALICLOUD_REGION.match(region):
        raise ValueError(f"alicloud_seam: {region!r} is not an Alibaba Cloud region id (like 'cn-shanghai')")
    endpoints = (f"oss-{region}-internal.aliyuncs.com", f"oss-{region}.aliyuncs.com")
    sts = f"sts-vpc.{region}.aliyuncs.com"
    return ObjectStoreEgress(
        scheme="oss",
        hosts=(*endpoints, sts),
        bucket_hosts=tuple(f"{{bucket}}.{e}" for e in endpoints),
        fetch_env=(("OSS_ENDPOINT", endpoints[0]), ("ALIBABA_CLOUD_STS_ENDPOINT", f"https://{sts}")),
    )


def alicloud_seam(
    *,
    region: str,
    artifact_reader: ArtifactReaderFactory | None = None,
    model_cache: ModelCacheFactory | None = None,
    provider: pulumi.ProviderResource | None = None,
) -> CloudSeam:
    """`region`: the cluster's region (the object-store endpoints a workload reaches are regional).
    `artifact_reader`: RAM roles through RRSA for oss:// weights (components/alicloud/rrsa_reader.py);
    `model_cache`: NAS for model caches (components/alicloud/nas.py); both made by the cluster layer.
    `provider`: the cluster layer's regional provider, for what a release creates through the seam (RAM roles)."""
    return CloudSeam(
        name="alicloud",
        load_balancer_annotations=load_balancer_annotations,
        provides_gpu_device_plugin=True,
        artifact_egress=artifact_egress(region),
        artifact_reader=artifact_reader,
        model_cache=model_cache,
        providers=(provider,) if provider is not None else (),
    )
