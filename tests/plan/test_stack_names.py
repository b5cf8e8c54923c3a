"""Fully qualified stack names on each backend (docs/design.md#real-path).

On a self-managed backend (S3, OSS, local file) the organization part of `<organization>/<project>/<stack>`
must be the literal `organization` (pulumi/pulumi pkg/backend/diy/store.go ParseReference: "organization
name must be 'organization'"); Pulumi Cloud takes the real organization. The docs show the self-managed
form and say where the Cloud form applies; the offline StackReference fixtures answer both.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stacks.spec.errors import ConfigError
from tests.conftest import Plan
from tests.spec_helpers import raw_stack
from tools.offline import reference_outputs, stack_outputs
from tools.offline.config import PROJECT_DIR, config_from_raw
from tools.offline.recording import PlanMocks, RecordingMonitor
from tools.offline.runner import run_stack

STACK_NAME = re.compile(r"([A-Za-z0-9<>_.-]+)/gpu-platform/[A-Za-z0-9<>_.-]+")


@pytest.mark.parametrize("name", ["organization/gpu-platform/dev", "acme/gpu-platform/dev", "organization/dev", "dev"])
def test_every_form_a_backend_accepts_reads_the_same_fixture(name: str) -> None:
    assert reference_outputs.reference_key(name, "gpu-platform") == "gpu-platform+dev"
    assert reference_outputs.fixture_path(name, "gpu-platform").is_file()


@pytest.mark.parametrize("name", ["a/b/c/d", "organization//dev", ""])
def test_what_no_backend_accepts_is_refused(name: str) -> None:
    with pytest.raises(KeyError, match="is not a stack name"):
        reference_outputs.reference_key(name, "gpu-platform")


def test_short_names_need_the_current_project() -> None:
    with pytest.raises(KeyError, match="names no project"):
        reference_outputs.load("dev")


def test_a_models_only_stack_naming_the_self_managed_form_plans_offline() -> None:
    for name in ("organization/gpu-platform/dev", "acme/gpu-platform/dev"):
        raw = {**raw_stack("models-dev"), "clusterStack": name}
        p = Plan(run_stack("layered", config=config_from_raw(raw, "layered")))
        ref = p.one("pulumi:pulumi:StackReference")
        assert ref["inputs"]["name"] == name


def test_outputs_given_under_one_form_answer_a_reference_in_the_other() -> None:
    outputs = stack_outputs.load("organization/gpu-platform/dev")
    small = {"clusterFacts": {**outputs["clusterFacts"], "pools": []}}
    raw = {**raw_stack("models-dev"), "clusterStack": "organization/gpu-platform/dev"}
    with pytest.raises(ConfigError) as err:  # the given outputs were read, not the fixture
        run_stack(
            "layered",
            config=config_from_raw(raw, "layered"),
            monitor=RecordingMonitor(PlanMocks({"acme/gpu-platform/dev": small})),
        )
    assert err.value.problems == [
        "gpu-platform:clusterStack: clusterFacts of organization/gpu-platform/dev: gpu-platform:nodePools: needs "
        "at least 1 item(s), got 0"
    ]


def _blocks(text: str) -> list[str]:
    return re.split(r"\n\s*\n", text)


def test_docs_show_the_self_managed_form_and_the_cloud_form_only_where_they_say_so() -> None:
    bad: list[str] = []
    for path in [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]:
        for block in _blocks(path.read_text()):
            for m in STACK_NAME.finditer(block):
                org = m.group(1)
                if org not in ("organization", "<organization>") and "Pulumi Cloud" not in block:
                    bad.append(f"{Path(path).name}: {m.group(0)}")
    assert bad == [], (
        "stack names whose organization is not the literal `organization` fail on the self-managed backends "
        "the docs describe; use organization/<project>/<stack> or say the name is for Pulumi Cloud"
    )


def test_both_forms_are_documented() -> None:
    for doc in ("deploying.md", "reuse.md"):
        text = (PROJECT_DIR / "docs" / doc).read_text()
        assert "organization/gpu-platform/dev" in text and "acme/gpu-platform/dev" in text
        assert "organization name must be 'organization'" in text and "Pulumi Cloud" in text
