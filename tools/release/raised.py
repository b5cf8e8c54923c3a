"""`python -m tools.release raised --base SHA [--head SHA]`: the releases a merged change started.

A model whose candidate weight rose between the two commits (or whose new candidate got a weight), and
that has an `analysis:` block, is one the loop should run for: .github/workflows/release-run.yml feeds
this JSON list ([{"stack": ..., "model": ...}]) to its job matrix on every merged pull request.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.release.errors import ReleaseError
from tools.release.stackfile import StackFile, traffic_of, weight_of


def _git(project_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(project_dir), *args], capture_output=True, timeout=60, check=False)


def _stack_file(project_dir: Path, rev: str, name: str) -> StackFile | None:
    res = _git(project_dir, "show", f"{rev}:{name}")
    if res.returncode != 0:
        return None
    try:
        return StackFile.parse(project_dir / name, res.stdout)
    except ReleaseError as err:
        print(f"{rev[:12]} {err.message.removeprefix('error: ')}; skipped", file=sys.stderr)
        return None


def _weights(sf: StackFile | None) -> dict[str, tuple[str, int]]:
    """model -> (candidate, weight) for the models that have a candidate with a valid weight."""
    out: dict[str, tuple[str, int]] = {}
    if sf is None:
        return out
    for m in sf.models():
        try:
            t = traffic_of(sf, m)
        except ReleaseError:
            continue
        w = weight_of(t)
        if t.get("candidate") and w is not None:
            out[str(m.get("name"))] = (str(t["candidate"]), w)
    return out


def raised(project_dir: Path, base: str, head: str) -> list[dict[str, str]]:
    listing = _git(project_dir, "ls-tree", "--name-only", head)
    if listing.returncode != 0:
        raise ReleaseError(f"error: git ls-tree {head}: {listing.stderr.decode(errors='replace').strip()}")
    names = sorted(n for n in listing.stdout.decode().splitlines() if n.startswith("Pulumi.") and n.endswith(".yaml"))
    found: list[dict[str, str]] = []
    for name in names:
        if name == "Pulumi.yaml":
            continue
        stack = name[len("Pulumi.") : -len(".yaml")]
        after = _stack_file(project_dir, head, name)
        before = _weights(_stack_file(project_dir, base, name))
        analysed = {str(m.get("name")) for m in (after.models() if after else []) if m.get("analysis") is not None}
        for model, (cand, w) in _weights(after).items():
            was = before.get(model)
            if w > (was[1] if was and was[0] == cand else 0):
                if model in analysed:
                    found.append({"stack": stack, "model": model})
                else:
                    print(
                        f"{stack} {model}: candidate {cand} raised to {w}% without an analysis block; not run",
                        file=sys.stderr,
                    )
    return found
