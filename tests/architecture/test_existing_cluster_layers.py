"""The existing-cluster target (docs/existing-cluster.md) is one more cloud behind the seam: the platform
and workload layers do not know it (they never compare with its name, as with 'aws' and 'alicloud' in
test_layers.py), its components import no cloud SDK and no program code, and the one cloud switch of the
program is the cluster layer's."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.architecture.test_layers import CLOUD_MODULES, ROOT, cloud_neutral, imports_of, modules, rel

NAME = "existing"


def compares_with_the_name(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for op in [node.left, *node.comparators]:
                consts = op.elts if isinstance(op, ast.Tuple | ast.List | ast.Set) else [op]
                found += [f"line {node.lineno}" for c in consts if isinstance(c, ast.Constant) and c.value == NAME]
        elif isinstance(node, ast.MatchValue) and isinstance(node.value, ast.Constant) and node.value.value == NAME:
            found.append(f"line {node.value.lineno}")
    return found


@pytest.mark.parametrize("path", cloud_neutral(), ids=rel)
def test_cloud_neutral_code_never_branches_on_the_existing_cluster(path: Path) -> None:
    assert compares_with_the_name(path.read_text()) == []


@pytest.mark.parametrize("path", modules("components/existing"), ids=rel)
def test_existing_cluster_components_import_no_cloud_and_no_program(path: Path) -> None:
    assert imports_of(path.read_text(), (*CLOUD_MODULES, "stacks", "tools")) == []


def test_the_cluster_layer_is_the_one_switch() -> None:
    # In the program, only the cluster layer and the spec know the name (the spec to validate its keys, the
    # layered-stack reader to rebuild its seam, the existing cluster layer itself).
    allowed = {
        "stacks/cluster/layer.py",
        "stacks/cluster/reference.py",
        "stacks/cluster/existing.py",
        "stacks/spec/addons.py",
        "stacks/spec/budget.py",
        "stacks/spec/cluster.py",
        "stacks/spec/pools.py",
        "stacks/spec/registry.py",
        "stacks/spec/stack.py",
    }
    branching = {rel(p) for p in modules("__main__.py", "stacks") if compares_with_the_name(p.read_text())}
    assert branching <= allowed
    assert "stacks/cluster/layer.py" in branching
    assert (ROOT / "components/existing/seam.py").exists()


def test_the_check_sees_a_planted_branch() -> None:
    assert compares_with_the_name(
        "if cloud == 'existing':\n    pass\nmatch c:\n    case 'existing':\n        pass\n"
    ) == [
        "line 1",
        "line 4",
    ]
