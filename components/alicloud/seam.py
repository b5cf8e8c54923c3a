"""The cloud seam on Alibaba Cloud (components/cloud.py): what the ACK cluster layer hands the platform.

- load balancers: ACK's cloud-controller-manager annotations (intranet or internet SLB address);
- node autoscaling: ACK scales node pools itself (components/alicloud/autoscaling.py), nothing to install;
- the NVIDIA driver, device plugin and MIG partitioning: ACK's own;
- artifact stores: none yet (an OSS store read through RRSA plugs in here without touching models code);
  the hosts a model server reaches to read oss:// artifacts: the regional OSS endpoints, internal (VPC)
  and public, per bucket their virtual-hosted names.
"""

from __future__ import annotations

import re

from components.cloud import CloudSeam, LoadBalancerScheme, ObjectStoreEgress

_ALICLOUD_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+(-[0-9]+)?$")


def load_balancer_annotations(scheme: LoadBalancerScheme) -> dict[str, str]:
    # ACK cloud-controller-manager: intranet = VPC-only SLB address, internet = public address.
    address = "internet" if scheme == "internet-facing" else "intranet"
    return {"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": address}


def artifact_egress(region: str) -> ObjectStoreEgress:
    """What reading oss:// artifacts in `region` reaches: the regional OSS endpoints — internal (from the
    VPC, no internet traffic) and public — and per bucket their virtual-hosted names, which the OSS SDKs
    use by default. (STS endpoints join when an RRSA-read artifact store does.)"""
    if not _ALICLOUD_REGION.match(region):
        raise ValueError(f"alicloud_seam: {region!r} is not an Alibaba Cloud region id (like 'cn-shanghai')")
    endpoints = (f"oss-{region}-internal.aliyuncs.com", f"oss-{region}.aliyuncs.com")
    return ObjectStoreEgress(scheme="oss", hosts=endpoints, bucket_hosts=tuple(f"{{bucket}}.{e}" for e in endpoints))


def alicloud_seam(*, region: str) -> CloudSeam:
    """`region`: the cluster's region (the object-store endpoints a workload reaches are regional)."""
    return CloudSeam(
        name="alicloud",
        load_balancer_annotations=load_balancer_annotations,
        provides_gpu_device_plugin=True,
        artifact_egress=artifact_egress(region),
    )
