"""Load and validate the stack spec from Pulumi config, before any resource is registered.

    spec = load_spec()      # raises ConfigError listing every problem, never a traceback

Config arrives as the engine passes it: one entry per `gpu-platform:<key>`, structured values as JSON
strings. Project defaults from Pulumi.yaml are applied by the CLI (and by tools/offline for the offline
runner); field defaults live in stacks/spec/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi.runtime import config as runtime_config
from pydantic import ValidationError

from stacks.spec import rules
from stacks.spec.errors import NAMESPACE, ConfigError, did_you_mean, from_validation_error, key_path
from stacks.spec.stack import StackSpec


def _all_config() -> dict[str, Any]:
    # The language host hands config over either as the process env bag or via set_all_config.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def raw_from_config(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Collect `gpu-platform:*` entries into one dict, decoding JSON-encoded structured values."""
    config = _all_config() if config is None else config
    raw: dict[str, Any] = {}
    prefix = f"{NAMESPACE}:"
    for key, value in config.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # left as a string; the model reports the type error with the key path
        raw[name] = value
    return raw


def parse_spec(raw: Mapping[str, Any]) -> StackSpec:
    """Validate a raw config dict (camelCase keys) into a StackSpec or raise ConfigError with all problems."""
    problems: list[str] = []
    known = {info.alias or name for name, info in StackSpec.model_fields.items()}
    for key in raw:
        if key not in known:
            problems.append(f"{key_path([key])}: unknown key; {did_you_mean(key, known)}")
    try:
        spec = StackSpec.model_validate({k: v for k, v in raw.items() if k in known})
    except ValidationError as exc:
        raise ConfigError(problems + from_validation_error(exc, StackSpec)) from None
    problems += [f"{key_path(loc)}: {msg}" for loc, msg in rules.check(spec)]
    if problems:
        raise ConfigError(problems)
    return spec


def load_spec() -> StackSpec:
    return parse_spec(raw_from_config())
