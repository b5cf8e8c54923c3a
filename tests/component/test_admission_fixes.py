"""Pods the API server's Pod Security admission would refuse (docs/design.md#real-path,
docs/addons.md#pod-security).

- Istio CNI: model namespaces enforce `restricted` and inject Istio sidecars. Without Istio CNI the
  injected `istio-init` runs as root with NET_ADMIN/NET_RAW, which `restricted` refuses. The Istio CNI
  node agent is installed on both clouds and istiod injects `istio-validation` instead; the model pod
  templates plus what the injector adds (tests/component/istio_injection.py) meet `restricted`, and so
  do the pods `istioctl kube-inject` makes with the injector config the istiod chart renders (where
  `make tools` built helm and istioctl).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from components.helm import pin, pins
from components.mesh.istio import CNI_REQUESTS
from components.scheduling import GPU_TAINT, Toleration, gpu_tolerations
from stacks.spec.parse import parse_spec
from stacks.spec.pools import pool_shape
from tests.component.istio_injection import injected, injector_values, template_fingerprint, with_sidecar
from tests.component.pod_security import Level, containers, pod_spec, violations
from tests.component.vendored_charts import archive, default_values, has_key, read
from tests.conftest import Plan
from tests.rendered import require_tools
from tests.spec_helpers import raw_stack
from tools.offline.artifacts import helm_releases, kubernetes_objects
from tools.offline.charts import EKS_CHARTS_MODULE_CHARTS, KARPENTER_MODULE_CHARTS, chart_name, find_chart
from tools.offline.runner import PROJECT_DIR

CLUSTER_STACKS = ["dev", "prod", "alicloud-dev", "alicloud-prod"]
ENFORCE = "pod-security.kubernetes.io/enforce"
RELEASE = "kubernetes:helm.sh/v3:Release"


def helm_binary() -> str | None:
    """Helm from `make tools` (.tools/bin) or PATH; tests that render charts skip without it."""
    local = PROJECT_DIR / ".tools" / "bin" / "helm"
    return str(local) if local.exists() else shutil.which("helm")


def namespaces(p: Plan) -> dict[str, dict[str, str]]:
    return {
        o["metadata"]["name"]: o["metadata"].get("labels") or {}
        for o in kubernetes_objects(p.data)
        if o["kind"] == "Namespace"
    }


def releases(p: Plan) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in helm_releases(p.data)}


# ---------------------------------------------------------------------------------------------------
# Istio CNI (docs/addons.md#istio-and-the-api-gateway-addonsistio)


@pytest.mark.parametrize("stack", CLUSTER_STACKS)
def test_istio_cni_is_installed_in_istio_system_before_istiod(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    cni = releases(p)["istio-cni"]
    want = pin("istio-cni")
    assert (cni["chart"], cni["version"], cni["repo"], cni["namespace"]) == (
        "cni",
        want.version,
        want.repo,
        "istio-system",  # Istio's install guide: helm install istio-cni istio/cni -n istio-system
    )
    # one Istio version for every Istio chart
    assert {pin(a).version for a in ("istio-base", "istiod", "istio-gateway", "istio-cni")} == {want.version}
    cni_urn = p.one(RELEASE, "istio-cni")["urn"]
    assert cni_urn in p.one(RELEASE, "istiod")["options"]["dependsOn"]
    assert p.one(RELEASE, "istio-base")["urn"] in p.one(RELEASE, "istio-cni")["options"]["dependsOn"]
    # the agent is privileged: its namespace admits it, and says so
    assert namespaces(p)["istio-system"][ENFORCE] == "privileged"
    values = cni["values"]
    assert values["chained"] is True and values["cniConfFileName"] == ""
    assert (values["cniBinDir"], values["cniConfDir"]) == ("/opt/cni/bin", "/etc/cni/net.d")
    assert values["resources"]["requests"] == CNI_REQUESTS


@pytest.mark.parametrize("stack", CLUSTER_STACKS)
def test_the_cni_agent_tolerates_every_taint_of_every_pool(stack: str, plan: Callable[[str], Plan]) -> None:
    spec = parse_spec(raw_stack(stack))
    taints = {t for pool in spec.node_pools for t in pool_shape(spec, pool).taints()}
    assert GPU_TAINT in taints  # every stack has a GPU pool
    tolerations = releases(plan(stack))["istio-cni"]["values"]["tolerations"]
    # the GPU taint by name (components/scheduling.py), not only through a catch-all
    assert all(t in tolerations for t in gpu_tolerations())
    parsed = [Toleration(**t) for t in tolerations]
    assert [str(t) for t in sorted(taints, key=str) if not any(tol.tolerates(t) for tol in parsed)] == []


def test_istiod_injects_istio_validation_instead_of_istio_init() -> None:
    # The key our values set (pilot.cni.enabled) is the chart's `cni.enabled`, copied from `pilot.*`.
    assert has_key(default_values("istiod"), "cni.enabled")
    assert 'index $.Values "pilot"' in read("istiod", "templates/zzy_descope_legacy.yaml")
    assert template_fingerprint() == []
    values = injector_values()
    assert values["pilot"]["cni"]["enabled"] is True
    init = injected(values, {})["initContainers"]
    assert [c["name"] for c in init] == ["istio-validation"]
    assert violations({"containers": [], "initContainers": init, "securityContext": {}}, "restricted") == [
        "container istio-validation: no RuntimeDefault or Localhost seccomp profile"  # the pod sets it
    ]


def model_deployments(p: Plan) -> list[dict[str, Any]]:
    models = {n for n, labels in namespaces(p).items() if labels.get("gpu-platform.io/models") == "true"}
    return [o for o in kubernetes_objects(p.data) if o["kind"] == "Deployment" and o["metadata"]["namespace"] in models]


@pytest.mark.parametrize("stack", [*CLUSTER_STACKS, "models-dev"])
def test_model_pods_with_their_sidecar_meet_restricted(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    deployments = model_deployments(p)
    assert deployments
    ns_labels = namespaces(p)
    values = injector_values()
    failures = []
    for d in deployments:
        assert ns_labels[d["metadata"]["namespace"]][ENFORCE] == "restricted"
        template = d["spec"]["template"]
        assert template["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"
        pod = with_sidecar(template["spec"], template["metadata"].get("annotations") or {}, values)
        failures += [f"{d['metadata']['name']}: {v}" for v in violations(pod, "restricted")]
    assert failures == []


def test_without_cni_the_injected_pod_would_be_refused(plan: Callable[[str], Plan]) -> None:
    # The check above bites: the injector without CNI adds the root NET_ADMIN istio-init.
    d = model_deployments(plan("dev"))[0]["spec"]["template"]
    values = injector_values({"pilot": {"cni": {"enabled": False}}})
    found = violations(with_sidecar(d["spec"], d["metadata"].get("annotations") or {}, values), "restricted")
    assert "container istio-init: adds ['NET_ADMIN', 'NET_RAW']" in found
    assert "container istio-init: runAsUser: 0" in found


@pytest.mark.tools
def test_rendered_injector_config_enables_cni(plan: Callable[[str], Plan]) -> None:
    require_tools("helm")
    # The istiod chart rendered with the plan's values: the injector's ConfigMap turns CNI on.
    # (../shared/charts holds istiod 1.29.6 while we pin 1.29.8: patch-level difference, Istio only.)
    istiod = releases(plan("prod"))["istiod"]
    with tempfile.TemporaryDirectory() as tmp:
        values = Path(tmp) / "values.yaml"
        values.write_text(yaml.safe_dump(istiod["values"]))
        out = subprocess.run(
            [
                helm_binary() or "helm",
                "template",
                "istiod",
                str(archive("istiod")),
                "-n",
                "istio-system",
                "-f",
                str(values),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    config = next(
        d
        for d in yaml.safe_load_all(out)
        if d and d.get("kind") == "ConfigMap" and d["metadata"]["name"] == "istio-sidecar-injector"
    )
    injector = json.loads(config["data"]["values"])
    assert injector["pilot"]["cni"] == {"enabled": True, "provider": "default"}
    assert injector["global"]["proxy"]["privileged"] is False


# ---------------------------------------------------------------------------------------------------
# The ECK operator and Grafana; the documented exceptions (docs/addons.md#pod-security) are the rendered ones

DOCS = PROJECT_DIR / "docs" / "addons.md"


def docs_exceptions() -> dict[str, tuple[str, set[str], set[str]]]:
    """docs/addons.md "Pod Security" table: namespace -> (enforce, releases beyond restricted, root ones)."""
    text = DOCS.read_text().split("\n## Pod Security\n", 1)[1].split("\n## ", 1)[0]
    out: dict[str, tuple[str, set[str], set[str]]] = {}
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 4, line
        names = [set(re.findall(r"`([^`]+)`", c)) for c in cells]
        (ns,), (level,) = names[0], names[1]
        out[ns] = (level, names[2], names[3])
    return out


def test_docs_list_every_namespace_that_does_not_enforce_restricted(plan: Callable[[str], Plan]) -> None:
    found: dict[str, str] = {}
    for stack in [*CLUSTER_STACKS, "models-dev"]:
        for ns, labels in namespaces(plan(stack)).items():
            assert ENFORCE in labels, f"{stack}: namespace {ns} sets no Pod Security level"
            if labels[ENFORCE] != "restricted":
                assert found.setdefault(ns, labels[ENFORCE]) == labels[ENFORCE], ns
    assert found == {ns: level for ns, (level, _, _) in docs_exceptions().items()}
    assert {"elastic-system", "keda"} <= {
        ns for ns, labels in namespaces(plan("prod")).items() if labels[ENFORCE] == "restricted"
    }


def test_eck_operator_pod_sets_the_seccomp_profile_restricted_requires(plan: Callable[[str], Plan]) -> None:
    assert has_key(default_values("eck-operator"), "podSecurityContext")
    assert "with .Values.podSecurityContext" in read("eck-operator", "templates/statefulset.yaml")
    for stack in CLUSTER_STACKS:
        p = plan(stack)
        eck = releases(p)["elastic-operator"]
        assert namespaces(p)[eck["namespace"]][ENFORCE] == "restricted"
        pod = {
            "securityContext": eck["values"]["podSecurityContext"],
            "containers": [{"name": "manager", "securityContext": eck["values"]["securityContext"]}],
        }
        assert violations(pod, "restricted") == [], stack


def grafana_chart_values() -> dict[str, Any]:
    return yaml.safe_load(read("kube-prometheus-stack", "charts/grafana/values.yaml"))


def test_grafana_persistence_runs_no_root_init_container(plan: Callable[[str], Plan]) -> None:
    chart = grafana_chart_values()
    # the chart's default: a busybox chown as UID 0 whenever persistence is on
    assert chart["initChownData"]["enabled"] is True and chart["initChownData"]["securityContext"]["runAsUser"] == 0
    for stack in CLUSTER_STACKS:
        grafana = releases(plan(stack))["kube-prometheus-stack"]["values"]["grafana"]
        assert grafana["persistence"]["enabled"] is True
        assert grafana["initChownData"] == {"enabled": False}, stack
        # the volume is handed to Grafana's group instead
        assert grafana["securityContext"]["fsGroup"] == grafana["securityContext"]["runAsGroup"] == 472


def chart_path(addon: str) -> Path:
    """The chart `addon` is rendered from: vendored in ../shared/charts, or (Karpenter, the EFA device plugin)
    the Go module scripts/fetch-karpenter.sh fetched (tools/offline/charts.py find_chart)."""
    p = pin(addon)
    if p.chart in {**KARPENTER_MODULE_CHARTS, **EKS_CHARTS_MODULE_CHARTS}:
        return find_chart(p.chart, p.version).path
    return archive(addon)


def render(release: dict[str, Any], addon: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        values = Path(tmp) / "values.yaml"
        values.write_text(yaml.safe_dump(release["values"]))
        out = subprocess.run(
            [
                helm_binary() or "helm",
                "template",
                release["name"],
                str(chart_path(addon)),
                "-n",
                release["namespace"],
                "-f",
                str(values),
                "--kube-version",
                "1.33.0",
                "--api-versions",
                "monitoring.coreos.com/v1",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return [d for d in yaml.safe_load_all(out) if isinstance(d, dict) and "kind" in d]


@pytest.mark.tools
def test_rendered_pods_meet_their_namespace_level_and_the_docs_name_every_exception(
    plan: Callable[[str], Plan],
) -> None:
    require_tools("helm")
    addon_of = {p.chart: addon for addon, p in pins().items()}
    # (stack, namespace, owner: release or object name, object) of every rendered object
    rendered: list[tuple[str, str, str, dict[str, Any]]] = []
    unrendered: dict[str, set[str]] = {}
    levels: dict[str, dict[str, str]] = {}
    clusters: dict[str, str] = {}
    for stack in CLUSTER_STACKS:
        p = plan(stack)
        clusters[stack] = parse_spec(raw_stack(stack)).cluster_name
        # an unlabelled namespace gets the cluster's default level: privileged on EKS and ACK
        levels[stack] = {ns: labels.get(ENFORCE, "privileged") for ns, labels in namespaces(p).items()}
        for obj in kubernetes_objects(p.data):  # our own objects: models, the ILM Job, ...
            rendered.append((stack, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], obj))
        for r in helm_releases(p.data):
            # A release names its chart by name, OCI reference or package path (components/helm.py).
            addon = addon_of[chart_name(str(r["chart"]), str(r.get("version") or ""))]
            try:
                chart_path(addon)
            except FileNotFoundError:
                unrendered.setdefault(r["namespace"], set()).add(r["name"])
                continue
            for obj in render(r, addon):
                if "test" in ((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", ""):
                    continue  # `helm test` pods run only on request
                rendered.append((stack, obj["metadata"].get("namespace") or r["namespace"], r["name"], obj))

    beyond: dict[str, set[str]] = {}
    root: dict[str, set[str]] = {}
    refused: list[str] = []
    for stack, ns, owner, obj in rendered:
        spec = pod_spec(obj)
        if spec is None or ns not in levels[stack]:  # not a pod, or kube-system (the cluster's own)
            continue
        where = f"{stack}: {obj['kind']} {ns}/{obj['metadata']['name']}"
        refused.extend(f"{where}: {v}" for v in violations(spec, cast(Level, levels[stack][ns])))
        name = owner.replace(f"{clusters[stack]}-", "<cluster>-")
        if violations(spec, "restricted"):
            beyond.setdefault(ns, set()).add(name)
        psc = spec.get("securityContext") or {}
        for c in containers(spec):
            sc = c.get("securityContext") or {}
            if sc.get("privileged") or sc.get("runAsUser", psc.get("runAsUser")) == 0:
                root.setdefault(ns, set()).add(name)
    assert refused == []
    docs = docs_exceptions()
    assert unrendered == {"istio-system": {"istio-cni"}}  # add the cni chart to ../shared/charts
    for ns, (_, doc_beyond, doc_root) in docs.items():
        assert doc_beyond - unrendered.get(ns, set()) == beyond.get(ns, set()), ns
        assert doc_root - unrendered.get(ns, set()) == root.get(ns, set()), ns
    assert set(beyond) <= set(docs) and set(root) <= set(docs)


def istioctl_binary() -> str | None:
    local = PROJECT_DIR / ".tools" / "bin" / "istioctl"
    return str(local) if local.exists() else shutil.which("istioctl")


@pytest.mark.parametrize("stack", CLUSTER_STACKS)
@pytest.mark.tools
def test_model_pods_injected_by_istioctl_meet_restricted(stack: str, plan: Callable[[str], Plan]) -> None:
    require_tools("helm", "istioctl")
    # The real injection: `istioctl kube-inject` with the injector ConfigMaps the istiod chart renders
    # from the plan's values (vendored istiod 1.29.6 vs pinned 1.29.8: patch-level difference, Istio only;
    # istioctl is what `make tools` builds), applied to the plan's model Deployments.
    p = plan(stack)
    deployments = model_deployments(p)
    istiod = releases(p)["istiod"]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "values.yaml").write_text(yaml.safe_dump(istiod["values"]))
        chart = subprocess.run(
            [helm_binary() or "helm", "template", "istiod", str(archive("istiod")), "-n", "istio-system"]
            + ["-f", str(d / "values.yaml")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        maps = {
            o["metadata"]["name"]: o["data"]
            for o in yaml.safe_load_all(chart)
            if isinstance(o, dict) and o.get("kind") == "ConfigMap"
        }
        (d / "inject.yaml").write_text(maps["istio-sidecar-injector"]["config"])
        (d / "inject-values.json").write_text(maps["istio-sidecar-injector"]["values"])
        (d / "mesh.yaml").write_text(maps["istio"]["mesh"])
        (d / "models.yaml").write_text(yaml.safe_dump_all(deployments))
        injected_out = subprocess.run(
            [istioctl_binary() or "istioctl", "kube-inject", "-f", str(d / "models.yaml")]
            + ["--injectConfigFile", str(d / "inject.yaml"), "--valuesFile", str(d / "inject-values.json")]
            + ["--meshConfigFile", str(d / "mesh.yaml"), "--kubeconfig", str(d / "no-cluster")],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout
    out = [o for o in yaml.safe_load_all(injected_out) if isinstance(o, dict) and o.get("kind") == "Deployment"]
    assert len(out) == len(deployments)
    failures = []
    for d_ in out:
        spec = d_["spec"]["template"]["spec"]
        names = [c["name"] for c in containers(spec)]
        assert "istio-proxy" in names and "istio-validation" in names and "istio-init" not in names, names
        failures += [f"{d_['metadata']['name']}: {v}" for v in violations(spec, "restricted")]
    assert failures == []
