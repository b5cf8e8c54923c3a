"""Drive the policy pack through pulumi-policy's own analyzer servicer, in-process, fed from offline plans.

This is the path `pulumi preview --policy-pack` takes minus the gRPC transport: the servicer wraps the
properties in its unknown-checking proxy, resolves enforcement levels and formats the messages
(`<description>\\n<message>`). `_PolicyAnalyzerServicer` is private API, pinned with pulumi-policy==1.21.0.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer  # pyright: ignore[reportPrivateUsage]
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

ROOT = Path(__file__).resolve().parents[2]
for p in (str(ROOT), str(ROOT / "policy")):
    if p not in sys.path:
        sys.path.insert(0, p)

import gpu_policies  # noqa: E402

COMPUTED = "<computed>"  # the offline plan's placeholder for values known only after apply
SECRET = "<secret>"
_SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
LEVELS = {analyzer_pb2.ADVISORY: "ADVISORY", analyzer_pb2.MANDATORY: "MANDATORY"}


@dataclass(frozen=True)
class Finding:
    policy: str
    level: str  # MANDATORY | ADVISORY
    message: str
    urn: str


def wire(value: Any) -> Any:
    """Plan JSON -> what the engine sends: placeholders back to the unknown sentinel / secret envelope."""
    if value == COMPUTED:
        return UNKNOWN_STRING_VALUE
    if value == SECRET:
        return {**_SECRET_SIG, "value": ""}
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [wire(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _struct(inputs: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(wire(inputs))
    return s


def _options(r: dict[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    opts = r.get("options", {})
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(opts.get("protect")),
        ignoreChanges=list(opts.get("ignoreChanges") or []),
        aliases=[a for a in opts.get("aliases") or [] if isinstance(a, str)],
        parent=r.get("parent", ""),
    )


def _servicer() -> _PolicyAnalyzerServicer:
    return _PolicyAnalyzerServicer(gpu_policies.PACK_NAME, "0.1.0", gpu_policies.ALL, EnforcementLevel.MANDATORY)


def _findings(resp: Any) -> list[Finding]:
    return [
        Finding(d.policyName, LEVELS.get(d.enforcementLevel, str(d.enforcementLevel)), d.message, d.urn)
        for d in resp.diagnostics
    ]


def analyze(resources: list[dict[str, Any]]) -> list[Finding]:
    """Every resource through Analyze (resource policies), then the whole set through AnalyzeStack."""
    s = _servicer()
    out: list[Finding] = []
    for r in resources:
        if not r.get("custom", True) or r["type"].startswith("pulumi:"):
            continue  # components and providers never reach the analyzer's resource hook
        req = analyzer_pb2.AnalyzeRequest(
            type=r["type"], urn=r["urn"], name=r["name"], properties=_struct(r["inputs"]), options=_options(r)
        )
        out += [
            f if f.urn else Finding(f.policy, f.level, f.message, r["urn"]) for f in _findings(s.Analyze(req, None))
        ]
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r["type"],
                urn=r["urn"],
                name=r["name"],
                properties=_struct(r["inputs"]),
                options=_options(r),
                parent=r.get("parent", ""),
                dependencies=r.get("options", {}).get("dependsOn", []),
            )
            for r in resources
            if r.get("custom", True) and not r["type"].startswith("pulumi:")
        ]
    )
    out += _findings(s.AnalyzeStack(stack, None))
    return out


def resource(
    type_: str, name: str, inputs: dict[str, Any], stack: str = "dev", protect: bool = False, parent_type: str = ""
) -> dict[str, Any]:
    """A plan-shaped resource for fixtures."""
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return {
        "urn": f"urn:pulumi:{stack}::gpu-platform::{qualified}::{name}",
        "type": type_,
        "name": name,
        "parent": "",
        "custom": True,
        "provider": "",
        "inputs": inputs,
        "options": {"protect": protect, "aliases": [], "ignoreChanges": [], "dependsOn": []},
    }
