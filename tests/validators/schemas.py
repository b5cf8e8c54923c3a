"""Validate rendered Kubernetes objects: core kinds against the official schemas shipped in
kubernetes-validate (strict: unknown fields fail); custom resources against the CRD the stack installs
(`StackCrds`: the CustomResourceDefinitions of its rendered charts, as the API server would), else
against ../shared/schemas/crds, or, for an Istio kind missing there (ServiceEntry), against the CRD in
the vendored istio `base` chart (../shared/charts); CRD schemas are made as strict as the datree schemas
(`additionalProperties: false`).

Reports every error of an object (iter_errors), not just the first, and caches the parsed schemas:
kubernetes_validate.validate() re-reads the 1.3 MB definitions file on every call.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import tarfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from kubernetes_validate.utils import all_versions, major_minor

from tools.offline.runner import PROJECT_DIR

CRD_DIR = PROJECT_DIR.parent / "shared" / "schemas" / "crds"
CHARTS_DIR = PROJECT_DIR.parent / "shared" / "charts"


class NoSchema(Exception):
    pass


def _schema_version(k8s_version: str) -> str:
    wanted = major_minor(k8s_version)
    return [v for v in all_versions() if major_minor(v) <= wanted][-1]


@functools.cache
def _definitions(version: str) -> referencing.Resource[Any]:
    path = resources.files("kubernetes_validate") / f"kubernetes-json-schema/v{version}-local-strict/_definitions.json"
    return referencing.Resource.from_contents(json.loads(path.read_text()))


@functools.cache
def _core_validator(version: str, kind: str, api_version: str) -> jsonschema.Draft202012Validator:
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = (
        resources.files("kubernetes_validate")
        / f"kubernetes-json-schema/v{version}-local-strict/{kind.lower()}-{group}.json"
    )
    try:
        schema = json.loads(path.read_text())
    except FileNotFoundError:
        raise NoSchema(f"no Kubernetes {version} schema for {api_version} {kind}") from None
    registry: referencing.Registry[Any] = _definitions(version) @ (
        referencing.Resource.from_contents(schema) @ referencing.Registry()
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _istio_chart_crds() -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> openAPIV3Schema of every CRD in the vendored istio base chart."""
    import yaml

    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for tgz in sorted(CHARTS_DIR.glob("base-*.tgz")):
        with tarfile.open(tgz) as t:
            f = t.extractfile("base/files/crd-all.gen.yaml")
            assert f is not None
            for crd in yaml.safe_load_all(f.read().decode()):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                for v in spec["versions"]:
                    out[(spec["group"], v["name"], spec["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    return out


def _strict(schema: Any) -> Any:
    """A CRD's structural schema as a strict JSON schema: unknown fields fail where the API server would
    prune or reject them, int-or-string and nullable as the API server reads them."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if schema.get("x-kubernetes-int-or-string"):
        out = {k: v for k, v in out.items() if k not in ("type", "anyOf")} | {"type": ["integer", "string"]}
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _object_schema(found: dict[str, Any]) -> dict[str, Any]:
    """A CRD version's openAPIV3Schema as a strict JSON schema for a whole object."""
    schema = _strict(copy.deepcopy(found))
    schema["properties"] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        **schema.get("properties", {}),
    }
    return schema


@functools.cache
def karpenter_module_crds() -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> openAPIV3Schema of the Karpenter CRDs (NodePool, EC2NodeClass, NodeClaim, ...)
    from pkg/apis/crds of the karpenter-provider-aws module that scripts/fetch-karpenter.sh fetches (the
    same CRDs as the pinned karpenter-crd chart); empty when the module is not fetched."""
    import yaml

    from tools.offline.charts import karpenter_module_dir

    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in sorted((karpenter_module_dir() / "pkg" / "apis" / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        spec = crd["spec"]
        for v in spec["versions"]:
            out[(spec["group"], v["name"], spec["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    return out


def _chart_crd_schema(group: str, version: str, kind: str) -> dict[str, Any] | None:
    found = _istio_chart_crds().get((group, version, kind)) or karpenter_module_crds().get((group, version, kind))
    return None if found is None else _object_schema(found)


class StackCrds:
    """The CRDs a stack installs (its rendered charts' CustomResourceDefinitions). The API server validates
    a custom resource against the CRD installed, so these come first; ../shared/schemas/crds (datree
    snapshots, sometimes older than the pinned chart's CRD: the GPU Operator's ClusterPolicy) and the
    istio base chart are the fallback for kinds no rendered chart defines."""

    def __init__(self, objects: Iterable[dict[str, Any]]) -> None:
        self._schemas: dict[tuple[str, str, str], dict[str, Any]] = {}
        for crd in objects:
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for v in spec.get("versions") or []:
                if v.get("served", True) and (v.get("schema") or {}).get("openAPIV3Schema"):
                    self._schemas[(spec["group"], v["name"], spec["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
        self._validators: dict[tuple[str, str, str], jsonschema.Draft7Validator] = {}

    def __len__(self) -> int:
        return len(self._schemas)

    def validator(self, group: str, version: str, kind: str) -> jsonschema.Draft7Validator | None:
        gvk = (group, version, kind)
        if gvk not in self._schemas:
            return None
        if gvk not in self._validators:
            self._validators[gvk] = jsonschema.Draft7Validator(_object_schema(self._schemas[gvk]))
        return self._validators[gvk]


@functools.cache
def _crd_validator(group: str, version: str, kind: str) -> jsonschema.Draft7Validator:
    path = CRD_DIR / group / f"{kind.lower()}_{version}.json"
    if not path.exists():
        fallback = _chart_crd_schema(group, version, kind)
        if fallback is not None:
            return jsonschema.Draft7Validator(fallback)
        raise NoSchema(f"no CRD schema {path.relative_to(CRD_DIR.parent)} for {group}/{version} {kind}")
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


# pulumi-kubernetes marks a Secret's `data` / `stringData` secret as a whole, so a plan records them as
# this placeholder; the validator checks the rest of the Secret and takes the map's shape on trust.
SECRET_PLACEHOLDER = "<secret>"


def errors(obj: dict[str, Any], k8s_version: str, crds: StackCrds | None = None) -> list[str]:
    """All schema errors of one object, as 'path: message'. Raises NoSchema for an unknown kind.
    A custom resource is checked against `crds` (the CRDs the stack installs) when they define its kind."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    if kind == "Secret" and api_version == "v1":
        obj = {k: ({} if k in ("data", "stringData") and v == SECRET_PLACEHOLDER else v) for k, v in obj.items()}
    if "/" in api_version and "." in api_version.split("/")[0] and not api_version.split("/")[0].endswith("k8s.io"):
        group, version = api_version.split("/")
        validator: Any = (crds and crds.validator(group, version, kind)) or _crd_validator(group, version, kind)
    else:
        validator = _core_validator(_schema_version(k8s_version), kind, api_version)
    found = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


def crd_dir_present() -> bool:
    return CRD_DIR.is_dir()


def describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name', '')}"


def load_yaml_dir(path: Path) -> list[dict[str, Any]]:
    import yaml

    return [yaml.safe_load(p.read_text()) for p in sorted(path.glob("*.yaml"))]
