"""Typed view of charts/ack.yaml: ACK version strings, the NVIDIA driver, add-ons listed at create.

Pure Python (no Pulumi), so spec rules can check a stack against the same pins the cluster layer uses.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ACK_PINS_FILE = Path(__file__).resolve().parents[2] / "charts" / "ack.yaml"


@dataclass(frozen=True, slots=True)
class AckPins:
    kubernetes: dict[str, str]
    """Spec minor ('1.33') -> ACK version string ('1.33.1-aliyun.1')."""
    nvidia_driver: str
    network_addons: dict[str, str]
    """Spec networkPlugin -> ACK add-on name."""
    cluster_addons: tuple[str, ...]

    def ack_version(self, minor: str) -> str:
        try:
            return self.kubernetes[minor]
        except KeyError:
            raise KeyError(
                f"no ACK version pinned for Kubernetes {minor!r} in {ACK_PINS_FILE.name}; "
                f"pinned: {', '.join(sorted(self.kubernetes))}"
            ) from None


@functools.cache
def ack_pins() -> AckPins:
    raw: dict[str, Any] = yaml.safe_load(ACK_PINS_FILE.read_text())
    return AckPins(
        kubernetes={str(k): str(v) for k, v in sorted(raw["kubernetes"].items())},
        nvidia_driver=str(raw["nvidiaDriver"]),
        network_addons={str(k): str(v) for k, v in sorted(raw["networkAddons"].items())},
        cluster_addons=tuple(str(a) for a in raw["clusterAddons"]),
    )
