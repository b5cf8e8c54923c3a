"""The cloud seam of an existing cluster (components/cloud.py): what a cluster this stack does not create
offers the platform (docs/existing-cluster.md).

- load balancers: no cloud annotations of ours. A LoadBalancer Service is served by the cluster's own
  implementation (MetalLB, kube-vip, Cilium LB IPAM, the hosting cloud's controller); the stack file may
  give the annotations that pick its address pool per scheme (`cluster.existing.loadBalancerAnnotations`);
- node autoscaling: none installed; the pools have fixed sizes, or the cluster scales them itself;
- the NVIDIA device plugin: the platform installs it unless the cluster already runs one (a typed flag);
- artifact stores: none (no object store or workload identity this stack could create); no egress is
  opened for artifacts;
- no cloud providers.
"""

from __future__ import annotations

from collections.abc import Mapping

from components.cloud import CloudSeam, LoadBalancerScheme

NAME = "existing"


def existing_seam(
    *,
    provides_gpu_device_plugin: bool,
    load_balancer_annotations: Mapping[LoadBalancerScheme, Mapping[str, str]] | None = None,
) -> CloudSeam:
    """`provides_gpu_device_plugin`: the cluster already runs the NVIDIA device plugin (for example through
    the NVIDIA GPU Operator), so the platform installs neither its device plugin nor its MIG manager.
    `load_balancer_annotations`: per scheme, the annotations the cluster's load-balancer implementation
    reads (default: none for either scheme)."""
    by_scheme = {scheme: dict(sorted(a.items())) for scheme, a in (load_balancer_annotations or {}).items()}

    def annotations(scheme: LoadBalancerScheme) -> dict[str, str]:
        return dict(by_scheme.get(scheme, {}))

    return CloudSeam(
        name=NAME,
        load_balancer_annotations=annotations,
        provides_gpu_device_plugin=provides_gpu_device_plugin,
        node_autoscaler=None,
        artifact_store=None,
        artifact_egress=None,
        providers=(),
    )
