"""Sidecars injected as Istio would (issue 14): `istioctl kube-inject` with the injection template, values
and mesh config of our rendered istiod release over every workload istiod's injector webhook selects
(tools/offline/inject.py). With Istio CNI (issue 13 item 3) no injected pod carries the root
NET_ADMIN/NET_RAW `istio-init`.

Needs helm and istioctl from .tools/bin: fails (never skips) with `run make tools` without them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import STACKS, plan_of
from tests.rendered import rendered, require_tools
from tools.offline import artifacts, charts, inject, kyaml
from tools.offline.artifacts import kubernetes_objects

pytestmark = pytest.mark.tools  # helm and istioctl from `make tools`

MODELS_LABEL = "gpu-platform.io/models"


def model_namespaces(stack: str) -> set[str]:
    return {
        o["metadata"]["name"]
        for o in kubernetes_objects(plan_of(stack).data)
        if o["kind"] == "Namespace" and (o["metadata"].get("labels") or {}).get(MODELS_LABEL) == "true"
    }


def model_workloads(stack: str) -> list[dict[str, Any]]:
    models = model_namespaces(stack)
    return [
        o
        for o in kubernetes_objects(plan_of(stack).data)
        if o["kind"] in inject.WORKLOAD_KINDS and o["metadata"]["namespace"] in models
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_the_injector_selects_is_injected(stack: str) -> None:
    r = rendered(stack)
    inj = r.injection
    if not model_namespaces(stack) and not charts.releases(plan_of(stack).data):
        return  # nothing of a mesh here
    assert inj.skipped == "", inj.skipped
    assert inj.not_injected == []
    # every model workload is injected (their namespaces enable injection) ...
    models = {inject.key(o) for o in model_workloads(stack)}
    assert models and models <= set(inj.injected)
    # ... and nothing else but the ingress gateway, whose pods ask for the `gateway` template
    others = {k for k in inj.injected if k not in models}
    assert others <= {("Deployment", "istio-ingress", "istio-ingressgateway")}
    for k, obj in inj.injected.items():
        assert inject.is_injected(obj), k
        assert r.files[f"injected/{r_path(stack, k)}"] is obj


def r_path(stack: str, key: tuple[str, str, str]) -> str:
    """The path under manifests/ of the original object with this key."""
    r = rendered(stack)
    ours = {inject.key(o): kyaml.file_name(o) for o in kubernetes_objects(plan_of(stack).data)}
    charts_ = {inject.key(o): p for p, o in r.chart_files().items()}
    return (ours | charts_)[key]


@pytest.mark.parametrize("stack", STACKS)
def test_injected_model_pods_carry_no_istio_init_needing_net_admin(stack: str) -> None:
    inj = rendered(stack).injection
    offenders: dict[str, list[str]] = {}
    for w in model_workloads(stack):
        injected = inj.injected[inject.key(w)]
        spec = injected["spec"]["template"]["spec"]
        annotations = injected["spec"]["template"]["metadata"].get("annotations", {})
        if annotations.get("sidecar.istio.io/nativeSidecar") == "true":
            # Pods that fetch weights (docs/model-weights.md#egress): the proxy is a native sidecar that runs
            # before fetch-weights, so the download leaves the mesh through the ServiceEntry.
            inits = [(c["name"], c.get("restartPolicy")) for c in spec["initContainers"]]
            assert inits[:2] == [("istio-validation", None), ("istio-proxy", "Always")]
            # Servers fetch in an init container; a cache Job's fetch is its main container.
            assert [n for n, _ in inits[2:]] == (["fetch-weights"] if w["kind"] == "Deployment" else [])
        else:
            assert [c["name"] for c in spec["initContainers"]] == ["istio-validation"]
            assert spec["containers"][0]["name"] == "istio-proxy"
        if found := inject.init_containers_needing_net_admin(injected):
            offenders[w["metadata"]["name"]] = found
    assert offenders == {}


def _istiod_plan(stack: str, change: Any) -> dict[str, Any]:
    """The stack's plan with only its istiod release, its values changed by `change`."""
    plan = copy.deepcopy(plan_of(stack).data)
    istiod = next(r for r in plan["resources"] if r["type"] in charts.HELM_TYPES and r["inputs"]["chart"] == "istiod")
    change(istiod["inputs"]["values"])
    plan["resources"] = [istiod]
    return plan


def test_the_assertion_bites_with_cni_off() -> None:
    # istiod rendered with pilot.cni.enabled=false: the same model pods get the root istio-init with
    # NET_ADMIN and NET_RAW, which `restricted` refuses.
    require_tools()
    plan = _istiod_plan("dev", lambda v: v["pilot"]["cni"].update(enabled=False))
    cfg = inject.injector_config([o for _, o in charts.render_plan(plan).objects()], "istiod without CNI")
    assert cfg is not None and json.loads(cfg.values)["pilot"]["cni"]["enabled"] is False
    objects = kubernetes_objects(plan_of("dev").data)
    inj = inject.inject_objects(objects, cfg)
    workloads = model_workloads("dev")
    assert workloads
    for w in workloads:
        found = inject.init_containers_needing_net_admin(inj.injected[inject.key(w)])
        assert found == ["istio-init adds ['NET_ADMIN', 'NET_RAW']"], w["metadata"]["name"]
    # with our values (CNI on) the same workloads pass
    ours = rendered("dev").injection.injected
    assert all(inject.init_containers_needing_net_admin(ours[inject.key(w)]) == [] for w in workloads)


def test_the_sidecar_comes_from_our_istiod_values() -> None:
    for stack in ("dev", "prod"):
        values = json.loads(
            next(
                o["data"]["values"]
                for _, o in rendered(stack).charts.objects()
                if o["kind"] == "ConfigMap" and o["metadata"]["name"] == inject.INJECTOR_CONFIGMAP
            )
        )
        resources = values["global"]["proxy"]["resources"]
        w = model_workloads(stack)[0]
        annotations = w["spec"]["template"]["metadata"].get("annotations") or {}
        pod = rendered(stack).injection.injected[inject.key(w)]["spec"]["template"]["spec"]
        # A native sidecar (pods that fetch weights, docs/model-weights.md#egress) is an init container.
        proxy = next(c for c in [*pod["containers"], *pod.get("initContainers", [])] if c["name"] == "istio-proxy")
        # per-pod annotations win over the mesh-wide proxy resources, as the injector's template has it
        want_cpu = annotations.get("sidecar.istio.io/proxyCPU", resources["requests"]["cpu"])
        assert proxy["resources"]["requests"]["cpu"] == want_cpu
        assert proxy["image"] == f"{values['global']['hub']}/proxyv2:{values['global']['tag']}"
        assert proxy["securityContext"]["runAsUser"] == 1337


def test_models_only_stacks_use_their_cluster_stacks_istiod() -> None:
    for stack in STACKS:
        if charts.releases(plan_of(stack).data) or not model_namespaces(stack):
            continue
        ref = artifacts.referenced_cluster_stack(plan_of(stack).data)
        inj = rendered(stack).injection
        assert ref and inj.source == f"the istiod release of its cluster stack {ref}"
        assert {inject.key(w) for w in model_workloads(stack)} == set(inj.injected)


# ---------------------------------------------------------------------------------------------------
# which workloads reach the injector


def test_label_selectors() -> None:
    sel = {
        "matchLabels": {"a": "1"},
        "matchExpressions": [
            {"key": "b", "operator": "In", "values": ["x", "y"]},
            {"key": "c", "operator": "NotIn", "values": ["false"]},
            {"key": "d", "operator": "DoesNotExist"},
            {"key": "e", "operator": "Exists"},
        ],
    }
    assert inject.selector_matches(sel, {"a": "1", "b": "x", "e": ""})
    assert inject.selector_matches(sel, {"a": "1", "b": "y", "c": "true", "e": "1"})
    assert not inject.selector_matches(sel, {"a": "2", "b": "x", "e": ""})
    assert not inject.selector_matches(sel, {"a": "1", "b": "z", "e": ""})
    assert not inject.selector_matches(sel, {"a": "1", "b": "x", "c": "false", "e": ""})
    assert not inject.selector_matches(sel, {"a": "1", "b": "x", "d": "", "e": ""})
    assert not inject.selector_matches(sel, {"a": "1", "b": "x"})
    assert inject.selector_matches(None, {}) and inject.selector_matches({}, {"x": "y"})


def _deployment(namespace: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "w"}},
            "template": {
                "metadata": {"labels": {"app": "w", **labels}, "annotations": annotations or {}},
                "spec": {"containers": [{"name": "c", "image": "registry.example/w:1.0.0"}]},
            },
        },
    }


def _namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_injection_follows_the_webhook_selectors_and_honours_inject_false() -> None:
    cfg = inject.injector_config(
        [o for _, o in rendered("dev").charts.objects() if o["metadata"].get("namespace") != "x"], "dev"
    )
    assert cfg is not None
    namespaces = [
        _namespace("enabled", {"istio-injection": "enabled"}),
        _namespace("revision", {"istio.io/rev": "default"}),
        _namespace("plain", {}),
        _namespace("disabled", {"istio-injection": "disabled"}),
    ]
    cases = {
        ("enabled", "pod default"): (_deployment("enabled", {}), True),
        ("enabled", "label false"): (_deployment("enabled", {"sidecar.istio.io/inject": "false"}), False),
        ("revision", "pod default"): (_deployment("revision", {}), True),
        ("plain", "pod default"): (_deployment("plain", {}), False),
        ("plain", "label true"): (_deployment("plain", {"sidecar.istio.io/inject": "true"}), True),
        ("disabled", "label true"): (_deployment("disabled", {"sidecar.istio.io/inject": "true"}), False),
    }
    ns_labels = inject.namespace_labels(namespaces)
    for case, (obj, sent) in cases.items():
        assert inject.sent_to_injector(obj, ns_labels, cfg.webhooks) is sent, case
    # the annotation form is the injector's own policy: sent, then left alone (and reported)
    annotated = _deployment("enabled", {}, {"sidecar.istio.io/inject": "false"})
    annotated["metadata"]["name"] = "annotated"
    plain = _deployment("enabled", {})
    inj = inject.inject_objects([*namespaces, annotated, plain], cfg)
    assert set(inj.injected) == {("Deployment", "enabled", "w")}
    assert inj.not_injected == ["Deployment enabled/annotated"]
    # kube-inject's serialisation artefacts are dropped
    out = inj.injected[("Deployment", "enabled", "w")]
    assert "status" not in out and "creationTimestamp" not in out["metadata"]


def test_injected_files_sit_where_the_originals_are(tmp_path: Any) -> None:
    require_tools()
    written = artifacts.write_all(plan_of("prod").data, tmp_path)
    manifests = tmp_path / "manifests"
    injected = sorted(p.relative_to(manifests / "injected") for p in (manifests / "injected").rglob("*.yaml"))
    assert len(injected) == len(written.rendered.injection.injected) > 0
    for rel in injected:
        original = kyaml.load((manifests / rel).read_text())
        out = kyaml.load((manifests / "injected" / rel).read_text())
        assert inject.key(original) == inject.key(out) and not inject.is_injected(original) and inject.is_injected(out)
    report = (tmp_path / "report.md").read_text()
    assert f"{len(injected)} workloads under `manifests/injected/`" in report
