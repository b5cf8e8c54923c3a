"""tools.pr_diff on real commits of this repo, made in a temporary clone (never in this checkout's history).

Commit 1: the clone's HEAD. Commit 2: dev's GPU pool may grow to 4 nodes, and the network component is
renamed with an alias (the stable-names contract: a rename, not a replacement). Commit 3: the prod stack
file is removed, so every protected prod resource would be deleted and the job must fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from components.gpu.catalog import catalog
from tools.offline.diff import diff_plans
from tools.offline.runner import PROJECT_DIR
from tools.pr_diff import MARKER

# Two stacks keep the runs short; without --stack every stack file is planned (the workflow does that).
ONLY = ("--stack", "dev", "--stack", "prod")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


# One plan cache for the module: the tests diff the same commits several times (and the cache is a
# feature under test too: a rerun must give the same comment).
_CACHE = Path(tempfile.mkdtemp(prefix="pr-diff-cache-"))


def _pr_diff(repo: Path, base: str, head: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.pr_diff",
            "--repo",
            str(repo),
            "--base",
            base,
            "--head",
            head,
            "--plan-cache",
            str(_CACHE),
            *extra,
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def commits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    repo = tmp_path_factory.mktemp("clone") / "repo"
    _git(PROJECT_DIR, "clone", "--quiet", str(PROJECT_DIR), str(repo))
    _git(repo, "config", "user.email", "test@example.invalid")
    _git(repo, "config", "user.name", "pr-diff test")
    shas = [_git(repo, "rev-parse", "HEAD")]

    dev = repo / "Pulumi.dev.yaml"
    text = dev.read_text()
    assert (
        "    - name: gpu-l4\n      instanceTypes: [g6.xlarge, g6.2xlarge]\n      minSize: 0\n      maxSize: 2" in text
    )
    dev.write_text(text.replace("      minSize: 0\n      maxSize: 2", "      minSize: 0\n      maxSize: 4"))
    aws = repo / "stacks" / "cluster" / "aws.py"
    code = aws.read_text()
    call = "    network = AwsNetwork(\n        name,\n"
    assert code.count(call) == 1 and code.count("        opts=opts,\n    )\n    endpoint") == 1
    code = code.replace(call, '    network = AwsNetwork(\n        f"{name}-net",\n')
    code = code.replace(
        "        opts=opts,\n    )\n    endpoint",
        "        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(\n"
        "            aliases=[pulumi.Alias(name=name)])),\n    )\n    endpoint",
    )
    aws.write_text(code)
    _git(repo, "commit", "--quiet", "-am", "dev GPU pool up to 4 nodes; network component renamed with an alias")
    shas.append(_git(repo, "rev-parse", "HEAD"))

    _git(repo, "rm", "--quiet", "Pulumi.prod.yaml")
    _git(repo, "commit", "--quiet", "-m", "drop the prod stack file")
    shas.append(_git(repo, "rev-parse", "HEAD"))
    return repo, shas


@pytest.fixture(scope="module")
def rename_run(commits: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo, shas = commits
    keep = tmp_path_factory.mktemp("plans")
    res = _pr_diff(repo, shas[0], shas[1], "--keep-plans", str(keep), "--fail-on-stateful-delete", *ONLY)
    plans = {
        side: {s: json.loads((keep / side / s / "plan.json").read_text()) for s in ("dev", "prod")}
        for side in ("base", "head")
    }
    return {"res": res, "plans": plans}


def test_comment_covers_every_stack_and_exits_0(commits: tuple[Path, list[str]], rename_run: dict[str, Any]) -> None:
    res = rename_run["res"]
    assert res.returncode == 0, res.stderr
    body: str = res.stdout
    _, shas = commits
    assert body.startswith(
        f"{MARKER}\n## Offline plan diff\n\nBase `{shas[0][:12]}` → head `{shas[1][:12]}`, 2 stack(s)."
    )
    assert body.index("### Stack `dev`") < body.index("### Stack `prod`")
    assert "[!CAUTION]" not in body


def test_renamed_component_is_a_rename_not_a_replacement(rename_run: dict[str, Any]) -> None:
    for stack in ("dev", "prod"):
        base, head = rename_run["plans"]["base"][stack], rename_run["plans"]["head"][stack]
        d = diff_plans(base, head)
        ops = {c.op for c in d.changes}
        assert "create" not in ops and "delete" not in ops, stack
        renamed = {c.name for c in d.changes if c.op == "rename"}
        network = next(r for r in head["resources"] if r["type"] == "gpu-platform:aws:Network")
        children = {r["name"] for r in head["resources"] if r["parent"] == network["urn"]}
        assert renamed == {f"gpu-{stack}-net"} | children
        assert f"gpu-{stack}-net-vpc" in children
        vpc = next(c for c in d.changes if c.type == "aws:ec2/vpc:Vpc")
        assert vpc.old_urn.endswith(f"gpu-platform:aws:Network$aws:ec2/vpc:Vpc::gpu-{stack}-vpc")
        assert vpc.paths == []  # same inputs: nothing but the name moved
    body = rename_run["res"].stdout
    assert "| > rename | gpu-dev-net-vpc | `aws:ec2/vpc:Vpc` |  |" in body
    assert "#### gpu-dev-net `gpu-platform:aws:Network`" in body


def test_capacity_and_cost_deltas_from_the_capacity_output(rename_run: dict[str, Any]) -> None:
    body: str = rename_run["res"].stdout
    dev = body[body.index("### Stack `dev`") : body.index("### Stack `prod`")]
    assert "| GPUs at max size | 2 | 4 | +2 |" in dev
    assert "| GPUs at min size | 0 | 0 | = |" in dev
    price = catalog().instance("aws", "g6.xlarge").price_usd_per_hour  # pyright: ignore[reportOptionalMemberAccess]
    assert price is not None
    base_max = rename_run["plans"]["base"]["dev"]["outputs"]["capacity"]["usdPerHourAtMax"]
    assert re.search(
        rf"\| \$/h at max size \| \${base_max:,.2f} \| \${base_max + 2 * price:,.2f} \| "
        rf"\+\${2 * price:,.2f} \|",
        dev,
    ), dev
    assert "| gpu-l4 | l4 | 0–2 → 0–4 |" in dev
    prod = body[body.index("### Stack `prod`") :]
    assert "| GPUs at max size |" in prod and "| pool |" not in prod  # no pool changed in prod


def test_removed_stateful_resources_fail_loudly(commits: tuple[Path, list[str]]) -> None:
    repo, shas = commits
    res = _pr_diff(repo, shas[1], shas[2], "--fail-on-stateful-delete", *ONLY)
    assert res.returncode == 3
    assert "WARNING: a protected or stateful resource would be deleted" in res.stderr
    body = res.stdout
    m = re.search(r"> \*\*(\d+) protected or stateful resource\(s\) would be deleted\.\*\*", body)
    assert m is not None and int(m.group(1)) >= 4  # prod: cluster, 2 KMS keys, control-plane log group
    assert "_stack file removed: every resource is a delete_" in body
    assert "| - delete | gpu-prod | `aws:eks/cluster:Cluster` |" not in body  # flagged, not a bare delete
    assert re.search(
        r"\| - delete \| gpu-prod\S*  \[PROTECTED STATEFUL: data would be lost\] \| "
        r"`aws:eks/cluster:Cluster` \|",
        body,
    ), body
    dev = body[body.index("### Stack `dev`") : body.index("### Stack `prod`")]
    assert "**no changes**" in dev
    # Without the flag the same diff (now from the plan cache) is reported but does not fail the job.
    again = _pr_diff(repo, shas[1], shas[2], *ONLY)
    assert again.returncode == 0 and again.stdout == body


def test_default_base_is_the_merge_base_with_origin_main(commits: tuple[Path, list[str]]) -> None:
    repo, shas = commits
    from tools.pr_diff import default_base

    # The clone's origin/main is commit 1; its checked-out branch has moved on to commit 3.
    assert _git(repo, "rev-parse", "HEAD") == shas[2]
    assert default_base(repo) == shas[0]
