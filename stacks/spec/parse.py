"""Load and validate the stack spec from Pulumi config, before any resource is registered.

    spec = load_spec()      # raises ConfigError listing every problem, never a traceback

Config arrives as the engine passes it: one entry per `gpu-platform:<key>`, structured values as JSON
strings. Project defaults from Pulumi.yaml are applied by the CLI (and by tools/offline for the offline
runner); field defaults live in stacks/spec/.

Before the spec, the stack's config keys as a whole (docs/stack-files.md#namespaces-and-secrets):
- a key under a namespace this program does not read and no provider it uses reads is refused with a
  did-you-mean (`gpu-platfrom:addons` would otherwise drop the whole add-ons block silently);
- keys of the provider namespaces in IGNORED_NAMESPACES are allowed but warned about: this program
  configures its providers explicitly from `gpu-platform:*` keys, so they change nothing it deploys
  (`pulumi:` keys are the engine's);
- every `gpu-platform-secrets:` key is a secret and must be stored encrypted (`secure:`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import ValidationError

from stacks.spec import rules
from stacks.spec.base import SECRETS_NAMESPACE
from stacks.spec.errors import NAMESPACE, ConfigError, did_you_mean, from_validation_error, key_path
from stacks.spec.stack import StackSpec

# Namespaces whose keys the stack file may carry although this program does not read them, and what the
# warning says about each.
IGNORED_NAMESPACES = {
    "aws": "it configures the aws default provider, but every aws resource here uses an explicit provider "
    "built from gpu-platform:* keys (region, tags)",
    "alicloud": "it configures the alicloud default provider, but every alicloud resource here uses an explicit "
    "provider built from gpu-platform:region",
    "kubernetes": "it configures the kubernetes default provider, but every kubernetes resource here uses an "
    "explicit provider for the cluster this stack builds or references",
    "random": "the random provider has no configuration",
    "pulumi": "it is read by the Pulumi engine (e.g. pulumi:tags), not by this program, and the offline plan "
    "does not apply it",
}


def _all_config() -> dict[str, Any]:
    # The language host hands config over either as the process env bag or via set_all_config.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def _secret_keys(keys: Iterable[str]) -> set[str]:
    # The language host hands the secret keys over in the environment, the offline runner through
    # set_all_config (the same two sources _all_config reads).
    env = set(runtime_config.get_config_secret_keys_env())
    return {k for k in keys if k in env or runtime_config.is_config_secret(k)}


def namespace_problems(keys: Iterable[str], secret_keys: Iterable[str]) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a stack's config keys as a whole: unknown namespaces, ignored provider
    namespaces, and secrets given in plain text."""
    problems: list[str] = []
    warnings: list[str] = []
    secret = set(secret_keys)
    ours = (NAMESPACE, SECRETS_NAMESPACE)
    known = [*ours, *IGNORED_NAMESPACES]
    for key in sorted(keys):
        namespace, _, name = key.partition(":")
        if namespace == SECRETS_NAMESPACE and key not in secret:
            problems.append(
                f"{key}: given in plain text, but every {SECRETS_NAMESPACE}: key is a secret (Alertmanager "
                "receiver keys, the Grafana admin password, kubeconfigs) and a plain value is committed "
                f"unencrypted with the stack file; remove it and store it encrypted: "
                f"pulumi config set --secret {key} <value>"
            )
        elif namespace in IGNORED_NAMESPACES:
            warnings.append(
                f"{key}: ignored by gpu-platform: {IGNORED_NAMESPACES[namespace]} "
                "(docs/stack-files.md#namespaces-and-secrets)"
            )
        elif namespace not in ours:
            close = difflib.get_close_matches(namespace, known, n=1, cutoff=0.6)
            hint = (
                f"did you mean '{close[0]}:{name}'?"
                if close
                else f"this program reads {NAMESPACE}:* and {SECRETS_NAMESPACE}:* keys; remove it"
            )
            problems.append(f"{key}: unknown config namespace {namespace!r}, so nothing reads this key; {hint}")
    return problems, warnings


def raw_from_config(
    config: Mapping[str, Any] | None = None, secret_keys: Iterable[str] | None = None
) -> dict[str, Any]:
    """Collect `gpu-platform:*` entries into one dict, decoding JSON-encoded structured values. The stack's
    config (the engine's, when `config` is not given) is checked first: namespaces and plain-text secrets
    (`secret_keys`: the keys stored encrypted; by default the engine's)."""
    config = _all_config() if config is None else config
    secret_keys = _secret_keys(config) if secret_keys is None else set(secret_keys)
    problems, warnings = namespace_problems(config, secret_keys)
    if problems:
        raise ConfigError(problems)
    for warning in warnings:
        pulumi.log.warn(warning)
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
