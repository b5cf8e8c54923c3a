"""The layers stay layers (docs/design.md#layers): checked on the syntax tree of every module.

- Cloud-neutral code (the platform and workload layers, the contract between layers, and the
  components outside components/aws and components/alicloud) never imports a cloud SDK or a cloud
  component, and never compares a value with a cloud's name: what differs per cloud comes through the
  cloud seam (components/cloud.py).
- Components are a library: they never import the program (`stacks`) or the repository's tools.
- The program (`__main__.py`, `stacks`) never imports `tools`: `pulumi up` runs without them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLOUD_MODULES = ("pulumi_aws", "pulumi_alicloud", "components.aws", "components.alicloud")
CLOUD_NAMES = ("aws", "alicloud")
# Cloud-specific by design: one folder per cloud, and the packaged (schema-published) AWS network.
CLOUD_SPECIFIC = ("components/aws/", "components/alicloud/", "components/packaged/")


def modules(*roots: str) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        path = ROOT / root
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [p for p in out if "__pycache__" not in p.parts]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def cloud_neutral() -> list[Path]:
    neutral = modules("components", "stacks/platform", "stacks/workloads", "stacks/contract.py")
    return [p for p in neutral if not rel(p).startswith(CLOUD_SPECIFIC)]


def imported(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every import, `from x import y` also yielding x.y (a submodule import)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def imports_of(source: str, forbidden: tuple[str, ...]) -> list[str]:
    found = {
        f"line {line}: {name}"
        for line, name in imported(source)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    }
    return sorted(found)


def cloud_name_branches(source: str) -> list[str]:
    """Comparisons (==, !=, in, match case) against a cloud's name."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op in operands:
                consts = op.elts if isinstance(op, ast.Tuple | ast.List | ast.Set) else [op]
                for c in consts:
                    if isinstance(c, ast.Constant) and c.value in CLOUD_NAMES:
                        found.append(f"line {node.lineno}: compares with {c.value!r}")
        elif isinstance(node, ast.MatchValue) and isinstance(node.value, ast.Constant):
            if node.value.value in CLOUD_NAMES:
                found.append(f"line {node.value.lineno}: matches {node.value.value!r}")
    return found


@pytest.mark.parametrize("path", cloud_neutral(), ids=rel)
def test_cloud_neutral_code_imports_no_cloud(path: Path) -> None:
    assert imports_of(path.read_text(), CLOUD_MODULES) == []


@pytest.mark.parametrize("path", cloud_neutral(), ids=rel)
def test_cloud_neutral_code_never_branches_on_the_cloud_name(path: Path) -> None:
    assert cloud_name_branches(path.read_text()) == []


@pytest.mark.parametrize("path", modules("components"), ids=rel)
def test_components_do_not_import_the_program_or_tools(path: Path) -> None:
    assert imports_of(path.read_text(), ("stacks", "tools")) == []


@pytest.mark.parametrize("path", modules("__main__.py", "stacks"), ids=rel)
def test_the_program_does_not_import_tools(path: Path) -> None:
    assert imports_of(path.read_text(), ("tools",)) == []


def test_the_checks_see_planted_violations() -> None:
    planted = (
        "import pulumi_aws as aws\n"
        "from components.alicloud import seam\n"
        "from components import aws as a\n"
        "def f(cloud):\n"
        "    if cloud == 'aws':\n"
        "        return 1\n"
        "    if cloud in ('gcp', 'alicloud'):\n"
        "        return 2\n"
        "    match cloud:\n"
        "        case 'aws':\n"
        "            return 3\n"
    )
    assert imports_of(planted, CLOUD_MODULES) == [
        "line 1: pulumi_aws",
        "line 2: components.alicloud",
        "line 2: components.alicloud.seam",
        "line 3: components.aws",
    ]
    assert cloud_name_branches(planted) == [
        "line 5: compares with 'aws'",
        "line 7: compares with 'alicloud'",
        "line 10: matches 'aws'",
    ]
    assert imports_of("from tools.offline import runner\n", ("tools",)) == [
        "line 1: tools.offline",
        "line 1: tools.offline.runner",
    ]
    assert imports_of("import toolsy\nfrom stacksX import y\n", ("stacks", "tools")) == []
