"""Component provider host for the packaged components (run by the Pulumi CLI, not imported)."""

import sys
from pathlib import Path

# Run from this directory by the CLI: make the repo root importable unless `components` is pip-installed.
sys.path.append(str(Path(__file__).resolve().parents[2]))

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from components.packaged.network import GpuNetwork  # noqa: E402

if __name__ == "__main__":
    component_provider_host(name="gpuplatform", components=[GpuNetwork])
