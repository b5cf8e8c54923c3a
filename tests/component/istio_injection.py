"""What istiod's sidecar injector adds to a pod, derived from the values we give the istiod chart.

istiod renders its injection template (files/injection-template.yaml of the istiod chart) with the
injector's values, which it gets from the chart's `istio-sidecar-injector` ConfigMap. Istio's template
functions are not Helm's, so the template cannot be rendered offline; `injected()` restates the parts
that decide Pod Security: the init container (`istio-init` without CNI, `istio-validation` with it),
the proxy container's securityContext and the injected volumes, as the vendored 1.29 template has them.
`template_fingerprint()` lists the template lines this restatement relies on, so a chart whose template
differs fails a test instead of silently invalidating it.
"""

from __future__ import annotations

from typing import Any

from components import helm
from tests.component.vendored_charts import default_values, read

PROXY_UID = 1337

# Lines of files/injection-template.yaml (istiod chart 1.29) that `injected()` restates.
TEMPLATE_LINES = (
    "{{ if .Values.pilot.cni.enabled -}}\n  - name: istio-validation\n  {{ else -}}\n  - name: istio-init",
    "    {{- if not .Values.pilot.cni.enabled }}\n        add:\n        - NET_ADMIN\n        - NET_RAW\n    {{- end }}",
    "    {{- if not .Values.pilot.cni.enabled }}\n      readOnlyRootFilesystem: false\n      runAsGroup: 0\n"
    "      runAsNonRoot: false\n      runAsUser: 0\n    {{- else }}\n      readOnlyRootFilesystem: true",
    "      allowPrivilegeEscalation: {{ .Values.global.proxy.privileged }}\n      privileged: "
    "{{ .Values.global.proxy.privileged }}",
    "        {{ if or $tproxy $capNetBindService -}}\n        add:",
)


def template_fingerprint() -> list[str]:
    """The TEMPLATE_LINES missing from the vendored istiod chart's injection template (empty: all there)."""
    text = read("istiod", "files/injection-template.yaml")
    return [line for line in TEMPLATE_LINES if line not in text]


def injector_values(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values the injector sees: the vendored chart's defaults, our values (charts/values/istiod.yaml
    plus `overrides`) over them, `pilot.*` copied to the top (templates/zzy_descope_legacy.yaml), and
    `pilot` = the top-level `cni` and `env` (templates/istiod-injector-configmap.yaml)."""
    ours = helm.values("istiod", overrides)
    merged = helm.deep_merge(default_values("istiod"), ours)
    merged = helm.deep_merge(merged, ours.get("pilot", {}))
    merged["pilot"] = {k: merged[k] for k in ("cni", "env") if k in merged}
    return merged


def injected(values: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    """The parts of a pod spec the injector adds for a pod with `annotations` (interception mode REDIRECT
    unless annotated): {"initContainers": [...], "containers": [...], "volumes": [...]}."""
    proxy = values["global"]["proxy"]
    privileged = bool(proxy.get("privileged", False))
    mesh_default = values.get("meshConfig", {}).get("defaultConfig", {})
    mode = annotations.get("sidecar.istio.io/interceptionMode", mesh_default.get("interceptionMode", "REDIRECT"))
    tproxy = mode == "TPROXY"
    cap_bind = annotations.get("sidecar.istio.io/capNetBindService", str(proxy.get("capNetBindService", ""))) == "true"
    trace = mesh_default.get("proxyMetadata", {}).get("IPTABLES_TRACE_LOGGING") == "true"
    cni = bool(values["pilot"]["cni"]["enabled"])
    seccomp = proxy.get("seccompProfile") or None

    init: list[dict[str, Any]] = []
    if mode != "NONE":
        if cni:
            sc: dict[str, Any] = {
                "allowPrivilegeEscalation": privileged,
                "privileged": privileged,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": True,
                "runAsGroup": PROXY_UID,
                "runAsUser": PROXY_UID,
                "runAsNonRoot": True,
            }
        else:
            sc = {
                "allowPrivilegeEscalation": privileged,
                "privileged": privileged,
                "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                "readOnlyRootFilesystem": False,
                "runAsGroup": 0,
                "runAsNonRoot": False,
                "runAsUser": 0,
            }
        if seccomp:
            sc["seccompProfile"] = seccomp
        init.append({"name": "istio-validation" if cni else "istio-init", "securityContext": sc})

    if trace:
        proxy_sc: dict[str, Any] = {
            "allowPrivilegeEscalation": True,
            "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
            "privileged": True,
            "readOnlyRootFilesystem": True,
            "runAsGroup": PROXY_UID,
            "runAsNonRoot": False,
            "runAsUser": 0,
        }
    else:
        add = (["NET_ADMIN"] if tproxy else []) + (["NET_BIND_SERVICE"] if cap_bind else [])
        proxy_sc = {
            "allowPrivilegeEscalation": privileged,
            "capabilities": {"drop": ["ALL"], **({"add": add} if add else {})},
            "privileged": privileged,
            "readOnlyRootFilesystem": True,
        }
        if tproxy or cap_bind:
            proxy_sc |= {"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": PROXY_UID}
        else:
            proxy_sc |= {"runAsNonRoot": True, "runAsUser": PROXY_UID, "runAsGroup": PROXY_UID}
    if seccomp:
        proxy_sc["seccompProfile"] = seccomp
    volumes = [
        {"name": n, "emptyDir": {}}
        for n in ("workload-socket", "credential-socket", "workload-certs", "istio-envoy", "istio-data")
    ] + [
        {"name": "istio-podinfo", "downwardAPI": {}},
        {"name": "istio-token", "projected": {}},
        {"name": "istiod-ca-cert", "configMap": {}},
    ]
    return {
        "initContainers": init,
        "containers": [{"name": "istio-proxy", "securityContext": proxy_sc}],
        "volumes": volumes,
    }


def with_sidecar(pod_spec: dict[str, Any], annotations: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
    """`pod_spec` as the injector leaves it."""
    add = injected(values, annotations)
    out = dict(pod_spec)
    for key in ("initContainers", "containers", "volumes"):
        out[key] = [*add[key], *(pod_spec.get(key) or [])]
    return out
