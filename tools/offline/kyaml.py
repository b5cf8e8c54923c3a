"""Read and write Kubernetes YAML the way the Kubernetes tools read it.

helm and kubectl decode manifests with sigs.k8s.io/yaml (go-yaml v2 to JSON). PyYAML's SafeLoader agrees
on booleans and numbers but differs in two ways that matter for rendered charts:

- `=` alone is YAML 1.1's "value" type, which SafeLoader cannot construct; Kubernetes reads a plain
  string (prometheus-operator's CRDs list `=` among a relabeling action's enum values);
- an unquoted date or timestamp becomes a Python date; Kubernetes' JSON form is a string. Here it stays
  the string as written.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster on CRDs


class KubeLoader(_Base):
    """SafeLoader with `=` as a string and timestamps left as written."""


KubeLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]
KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_SLUG = re.compile(r"[^a-z0-9.-]+")


def load_all(text: str) -> list[dict[str, Any]]:
    """Every non-empty document of a multi-document YAML stream that is a Kubernetes object."""
    return [d for d in yaml.load_all(text, Loader=KubeLoader) if isinstance(d, dict) and d.get("kind")]


_DOC_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.M)


def load_stream(text: str, cache: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """`load_all` for a stream whose documents are separated by `---` lines at column 0 (helm's output),
    parsing each document once per `cache` (a rerender mostly repeats the documents of the first render).
    The objects returned are fresh copies."""
    out: list[dict[str, Any]] = []
    for chunk in _DOC_SEPARATOR.split(text):
        if not chunk.strip():
            continue
        if cache is None or chunk not in cache:
            parsed = load(chunk)
            if cache is None:
                if isinstance(parsed, dict) and parsed.get("kind"):
                    out.append(parsed)
                continue
            cache[chunk] = parsed
        parsed = copy.deepcopy(cache[chunk])
        if isinstance(parsed, dict) and parsed.get("kind"):
            out.append(parsed)
    return out


def load(text: str) -> Any:
    return yaml.load(text, Loader=KubeLoader)


def dump(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=120)


_FastDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_fast(obj: Any) -> str:
    """As `dump`, through libyaml (6x faster on large CRDs); long strings may wrap differently."""
    return yaml.dump(obj, Dumper=_FastDumper, sort_keys=True, default_flow_style=False, width=120)


def slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")


def file_name(obj: dict[str, Any]) -> str:
    """`<kind>--<namespace or _cluster>--<name>.yaml`: the name of one object's file under manifests/."""
    meta = obj.get("metadata") or {}
    return (
        f"{slug(obj['kind'])}--{slug(meta.get('namespace') or '_cluster')}--{slug(meta.get('name') or 'unnamed')}.yaml"
    )
