"""The PrometheusRule objects the add-ons actually render (dev and prod plans) pass `promtool check rules`,
and hold exactly the platform groups whose alerts tests/promtool/test_rules_promtool.py unit-tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.observability.prometheus import rule_groups
from tests.component.addons_plan import addons_plan
from tests.promtool.promtool import platform_groups, run_promtool, write_rule_file
from tools.offline.artifacts import kubernetes_objects


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_prometheus_rules_pass_promtool(stack: str, tmp_path: Path) -> None:
    rules = [o for o in kubernetes_objects(addons_plan(stack)) if o["kind"] == "PrometheusRule"]
    assert [r["metadata"]["name"] for r in rules] == ["gpu-platform"]
    files = [write_rule_file(tmp_path / f"{r['metadata']['name']}.yaml", r["spec"]["groups"]).name for r in rules]
    result = run_promtool("check", "rules", *files, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # 3 GPU recording rules + 5 platform alerts, all loaded
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_groups())} rules found" in result.stdout
    assert sum(len(g["rules"]) for g in rule_groups()) == 8


def test_rendered_groups_are_the_unit_tested_ones() -> None:
    # The promtool fixtures prove each alert fires and stays silent for these very groups.
    assert rule_groups() == platform_groups()
