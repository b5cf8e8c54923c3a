"""The cloud seam on Alibaba Cloud (components/cloud.py): what the ACK cluster layer hands the platform.

- load balancers: ACK's cloud-controller-manager annotations (intranet or internet SLB address);
- node autoscaling: ACK scales node pools itself (components/alicloud/autoscaling.py), nothing to install;
- the NVIDIA driver, device plugin and MIG partitioning: ACK's own;
- artifact stores: none yet (an OSS store read through RRSA plugs in here without touching models code).
"""

from __future__ import annotations

from components.cloud import CloudSeam, LoadBalancerScheme


def load_balancer_annotations(scheme: LoadBalancerScheme) -> dict[str, str]:
    # ACK cloud-controller-manager: intranet = VPC-only SLB address, internet = public address.
    address = "internet" if scheme == "internet-facing" else "intranet"
    return {"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": address}


def alicloud_seam() -> CloudSeam:
    return CloudSeam(
        name="alicloud",
        load_balancer_annotations=load_balancer_annotations,
        provides_gpu_device_plugin=True,
    )
