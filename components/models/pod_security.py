"""The restricted Pod Security settings every model pod, weights fetcher and cache Job runs with.

One UID for the server, the fetcher and the cache Job, so the files the fetcher writes (and the claims the
servers mount) belong to the process that reads them (docs/model-weights.md).
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

RUN_AS = 10001
CACHE_MOUNT = "/models/cache"  # where a model's shared cache is mounted (read-only in servers)


def container_security() -> k8s.core.v1.SecurityContextArgs:
    """Non-root, read-only root filesystem, no privilege escalation, every capability dropped, RuntimeDefault."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        run_as_user=RUN_AS,
        run_as_group=RUN_AS,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def pod_security() -> k8s.core.v1.PodSecurityContextArgs:
    """The pod-level half: the same UID/GID, fsGroup so mounted volumes are writable by it, RuntimeDefault."""
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=RUN_AS,
        run_as_group=RUN_AS,
        fs_group=RUN_AS,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )
