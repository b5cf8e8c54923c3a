"""Pod Security Standards, checked in Python on pod specs (dicts as the API server receives them).

The `baseline` and `restricted` profiles as the Kubernetes documentation defines them (Pod Security
Standards, policy version latest as of Kubernetes 1.34): `violations(spec, level)` lists what the
built-in Pod Security admission would refuse in a namespace enforcing `level`. Only the pod spec is
judged, like the admission controller does for the pod templates of workloads (it warns on those
and rejects the pods they create).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

Level = Literal["privileged", "baseline", "restricted"]

# baseline: capabilities a container may add (the container runtimes' defaults).
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
# restricted: the only volume types allowed.
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _baseline(spec: dict[str, Any]) -> Iterator[str]:
    pod_sc = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"{field}: true"
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        yield "pod windowsOptions.hostProcess"
    for v in spec.get("volumes") or []:
        if "hostPath" in v:
            yield f"volume {v.get('name')}: hostPath {v['hostPath'].get('path')}"
    for s in pod_sc.get("sysctls") or []:
        if s.get("name") not in SAFE_SYSCTLS:
            yield f"sysctl {s.get('name')}"
    if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        yield "pod seccompProfile Unconfined"
    if (pod_sc.get("appArmorProfile") or {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
        yield "pod appArmorProfile"
    se = pod_sc.get("seLinuxOptions") or {}
    if se.get("type", "") not in SELINUX_TYPES or se.get("user") or se.get("role"):
        yield f"pod seLinuxOptions {se}"
    for c in containers(spec):
        name = c.get("name")
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            yield f"container {name}: privileged"
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            yield f"container {name}: windowsOptions.hostProcess"
        added = set((sc.get("capabilities") or {}).get("add") or [])
        if added - BASELINE_CAPABILITIES:
            yield f"container {name}: adds capabilities {sorted(added - BASELINE_CAPABILITIES)}"
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                yield f"container {name}: hostPort {p['hostPort']}"
        if sc.get("procMount") not in (None, "Default"):
            yield f"container {name}: procMount {sc['procMount']}"
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            yield f"container {name}: seccompProfile Unconfined"
        if (sc.get("appArmorProfile") or {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
            yield f"container {name}: appArmorProfile"
        se = sc.get("seLinuxOptions") or {}
        if se.get("type", "") not in SELINUX_TYPES or se.get("user") or se.get("role"):
            yield f"container {name}: seLinuxOptions {se}"


def _restricted(spec: dict[str, Any]) -> Iterator[str]:
    pod_sc = spec.get("securityContext") or {}
    for v in spec.get("volumes") or []:
        kinds = set(v) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            yield f"volume {v.get('name')}: type {sorted(kinds - RESTRICTED_VOLUMES)}"
    if pod_sc.get("runAsUser") == 0:
        yield "pod runAsUser: 0"
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost")
    for c in containers(spec):
        name = c.get("name")
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"container {name}: allowPrivilegeEscalation is not false"
        if sc.get("runAsNonRoot") is False or (sc.get("runAsNonRoot") is not True and not pod_non_root):
            yield f"container {name}: runAsNonRoot is not true"
        if sc.get("runAsUser") == 0:
            yield f"container {name}: runAsUser: 0"
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is None and not pod_seccomp or seccomp not in (None, "RuntimeDefault", "Localhost"):
            yield f"container {name}: no RuntimeDefault or Localhost seccomp profile"
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"container {name}: does not drop ALL capabilities"
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            yield f"container {name}: adds {sorted(set(caps['add']) - {'NET_BIND_SERVICE'})}"


def violations(spec: dict[str, Any], level: Level) -> list[str]:
    """What Pod Security admission enforcing `level` refuses in `spec` (empty: admitted)."""
    if level == "privileged":
        return []
    found = list(_baseline(spec))
    if level == "restricted":
        found += list(_restricted(spec))
    return found


def may_run_as_root(spec: dict[str, Any]) -> list[str]:
    """Containers that run as UID 0 or may (no runAsNonRoot and no non-zero runAsUser: the image
    decides), or run privileged."""
    pod_sc = spec.get("securityContext") or {}
    out = []
    for c in containers(spec):
        sc = c.get("securityContext") or {}
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if sc.get("privileged") or user == 0 or (non_root is not True and user is None):
            out.append(c.get("name", "?"))
    return out


POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload object (Pod, Deployment, ..., CronJob), None for other kinds."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj.get("spec") or {}
    if kind in POD_TEMPLATE_KINDS:
        return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    if kind == "CronJob":
        job = ((obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
        return (job.get("template") or {}).get("spec") or {}
    return None
