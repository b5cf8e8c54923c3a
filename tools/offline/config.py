"""Stack config as the Pulumi CLI would hand it to the program, built without the CLI.

The CLI merges project defaults from Pulumi.yaml with Pulumi.<stack>.yaml and passes every value as a
string (structured values as JSON). `secure:` values cannot be decrypted offline: they become a
placeholder and are marked secret, so the program still sees a secret config key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRET_PLACEHOLDER = "offline-secret-placeholder"
_SCHEMA_KEYS = {"type", "description", "default", "secret", "items"}


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, str]
    secret_keys: list[str]


def _engine_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    # The engine hands structured and scalar non-string values over in their JSON form.
    return json.dumps(value, sort_keys=True)


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    project_file = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    project = str(project_file["name"])
    stack_path = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_path.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack file {stack_path.name}; known stacks: {', '.join(known)}")
    stack_file = yaml.safe_load(stack_path.read_text()) or {}

    values: dict[str, str] = {}
    for key, decl in (project_file.get("config") or {}).items():
        full = _full_key(project, key)
        if isinstance(decl, dict) and set(decl) <= _SCHEMA_KEYS and ("type" in decl or "default" in decl):
            if "default" in decl:
                values[full] = _engine_string(decl["default"])
        else:
            values[full] = _engine_string(decl.get("value") if isinstance(decl, dict) and "value" in decl else decl)

    secret_keys: list[str] = []
    for key, value in (stack_file.get("config") or {}).items():
        full = _full_key(project, key)
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full] = SECRET_PLACEHOLDER
            secret_keys.append(full)
        else:
            values[full] = _engine_string(value)
    return StackConfig(project=project, stack=stack, values=values, secret_keys=sorted(secret_keys))


def config_from_raw(raw: dict[str, Any], stack: str, project: str = "gpu-platform") -> StackConfig:
    """A StackConfig from a raw `gpu-platform:` dict (camelCase keys without the namespace), as a
    generated stack file would give: benchmarks and fuzz tests build configs in memory."""
    return StackConfig(
        project=project,
        stack=stack,
        values={f"{project}:{k}": _engine_string(v) for k, v in raw.items()},
        secret_keys=[],
    )
