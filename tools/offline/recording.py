"""A MockMonitor that records every registration the way the engine would receive it.

`MockResourceArgs` lacks parent, options and dependencies (pulumi/pulumi#14421), so we subclass the
monitor and read the full RegisterResourceRequest instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc

from tools.offline import fixtures, reference_outputs
from tools.offline.reference_outputs import COMPUTED, SECRET, SECRET_KEY

# Wire-protocol signatures of special values (pulumi/sdk proto docs; stable across SDK versions).
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT = "d0e6a833031e9bbcd3f4e8bde6ca49a4"


@dataclass
class Registration:
    mock_urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    inputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    replace_on_changes: list[str]
    aliases: list[Any]
    depends_on: list[str]
    read: bool = False


def normalize(value: Any) -> Any:
    """Wire values -> plain JSON: integral floats as ints, unknowns and secrets as placeholders."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        return COMPUTED if value == rpc.UNKNOWN else value
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET:
            return SECRET
        if sig == _RESOURCE:
            return value.get("urn", COMPUTED)
        if sig == _OUTPUT:
            if value.get("secret"):
                return SECRET
            return normalize(value["value"]) if "value" in value else COMPUTED
        if sig is not None:
            return f"<{sig}>"
        return {k: normalize(v) for k, v in sorted(value.items())}
    return value


def _wire_secrets(value: Any) -> Any:
    """Fixture secrets (`{"<secret>": v}`) -> wire secrets, so the program sees secret outputs."""
    if isinstance(value, dict):
        if set(value) == {SECRET_KEY}:
            return {_SIG: _SECRET, "value": value[SECRET_KEY]}
        return {k: _wire_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_secrets(v) for v in value]
    return value


class PlanMocks(mocks.Mocks):
    """Resources echo their inputs as state and get no id — exactly what a preview knows.

    A `pulumi:pulumi:StackReference` read returns the referenced stack's outputs: from `stack_outputs`
    (stack name -> outputs, for tests) or else the fixture in tools/offline/stack_outputs/. Names are
    matched by project and stack (reference_outputs.reference_key): `acme/gpu-platform/dev` (Pulumi Cloud)
    and `organization/gpu-platform/dev` (self-managed backend) read the same outputs."""

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.stack_outputs = dict(stack_outputs or {})

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            name = str(args.inputs.get("name") or args.resource_id or args.name)
            project = pulumi.get_project()
            given = {reference_outputs.reference_key(k, project): v for k, v in self.stack_outputs.items()}
            found = given.get(reference_outputs.reference_key(name, project))
            outputs = dict(found) if found is not None else reference_outputs.load(name, project)
            return name, {"name": name, "outputs": _wire_secrets(outputs)}
        return None, dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return fixtures.answer(
            args.token, dict(args.args)
        ), []  # [] = no check failures (None crashes MockMonitor.Invoke)


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, m: mocks.Mocks) -> None:
        super().__init__(m)
        self.registered: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        resp = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return resp
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        prop_deps = {u for deps in request.propertyDependencies.values() for u in deps.urns}
        self.registered.append(
            Registration(
                mock_urn=resp.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                provider=request.provider,
                inputs=normalize(raw),
                protect=bool(request.protect) if request.HasField("protect") else False,
                retain_on_delete=bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False,
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=sorted(request.ignoreChanges),
                replace_on_changes=sorted(request.replaceOnChanges),
                aliases=[json_format.MessageToDict(a) for a in request.aliases] + list(request.aliasURNs),
                depends_on=sorted(set(request.dependencies) - prop_deps),
            )
        )
        return resp

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        resp = super().ReadResource(request)
        raw = json_format.MessageToDict(request.properties, preserving_proto_field_name=True)
        self.registered.append(
            Registration(
                mock_urn=resp.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=True,
                provider=request.provider,
                inputs=normalize(raw),
                protect=False,
                retain_on_delete=False,
                delete_before_replace=False,
                ignore_changes=[],
                replace_on_changes=[],
                aliases=[],
                depends_on=[],
                read=True,
            )
        )
        return resp


@dataclass
class DiagnosticsHandler(logging.Handler):
    records: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self)

    def __hash__(self) -> int:
        return id(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append({"severity": record.levelname.lower(), "message": record.getMessage()})
