"""scripts/fetch-karpenter.sh (docs/karpenter.md#where-the-chart-comes-from): a module zip that does not match
the pinned SHA-256 is refused and nothing is unpacked; an unpacked module is left alone (no download)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tools.offline.config import PROJECT_DIR

SCRIPT = PROJECT_DIR / "scripts" / "fetch-karpenter.sh"
MODULE = "github.com/aws/karpenter-provider-aws@v1.15.2"
EKS_CHARTS = "github.com/aws/eks-charts@v0.0.243-0.20260821194545-743f98a89b5b"


def _copy(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / SCRIPT.name)
    return tmp_path / "scripts" / SCRIPT.name


def _run(script: Path, gomodcache: Path) -> subprocess.CompletedProcess[str]:
    # An unreachable proxy: the test never downloads anything.
    env = {**os.environ, "GOMODCACHE": str(gomodcache), "GOPROXY_URL": "http://127.0.0.1:9"}
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=60, check=False)


def test_a_zip_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    script = _copy(tmp_path)
    cache = tmp_path / "gomodcache"
    zip_path = cache / "cache" / "download" / "github.com" / "aws" / "karpenter-provider-aws" / "@v" / "v1.15.2.zip"
    zip_path.parent.mkdir(parents=True)
    zip_path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty, well-formed zip: not the module
    result = _run(script, cache)
    assert result.returncode == 1
    assert "github.com/aws/karpenter-provider-aws@v1.15.2 zip does not match the pinned SHA-256" in result.stderr
    assert not (tmp_path / ".tools" / "modules" / MODULE).exists()


def test_an_unpacked_module_is_left_alone(tmp_path: Path) -> None:
    script = _copy(tmp_path)
    module = tmp_path / ".tools" / "modules" / MODULE
    (module / "charts" / "karpenter").mkdir(parents=True)
    (module / "charts" / "karpenter" / "Chart.yaml").write_text("version: 1.14.1\n")
    (module / "pkg" / "apis" / "crds").mkdir(parents=True)
    efa = tmp_path / ".tools" / "modules" / EKS_CHARTS / "stable" / "aws-efa-k8s-device-plugin"
    efa.mkdir(parents=True)
    (efa / "Chart.yaml").write_text("version: v0.5.31\n")
    result = _run(script, tmp_path / "empty-cache")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert sorted(p.name for p in (tmp_path / ".tools" / "modules").iterdir()) == ["github.com"]  # no temp left


def test_an_eks_charts_zip_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    # The Karpenter module is there; the EFA device plugin's module (github.com/aws/eks-charts) is checked
    # against its own SHA-256.
    script = _copy(tmp_path)
    module = tmp_path / ".tools" / "modules" / MODULE
    (module / "charts" / "karpenter").mkdir(parents=True)
    (module / "charts" / "karpenter" / "Chart.yaml").write_text("version: 1.14.1\n")
    cache = tmp_path / "gomodcache"
    zip_path = cache / "cache" / "download" / (EKS_CHARTS.replace("@", "/@v/") + ".zip")
    zip_path.parent.mkdir(parents=True)
    zip_path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    result = _run(script, cache)
    assert result.returncode == 1
    assert f"{EKS_CHARTS} zip does not match the pinned SHA-256" in result.stderr
    assert not (tmp_path / ".tools" / "modules" / EKS_CHARTS).exists()
    assert sorted(p.name for p in (tmp_path / ".tools" / "modules").iterdir()) == ["github.com"]
