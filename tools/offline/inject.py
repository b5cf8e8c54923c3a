"""Inject Istio sidecars the way istiod's injector would: `istioctl kube-inject` with the injection
template, values and mesh config that our rendered istiod release produces (docs/testing.md#sidecars).

- **Config**: the rendered istiod release's `istio-sidecar-injector` ConfigMap (`config`: the injection
  templates and policy, `values`: the injector's values) and `istio` ConfigMap (`mesh`), handed to
  `istioctl kube-inject --injectConfigFile --valuesFile --meshConfigFile --revision default`
  (`--revision` keeps istioctl from looking for a cluster; `default` is what the injector renders for
  the default revision). Nothing is read from a cluster (KUBECONFIG=/dev/null).
- **Which workloads**: the API server calls the injector for a pod when one of the webhooks of the
  rendered `istio-sidecar-injector` MutatingWebhookConfiguration matches: its namespaceSelector against
  the namespace's labels (ours, plus `kubernetes.io/metadata.name`) and its objectSelector against the
  pod template's labels. So a pod labelled `sidecar.istio.io/inject: "false"` is never sent, a namespace
  labelled `istio-injection=enabled` or `istio.io/rev` sends every other pod, and a pod labelled
  `sidecar.istio.io/inject: "true"` is sent from an unlabelled namespace. The injector itself then
  honours the `sidecar.istio.io/inject: "false"` annotation, its never/always-inject selectors and the
  namespaces it ignores (kube-system, kube-public); a workload it leaves alone is not written.
- **Kinds**: Deployment, StatefulSet, DaemonSet and Job (the pod templates our stacks and charts have).
- **Output**: the workload as kube-inject returns it, minus the serialisation artefacts kube-inject adds
  to every object (`status: {}`, `metadata.creationTimestamp: null`).

istioctl is the release-1.30 snapshot of istio.io/istio (docs/tools.md: the module proxy serves no
1.29.x), the nearest real alternative to the 1.29.8 istioctl. kube-inject renders the templates it is
given, so the sidecar comes from our 1.29 istiod chart's template; only the template *engine* (and the
helper functions it offers) is 1.30's.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.offline import kyaml
from tools.offline.charts import TOOLS_BIN

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
INJECTOR_CONFIGMAP = "istio-sidecar-injector"
MESH_CONFIGMAP = "istio"
INJECTOR_WEBHOOK = "istio-sidecar-injector"
STATUS_ANNOTATION = "sidecar.istio.io/status"
BUILD_ISTIOCTL = "run `make tools` (or `bash scripts/build-tools.sh istioctl`) to build it into .tools/bin"


class InjectError(Exception):
    """istioctl kube-inject failed (its message included)."""


@dataclass(frozen=True)
class InjectorConfig:
    """What istiod's injector works from, as our istiod release renders it."""

    config: str  # istio-sidecar-injector ConfigMap `config`
    values: str  # istio-sidecar-injector ConfigMap `values` (JSON)
    mesh: str  # istio ConfigMap `mesh`
    webhooks: tuple[dict[str, Any], ...]  # the istio-sidecar-injector MutatingWebhookConfiguration's webhooks
    source: str  # where it came from, for the report ("istiod release of stack dev")


@dataclass
class Injection:
    """One plan's injection: the injected workloads by (kind, namespace, name), or why none (`skipped`)."""

    injected: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    not_injected: list[str] = field(default_factory=list)  # sent to the injector, left alone by its policy
    source: str = ""
    istioctl_version: str = ""
    skipped: str = ""


def istioctl_binary(tools_bin: Path = TOOLS_BIN) -> Path | None:
    p = tools_bin / "istioctl"
    return p if p.is_file() and os.access(p, os.X_OK) else None


def injector_config(objects: list[dict[str, Any]], source: str) -> InjectorConfig | None:
    """The injector's config among rendered istiod objects (None: no istiod among them)."""

    def find(kind: str, name: str) -> dict[str, Any] | None:
        found = [o for o in objects if o.get("kind") == kind and o["metadata"].get("name") == name]
        return found[0] if len(found) == 1 else None

    injector, mesh = find("ConfigMap", INJECTOR_CONFIGMAP), find("ConfigMap", MESH_CONFIGMAP)
    webhook = find("MutatingWebhookConfiguration", INJECTOR_WEBHOOK)
    if injector is None or mesh is None or webhook is None:
        return None
    return InjectorConfig(
        config=injector["data"]["config"],
        values=injector["data"]["values"],
        mesh=mesh["data"]["mesh"],
        webhooks=tuple(webhook.get("webhooks") or ()),
        source=source,
    )


# ---------------------------------------------------------------------------------------------------
# which pods the API server sends to the injector


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector against labels (an absent or empty selector matches everything)."""
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown label selector operator {op!r}")
    return True


def _creates_pods(webhook: dict[str, Any]) -> bool:
    return any(
        "CREATE" in (r.get("operations") or []) or "*" in (r.get("operations") or [])
        for r in webhook.get("rules") or []
        if {"pods", "*"} & set(r.get("resources") or []) and {"", "*"} & set(r.get("apiGroups") or [])
    )


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj.get("kind") not in WORKLOAD_KINDS:
        return None
    return (obj.get("spec") or {}).get("template")


def namespace_labels(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """name -> labels of every Namespace among `objects`, with the label the API server adds."""
    out: dict[str, dict[str, str]] = {}
    for o in objects:
        if o.get("kind") == "Namespace":
            name = o["metadata"]["name"]
            out[name] = {**(o["metadata"].get("labels") or {}), "kubernetes.io/metadata.name": name}
    return out


def sent_to_injector(
    obj: dict[str, Any], namespaces: dict[str, dict[str, str]], webhooks: tuple[dict[str, Any], ...]
) -> bool:
    """Whether a pod of this workload reaches istiod's injector (one of its webhooks matches)."""
    template = pod_template(obj)
    if template is None:
        return False
    ns = obj["metadata"].get("namespace") or "default"
    ns_labels = namespaces.get(ns, {"kubernetes.io/metadata.name": ns})
    pod_labels = (template.get("metadata") or {}).get("labels") or {}
    return any(
        _creates_pods(w)
        and selector_matches(w.get("namespaceSelector"), ns_labels)
        and selector_matches(w.get("objectSelector"), pod_labels)
        for w in webhooks
    )


# ---------------------------------------------------------------------------------------------------
# kube-inject


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace") or "default", obj["metadata"]["name"]


def _version(istioctl: Path) -> str:
    res = subprocess.run(
        [str(istioctl), "version", "--remote=false"], capture_output=True, text=True, check=False, timeout=60
    )
    return res.stdout.strip().removeprefix("client version: ") or "unknown"


def kube_inject(istioctl: Path, cfg: InjectorConfig, workloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`istioctl kube-inject` over `workloads` with `cfg`; the objects it returns, in order."""
    if not workloads:
        return []
    with tempfile.TemporaryDirectory(prefix="gpu-platform-inject-") as tmp:
        d = Path(tmp)
        (d / "config").write_text(cfg.config)
        (d / "values.json").write_text(cfg.values)
        (d / "mesh.yaml").write_text(cfg.mesh)
        (d / "in.yaml").write_text("---\n".join(kyaml.dump(w) for w in workloads))
        cmd = [
            str(istioctl),
            "kube-inject",
            "--filename",
            str(d / "in.yaml"),
            "--injectConfigFile",
            str(d / "config"),
            "--valuesFile",
            str(d / "values.json"),
            "--meshConfigFile",
            str(d / "mesh.yaml"),
            "--revision",
            "default",
        ]
        env = {**os.environ, "KUBECONFIG": os.devnull, "HOME": tmp}
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    if res.returncode != 0:
        raise InjectError(f"istioctl kube-inject: {res.stderr.strip()}")
    out = kyaml.load_all(res.stdout)
    if [key(o) for o in out] != [key(w) for w in workloads]:
        raise InjectError("istioctl kube-inject returned other objects than it was given")
    return out


def _clean(injected: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """Drop what kube-inject's serialiser adds to every object: `status: {}`, `creationTimestamp: null`."""
    if "status" not in original and not injected.get("status"):
        injected.pop("status", None)
    for meta in (injected.get("metadata"), ((injected.get("spec") or {}).get("template") or {}).get("metadata")):
        if isinstance(meta, dict) and meta.get("creationTimestamp") is None:
            meta.pop("creationTimestamp", None)
    return injected


def is_injected(obj: dict[str, Any]) -> bool:
    template = pod_template(obj) or {}
    return STATUS_ANNOTATION in ((template.get("metadata") or {}).get("annotations") or {})


def inject_objects(
    objects: list[dict[str, Any]], cfg: InjectorConfig | None, *, istioctl: Path | None = None
) -> Injection:
    """Inject every workload among `objects` that istiod's injector would get (module docstring)."""
    istioctl = istioctl or istioctl_binary()
    if cfg is None:
        return Injection(skipped="no rendered istiod release (istio-sidecar-injector and istio ConfigMaps)")
    if istioctl is None:
        return Injection(skipped=f"istioctl not found at {TOOLS_BIN / 'istioctl'}: {BUILD_ISTIOCTL}")
    namespaces = namespace_labels(objects)
    sent = [o for o in objects if sent_to_injector(o, namespaces, cfg.webhooks)]
    result = Injection(source=cfg.source, istioctl_version=_version(istioctl))
    for original, out in zip(sent, kube_inject(istioctl, cfg, sent), strict=True):
        if is_injected(out):
            result.injected[key(original)] = _clean(out, original)
        else:
            result.not_injected.append("{} {}/{}".format(*key(original)))
    return result


# ---------------------------------------------------------------------------------------------------
# what the injected pods must not carry


def init_containers_needing_net_admin(obj: dict[str, Any]) -> list[str]:
    """`istio-init` containers (or any init container) adding NET_ADMIN or NET_RAW: what Pod Security
    `restricted` refuses, and what Istio CNI replaces with the unprivileged `istio-validation`."""
    spec = (pod_template(obj) or {}).get("spec") or {}
    out = []
    for c in spec.get("initContainers") or []:
        added = set(((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or [])
        if c.get("name") == "istio-init" or added & {"NET_ADMIN", "NET_RAW"}:
            out.append(f"{c['name']} adds {sorted(added)}" if added else c["name"])
    return out
