"""ConfigError and the translation of pydantic's errors into config-key messages.

Every message a user sees has the same shape:
    gpu-platform:<key path>: <what is wrong, with the value received>; <what is allowed / how to fix>
and all problems of a stack file are reported at once.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

NAMESPACE = "gpu-platform"


def _natural_key(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdecimal() else (1, part) for part in re.split(r"(\d+)", text)]


class ConfigError(pulumi.RunError):
    """Invalid stack configuration. A `pulumi.RunError`, so `pulumi up` prints the messages without a
    Python traceback; the offline runner prints them and exits 2."""

    def __init__(self, problems: Iterable[str]) -> None:
        # Natural order (models[2] before models[10]) so a long list reads like the stack file.
        self.problems: list[str] = sorted(set(problems), key=_natural_key)
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"invalid stack configuration ({n} problem{'s' if n != 1 else ''}):"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def key_path(loc: Sequence[str | int]) -> str:
    """('nodePools', 1, 'maxSize') -> 'gpu-platform:nodePools[1].maxSize'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return f"{NAMESPACE}:{out}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A '; did you mean 'x'?' suffix, or a list of the allowed names when nothing is close."""
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "allowed keys: " + ", ".join(options)


def show(value: Any) -> str:
    """A value as the user wrote it: strings quoted, long values cut."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unwrap(annotation: Any) -> Any:
    """Strip Optional / list / tuple / dict wrappers down to the element type used at the next loc."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model class that owns the last element of `loc` (for did-you-mean on unknown keys)."""
    current: Any = root
    for part in loc[:-1]:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if origin in (list, tuple, dict, typing.Union, types.UnionType) or origin is not None:
            args = [a for a in typing.get_args(current) if a is not Ellipsis]
            current = _unwrap(args[-1]) if args else None
            if isinstance(part, int) or origin is dict:
                continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = _field_by_alias(current, str(part))
            if field is None:
                return None
            current = field
        else:
            return None
    current = _unwrap(current)
    origin = typing.get_origin(current)
    if origin in (list, tuple):
        current = _unwrap(typing.get_args(current)[0])
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_by_alias(model: type[BaseModel], alias: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            return info.annotation
    return None


def aliases_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "tuple_type": "a list",
}


def translate(err: ErrorDetails, root: type[BaseModel], prefix: Sequence[str | int] = ()) -> str:
    """One pydantic error -> one config message (key path, value received, what is allowed, fix)."""
    loc = [*prefix, *err["loc"]]
    # Tagged unions add the tag to loc (e.g. 'function-after[...]'); keep only real keys.
    loc = [p for p in loc if isinstance(p, int) or not ("[" in p or "(" in p)]
    path = key_path(loc)
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        owner = _model_at(root, list(err["loc"]))
        hint = did_you_mean(str(loc[-1]), aliases_of(owner)) if owner else "remove it"
        return f"{path}: unknown key; {hint}"
    if kind == "missing":
        return f"{path}: required key is missing; add it to the stack file"
    if kind == "literal_error":
        return f"{path}: {show(value)} is not allowed; choose one of {ctx.get('expected')}"
    if kind == "string_type" and isinstance(value, (bool, int, float)):
        # YAML reads an unquoted 1.30 as the number 1.3 and yes/true as booleans before we ever see the text.
        if isinstance(value, bool):
            return f"{path}: expected a string, got the boolean {str(value).lower()}; quote it in the stack file"
        return (
            f"{path}: expected a string, got the number {value!r}; quote it in the stack file: unquoted, YAML "
            "reads digits as a number and drops trailing zeros (1.30 is read as 1.3), so write '1.30'"
        )
    if kind == "finite_number":
        return f"{path}: expected a finite number, got {show(value)}; write a number such as 16"
    if kind in _TYPE_WORDS:
        return f"{path}: expected {_TYPE_WORDS[kind]}, got {show(value)}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"{path}: must be {sign} {bound}, got {show(value)}"
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        word = "at least" if kind == "too_short" else "at most"
        return f"{path}: needs {word} {bound} item(s), got {ctx.get('actual_length')}"
    if kind == "string_pattern_mismatch":
        return f"{path}: {show(value)} does not match the pattern {ctx.get('pattern')}"
    if kind == "value_error" or kind.startswith("gp_"):
        # Our own validators raise PydanticCustomError with a complete message.
        msg = str(ctx.get("error", err["msg"]))
        return f"{path}: {msg.removeprefix('Value error, ')}"
    return f"{path}: {err['msg']} (got {show(value)})"


def from_validation_error(exc: ValidationError, root: type[BaseModel], prefix: Sequence[str | int] = ()) -> list[str]:
    errors = exc.errors(include_url=False)
    nested = [tuple(e["loc"]) for e in errors]

    def echoed(e: ErrorDetails) -> bool:
        # pydantic re-checks a list's length after dropping invalid items; that echo is noise when
        # the items themselves were reported.
        loc = tuple(e["loc"])
        return e["type"] == "too_short" and any(len(n) > len(loc) and n[: len(loc)] == loc for n in nested)

    return [translate(e, root, prefix) for e in errors if not echoed(e)]
