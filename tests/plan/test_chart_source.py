"""`addons.chartSource` (docs/addons.md#chart-source): every Helm release and chart of a stack comes from
the configured mirror, OCI registry or local directory instead of charts/pins.yaml's repositories, at
the pinned chart name and version; without it nothing changes. Through components/helm.py (unit) and
the real program under the recording monitor (every release of the dev stack, cluster-autoscaler
included)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from components import helm
from tests.conftest import Plan, plan_of
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import config_from_raw
from tools.offline.runner import run_stack

RELEASE = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"
PIN = helm.pin("istiod")


def _helm(p: Plan) -> list[dict[str, Any]]:
    return sorted(p.of_type(RELEASE) + p.of_type(CHART), key=lambda r: r["urn"])


def _where(r: dict[str, Any]) -> tuple[str, str, str | None]:
    inputs = r["inputs"]
    return inputs["chart"], inputs["version"], (inputs.get("repositoryOpts") or {}).get("repo")


def _pin_of(r: dict[str, Any], default: Plan) -> helm.ChartPin:
    """The pin a release of the mirrored plan stands for: the same URN in the default plan names it."""
    [same] = [d for d in _helm(default) if d["urn"].split("::", 1)[1] == r["urn"].split("::", 1)[1]]
    chart, version, repo = _where(same)
    [p] = [p for p in helm.pins().values() if (p.chart, p.version, p.repo) == (chart, version, repo)]
    return p


@pytest.mark.parametrize(
    ("source", "where"),
    [
        (None, (PIN.chart, PIN.version, PIN.repo)),
        (
            helm.ChartSource(repository="https://charts.mirror.example.com/"),
            (PIN.chart, PIN.version, "https://charts.mirror.example.com"),
        ),
        (
            helm.ChartSource(repository="oci://registry.example.com/charts"),
            (f"oci://registry.example.com/charts/{PIN.chart}", PIN.version, None),
        ),
        (helm.ChartSource(directory="/srv/charts/"), (f"/srv/charts/{PIN.chart}-{PIN.version}.tgz", PIN.version, None)),
        (
            helm.ChartSource(directory="../shared/charts"),
            (f"../shared/charts/{PIN.chart}-{PIN.version}.tgz", PIN.version, None),
        ),
        (helm.ChartSource(directory="mirror"), (f"./mirror/{PIN.chart}-{PIN.version}.tgz", PIN.version, None)),
    ],
)
def test_locate(source: helm.ChartSource | None, where: tuple[str, str, str | None]) -> None:
    assert dataclasses.astuple(helm.locate(PIN, source)) == where


def test_the_source_holds_only_inside_its_block() -> None:
    mirror = helm.ChartSource(repository="https://charts.mirror.example.com")
    with helm.chart_source(mirror):
        assert helm.locate(PIN).repo == "https://charts.mirror.example.com"
        with helm.chart_source(None):
            assert helm.locate(PIN).repo == PIN.repo
    assert helm.locate(PIN).repo == PIN.repo


@pytest.mark.parametrize("bad", [{}, {"repository": "https://a", "directory": "/b"}, {"repository": "http://a"}])
def test_a_chart_source_names_one_https_oci_or_local_place(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        helm.ChartSource(**bad)


def _mirrored(source: dict[str, str]) -> Plan:
    return Plan(
        run_stack(
            "mirrored", config=config_from_raw(mutate(raw_stack("dev"), "addons.chartSource", source), "mirrored")
        )
    )


def test_every_release_and_chart_comes_from_the_mirror() -> None:
    default, mirrored = plan_of("dev"), _mirrored({"repository": "https://charts.mirror.example.com"})
    assert len(_helm(mirrored)) == len(_helm(default)) >= 10 and mirrored.of_type(CHART)
    for r in _helm(mirrored):
        p = _pin_of(r, default)
        assert _where(r) == (p.chart, p.version, "https://charts.mirror.example.com"), r["urn"]


def test_every_release_and_chart_comes_from_the_local_directory() -> None:
    default, local = plan_of("dev"), _mirrored({"directory": "../shared/charts"})
    for r in _helm(local):
        p = _pin_of(r, default)
        assert _where(r) == (f"../shared/charts/{p.chart}-{p.version}.tgz", p.version, None), r["urn"]
        assert "repositoryOpts" not in r["inputs"]


def test_without_a_source_the_pins_repositories_are_used() -> None:
    for r in _helm(plan_of("dev")):
        chart, version, repo = _where(r)
        assert (chart, version, repo) in {(p.chart, p.version, p.repo) for p in helm.pins().values()}
