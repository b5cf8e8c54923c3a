"""Pinned Helm charts from charts/pins.yaml with base values from charts/values/<addon>.yaml.

Components never name a chart version themselves: they ask for an add-on, pass typed overrides, and
get a release whose values are the base values deep-merged with the overrides, keys sorted so a
reordering never shows as a diff.

Release vs Chart (docs/design.md#helm-release-vs-chart): `release()` gives a `helm.v3.Release` — Helm
hooks, rollback and release history, one opaque values blob in `pulumi preview`; `chart()` gives a
`helm.v4.Chart` — every object diffed on its own in `pulumi preview`, no hooks. Each component says which it
uses and why.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
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
    p = pin(addon)
    return k8s.helm.v3.Release(
        name,
        name=name,
        chart=p.chart,
        version=p.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=p.repo),
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
    p = pin(addon)
    return k8s.helm.v4.Chart(
        name,
        chart=p.chart,
        version=p.version,
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=p.repo),
        namespace=namespace,
        values=values(addon, overrides),
        opts=opts,
    )
