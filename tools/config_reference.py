"""Print the config reference (every `gpu-platform:*` key, its type, default and effect) as markdown.

Generated from the stack spec models so the docs cannot drift: tests compare the section of
docs/config-reference.md between the config-reference markers with this output. Regenerate with
    python -m tools.config_reference --write
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from stacks.spec.stack import StackSpec

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "config-reference.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def _type_name(t: Any) -> str:
    origin = typing.get_origin(t)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(t)[0])
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(t))
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(t))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(t)[0])}"
    if origin is dict:
        return "map"
    if t is type(None):
        return "null"
    if isinstance(t, type) and issubclass(t, BaseModel):
        return "object"
    return getattr(t, "__name__", str(t))


def _element_model(t: Any) -> type[BaseModel] | None:
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType, tuple, typing.Annotated):
        for a in typing.get_args(t):
            m = _element_model(a)
            if m is not None:
                return m
        return None
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


def _default(info: Any) -> str:
    if info.is_required():
        return "required"
    d = info.default if info.default is not PydanticUndefined else None
    if isinstance(d, BaseModel):
        return "see below"
    if d in ((), {}, None):
        return "—" if d is None else f"`{d!r}`".replace("()", "[]")
    return f"`{str(d).lower() if isinstance(d, bool) else d}`"


def rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        desc = " ".join((info.description or "").split()).replace("|", "\\|")
        out.append(f"| `{key}` | {_type_name(info.annotation)} | {_default(info)} | {desc} |")
        sub = _element_model(info.annotation)
        if sub is not None:
            is_list = typing.get_origin(info.annotation) is tuple
            out += rows(sub, f"{key}[]." if is_list else f"{key}.")
    return out


def render() -> str:
    head = ["| key (under `gpu-platform:`) | type | default | what it does |", "|---|---|---|---|"]
    return "\n".join([START, *head, *rows(StackSpec), END])


def main() -> int:
    text = REFERENCE.read_text()
    start, end = text.index(START), text.index(END) + len(END)
    if "--write" in sys.argv:
        REFERENCE.write_text(text[:start] + render() + text[end:])
    else:
        print(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
