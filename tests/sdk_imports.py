"""Import the cloud SDK modules the program uses, with their import-time DeprecationWarnings silenced.

pulumi_alicloud (and pulumi_aws) warn in the body of every module that defines a deprecated resource or
function (`pulumi_alicloud.vpc` warns about `vpc.Subnet`, `pulumi_alicloud.ecs` about `ecs.Eip` and
`ecs.get_eips`, the package itself about `StarRocksInstance`) whether or not anything uses it; the
subpackages load lazily, on first attribute access, so those warnings would otherwise fire inside
whichever test first touches `alicloud.vpc`. Importing them here, once and quietly, leaves
DeprecationWarning free to mean "this code uses something deprecated" (an `*Args` class with a deprecated
field); the use of a deprecated resource, function or field is checked by
tests/component/test_alicloud_fixes.py against the SDK itself.

Use as a pytest plugin (`-p tests.sdk_imports`, or import it from a conftest) before DeprecationWarning
becomes an error. The SDK subpackages are the ones our sources use (`alicloud.<sub>.`, `aws.<sub>.`).
"""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("components", "stacks", "tools", "policy", "__main__.py")
_USE = {
    "pulumi_alicloud": re.compile(r"\balicloud\.([a-z][a-z0-9_]*)\."),
    "pulumi_aws": re.compile(r"\baws\.([a-z][a-z0-9_]*)\."),
}
_SDK_MODULE = r"pulumi_(alicloud|aws)(\..*)?"


def used_modules() -> list[str]:
    """The SDK packages and the subpackages our sources reach (`alicloud.vpc.Switch` -> pulumi_alicloud.vpc)."""
    found: set[str] = set(_USE)
    for src in SOURCES:
        path = ROOT / src
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            text = file.read_text()
            for package, use in _USE.items():
                found.update(f"{package}.{sub}" for sub in use.findall(text))
    return sorted(found)


def import_quietly() -> list[str]:
    """Import every used SDK module with the SDKs' own import-time DeprecationWarnings ignored; the
    modules imported (a matched name that is no module, e.g. a function, is skipped)."""
    imported: list[str] = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=_SDK_MODULE)
        for m in used_modules():
            try:
                module = importlib.import_module(m)
            except ModuleNotFoundError:
                continue
            getattr(module, "__all__", None)  # a lazy subpackage loads on its first (non-dunder-info) attribute
            imported.append(m)
    return imported


import_quietly()
