"""YAML reading and JSON writing the way the Pulumi CLI (Go) does them, for the offline config loader.

The CLI reads Pulumi.yaml and Pulumi.<stack>.yaml with gopkg.in/yaml.v3 and hands structured config
values to the program as Go `encoding/json` text. A YAML 1.1 reader (PyYAML) would turn `yes`, `on`, `0o17`,
`1:30` or `2024-01-01` into other values than the CLI does. tools/offline/stack_yaml.py parses the file
(YAML 1.2 syntax) and this module reproduces what the CLI does for plain (unquoted) scalars and for JSON text:

- `resolve_plain`: yaml.v3 `resolve()` (gopkg.in/yaml.v3@v3.0.1 resolve.go) for an untagged plain scalar;
- `go_json`: Go `json.Marshal` (sorted map keys, no spaces, HTML-safe escapes, Go float formatting);
- `go_text`: a scalar as pulumi's `object.MarshalString` / `fmt.Sprintf("%v")` gives it to the program.

Timestamps other than a bare date cannot be reproduced faithfully (Go's time zone naming depends on the
machine's local zone): they are refused with a message asking to quote the value.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

_RESOLVE_MAP: dict[str, Any] = {
    **{s: True for s in ("true", "True", "TRUE")},
    **{s: False for s in ("false", "False", "FALSE")},
    **{s: None for s in ("", "~", "null", "Null", "NULL")},
    **{s: math.nan for s in (".nan", ".NaN", ".NAN")},
    **{s: math.inf for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: -math.inf for s in ("-.inf", "-.Inf", "-.INF")},
}
_YAML_STYLE_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")  # what Go's ParseFloat accepts after a leading '.'
# strconv.ParseInt(s, 0, 64): sign, then 0x / 0o / 0b prefix, a leading 0 (octal) or decimal digits.
_GO_INT = re.compile(r"^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_INT64 = (-(2**63), 2**63 - 1)


class GoYamlError(ValueError):
    """A value the offline loader cannot read the way the CLI does."""


def _go_parse_int(s: str) -> int | None:
    m = _GO_INT.match(s)
    if not m or len(s) > 80:  # beyond any int64/uint64 in any base (and Python's int() digit limit)
        return None
    sign, body = m.groups()
    lower = body.lower()
    if lower.startswith(("0x", "0o", "0b")):
        n = int(body[2:], {"x": 16, "o": 8, "b": 2}[lower[1]])
    elif len(body) > 1 and body.startswith("0"):
        n = int(body, 8)
    else:
        n = int(body)
    return -n if sign == "-" else n


def _timestamp(s: str) -> Any:
    i = 0
    while i < len(s) and s[i].isdigit() and s[i].isascii():
        i += 1
    if i != 4 or i == len(s) or s[i] != "-":
        return None
    m = _DATE.match(s)
    if m:
        y, mo, d = (int(g) for g in m.groups())
        # time.Time.String() of a bare date decoded by yaml.v3 (UTC), as pulumi's unmarshalObject keeps it.
        return f"{y:04d}-{mo:02d}-{d:02d} 00:00:00 +0000 UTC"
    if re.match(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[Tt ]", s):
        raise GoYamlError(
            f"{s!r} reads as a timestamp, which the CLI turns into a Go time string the offline runner cannot "
            f"reproduce; quote it if you mean a string"
        )
    return None


def resolve_plain(s: str) -> Any:
    """The value yaml.v3 gives an untagged plain scalar decoded into `any` (a date comes back as the
    string pulumi's config layer makes of the Go time.Time)."""
    first = s[:1]
    hint = (
        "N"
        if not s
        else "S"
        if first in "+-"
        else "D"
        if first.isdigit() and first.isascii()
        else "M"
        if first in "yYnNtTfFoO~"
        else "."
        if first == "."
        else ""
    )
    if not hint:
        return s
    if s in _RESOLVE_MAP:
        return _RESOLVE_MAP[s]
    if hint == "." and _DOT_FLOAT.match(s):
        return float(s)
    if hint in ("D", "S"):
        stamp = _timestamp(s)
        if stamp is not None:
            return stamp
        plain = s.replace("_", "")
        n = _go_parse_int(plain)
        if n is not None and (_INT64[0] <= n <= _INT64[1] or (0 <= n < 2**64 and not plain.startswith("+"))):
            return n
        if _YAML_STYLE_FLOAT.match(plain):
            f = float(plain)
            if not math.isinf(f):  # ParseFloat reports out of range: the scalar stays a string
                return f
    return s


def _go_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise GoYamlError(f"json: unsupported value: {f!r}")
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        s = repr(f)  # shortest round-trip digits, exponent form in this range
        s = re.sub(r"e([-+])0(\d)$", lambda m: f"e{m.group(1)}{m.group(2)}" if m.group(1) == "-" else m.group(0), s)
        return s
    s = format(Decimal(repr(f)), "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


_HTML_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _go_string(s: str) -> str:
    out = json.dumps(s, ensure_ascii=False)
    return "".join(_HTML_SAFE.get(c, c) for c in out)


def go_json(value: Any) -> str:
    """Go's json.Marshal of a decoded YAML/JSON value (maps with sorted keys, compact)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted((go_text(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_go_string(k)}:{go_json(v)}" for k, v in items) + "}"
    raise GoYamlError(f"unexpected config value of type {type(value).__name__}: {value!r}")


def go_text(value: Any) -> str:
    """A scalar as the program receives it: strings as is, other scalars in their JSON form."""
    return value if isinstance(value, str) else go_json(value)
