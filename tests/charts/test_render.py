"""Charts rendered for real (issue 14): every Helm release of every stack rendered by helm from the
vendored packages in ../shared/charts with its exact values (tools/offline/charts.py).

Needs helm and istioctl from .tools/bin: fails (never skips) with `run make tools` without them.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from components.helm import pins
from tests.conftest import STACKS, plan_of
from tests.rendered import rendered, require_tools, stacks_with_releases
from tools.offline import charts, kyaml
from tools.offline.runner import PROJECT_DIR

pytestmark = pytest.mark.tools  # helm and istioctl from `make tools`

ISTIO_MODULE_NOTE = "rendered from the istio.io/istio module (1.30 branch"


def test_every_pin_has_its_vendored_chart() -> None:
    # A pin without its package in ../shared/charts fails, naming it. Two documented exceptions:
    # Istio's charts are vendored at 1.29.6 for the pinned 1.29.8 (patch level, Istio only), and Istio's
    # cni chart is not vendored at all: it renders from the istio.io/istio module (release-1.30 branch)
    # and must be vendored (../shared/charts/cni-1.29.x.tgz).
    problems: list[str] = []
    sources: dict[str, charts.ChartSource] = {}
    for addon, p in sorted(pins().items()):
        try:
            sources[addon] = charts.find_chart(p.chart, p.version)
        except charts.ChartNotVendored as err:
            problems.append(f"{addon}: {err}")
    assert problems == []
    inexact = {a: s for a, s in sources.items() if s.version != s.pinned}
    assert {a: s.chart for a, s in inexact.items()} == {
        "istio-base": "base",
        "istiod": "istiod",
        "istio-gateway": "gateway",
        "istio-cni": "cni",
    }
    for addon, s in inexact.items():
        if addon == "istio-cni":
            assert s.path.is_dir() and s.path.parts[-3:] == ("manifests", "charts", "istio-cni")
            assert s.path.parent.parent.parent == charts.istio_module_dir()
            assert s.note.startswith(ISTIO_MODULE_NOTE) and f"not the pinned {s.pinned} chart" in s.note
        else:
            assert s.path.name == f"{s.chart}-1.29.6.tgz" and "patch-level difference accepted" in s.note
        assert s.version.split(".")[0] == s.pinned.split(".")[0]


def test_karpenter_charts_render_from_the_fetched_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # docs/karpenter.md#where-the-chart-comes-from: scripts/fetch-karpenter.sh unpacks the module into .tools/modules.
    for addon in ("karpenter", "karpenter-crd"):
        p = pins()[addon]
        s = charts.find_chart(p.chart, p.version)
        assert s.path == charts.karpenter_module_dir() / "charts" / p.chart and s.version == s.pinned == "1.14.1"
        assert s.note == f"rendered from the {charts.karpenter_module_dir().name} Go module (not vendored)"
    monkeypatch.setattr(charts, "karpenter_module_dir", lambda: tmp_path / "karpenter-provider-aws@v1.15.2")
    with pytest.raises(
        charts.ChartNotVendored, match=r"karpenter 1\.14\.1: .* is missing; run `bash scripts/fetch-karpenter.sh`"
    ):
        charts.find_chart("karpenter", "1.14.1")


def test_a_missing_chart_is_named_and_only_istio_gets_a_patch_level_difference(tmp_path: Path) -> None:
    with pytest.raises(charts.ChartNotVendored, match=r"keda 2\.17\.1: .*keda-2\.17\.1\.tgz is missing"):
        charts.find_chart("keda", "2.17.1")  # 2.17.2 is vendored: no patch tolerance outside Istio
    with pytest.raises(charts.ChartNotVendored, match="nope-1.0.0.tgz is missing; vendor the pinned chart"):
        charts.find_chart("nope", "1.0.0")
    with pytest.raises(charts.ChartNotVendored):
        charts.find_chart("istiod", "1.28.3")  # another minor is no patch-level difference
    # the same pins against an empty charts directory: every one is named
    missing = []
    for p in pins().values():
        try:
            charts.find_chart(p.chart, p.version, charts_dir=tmp_path)
        except charts.ChartNotVendored as err:
            missing.append(str(err).split(":")[0])
    # all but cni (from the istio module), the two Karpenter charts (from the karpenter-provider-aws module) and
    # the EFA device plugin (from the eks-charts module)
    assert len(missing) == len(pins()) - 4
    assert not any(m.startswith("aws-efa-k8s-device-plugin") for m in missing)
    assert "keda 2.17.2" in missing and "istiod 1.29.8" in missing


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_of_every_stack_renders(stack: str) -> None:
    r = rendered(stack).charts
    plan_releases = sorted((x.namespace, x.name) for x in charts.releases(plan_of(stack).data))
    assert r.missing == []
    assert sorted((x.release.namespace, x.release.name) for x in r.releases) == plan_releases
    empty = [x.release.name for x in r.releases if not x.objects]
    assert empty == []
    if plan_releases:
        assert r.skipped == "" and r.kube_version.startswith("v1.")


def test_the_cluster_kubernetes_version_and_namespaces_are_the_stacks() -> None:
    for stack in stacks_with_releases():
        r = rendered(stack).charts
        version = str(plan_of(stack).data["outputs"]["clusterFacts"]["kubernetesVersion"])
        assert r.kube_version in (f"v{version}", f"v{version}.0")
        scoped = charts.cluster_scoped(o for _, o in r.objects())
        for rr, obj in r.objects():
            ns = obj["metadata"].get("namespace")
            assert (obj["kind"] in scoped) == (ns is None), f"{stack}: {kyaml.file_name(obj)}"
            if obj["kind"] in ("Deployment", "DaemonSet", "StatefulSet", "ConfigMap"):
                assert ns == rr.release.namespace or rr.release.chart == "gpu-operator", kyaml.file_name(obj)


def test_crd_conditional_templates_render_with_the_stacks_crds(tmp_path: Path) -> None:
    r = rendered("dev").charts
    assert {"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor", "keda.sh/v1alpha1"} <= set(
        r.api_versions
    )
    kinds = Counter((rr.release.name, o["kind"]) for rr, o in r.objects())
    assert kinds[("kube-prometheus-stack", "ServiceMonitor")] > 5
    # fluent-bit's ServiceMonitor template checks `.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"`:
    # rendered with the stack's CRDs it is there, without them it is not.
    fluent = next(x for x in r.releases if x.release.name == "fluent-bit")
    assert fluent.release.values["serviceMonitor"]["enabled"] is True
    assert Counter(o["kind"] for o in fluent.objects)["ServiceMonitor"] == 1
    helm = charts.helm_binary()
    assert helm is not None
    without = charts.helm_template(
        helm, fluent.release, fluent.source.path, fluent.release.values, r.kube_version, [], tmp_path
    )
    assert "ServiceMonitor" not in {o["kind"] for o in without}


def test_istio_charts_deploy_the_published_images_of_the_pin() -> None:
    pinned = pins()["istiod"].version
    images: set[str] = set()
    for stack in stacks_with_releases():
        for rr, obj in rendered(stack).charts.objects():
            if rr.release.chart in charts.ISTIO_CHARTS:
                images |= set(re.findall(r"image: (\S+)", kyaml.dump(obj)))
    assert images and not [i for i in images if "istio-testing" in i or "registry.istio.io/testing" in i]
    assert {f"{charts.ISTIO_RELEASE_HUB}/pilot:{pinned}", f"{charts.ISTIO_RELEASE_HUB}/install-cni:{pinned}"} <= images
    # the injector's values name the same hub and tag for the sidecar
    values = json.loads(
        next(
            o
            for _, o in rendered("dev").charts.objects()
            if o["metadata"]["name"] == "istio-sidecar-injector" and o["kind"] == "ConfigMap"
        )["data"]["values"]
    )
    assert (values["global"]["hub"], values["global"]["tag"]) == (charts.ISTIO_RELEASE_HUB, pinned)


def test_unknown_values_get_well_formed_placeholders() -> None:
    values = {
        "rbac": {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "<computed>"}, "name": "ca"}},
        "auth": {"password": "<secret>"},
        "list": ["<computed>", "x"],
    }
    out, found = charts.with_placeholders(values)
    arn = out["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::123456789012:role/offline-computed-[a-z0-9.-]+", arn)
    assert out["auth"]["password"] == "offline-secret-auth-password"
    assert out["list"] == ["offline-computed-list-0", "x"]
    assert [(p.path, p.marker) for p in found] == [
        ("rbac.serviceAccount.annotations.eks.amazonaws.com/role-arn", "<computed>"),
        ("auth.password", "<secret>"),
        ("list.0", "<computed>"),
    ]
    assert values["auth"]["password"] == "<secret>"  # the plan's values are not changed


def _with_release_values(stack: str, name: str, change: Any) -> dict[str, Any]:
    plan = copy.deepcopy(plan_of(stack).data)
    resource = next(r for r in plan["resources"] if r["type"] in charts.HELM_TYPES and r["name"] == name)
    change(resource["inputs"]["values"])
    plan["resources"] = [resource]  # render just this release
    return plan


def test_a_release_with_unknown_values_renders_with_its_placeholders() -> None:
    require_tools("helm")
    # The autoscaler's IRSA role ARN, unknown until the role exists (here made unknown on purpose).
    plan = _with_release_values(
        "dev",
        "gpu-dev-cluster-autoscaler",
        lambda v: v["rbac"]["serviceAccount"].update(
            create=True, annotations={"eks.amazonaws.com/role-arn": "<computed>"}
        ),
    )
    (rr,) = charts.render_plan(plan).releases
    sa = next(o for o in rr.objects if o["kind"] == "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::123456789012:role/")
    assert [p.marker for p in rr.placeholders] == ["<computed>"]


def test_values_helm_refuses_stop_the_render() -> None:
    require_tools("helm")
    plan = _with_release_values(
        "prod", "gpu-prod-gpu-operator", lambda v: v.setdefault("gpuCluster", {}).update(deployCR=True)
    )
    with pytest.raises(charts.RenderError, match="clusterPolicy.deployCR and gpuCluster.deployCR cannot both be true"):
        charts.render_plan(plan)


def test_rendering_is_deterministic() -> None:
    require_tools("helm")
    plan = plan_of("prod").data
    first, second = charts.render_plan(plan), charts.render_plan(plan)
    assert [(x.release.name, x.objects) for x in first.releases] == [
        (x.release.name, x.objects) for x in second.releases
    ]


def _cli(out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.plan", *args, "--out", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_the_plan_cli_writes_the_charts_and_counts_them_per_release(tmp_path: Path) -> None:
    require_tools()
    res = _cli(tmp_path, "prod")
    assert res.returncode == 0, res.stderr
    r = rendered("prod").charts
    total = sum(len(x.objects) for x in r.releases)
    assert f"charts: {len(r.releases)} releases rendered, {total} objects" in res.stdout
    report = (tmp_path / "report.md").read_text()
    assert "## Charts rendered" in report and f"{total} objects under `manifests/charts/`" in report
    for x in r.releases:
        files = list((tmp_path / "manifests" / "charts" / kyaml.slug(x.release.name)).glob("*.yaml"))
        assert len(files) == len(x.objects), x.release.name
        assert re.search(
            rf"^\| {re.escape(x.release.name)} \| {x.release.namespace} \| .* \| {len(x.objects)} \|$", report, re.M
        )
    assert ISTIO_MODULE_NOTE in report and "not the pinned 1.29.8 chart" in report
    assert "patch-level difference accepted for Istio only" in report
    # the files read back as the objects rendered
    istiod = tmp_path / "manifests" / "charts" / "istiod" / "deployment--istio-system--istiod.yaml"
    assert kyaml.load(istiod.read_text())["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
        pins()["istiod"].version
    )


def test_without_helm_the_plan_says_charts_were_not_rendered_and_how_to_build_helm(tmp_path: Path) -> None:
    res = _cli(tmp_path / "out", "dev", env={"GPU_PLATFORM_TOOLS_BIN": str(tmp_path / "empty")})
    assert res.returncode == 0, res.stderr
    assert f"charts NOT rendered: helm not found at {tmp_path / 'empty' / 'helm'}: run `make tools`" in res.stdout
    assert "sidecars NOT injected: charts not rendered" in res.stdout
    report = (tmp_path / "out" / "report.md").read_text()
    assert "**Charts were not rendered**: helm not found" in report and "`make tools`" in report
    assert not (tmp_path / "out" / "manifests" / "charts").exists()
