"""Pinned Helm charts from charts/pins.yaml with base values from charts/values/<addon>.yaml.

Components never name a chart version themselves: they ask for an add-on, pass typed overrides, and
get a release whose values are the base values deep-merged with the overrides, keys sorted so a
reordering never shows as a diff.

Release vs Chart (docs/design.md#helm-release-vs-chart): `release()` gives a `helm.v3.Release` — Helm
hooks, rollback and release history, one opaque values blob in `pulumi preview`; `chart()` gives a
`helm.v4.Chart` — every object diffed on its own in `pulumi preview`, no hooks. Each component says which it
uses and why.

Chart source: by default every chart comes from its pin's repository. A stack may name one other source
for all of them — a mirror or OCI registry with the same charts and versions, or a local directory of
pulled `<chart>-<version>.tgz` files (air-gapped clusters): the program sets it around the platform layer
with `with chart_source(ChartSource(...)):`, and `release()` / `chart()` take their charts from there.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

CHARTS_DIR = Path(__file__).resolve().parents[1] / "charts"


@dataclass(frozen=True, slots=True)
class ChartPin:
    addon: str
    repo: str
    chart: str
    version: str
    app_version: str
    checked: str


@functools.cache
def pins() -> dict[str, ChartPin]:
    raw: dict[str, dict[str, str]] = yaml.safe_load((CHARTS_DIR / "pins.yaml").read_text()) or {}
    out: dict[str, ChartPin] = {}
    for addon, p in raw.items():
        missing = [k for k in ("repo", "chart", "version", "appVersion", "checked") if not p.get(k)]
        if missing:
            raise ValueError(f"charts/pins.yaml: {addon} lacks {', '.join(missing)}")
        out[addon] = ChartPin(addon, p["repo"], p["chart"], str(p["version"]), str(p["appVersion"]), p["checked"])
    return out


def pin(addon: str) -> ChartPin:
    try:
        return pins()[addon]
    except KeyError:
        raise KeyError(f"no chart pin for {addon!r} in charts/pins.yaml; pinned: {', '.join(sorted(pins()))}") from None


@dataclass(frozen=True, slots=True)
class ChartSource:
    """Where every pinned chart comes from instead of its pin's repository: exactly one of `repository`
    (an https Helm repository or an `oci://` registry path serving the pinned charts and versions) and
    `directory` (a local directory of `<chart>-<version>.tgz` files, as `helm pull` saves them)."""

    repository: str | None = None
    directory: str | None = None

    def __post_init__(self) -> None:
        if (self.repository is None) == (self.directory is None):
            raise ValueError("ChartSource: give exactly one of repository and directory")
        if self.repository is not None and not self.repository.startswith(("https://", "oci://")):
            raise ValueError(f"ChartSource.repository: {self.repository!r} is no https:// or oci:// URL")


@dataclass(frozen=True, slots=True)
class ChartLocation:
    """What the Helm resources are given: `repo` None when `chart` is an OCI reference or a local path."""

    chart: str
    version: str
    repo: str | None


_SOURCE: ContextVar[ChartSource | None] = ContextVar("gpu_platform_chart_source", default=None)


@contextlib.contextmanager
def chart_source(source: ChartSource | None) -> Iterator[None]:
    """Within the block, `release()` and `chart()` take every chart from `source` (None: the pins')."""
    token = _SOURCE.set(source)
    try:
        yield
    finally:
        _SOURCE.reset(token)


def locate(p: ChartPin, source: ChartSource | None = None) -> ChartLocation:
    """Where the pinned chart `p` comes from: `source`, else the one set by `chart_source`, else its pin."""
    src = source or _SOURCE.get()
    if src is None:
        if p.repo.startswith("oci://"):  # an OCI registry has no index: the chart is a reference (Karpenter)
            return ChartLocation(f"{p.repo.rstrip('/')}/{p.chart}", p.version, None)
        return ChartLocation(p.chart, p.version, p.repo)
    if src.directory is not None:
        d = src.directory.rstrip("/") or "/"
        # Helm reads a chart name as a local path only when it is absolute or starts with '.'.
        if not d.startswith(("/", ".")):
            d = f"./{d}"
        return ChartLocation(f"{d.rstrip('/')}/{p.chart}-{p.version}.tgz", p.version, None)
    assert src.repository is not None
    repo = src.repository.rstrip("/")
    if repo.startswith("oci://"):
        return ChartLocation(f"{repo}/{p.chart}", p.version, None)
    return ChartLocation(p.chart, p.version, repo)


@functools.cache
def _base_values(addon: str) -> str:
    path = CHARTS_DIR / "values" / f"{addon}.yaml"
    return json.dumps(yaml.safe_load(path.read_text()) or {} if path.exists() else {})


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge recursively; anything else (lists included) in `override` replaces `base`."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def values(addon: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Base values of `addon` merged with `overrides`, with sorted keys at every level."""
    merged = deep_merge(json.loads(_base_values(addon)), overrides or {})
    return json.loads(json.dumps(merged, sort_keys=True))


def release(
    name: str,
    addon: str,
    *,
    namespace: str,
    overrides: Mapping[str, Any] | None = None,
    opts: pulumi.ResourceOptions | None = None,
    create_namespace: bool = False,
) -> k8s.helm.v3.Release:
    at = locate(pin(addon))
    return k8s.helm.v3.Release(
        name,
        name=name,
        chart=at.chart,
        version=at.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=at.repo) if at.repo else None,
        namespace=namespace,
        create_namespace=create_namespace,
        values=values(addon, overrides),
        atomic=True,  # a failed upgrade rolls back instead of leaving a half-applied release
        cleanup_on_fail=True,
        max_history=10,
        timeout=900,
        opts=opts,
    )


def chart(
    name: str,
    addon: str,
    *,
    namespace: str,
    overrides: Mapping[str, Any] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.helm.v4.Chart:
    at = locate(pin(addon))
    return k8s.helm.v4.Chart(
        name,
        chart=at.chart,
        version=at.version,
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=at.repo) if at.repo else None,
        namespace=namespace,
        values=values(addon, overrides),
        opts=opts,
    )
