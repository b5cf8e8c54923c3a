"""Deprecations from the provider SDKs fail the tests (docs/design.md#real-path).

Two channels, both refused:
- a DeprecationWarning raised by pulumi_aws / pulumi_alicloud / pulumi_kubernetes code (a deprecated
  *Args field, a deprecated argument): pyproject [tool.pytest.ini_options] filterwarnings makes it an
  error; only the SDKs' import-time warnings (module bodies of modules that define a deprecated resource,
  used or not) are ignored, each by exact message and module;
- the use of a deprecated resource or function, which the SDK reports through pulumi.log ("<name> is
  deprecated: ..."): no plan of a committed stack may carry such a diagnostic.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest
from _pytest.config import parse_warning_filter

from tests.conftest import STACKS, plan_of
from tools.offline.runner import PROJECT_DIR, run_stack

INI_FILTERS: list[str] = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"][
    "filterwarnings"
]


@pytest.mark.parametrize("module", ["pulumi_aws.iam.role", "pulumi_alicloud.vpc.switch", "pulumi_kubernetes.helm.v3"])
def test_a_deprecation_warning_from_a_provider_sdk_is_an_error(module: str) -> None:
    with pytest.raises(DeprecationWarning, match="field x is deprecated"):
        warnings.warn_explicit("field x is deprecated", DeprecationWarning, "sdk.py", 1, module=module)


def test_our_own_deprecation_warnings_are_not_turned_into_errors_by_the_sdk_filters() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.warn_explicit("ours", DeprecationWarning, "x.py", 1, module="components.aws.eks")
    assert [str(w.message) for w in seen] == ["ours"]


def test_a_deprecated_field_of_a_real_sdk_args_class_fails() -> None:
    import pulumi_alicloud as alicloud
    import pulumi_aws as aws

    with pytest.raises(DeprecationWarning, match="versioning is deprecated"):
        aws.s3.BucketArgs(versioning=aws.s3.BucketVersioningArgs(enabled=True))
    with pytest.raises(DeprecationWarning, match="Field 'name' has been deprecated"):
        alicloud.ram.RoleArgs(name="r", assume_role_policy_document="{}")


def test_the_sdks_import_time_warnings_are_ignored_exactly() -> None:
    # Each ignore names one module (or the *_v2 family of S3 modules) and one message: another message
    # from the same module, or the same message from another module, is still an error.
    ignores = [parse_warning_filter(f, escape=False) for f in INI_FILTERS if f.startswith("ignore:")]
    assert ignores and all(action == "ignore" and message and module for action, message, _, module, _ in ignores)
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit(
            "This resource has been deprecated and replaced by the Switch resource.",
            DeprecationWarning,
            "sdk.py",
            1,
            module="pulumi_alicloud.vpc.network",
        )
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("something else", DeprecationWarning, "sdk.py", 1, module="pulumi_alicloud.vpc.subnet")


_CHILD = """
import importlib, sys, warnings
from _pytest.config import parse_warning_filter
for f in sys.argv[2:]:  # as pytest applies ini filterwarnings: in order, later ones win
    action, message, category, module, lineno = parse_warning_filter(f, escape=False)
    warnings.filterwarnings(action, message, category, module, lineno)
for name in sys.argv[1].split(","):
    getattr(importlib.import_module(name), "__all__", None)  # loads a lazy subpackage
"""


def _import_under(filters: list[str], modules: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CHILD, ",".join(modules), *filters],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_sdk_module_the_program_uses_imports_under_the_filters() -> None:
    # In a fresh process (this one has imported the SDKs already): the SDK packages and subpackages our
    # sources reach load without an error, and without the ignores they would not.
    from tests.sdk_imports import used_modules

    modules = used_modules()
    assert {"pulumi_aws.s3", "pulumi_aws.ec2", "pulumi_alicloud.vpc", "pulumi_alicloud.ecs"} <= set(modules)
    ok = _import_under(INI_FILTERS, modules)
    assert ok.returncode == 0, ok.stderr[-3000:]
    errors_only = [f for f in INI_FILTERS if not f.startswith("ignore:")]
    bare = _import_under(errors_only, modules)
    assert bare.returncode != 0 and "DeprecationWarning" in bare.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_no_plan_uses_a_deprecated_resource_function_or_field(stack: str) -> None:
    deprecated = [d["message"] for d in plan_of(stack).data["diagnostics"] if " is deprecated: " in d["message"]]
    assert deprecated == []


def test_a_planted_deprecated_resource_shows_in_the_plan_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: planted\nruntime: python\n")
    (tmp_path / "Pulumi.x.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi_alicloud as alicloud\n"
        "import pulumi_aws as aws\n\n"
        "aws.s3.BucketV2('b', bucket='planted-bucket')\n"
        "alicloud.vpc.Subnet('s', vpc_id='vpc-1', cidr_block='10.0.0.0/24', zone_id='cn-hangzhou-h')\n"
    )
    plan = run_stack("x", tmp_path)
    assert [d["message"] for d in plan["diagnostics"] if " is deprecated: " in d["message"]] == [
        "BucketV2 is deprecated: s3.BucketV2 has been deprecated in favor of s3.Bucket",
        "Subnet is deprecated: This resource has been deprecated and replaced by the Switch resource.",
    ]
