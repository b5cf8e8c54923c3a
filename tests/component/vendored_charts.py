"""Read the vendored upstream charts in ../shared/charts (test data; ../shared/charts/README.md).

Only reads files out of the packaged charts: the default values a key must exist in, and template text.
Nothing is rendered here; tests that render use Helm from .tools/bin when it is there.
"""

from __future__ import annotations

import functools
import tarfile
from pathlib import Path
from typing import Any

import yaml

from components.helm import pin
from tools.offline.runner import PROJECT_DIR

CHARTS_DIR = PROJECT_DIR.parent / "shared" / "charts"
# ../shared/charts/README.md: the Istio charts there are 1.29.6 while charts/pins.yaml pins 1.29.8; a
# test reading them accepts that patch-level difference for Istio only.
_ISTIO_VENDORED = "1.29.6"
_ISTIO_CHARTS = {"base", "istiod", "gateway", "cni"}


def archive(addon: str) -> Path:
    """The vendored package of `addon`'s pinned chart (Istio: the vendored 1.29 patch release)."""
    p = pin(addon)
    version = _ISTIO_VENDORED if p.chart in _ISTIO_CHARTS and p.version.startswith("1.29.") else p.version
    path = CHARTS_DIR / f"{p.chart}-{version}.tgz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is not vendored: add the {p.chart} {version} chart to ../shared/charts")
    return path


@functools.cache
def read(addon: str, member: str) -> str:
    """The text of `member` (path inside the chart directory, e.g. 'values.yaml') of `addon`'s chart."""
    chart = pin(addon).chart
    with tarfile.open(archive(addon)) as tgz:
        f = tgz.extractfile(f"{chart}/{member}")
        assert f is not None, f"{chart}/{member} is not a file in {archive(addon).name}"
        return f.read().decode()


def default_values(addon: str) -> dict[str, Any]:
    """The chart's values.yaml; Istio's `_internal_defaults_do_not_set` wrapper is unwrapped."""
    values: dict[str, Any] = yaml.safe_load(read(addon, "values.yaml")) or {}
    return values.get("_internal_defaults_do_not_set", values)


def has_key(values: dict[str, Any], path: str) -> bool:
    """Whether the dotted `path` (e.g. 'prometheus.podDisruptionBudget.enabled') exists in `values`."""
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
