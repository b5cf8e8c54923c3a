"""The alicloud component tests pass with DeprecationWarning as an error
(docs/alicloud.md#running-pulumi-up-on-alibaba-cloud): nothing they run uses a deprecated Alibaba resource,
function or field. The SDKs' import-time warnings (a module that
defines a deprecated resource warns when imported, used or not) are taken once and quietly by
tests/sdk_imports.py; what the code uses is checked against the SDK in tests/component/test_alicloud_fixes.py.

In its own process (a few plans: not in `make test-fast`), with `-W error::DeprecationWarning`, which
overrides every ini filter.
"""

from __future__ import annotations

import subprocess
import sys

from tools.offline.runner import PROJECT_DIR


def test_alicloud_component_tests_pass_with_deprecation_warnings_as_errors() -> None:
    tests = sorted(
        str(p.relative_to(PROJECT_DIR)) for p in (PROJECT_DIR / "tests/component").glob("test_alicloud_*.py")
    )
    assert "tests/component/test_alicloud_cluster.py" in tests
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.sdk_imports", "-W", "error::DeprecationWarning", "-q", *tests],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]


def test_the_sdks_warn_at_import_and_sdk_imports_takes_those_warnings_once() -> None:
    use = "import pulumi_alicloud as a; a.vpc.Switch; a.ecs.EipAddress; import pulumi_aws as w; w.ec2.Vpc"

    def run(code: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-W", "error::DeprecationWarning", "-c", code]
        return subprocess.run(cmd, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)

    bare = run(use)  # what an error filter meets without tests/sdk_imports.py: the SDK's own module bodies
    assert bare.returncode != 0 and "DeprecationWarning" in bare.stderr
    assert run(f"import tests.sdk_imports; {use}").returncode == 0, "tests/sdk_imports.py missed an SDK module"
