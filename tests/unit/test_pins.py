"""Every dependency is pinned once: pyproject's runtime dependencies equal requirements.txt, the dev and
policy requirement files pin exactly, and a package pinned in two files has one version."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
FILES = ("requirements.txt", "requirements-dev.txt", "policy/requirements.txt")


def pins(lines: list[str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-r "):
            continue
        req = Requirement(text)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{where}: {text!r} is not pinned with =="
        out[req.name.lower()] = specs[0].version
    return out


def file_pins(rel: str) -> dict[str, str]:
    return pins((ROOT / rel).read_text().splitlines(), rel)


def test_pyproject_dependencies_equal_runtime_requirements() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = pins(project["dependencies"], "pyproject.toml [project.dependencies]")
    runtime = file_pins("requirements.txt")
    # pydantic, google-re2 and pyright are the program's (spec models and rules; Pulumi.yaml typechecker), not
    # the library's.
    assert {k: v for k, v in runtime.items() if k not in {"pydantic", "google-re2", "pyright"}} == declared


def test_a_package_pinned_twice_has_one_version() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for rel in FILES:
        for name, version in file_pins(rel).items():
            if name in seen:
                assert seen[name][1] == version, f"{name}: {seen[name][0]} pins {seen[name][1]}, {rel} pins {version}"
            seen[name] = (rel, version)
