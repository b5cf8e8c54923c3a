"""The one reader of Pulumi.yaml and Pulumi.<stack>.yaml for the offline tools: YAML as the Pulumi CLI reads it,
with bounds the CLI lacks, and every problem as a message naming the file, line and key.

    doc = load_stack_yaml(path)        # dict / list / scalars, or StackFileError (never a traceback)

The CLI (sdk/go/common/encoding/marshal.go, workspace/loaders.go) reads a stack file with gopkg.in/yaml.v3
into `any`, then insists on an object at the root with string keys everywhere (SimplifyMarshalledProject).
What this reader does the same way (docs/stack-files.md#how-a-stack-file-is-read):

- syntax: libyaml's parser (PyYAML's binding of libyaml 0.2.5), events only, nothing constructed by a
  library. yaml.v3 is a Go port of libyaml, so what the CLI cannot parse is refused here in the same words
  ("mapping values are not allowed in this context"); without libyaml, ruamel.yaml's YAML 1.2 parser;
- values: plain scalars resolved as yaml.v3 resolves them into `any` (YAML 1.2 core schema plus yaml.v3's
  extras; tools/offline/gowire.py resolve_plain): `2:00`, `yes`, `on` are strings, `1.30` is the float 1.3
  (the spec then asks to quote it), `0x1F` and `0o17` integers, a bare date a Go time string;
- a mapping key written twice is an error (yaml.v3: "mapping key already defined at line N"), compared as
  written (`a` and `'a'` are the same key), as yaml.v3 compares them;
- merge keys (`<<: *base`): keys written in the mapping win, then the first merged mapping that has the key;
- a root that is not a mapping, and a mapping key that is not a string, are errors;
- `.inf` / `.nan` are errors: the CLI hands structured config to the program as Go JSON, which refuses them;
- a UTF-8 byte-order mark is dropped (readFileStripUTF8BOM).

Where it is stricter than the CLI, on purpose (each is a silent surprise or a hang under the CLI):

- the file must be UTF-8 text, at most MAX_BYTES bytes, one YAML document (yaml.v3 ignores a second one);
- nesting is limited to MAX_DEPTH levels, and the document with every alias expanded to MAX_NODES values
  (yaml.v3 refuses "excessive aliasing" only by a ratio, and a plan walks the expanded values many times);
- an alias to a node that contains it is refused (yaml.v3: "anchor 'x' value contains itself");
- tags other than YAML's core ones (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`) are
  refused: yaml.v3 drops them silently (`!!python/object` on a mapping reads as a plain mapping).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError as RuamelYAMLError

from tools.offline.gowire import GoYamlError, resolve_plain

MAX_BYTES = 1024 * 1024  # our stack files are a few KiB; the generated 1,000-model stack is built in memory
MAX_DEPTH = 64  # a stack file nests about 10 levels (config > key > addons > istio > gateway > routes > ...)
MAX_NODES = 200_000  # values after alias expansion: ~50x a large stack file, built in a fraction of a second
# The parser: libyaml 0.2.5 through PyYAML's binding (yaml.v3 is a Go port of libyaml: same syntax, same
# syntax errors; ~1 MB/s), else ruamel.yaml's pure-Python YAML 1.2 parser (~0.1 MB/s). Not ruamel.yaml.clib:
# its bundled libyaml predates 0.2.1 and refuses `[org/repo:ref]`, which yaml.v3 and Pulumi.prod.yaml use.
PURE_PARSER = not yaml.__with_libyaml__

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}": t for t in ("str", "int", "float", "bool", "null")}
_COLLECTION_TAGS = {f"{_CORE}map": "map", f"{_CORE}seq": "seq"}


class StackFileError(ValueError):
    """A stack file the offline runner refuses; str() names the file, line and key of each problem."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        head = f"cannot read {self.path}" + (":" if len(problems) == 1 else f" ({len(problems)} problems):")
        body = problems[0] if len(problems) == 1 else "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{head} {body}" if len(problems) == 1 else f"{head}\n{body}")


@dataclass(eq=False)
class _Node:
    kind: str  # "scalar" | "seq" | "map"
    line: int  # 1-based, as editors and yaml.v3 count
    tag: str | None = None
    text: str = ""  # scalar source text
    plain: bool = False  # an untagged plain scalar: resolved as yaml.v3 resolves it
    items: list[_Node] = field(default_factory=list)  # seq items, or map keys and values alternating
    size: int = 1  # values with every alias expanded (so far, while the collection is open)
    depth: int = 1
    done: bool = False


def _where(path: list[str | int]) -> str:
    """('config', 'gpu-platform:addons', 'istio', 'routes', 0) -> 'gpu-platform:addons.istio.routes[0]'
    (inside `config:` the key as `pulumi config` names it), else 'config' / 'the top level'."""
    parts = path[1:] if path[:1] == ["config"] and len(path) > 1 else path
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "the top level"


class _Composer:
    """Events -> a node graph (aliases shared, not copied), iteratively, with the bounds checked as each
    node completes, so an alias bomb stops at the first node past MAX_NODES."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.anchors: dict[str, _Node] = {}
        self.stack: list[_Node] = []
        self.keys: list[str | int] = []  # the key path of the node being composed
        self.root: _Node | None = None
        self.line = 1

    def fail(self, line: int, message: str, *, pending: bool = False) -> StackFileError:
        """`pending`: the parser stopped inside a value whose key was read (name that key too)."""
        keys = list(self.keys)
        top = self.stack[-1] if self.stack else None
        if pending and top is not None and top.kind == "map" and len(top.items) % 2 == 1:
            keys.append(self._path_key(top))
        return StackFileError(self.path, [f"line {line}, {_where(keys)}: {message}"])

    def _path_key(self, parent: _Node) -> str | int:
        if parent.kind == "seq":
            return len(parent.items)
        if len(parent.items) % 2 == 0:
            return "(key)"
        key = parent.items[-1]
        return key.text if key.kind == "scalar" else "(key)"

    def _attach(self, node: _Node) -> None:
        if not self.stack:
            if self.root is not None:
                raise self.fail(node.line, "a second YAML document; a stack file holds one (the CLI ignores the rest)")
            self.root = node
            return
        parent = self.stack[-1]
        parent.items.append(node)
        parent.size += node.size  # running totals: every check is O(depth), whatever the number of aliases
        parent.depth = max(parent.depth, node.depth + 1)
        if node.depth + len(self.stack) > MAX_DEPTH:
            raise self.fail(node.line, f"nested deeper than {MAX_DEPTH} levels; a stack file needs about 10")

    def _open(self, node: _Node, anchor: str | None) -> None:
        if self.stack:
            self.keys.append(self._path_key(self.stack[-1]))
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail(node.line, f"nested deeper than {MAX_DEPTH} levels; a stack file needs about 10")
        if anchor is not None:
            self.anchors[anchor] = node
        self.stack.append(node)

    def _close(self) -> None:
        node = self.stack.pop()
        node.done = True
        self._check_size(node)
        if self.stack:
            self.keys.pop()
        self._attach(node)

    def _check_size(self, node: _Node) -> None:
        if node.size > MAX_NODES:
            raise self.fail(
                node.line,
                f"with its aliases expanded this holds more than {MAX_NODES:,} values (an alias bomb?); "
                "write the values out or use fewer aliases",
            )

    def feed(self, event: Any) -> None:
        line = event.start_mark.line + 1 if event.start_mark is not None else self.line
        self.line = line
        kind = type(event).__name__  # PyYAML's and ruamel's event classes share their names
        if kind == "AliasEvent":
            if self.stack:
                self.keys.append(self._path_key(self.stack[-1]))
            target = self.anchors.get(str(event.anchor))
            if target is None:
                raise self.fail(line, f"unknown anchor {str(event.anchor)!r} referenced")
            if not target.done:
                raise self.fail(line, f"anchor {str(event.anchor)!r} value contains itself")
            self._attach(target)
            if self.stack:
                self.keys.pop()
            self._check_running(line)
        elif kind == "ScalarEvent":
            plain = not event.style and event.tag is None  # libyaml says "", the pure parser None
            node = _Node("scalar", line, tag=_tag(event.tag), text=str(event.value), plain=plain, done=True)
            if event.anchor is not None:
                self.anchors[str(event.anchor)] = node
            if self.stack:
                self.keys.append(self._path_key(self.stack[-1]))
            self._attach(node)
            if self.stack:
                self.keys.pop()
        elif kind in ("SequenceStartEvent", "MappingStartEvent"):
            node = _Node("seq" if kind == "SequenceStartEvent" else "map", line, tag=_tag(event.tag))
            self._open(node, None if event.anchor is None else str(event.anchor))
        elif kind in ("SequenceEndEvent", "MappingEndEvent"):
            self._close()

    def _check_running(self, line: int) -> None:
        """Partial sizes of the open collections: a bomb's last level never completes before it is refused."""
        if sum(node.size for node in self.stack) > MAX_NODES:
            raise self.fail(
                line,
                f"with its aliases expanded this holds more than {MAX_NODES:,} values (an alias bomb?); "
                "write the values out or use fewer aliases",
            )


def _tag(tag: Any) -> str | None:
    return None if tag is None else str(tag)


def _decode(path: Path, data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise StackFileError(path, [f"{len(data):,} bytes; a stack file is at most {MAX_BYTES:,} bytes here"])
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        start = data.rfind(b"\n", 0, err.start) + 1
        end = data.find(b"\n", err.start)
        shown = data[start : end if end >= 0 else len(data)].decode("utf-8", "replace").strip()
        raise StackFileError(
            path,
            [
                f"line {line}: not UTF-8 text (byte 0x{data[err.start]:02x} at column {err.start - start + 1}, "
                f"in {shown[:80]!r}); save the file as UTF-8"
            ],
        ) from None


def _parse(path: Path, text: str) -> _Node | None:
    composer = _Composer(path)
    events: Iterator[Any] = (
        YAML(typ="safe", pure=True).parse(text) if PURE_PARSER else yaml.parse(text, Loader=yaml.CSafeLoader)
    )
    try:
        for event in events:
            composer.feed(event)
    except (yaml.YAMLError, RuamelYAMLError) as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = mark.line + 1 if mark is not None else composer.line
        problem = getattr(err, "problem", None) or str(err).strip().splitlines()[0]
        context = getattr(err, "context", None)
        what = f"{context}, {problem}" if context else str(problem)
        raise composer.fail(line, f"invalid YAML: {what}", pending=True) from None
    except RecursionError:  # the parser's own state stack is iterative; this is a last line of defence
        raise composer.fail(composer.line, f"nested deeper than {MAX_DEPTH} levels") from None
    return composer.root


@dataclass
class _Builder:
    """Nodes -> Python values as yaml.v3 decodes them into `any` (maps with string keys, lists, scalars)."""

    path: Path
    problems: list[str] = field(default_factory=list)

    def problem(self, node: _Node, where: list[str | int], message: str) -> None:
        self.problems.append(f"line {node.line}, {_where(where)}: {message}")

    def value(self, node: _Node, where: list[str | int]) -> Any:
        if node.kind == "scalar":
            return self.scalar(node, where)
        if node.tag is not None and node.tag not in _COLLECTION_TAGS:
            self.problem(node, where, f"tag {_short(node.tag)} is not allowed; remove it (the Pulumi CLI ignores it)")
        if node.kind == "seq":
            return [self.value(item, [*where, i]) for i, item in enumerate(node.items)]
        return self.mapping(node, where)

    def scalar(self, node: _Node, where: list[str | int]) -> Any:
        value = self._scalar(node, where)
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(
                node,
                where,
                f"{node.text} is not a finite number, and the CLI hands config to the program as JSON, which has "
                "no infinity or NaN; write a number",
            )
            return node.text
        return value

    def _scalar(self, node: _Node, where: list[str | int]) -> Any:
        tag = node.tag
        if tag is None or tag == "!":
            if not node.plain:
                return node.text  # quoted, block or `!`-tagged: a string
            try:
                return resolve_plain(node.text)
            except GoYamlError as err:
                self.problem(node, where, str(err))
                return node.text
        kind = _SCALAR_TAGS.get(tag)
        if kind is None:
            self.problem(node, where, f"tag {_short(tag)} is not allowed; remove it (the Pulumi CLI reads a string)")
            return node.text
        if kind == "str":
            return node.text
        try:
            value = resolve_plain(node.text)
        except GoYamlError:
            value = node.text
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "null": value is None,
        }[kind]
        if not ok:
            self.problem(node, where, f"cannot decode {node.text!r} as a !!{kind} (yaml.v3 refuses it too)")
            return node.text
        return float(value) if kind == "float" else value

    def key(self, node: _Node, where: list[str | int]) -> str | None:
        if node.kind != "scalar":
            self.problem(node, where, "a mapping key must be a string, not a list or mapping")
            return None
        value = self.scalar(node, where)
        if not isinstance(value, str) or (node.plain and value != node.text):
            self.problem(
                node,
                where,
                f"mapping key {node.text!r} reads as {_kind(value)}, and the Pulumi CLI takes string keys only "
                f"(expected only string keys); quote it",
            )
            return None
        return value

    def mapping(self, node: _Node, where: list[str | int]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[_Node] = []
        pairs = list(zip(node.items[0::2], node.items[1::2], strict=True))
        for k, v in pairs:
            if k.kind == "scalar" and k.text == "<<" and (k.plain or k.tag == f"{_CORE}merge"):
                merges.append(v)
                continue
            if k.kind == "scalar" and k.text in first_line:
                self.problem(
                    k,
                    [*where, k.text],
                    f"mapping key {k.text!r} already defined at line {first_line[k.text]}; the Pulumi CLI refuses "
                    "duplicate keys: keep one",
                )
                continue
            if k.kind == "scalar":
                first_line[k.text] = k.line
            name = self.key(k, [*where, k.text if k.kind == "scalar" else "(key)"])
            if name is not None:
                out[name] = self.value(v, [*where, name])
        for merge in merges:
            sources = merge.items if merge.kind == "seq" else [merge]
            for src in sources:
                if src.kind != "map":
                    self.problem(merge, where, "map merge requires map or sequence of maps as the value")
                    continue
                merged = self.mapping(src, where)
                for k2, v2 in merged.items():
                    out.setdefault(k2, v2)
        return out


def _short(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return "a timestamp"


def _describe(node: _Node) -> str:
    if node.kind != "scalar":
        return "a list" if node.kind == "seq" else "a mapping"
    text = node.text if len(node.text) <= 40 else node.text[:37] + "..."
    return f"the scalar {text!r}"


def _shape_problems(root: _Node) -> list[str]:
    """A stack file is a mapping whose `config:` is a mapping (or empty), as LoadProjectStackBytes needs."""
    if root.kind != "map":
        return [
            f"line {root.line}, the top level: {_describe(root)}, not a mapping; a stack file is a mapping with a "
            "`config:` key (the CLI: expected project to be an object)"
        ]
    for key, value in zip(root.items[0::2], root.items[1::2], strict=True):
        empty = value.kind == "scalar" and value.plain and value.text in ("", "~", "null", "Null", "NULL")
        if key.kind == "scalar" and key.text == "config" and value.kind != "map" and not empty:
            return [
                f"line {value.line}, config: {_describe(value)}, not a mapping; write `config:` followed by "
                "indented `<namespace>:<key>: <value>` lines"
            ]
    return []


def loads(path: Path | str, data: bytes, *, stack_file: bool = False) -> Any:
    """The document in `data` (read from `path`, which messages name), or StackFileError. `stack_file`: also
    require the shape of a stack file (a mapping, `config:` a mapping)."""
    p = Path(path)
    root = _parse(p, _decode(p, data))
    if root is None:
        return None
    shape = _shape_problems(root) if stack_file else []
    if shape:
        raise StackFileError(p, shape)
    builder = _Builder(p)
    doc = builder.value(root, [])
    if builder.problems:
        raise StackFileError(p, builder.problems)
    return doc


def load_stack_yaml(path: Path, *, stack_file: bool = False) -> Any:
    """Read Pulumi.yaml or Pulumi.<stack>.yaml (`stack_file`: with its shape checked); an empty file is None,
    as for the CLI."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise StackFileError(path.name, [f"cannot open it: {err.strerror}"]) from None
    return loads(path.name, data, stack_file=stack_file)
