"""The drift issue text (tools/drift.py) rendered from fixtures in the shape of the Pulumi CLI's preview digest
(`--json` of `pulumi refresh --preview-only` and `pulumi preview`, pkg/backend/display/json.go)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.drift import main, title

FIX = Path(__file__).with_name("fixtures")


def test_issue_text_from_the_prod_fixture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "issue.md"
    code = main(
        ["--stack", "prod", "--refresh", str(FIX / "refresh-prod.json"), "--preview", str(FIX / "preview-prod.json")]
        + ["--run-url", "https://github.com/o/r/actions/runs/7", "--out", str(out)]
    )
    assert (code, capsys.readouterr().out) == (1, "Drift: stack prod\n")
    assert out.read_text() == (
        "<!-- gpu-platform:drift stack=prod -->\n"
        "## Drift in stack `prod`\n"
        "\n"
        "The cloud differs from what the stack's state and program say. Found by the scheduled drift check "
        "(.github/workflows/drift.yml) with read-only credentials; nothing was changed. "
        "[Run](https://github.com/o/r/actions/runs/7)\n"
        "\n"
        "### Changed outside Pulumi: 2 resource(s) (`pulumi refresh --preview-only`)\n"
        "\n"
        "| resource | type | change | properties |\n"
        "|---|---|---|---|\n"
        "| `gpu-prod-llama3-8b-lifecycle` | `aws:ecr/lifecyclePolicy:LifecyclePolicy` | deleted in the cloud |  |\n"
        "| `gpu-prod-system-ng` | `aws:eks/nodeGroup:NodeGroup` | update | `tags.owner`, `tagsAll.owner` |\n"
        "\n"
        "### What the next `pulumi up` would change: 2 resource(s) (`pulumi preview --expect-no-changes`)\n"
        "\n"
        "| resource | type | change | properties |\n"
        "|---|---|---|---|\n"
        "| `gpu-prod-llama3-8b-lifecycle` | `aws:ecr/lifecyclePolicy:LifecyclePolicy` | create |  |\n"
        "| `gpu-prod-system-ng` | `aws:eks/nodeGroup:NodeGroup` | update | `tags.owner` |\n"
        "\n"
        "To resolve: put the cloud back with `pulumi up -s prod` (the stack file is the source of truth), or adopt "
        "the change in the stack file and run `pulumi refresh -s prod`. Every run updates this issue; a run that "
        "finds no drift closes it (docs/drift.md).\n"
    )


def test_no_drift_writes_nothing_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "issue.md"
    code = main(
        ["--stack", "dev", "--refresh", str(FIX / "refresh-clean.json"), "--preview", str(FIX / "preview-clean.json")]
        + ["--out", str(out)]
    )
    assert (code, capsys.readouterr().out, out.exists()) == (0, "no drift in stack dev\n", False)


def test_a_file_that_is_not_a_digest_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("error: no stack named 'prod' found\n")
    code = main(["--stack", "prod", "--refresh", str(bad), "--preview", str(FIX / "preview-clean.json")])
    assert code == 2 and capsys.readouterr().err.startswith(f"error: {bad}: not readable JSON")


def test_one_title_per_stack_for_deduplication() -> None:
    assert title("alicloud-prod") == "Drift: stack alicloud-prod"
