"""Import structure, read from the source with `ast` (nothing is imported, so the checks see every import,
including ones inside functions, without running the Pulumi SDK):

- the modules of tools/offline form a DAG: no module reaches itself through imports (a lazy import inside
  a function counts: it only hides a cycle);
- the policy pack (policy/*.py, what `pulumi preview --policy-pack policy` loads) imports nothing from
  `tools`, directly or through the repository modules it imports: the pack depends on cloud-neutral
  facts in `components`, never on the offline runner. Its tests (policy/tests/) plan real stacks with the
  runner on purpose and are not part of the pack;
- components/stateful.py, the shared list of stateful types, is data only (standard library at most).
"""

from __future__ import annotations

import ast
import graphlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = ROOT / "tools" / "offline"
POLICY = ROOT / "policy"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool = False) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every import statement anywhere in a module's body (inside functions too):
    `import a.b` -> ("a.b", []), `from a import b, c` -> ("a", ["b", "c"]); relative imports are resolved
    against `module`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names if alias.name != "*"]


def imported_names(tree: ast.AST, module: str, is_package: bool = False) -> Iterator[str]:
    """Dotted names a module imports: `from pkg import name` yields `pkg` and `pkg.name` (the name may be
    a submodule)."""
    for base, names in imported_modules(tree, module, is_package):
        yield base
        yield from (f"{base}.{name}" for name in names)


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def with_parents(name: str) -> Iterator[str]:
    """Importing `a.b.c` runs a, a.b and a.b.c."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        yield ".".join(parts[:i])


def import_graph(files: Iterable[Path], root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules among `files` it imports (including their packages' __init__)."""
    paths = {module_name(p, root): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        deps = {
            dep
            for imported in imported_names(parse(path), name, path.name == "__init__.py")
            for dep in with_parents(imported)
            if dep in paths and dep != name
        }
        graph[name] = deps
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        return list(reversed(e.args[1]))  # graphlib lists predecessors first; reversed, each imports the next
    return None


def module_file(name: str, roots: Iterable[Path]) -> Path | None:
    """The file of a dotted module name under one of `roots` (as on sys.path), if there is one."""
    for root in roots:
        base = root.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def walk_imports(entry: Iterable[Path], root: Path = ROOT) -> tuple[dict[str, list[str]], list[str]]:
    """Follow the imports of the entry files through the repository's modules, transitively.

    Returns every repository module reached (-> the import chain that reaches it) and every import chain
    that ends in the `tools` package, which is not followed. The entry files' directories count as
    sys.path roots too (the pack imports its siblings by bare name)."""
    files = list(entry)
    roots = [root, *dict.fromkeys(p.parent for p in files)]
    reached: dict[str, list[str]] = {}
    into_tools: list[str] = []
    todo = [(p, p.stem, [str(p.relative_to(root))]) for p in files]
    while todo:
        path, name, chain = todo.pop()
        tree = parse(path)
        is_package = path.name == "__init__.py"
        for base, _ in imported_modules(tree, name, is_package):
            if base.split(".")[0] == "tools":
                into_tools.append(" -> ".join([*chain, base]))
        for imported in imported_names(tree, name, is_package):
            for dep in with_parents(imported):
                if dep in reached or dep.split(".")[0] == "tools":
                    continue
                file = module_file(dep, roots)
                if file is None or file == path:
                    continue
                reached[dep] = [*chain, dep]
                todo.append((file, dep, reached[dep]))
    return reached, sorted(set(into_tools))


def pack_files(policy_dir: Path = POLICY) -> list[Path]:
    return sorted(policy_dir.glob("*.py"))


# -- the checks -----------------------------------------------------------------------------------------


def test_offline_modules_form_a_dag() -> None:
    graph = import_graph(OFFLINE.glob("*.py"))
    assert {"tools.offline.runner", "tools.offline.recording", "tools.offline.stack_outputs"} <= set(graph)
    assert graph["tools.offline.runner"] >= {"tools.offline.recording"}  # the graph sees real edges
    found = cycle(graph)
    assert found is None, "import cycle in tools/offline: " + " -> ".join(found or [])


def test_policy_pack_does_not_import_tools() -> None:
    files = pack_files()
    assert {p.name for p in files} >= {"__main__.py", "gpu_policies.py"}
    reached, into_tools = walk_imports(files)
    assert {"gpu_policies", "components.gpu.catalog"} <= set(reached)  # the walk follows the pack's imports
    assert into_tools == [], "the policy pack imports tools:\n" + "\n".join(into_tools)
    # the cloud-neutral facts it needs come from components
    assert {"components.stateful", "components.scheduling"} <= set(reached)


def test_stateful_types_are_data_only() -> None:
    tree = parse(ROOT / "components" / "stateful.py")
    imported = {name.split(".")[0] for name in imported_names(tree, "components.stateful")}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


# -- the checks catch what they are for (planted violations in a scratch tree) --------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "import pkg.b\n", "b.py": "from pkg import a\n"}, {"pkg.a", "pkg.b"}),
        # a lazy import inside a function is an edge too
        ({"a.py": "from pkg.b import x\n", "b.py": "def f():\n    from pkg.a import y\n"}, {"pkg.a", "pkg.b"}),
        (
            {"a.py": "from . import b\n", "b.py": "from .c import z\n", "c.py": "from .a import w\n"},
            {"pkg.a", "pkg.b", "pkg.c"},
        ),
        ({"a.py": "from pkg.b import x\n", "b.py": "import os\n"}, set()),
    ],
)
def test_cycle_detection(tmp_path: Path, files: dict[str, str], expected: set[str]) -> None:
    _write(tmp_path / "pkg", {"__init__.py": "", **files})
    found = cycle(import_graph((tmp_path / "pkg").glob("*.py"), tmp_path))
    assert set(found or []) == expected


@pytest.mark.parametrize(
    ("pack", "expected"),
    [
        ("from tools.offline.stateful import STATEFUL_TYPES\n", ["policy/pack.py -> tools.offline.stateful"]),
        ("def f():\n    from tools import offline\n", ["policy/pack.py -> tools"]),
        ("from lib.facts import X\n", ["policy/pack.py -> lib.facts -> tools.offline.stateful"]),  # via the repo
        ("import helper\n", ["policy/pack.py -> helper -> tools"]),  # via a sibling of the pack
        ("from lib.clean import X\nimport json\n", []),
    ],
)
def test_policy_check_finds_tools_imports(tmp_path: Path, pack: str, expected: list[str]) -> None:
    _write(
        tmp_path,
        {
            "tools/__init__.py": "",
            "tools/offline/__init__.py": "",
            "tools/offline/stateful.py": "",
            "lib/__init__.py": "",
            "lib/facts.py": "import tools.offline.stateful\n",
            "lib/clean.py": "import json\n",
            "policy/helper.py": "import tools\n",
            "policy/pack.py": pack,
        },
    )
    assert walk_imports([tmp_path / "policy" / "pack.py"], tmp_path)[1] == expected
