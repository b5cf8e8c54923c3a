"""Cluster-autoscaler ASG tags: discovery + scale-from-zero node templates from the pool shape."""

from __future__ import annotations

import pytest

from components.aws.asg_tags import autoscaler_tags
from components.scheduling import Taint, pool_shape

CA = "k8s.io/cluster-autoscaler"


def test_cpu_pool_gets_discovery_and_pool_label_only() -> None:
    shape = pool_shape("aws", "system", "m6i.large")
    assert autoscaler_tags("gpu-dev", shape) == {
        f"{CA}/enabled": "true",
        f"{CA}/gpu-dev": "owned",
        f"{CA}/node-template/label/gpu-platform.io/pool": "system",
    }


def test_whole_gpu_pool_declares_labels_taint_and_gpus() -> None:
    shape = pool_shape("aws", "gpu-l4", "g6.xlarge")
    tags = autoscaler_tags("gpu-dev", shape)
    assert tags == {
        f"{CA}/enabled": "true",
        f"{CA}/gpu-dev": "owned",
        f"{CA}/node-template/label/gpu-platform.io/gpu-count": "1",
        f"{CA}/node-template/label/gpu-platform.io/gpu-model": "l4",
        f"{CA}/node-template/label/gpu-platform.io/gpu-sharing": "none",
        f"{CA}/node-template/label/gpu-platform.io/pool": "gpu-l4",
        f"{CA}/node-template/label/k8s.amazonaws.com/accelerator": "l4",
        f"{CA}/node-template/label/nvidia.com/device-plugin.config": "default",
        f"{CA}/node-template/resources/nvidia.com/gpu": "1",
        f"{CA}/node-template/taint/nvidia.com/gpu": "present:NoSchedule",
    }
    assert list(tags) == sorted(tags), "sorted keys: a reordering never shows as a diff"


def test_time_sliced_pool_declares_the_shared_replicas() -> None:
    shape = pool_shape("aws", "l4-shared", "g6.xlarge", sharing="time-slicing", time_slicing_replicas=4)
    assert autoscaler_tags("c", shape)[f"{CA}/node-template/resources/nvidia.com/gpu"] == "4"


def test_mig_mixed_pool_declares_every_slice_and_no_accelerator_label() -> None:
    shape = pool_shape("aws", "a100", "p4d.24xlarge", sharing="mig", mig_strategy="mixed", mig_layout="all-balanced")
    tags = autoscaler_tags("gpu-prod", shape)
    resources = {k.rsplit("/", 2)[-2] + "/" + k.rsplit("/", 1)[-1]: v for k, v in tags.items() if "/resources/" in k}
    # 8 A100-40GB GPUs, all-balanced = 2x 1g.5gb + 1x 2g.10gb + 1x 3g.20gb per GPU.
    # ... and explicitly no whole GPUs, or the autoscaler would assume the instance type's 8.
    assert resources == {
        "nvidia.com/mig-1g.5gb": "16",
        "nvidia.com/mig-2g.10gb": "8",
        "nvidia.com/mig-3g.20gb": "8",
        "nvidia.com/gpu": "0",
    }
    # kubernetes/autoscaler#8095: with the accelerator label a mixed-MIG node would never count as ready.
    assert not any("k8s.amazonaws.com/accelerator" in k for k in tags)
    assert tags[f"{CA}/node-template/label/nvidia.com/mig.config"] == "all-balanced-a100-40gb"
    # no GPU node to CA: its own plain scale-down threshold, set on purpose (docs/gpu.md)
    assert tags[f"{CA}/node-template/autoscaling-options/scaledownutilizationthreshold"] == "1.0"


def test_only_mig_mixed_pools_override_the_scale_down_threshold() -> None:
    key = f"{CA}/node-template/autoscaling-options/scaledownutilizationthreshold"
    for shape in (
        pool_shape("aws", "system", "m6i.large"),
        pool_shape("aws", "gpu-l4", "g6.xlarge"),
        pool_shape("aws", "l4-shared", "g6.xlarge", sharing="time-slicing", time_slicing_replicas=4),
        pool_shape("aws", "h100", "p5.48xlarge", sharing="mig", mig_strategy="single", mig_layout="all-1g.10gb"),
    ):
        assert key not in autoscaler_tags("c", shape), shape.name


def test_extra_taints_and_ephemeral_storage() -> None:
    shape = pool_shape(
        "aws",
        "batch",
        "m6i.large",
        extra_taints=(Taint("dedicated", "batch", "NoExecute"),),
        extra_labels={"team": "ml"},
    )
    tags = autoscaler_tags("c", shape, ephemeral_storage_gib=45)
    assert tags[f"{CA}/node-template/taint/dedicated"] == "batch:NoExecute"
    assert tags[f"{CA}/node-template/label/team"] == "ml"
    assert tags[f"{CA}/node-template/resources/ephemeral-storage"] == "45Gi"


def test_efa_pool_declares_every_efa_interface_for_scale_from_zero() -> None:
    # The catalog's interface counts (components/gpu/catalog.yaml efa_interfaces): p5 32, p4d 4. Without the
    # tag the autoscaler's template node has no vpc.amazonaws.com/efa and never scales the pool up from zero.
    key = f"{CA}/node-template/resources/vpc.amazonaws.com/efa"
    assert autoscaler_tags("c", pool_shape("aws", "efa", "p5.48xlarge"), efa=True)[key] == "32"
    assert autoscaler_tags("c", pool_shape("aws", "efa", "p4d.24xlarge"), efa=True)[key] == "4"
    # The same instance without efa: true has no interfaces attached, so no EFA resource is declared.
    assert key not in autoscaler_tags("c", pool_shape("aws", "efa", "p5.48xlarge"))


def test_efa_on_an_instance_without_it_is_refused() -> None:
    with pytest.raises(ValueError, match="efa on g6.xlarge, which has no EFA interface in the catalog"):
        autoscaler_tags("c", pool_shape("aws", "gpu-l4", "g6.xlarge"), efa=True)
