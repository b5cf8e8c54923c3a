"""The EFA device plugin (issue 18, components/aws/efa_device_plugin.py): installed only when the stack has an
EFA pool, its DaemonSet (rendered by helm from the pinned eks-charts chart) runs only on the EFA pools'
nodes, tolerates their GPU taint, pulls the pinned eksbuild image from the stack region's EKS add-on
registry and advertises `vpc.amazonaws.com/efa`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components import helm
from components.aws import efa_device_plugin as plugin
from components.aws.eks_registry import addon_registry_account
from components.scheduling import GPU_TAINT, POOL_LABEL, pool_shape
from tests.conftest import Plan
from tests.rendered import rendered
from tools.offline import charts

RELEASE = "kubernetes:helm.sh/v3:Release"
DAEMONSET = "charts/aws-efa-k8s-device-plugin/daemonset--kube-system--aws-efa-k8s-device-plugin.yaml"


def _releases(p: Plan) -> list[dict[str, Any]]:
    return [r for r in p.of_type(RELEASE) if r["inputs"].get("chart") == plugin.ADDON]


def test_prod_installs_the_pinned_chart_once_for_its_efa_pool(plan: Callable[[str], Plan]) -> None:
    [release] = _releases(plan("prod"))
    inputs = release["inputs"]
    assert (inputs["name"], inputs["namespace"], inputs["version"]) == (plugin.ADDON, "kube-system", "v0.5.31")
    assert inputs["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert inputs["values"]["supportedInstanceLabels"] == {"keys": [POOL_LABEL], "values": ["gpu-h100-efa"]}


def test_no_efa_pool_no_plugin(plan: Callable[[str], Plan]) -> None:
    for stack in ("dev", "alicloud-prod"):
        assert _releases(plan(stack)) == [], stack


def test_prod_daemonset_runs_on_the_efa_pool_with_the_regional_image() -> None:
    ds = rendered("prod").chart_files()[DAEMONSET]
    pod = ds["spec"]["template"]["spec"]
    [term] = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": POOL_LABEL, "operator": "In", "values": ["gpu-h100-efa"]} in term["matchExpressions"]
    # No instance-type term: the chart's list is replaced by the pool label.
    assert [e["key"] for e in term["matchExpressions"]] == [POOL_LABEL, "eks.amazonaws.com/compute-type"]
    assert GPU_TAINT.toleration() in pod["tolerations"]
    [container] = pod["containers"]
    assert (
        container["image"]
        == "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.21-eksbuild.9"
    )
    assert container["resources"] == plugin.RESOURCES
    assert pod["priorityClassName"] == "system-node-critical"
    # The plugin registers with the kubelet through its device-plugin socket directory.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["device-plugin"] == "/var/lib/kubelet/device-plugins"


def test_the_chart_source_is_the_fetched_eks_charts_module() -> None:
    src = charts.find_chart(plugin.ADDON, helm.pin(plugin.ADDON).version)
    assert src.path == charts.eks_charts_module_dir() / "stable" / plugin.ADDON
    assert src.note == f"rendered from the {charts.eks_charts_module_dir().name} Go module (not vendored)"


def test_values_tolerate_every_taint_of_the_efa_pools_and_follow_the_region() -> None:
    a = pool_shape("aws", "efa-a", "p5.48xlarge")
    b = pool_shape("aws", "efa-b", "p4d.24xlarge")
    values = plugin.plugin_values("eu-west-1", [b, a])
    assert values["supportedInstanceLabels"] == {"keys": [POOL_LABEL], "values": ["efa-a", "efa-b"]}
    assert values["tolerations"] == [GPU_TAINT.toleration()]  # one per distinct taint
    assert values["image"] == {
        "repository": "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/aws-efa-k8s-device-plugin",
        "tag": "v0.5.21-eksbuild.9",
    }


@pytest.mark.parametrize("region", ["ap-east-1", "me-south-1", "cn-north-1"])
def test_regions_with_an_unrecorded_registry_account_are_refused(region: str) -> None:
    # The spec refuses such a pool first (stacks/spec/pools.py efa_registry, tests/unit/test_spec_errors_aws.py);
    # the component keeps a guard for callers that skip validation. One account map for both.
    assert addon_registry_account(region) is None
    with pytest.raises(ValueError, match=f"no EKS add-on registry account recorded for {region}"):
        plugin.registry(region)


def test_the_resource_name_pods_request_is_the_charts() -> None:
    # The plugin binary picks the name; the pinned chart's install notes are where the module states it.
    src = charts.find_chart(plugin.ADDON, helm.pin(plugin.ADDON).version)
    notes = (src.path / "templates" / "NOTES.txt").read_text()
    assert f"requested as `{plugin.EFA_RESOURCE}` resource" in notes
    assert plugin.EFA_RESOURCE == "vpc.amazonaws.com/efa"
