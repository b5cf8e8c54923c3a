"""A stack file read and edited as text a reviewer will diff: ruamel.yaml round trip, so comments, key
order, quoting and flow style survive every weight change (docs/progressive-delivery.md).

ruamel.yaml reads YAML 1.2, as the Pulumi CLI does, and refuses duplicate keys. Every way a stack file
can be unreadable (not UTF-8, too large, a syntax error, a root, `config:` or `gpu-platform:models`
of the wrong type, a model without a traffic block) is a ReleaseError naming the file and, where the
parser knows it, the line.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from tools.release.errors import ReleaseError

KEY = "gpu-platform:models"
MAX_BYTES = 1 << 20
"""Our stack files are a few KiB; a megabyte is a mistake (or an attack), not configuration."""
DEFAULT_STEPS = (10, 25, 50, 100)  # = stacks/spec/models.py ModelSpec.rollout_steps
MAX_FLOW_DEPTH = 64
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)  # the stack files' style: "  - name: ..." under a key
    return y


def _flow_depth(text: str) -> int:
    """Deepest nesting of flow collections ([ and {) outside quotes and comments: the parser recurses once per
    level, and thousands of levels cost seconds before Python's recursion limit stops it."""
    depth = deepest = 0
    quote = ""
    previous = "\n"
    comment = False
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"" and depth:
            quote = ch
        elif ch == "#" and previous in " \t\n":
            comment = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
        previous = ch
    return deepest


def stack_names(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def _where(err: MarkedYAMLError) -> str:
    mark = err.problem_mark or err.context_mark
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def _references(root: Any, target: object) -> int:
    """How many places of the document hold `target` (more than one: it is shared through an anchor).
    Each container is walked once, so an alias bomb costs its size, not its expansion."""
    seen: set[int] = set()
    found = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if child is target:
                found += 1
            if isinstance(child, (dict, list)):
                stack.append(child)
    return found


@dataclass
class StackFile:
    path: Path
    doc: CommentedMap

    @classmethod
    def load(cls, project_dir: Path, stack: str) -> StackFile:
        if not _STACK_NAME.match(stack):
            raise ReleaseError(f"error: {stack!r} is not a stack name (letters, digits, '-', '_' and '.')")
        path = project_dir / f"Pulumi.{stack}.yaml"
        if not path.is_file():
            known = ", ".join(stack_names(project_dir)) or "none"
            raise ReleaseError(f"error: no stack {stack!r}: {path} does not exist; stacks: {known}")
        return cls.parse(path, path.read_bytes())

    @classmethod
    def parse(cls, path: Path, data: bytes) -> StackFile:
        name = path.name
        if len(data) > MAX_BYTES:
            raise ReleaseError(f"error: {name}: {len(data)} bytes is more than the {MAX_BYTES} a stack file may have")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
            raise ReleaseError(
                f"error: {name} (line {line}, column {column}): byte 0x{data[err.start]:02x} is not UTF-8; save the "
                "file as UTF-8"
            ) from None
        deepest = _flow_depth(text)
        if deepest > MAX_FLOW_DEPTH:
            raise ReleaseError(
                f"error: {name}: [ and {{ nested {deepest} levels deep; a stack file needs a few, at most {MAX_FLOW_DEPTH}"
            )
        try:
            doc = _yaml().load(text)
        except DuplicateKeyError as err:
            raise ReleaseError(
                f"error: {name}{_where(err)}: {err.problem}; the Pulumi CLI refuses duplicate keys too, keep one"
            ) from None
        except MarkedYAMLError as err:
            what = " ".join(str(x) for x in (err.context, err.problem) if x)
            raise ReleaseError(f"error: {name}{_where(err)}: {what}; fix the YAML") from None
        except RecursionError:
            raise ReleaseError(f"error: {name}: nested too deeply for a stack file; flatten it") from None
        except (YAMLError, ValueError, TypeError) as err:
            raise ReleaseError(f"error: {name}: not readable as YAML ({type(err).__name__}: {err})") from None
        if not isinstance(doc, CommentedMap):
            raise ReleaseError(f"error: {name}: the file must be a mapping with a `config:` key, got {_kind(doc)}")
        config = doc.get("config")
        if config is not None and not isinstance(config, CommentedMap):
            raise ReleaseError(f"error: {name}: `config:` must be a mapping of keys to values, got {_kind(config)}")
        models = (config or {}).get(KEY)
        if models is not None and not isinstance(models, CommentedSeq):
            raise ReleaseError(f"error: {name}: `{KEY}` must be a list of models, got {_kind(models)}")
        return cls(path, doc)

    def models(self) -> list[CommentedMap]:
        config = self.doc.get("config") or {}
        return [m for m in (config.get(KEY) or []) if isinstance(m, CommentedMap)]

    def model(self, name: str) -> CommentedMap:
        for m in self.models():
            if m.get("name") == name:
                return m
        names = ", ".join(str(m.get("name")) for m in self.models()) or "none"
        raise ReleaseError(f"error: {self.path.name} has no model {name!r}; models: {names}")

    def editable_traffic(self, m: CommentedMap) -> CommentedMap:
        """The model's traffic block, refused when an edit of it would change something else too."""
        traffic = traffic_of(self, m)
        if _references(self.doc, m) > 1:
            raise ReleaseError(
                f"error: {self.path.name}: model {m.get('name')!r} is a YAML alias of another entry; an edit would "
                "change both; write the model out in full"
            )
        if _references(self.doc, traffic) > 1:
            raise ReleaseError(
                f"error: {self.path.name}: the traffic block of model {m.get('name')!r} is shared through a YAML "
                "anchor with another place (e.g. another model's traffic); changing its weight would move both; "
                "write a separate traffic block for each model, then retry"
            )
        return traffic

    def text(self) -> str:
        buf = io.StringIO()
        _yaml().dump(self.doc, buf)
        return buf.getvalue()

    def save(self) -> None:
        write_atomic(self.path, self.text())


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` in one rename: a crash leaves the old or the new file, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def traffic_of(sf: StackFile, m: CommentedMap) -> CommentedMap:
    t = m.get("traffic")
    if not isinstance(t, CommentedMap) or not isinstance(t.get("stable"), str):
        raise ReleaseError(
            f"error: {sf.path.name}: model {m.get('name')!r} has no valid `traffic:` block with a `stable` version"
        )
    return t


def weight_of(t: CommentedMap) -> int | None:
    """The candidate weight as written, or None when it is not a whole number from 0 to 100."""
    w = t.get("candidateWeight", 0)
    if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 100:
        return None
    return int(w)


def steps_of(m: CommentedMap) -> list[int]:
    raw = m.get("rolloutSteps", list(DEFAULT_STEPS))
    if not isinstance(raw, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in raw):
        return list(DEFAULT_STEPS)
    return sorted(int(s) for s in raw)


def split(t: CommentedMap) -> str:
    cand = t.get("candidate")
    if not cand:
        return f"stable {t['stable']} 100%"
    w = weight_of(t)
    if w is None:
        return f"stable {t['stable']}, candidate {cand} at an invalid weight {t.get('candidateWeight')!r}"
    return f"stable {t['stable']} {100 - w}%, candidate {cand} {w}%"


def next_weight(m: CommentedMap) -> int | None:
    """The next rollout step above the current weight; None when the candidate already has 100%."""
    w = weight_of(m["traffic"]) or 0
    return next((s for s in steps_of(m) if s > w), None)


def iter_stacks(project_dir: Path, stack: str | None) -> Iterator[tuple[str, StackFile | ReleaseError]]:
    """Each stack file, or why it could not be read: one broken file does not hide the others."""
    for name in [stack] if stack else stack_names(project_dir):
        try:
            yield name, StackFile.load(project_dir, name)
        except ReleaseError as err:
            yield name, err
