"""Stack config as the Pulumi CLI would hand it to the program, built without the CLI, with the CLI's checks.

Before `pulumi preview`/`up` starts the program, the CLI loads Pulumi.yaml (schema, then
`Project.Validate`), merges the project's config declarations into the stack's config and validates the
result (`ValidateStackConfigAndApplyProjectConfig`). This module does the same, from the source of
pulumi/pulumi (sdk v3.272.0 `go/common/workspace/project.go` and `loaders.go`; pkg v3.274.0
`workspace/config.go`):

- a key declared in the project's namespace with neither `default` nor `value` is required, whether or
  not it has a `type` ("Stack 'dev' is missing configuration values 'a' and 'b'");
- a declared `type` (`string`, `integer`, `boolean`, `object`, `array` with `items`) is checked against
  the stack value, with the CLI's string forms ("3" is an integer, "true"/"false" are booleans);
- `secret: true` on a typed key requires a `secure:` value (a project default does not count);
- `default`/`value` fill keys the stack does not set; a schema (`type`, `default`) is only allowed in the
  project's namespace, and a key of another namespace must carry a `value`.

A refusal raises ProjectConfigError whose message is the one the CLI prints after `error: `.

Values are passed as the CLI passes them: strings, structured values as Go JSON, YAML read as Go's
yaml.v3 reads it (tools/offline/stack_yaml.py, the one reader of stack files; tools/offline/gowire.py). `secure:` values cannot be decrypted offline: they become a
placeholder and the key is marked secret, so the program still sees a secret config key. Their type can
only be checked as far as the ciphertext tells (a secure scalar is a string; what it decrypts to is
unknown, so an `integer`/`boolean` secure value is accepted).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.offline.gowire import GoYamlError, go_json, go_text
from tools.offline.stack_yaml import StackFileError, load_stack_yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRET_PLACEHOLDER = "offline-secret-placeholder"

_DECLARATION_ATTRIBUTES = ("default", "description", "items", "secret", "type", "value")
_SIMPLE_TYPES = ("string", "integer", "boolean", "array", "object")


class ProjectConfigError(Exception):
    """The CLI would stop before the program starts; str() is the message it prints after `error: `."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, str]
    secret_keys: list[str]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemsType:
    type: str
    items: ItemsType | None = None


@dataclass(frozen=True)
class ConfigType:
    """workspace.ProjectConfigType: `None` stands for an absent (or null) attribute, as Go's nil."""

    type: str | None = None
    items: ItemsType | None = None
    default: Any = None
    value: Any = None
    secret: bool = False


@dataclass(frozen=True)
class Project:
    name: str
    config: dict[str, ConfigType]
    stack_config_dir: str = ""


class _Secret:
    """A `secure:` leaf: its plaintext is a string the offline runner cannot read."""

    def __repr__(self) -> str:
        return "<secure>"


_SECRET = _Secret()


@dataclass(frozen=True)
class _Value:
    """config.Value: `plain` is the decoded value (scalars of a non-object value already as text)."""

    plain: Any
    secure: bool
    object: bool

    def program_text(self) -> str:
        if not self.object:
            return SECRET_PLACEHOLDER if self.secure else str(self.plain)
        return go_json(_substitute(self.plain))

    def content(self) -> Any:
        """What validateStackConfigValue type-checks: the (decrypted) string, or the decoded JSON."""
        return _SECRET if self.secure and not self.object else self.plain


def _substitute(value: Any) -> Any:
    if value is _SECRET:
        return SECRET_PLACEHOLDER
    if isinstance(value, dict):
        return {k: _substitute(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------------
# Types: ValidateConfigValue and InferFullTypeName (sdk go/common/workspace/project.go)


def _atoi(text: str) -> bool:
    """strconv.Atoi: an optional sign and decimal digits, within int64."""
    body = text[1:] if text[:1] in "+-" else text
    return body.isascii() and body.isdigit() and -(2**63) <= int(text) <= 2**63 - 1


def validate_config_value(type_name: str, items: ItemsType | None, value: Any) -> bool:
    if type_name == "string":
        return isinstance(value, (str, _Secret))
    if type_name == "integer":
        if value is _SECRET:
            return True  # decrypts to a string that may or may not parse; unknowable offline
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        if isinstance(value, float):
            return value == value and (value.is_integer() or value in (float("inf"), float("-inf")))  # f == Trunc(f)
        return isinstance(value, str) and _atoi(value)
    if type_name == "boolean":
        return value is _SECRET or isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(validate_config_value(items.type, items.items, v) for v in value)


def infer_full_type_name(type_name: str, items: ItemsType | None) -> str:
    if items is not None:
        return f"array<{infer_full_type_name(items.type, items.items)}>"
    return type_name


# ------------------------------------------------------------------------------------------------
# Pulumi.yaml: ValidateProject (JSON schema, config part), RewriteShorthandConfigValues, Project.Validate


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _not_allowed(attr: str) -> str:
    # getSchemaPathAttributes / findClosestKey: Levenshtein distance <= 2, case-insensitive.
    best, closest = 3, ""
    for key in sorted(_DECLARATION_ATTRIBUTES):
        d = _distance(attr.lower(), key.lower())
        if d < best:
            best, closest = d, key
    msg = f"additionalProperties '{attr}' not allowed"
    if closest:
        return f"{msg}; did you mean '{closest}'?"
    quoted = [f"'{k}'" for k in sorted(_DECLARATION_ATTRIBUTES)]
    return f"{msg}; the allowed attributes are {', '.join(quoted[:-1])} and {quoted[-1]}"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _items_problem(where: str, items: Any) -> str | None:
    if not isinstance(items, dict):
        return f"{where}: expected object, but got {_json_kind(items)}"
    if "type" not in items:
        return f"{where}: missing property 'type'"
    if items["type"] not in _SIMPLE_TYPES:
        return f"{where}/type: value must be one of {', '.join(repr(t) for t in _SIMPLE_TYPES)}"
    if items["type"] == "array" and "items" not in items:
        return f"{where}: missing property 'items'"
    if "items" in items:
        return _items_problem(f"{where}/items", items["items"])
    return None


def _schema_problem(key: str, decl: Any) -> str | None:
    where = f"#/config/{key.replace('~', '~0').replace('/', '~1')}"
    if key == "secret":  # the schema's one named property of `config`
        return None if isinstance(decl, bool) else f"{where}: expected boolean, but got {_json_kind(decl)}"
    if isinstance(decl, (str, bool, list)) or (isinstance(decl, int) and not isinstance(decl, bool)):
        return None
    if not isinstance(decl, dict):
        return f"{where}: expected string, integer, boolean, array or a config type declaration, but got {_json_kind(decl)}"
    for attr in decl:
        if attr not in _DECLARATION_ATTRIBUTES:
            return f"{where}: {_not_allowed(str(attr))}"
    if "type" in decl and decl["type"] not in _SIMPLE_TYPES:
        return f"{where}/type: value must be one of {', '.join(repr(t) for t in _SIMPLE_TYPES)}"
    if "description" in decl and not isinstance(decl["description"], str):
        return f"{where}/description: expected string, but got {_json_kind(decl['description'])}"
    if "secret" in decl and not isinstance(decl["secret"], bool):
        return f"{where}/secret: expected boolean, but got {_json_kind(decl['secret'])}"
    if "items" in decl:
        return _items_problem(f"{where}/items", decl["items"])
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _items(raw: Any) -> ItemsType | None:
    if raw is None:
        return None
    return ItemsType(type=str(raw["type"]), items=_items(raw.get("items")))


def _namespaced_by_project(project: str, key: str) -> bool:
    return ":" not in key or key.startswith(f"{project}:")


def load_project(project_dir: Path) -> Project:
    path = project_dir / "Pulumi.yaml"
    try:
        raw = load_stack_yaml(path)
    except StackFileError as err:  # the one reader of stack files: tools/offline/stack_yaml.py
        raise ProjectConfigError(str(err)) from None
    if not isinstance(raw, dict) or not raw.get("name") or not isinstance(raw["name"], str):
        raise ProjectConfigError(f"could not validate '{path}': project is missing a non-empty string 'name' attribute")
    name: str = raw["name"]
    config = raw.get("config")
    stack_config_dir = str(raw.get("stackConfigDir") or "")
    if isinstance(config, str):  # RewriteConfigPathIntoStackConfigDir: the old spelling of stackConfigDir
        if "stackConfigDir" in raw:
            raise ProjectConfigError(
                "Should not use both config and stackConfigDir to define the stack directory. "
                "Use only stackConfigDir instead."
            )
        stack_config_dir, config = config, None
    if config is not None and not isinstance(config, dict):
        raise ProjectConfigError(f"could not validate '{path}': #/config: expected object, string or null")
    problems = [p for key, decl in (config or {}).items() if (p := _schema_problem(str(key), decl))]
    if problems:
        raise ProjectConfigError(f"could not validate '{path}': {problems[0]}")

    declared: dict[str, ConfigType] = {}
    for key, decl in (config or {}).items():
        key = str(key)
        if not isinstance(decl, dict):  # RewriteShorthandConfigValues
            decl = {"default": decl} if _namespaced_by_project(name, key) else {"value": decl}
        declared[key] = ConfigType(
            type=decl.get("type"),
            items=_items(decl.get("items")),
            default=decl.get("default"),
            value=decl.get("value"),
            secret=bool(decl.get("secret", False)),
        )
    project = Project(name=name, config=declared, stack_config_dir=stack_config_dir)
    problem = _project_problem(project)
    if problem:
        raise ProjectConfigError(f"could not unmarshal '{path}': {problem}")
    return project


def _project_problem(project: Project) -> str | None:
    """Project.Validate (map order is random in Go: the first problem in key order here)."""
    for key, t in sorted(project.config.items()):
        if t.default is not None and t.value is not None:
            return f"project config '{key}' cannot have both a 'default' and 'value' attribute"
        if _namespaced_by_project(project.name, key):
            if t.type == "array" and t.items is None:
                return (
                    f"The configuration key '{key}' declares an array but does not specify the underlying type "
                    f"via the 'items' attribute"
                )
            if t.type is not None and t.default is not None and not validate_config_value(t.type, t.items, t.default):
                return (
                    f"The default value specified for configuration key '{key}' is not of the expected type "
                    f"'{infer_full_type_name(t.type, t.items)}'"
                )
        else:
            if t.type is not None:
                return f"Configuration key '{key}' is not namespaced by the project and should not define a type"
            if t.default is not None:
                return (
                    f"Configuration key '{key}' is not namespaced by the project and should not define a default "
                    f"value. Did you mean to use the 'value' attribute instead of 'default'?"
                )
            if t.value is None:
                return f"Configuration key '{key}' is namespaced and must provide an attribute 'value'"
    return None


# ------------------------------------------------------------------------------------------------
# Pulumi.<stack>.yaml and the merge: mergeConfig, validateStackConfigValues (pkg workspace/config.go)


def parse_key(project: str, key: str) -> str:
    """config.ParseKey after stackConfigNamespacedWithProject: `ns:name`, `ns:config:name`, or a bare name."""
    if ":" not in key:
        return f"{project}:{key}"
    parts = key.split(":")
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    raise ProjectConfigError(
        f"could not unmarshal map: could not parse {key} as a configuration key "
        f"(configuration keys should be of the form `<namespace>:<name>`)"
    )


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


def _decode(value: Any) -> Any:
    """unmarshalObject: ciphertexts become _SECRET leaves, map keys strings."""
    if _is_secure(value):
        return _SECRET
    if isinstance(value, dict):
        return {go_text(k): _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _has_secret(value: Any) -> bool:
    if value is _SECRET:
        return True
    if isinstance(value, dict):
        return any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def _stack_value(raw: Any) -> _Value:
    if raw is None:  # yaml.v3 leaves the zero Value for a null: an empty string (checkForEmptyConfig warns)
        return _Value("", secure=False, object=False)
    decoded = _decode(raw)
    if decoded is _SECRET:
        return _Value(_SECRET, secure=True, object=False)
    if isinstance(decoded, (dict, list)):
        return _Value(decoded, secure=_has_secret(decoded), object=True)
    return _Value(go_text(decoded), secure=False, object=False)


def _project_value(raw: Any) -> _Value:
    """createConfigValue: string/int/bool with %v, anything else as a JSON object value."""
    if isinstance(raw, (str, bool, int)):
        return _Value(go_text(raw), secure=False, object=False)
    return _Value(_decode(raw), secure=False, object=True)


def _format_missing(keys: list[str]) -> str:
    """formatMissingKeys: one key as is; several sorted, "'a', 'b' and 'c'"."""
    if len(keys) == 1:
        return f"'{keys[0]}'"
    keys = sorted(keys)
    return ", ".join(f"'{k}'" for k in keys[:-1]) + f" and '{keys[-1]}'"


def missing_keys_message(stack: str, keys: list[str]) -> str:
    values = "value" if len(keys) == 1 else "values"
    return f"Stack '{stack}' is missing configuration {values} {_format_missing(keys)}"


def _empty_config_warning(keys: list[str]) -> str | None:
    if not keys:
        return None
    quoted = [f'"{k}"' for k in sorted(keys)]
    plural = "s" if len(quoted) > 1 else ""
    joined = quoted[0] if len(quoted) == 1 else (" and " if len(quoted) == 2 else ", ").join(quoted)
    return (
        f'No value for configuration key{plural} {joined}. This is currently treated as an empty string `""`, '
        f"but will be treated as `null` in a future version of pulumi.\n"
        f'Set the value{plural} to `""` to avoid this warning.'
    )


def stack_file(project_dir: Path, stack: str, project: Project | None = None) -> Path:
    project = project or load_project(project_dir)
    return project_dir / project.stack_config_dir / f"Pulumi.{stack}.yaml"


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """The config the program of `stack` receives, or ProjectConfigError where the CLI would refuse it."""
    project = load_project(project_dir)
    stack_path = stack_file(project_dir, stack, project)
    if not stack_path.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stack_path.parent.glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack file {stack_path.name}; known stacks: {', '.join(known)}")
    try:
        stack_doc = load_stack_yaml(stack_path, stack_file=True)
    except StackFileError as err:
        raise ProjectConfigError(str(err)) from None
    stack_doc = {} if stack_doc is None else stack_doc  # an empty file: no config, as for the CLI
    if not isinstance(stack_doc, dict):
        raise ProjectConfigError(
            f"cannot read {stack_path.name}: the top level is {_json_kind(stack_doc)}, not a mapping; a stack file "
            f"is a mapping with a `config:` key (the CLI: expected project to be an object)"
        )
    if stack_doc.get("environment"):
        raise ProjectConfigError(
            f"{stack_path.name} imports Pulumi ESC environments ({stack_doc['environment']!r}); the offline "
            f"runner cannot open them, so it cannot know the config the CLI would merge from them"
        )

    raw_config = stack_doc.get("config")
    raw_config = {} if raw_config is None else raw_config
    if not isinstance(raw_config, dict):
        raise ProjectConfigError(
            f"cannot read {stack_path.name}: config: {_json_kind(raw_config)} {_shown(raw_config)}, not a mapping; "
            f"write `config:` followed by indented `<namespace>:<key>: <value>` lines"
        )
    stack_values: dict[str, _Value] = {}
    empty: list[str] = []
    for key, raw in raw_config.items():
        full = parse_key(project.name, str(key))
        if raw is None:
            empty.append(full)
        try:
            stack_values[full] = _stack_value(raw)
        except GoYamlError as err:
            raise ProjectConfigError(f"could not unmarshal '{stack_path}': {full}: {err}") from None
    merged = apply_project_config(project, stack, stack_values)

    values = {k: v.program_text() for k, v in sorted(merged.items())}
    secret_keys = sorted(k for k, v in merged.items() if v.secure)
    warning = _empty_config_warning(empty)
    return StackConfig(project.name, stack, values, secret_keys, (warning,) if warning else ())


def apply_project_config(project: Project, stack: str, stack_values: dict[str, _Value]) -> dict[str, _Value]:
    """mergeConfig with validate=true: required keys, project defaults/values, then declared types."""
    merged = dict(stack_values)
    missing: list[str] = []
    keys: dict[str, str] = {}
    for declared, t in sorted(project.config.items()):
        key = parse_key(project.name, declared)
        keys[declared] = key
        if key in merged:
            continue
        has_default, has_value = t.default is not None, t.value is not None
        if not has_value and not has_default and key.split(":", 1)[0] == project.name:
            missing.append(declared)
            continue
        if has_value or has_default:
            merged[key] = _project_value(t.default if has_default else t.value)
    if missing:
        raise ProjectConfigError(f"validating stack config: {missing_keys_message(stack, missing)}")

    for declared, t in sorted(project.config.items()):
        if t.type is None:
            continue
        value = merged.get(keys[declared], _Value("", secure=False, object=False))
        if t.secret and not value.secure:
            raise ProjectConfigError(
                f"validating stack config: Stack '{stack}' with configuration key '{declared}' must be encrypted "
                f"as it's secret"
            )
        if not validate_config_value(t.type, t.items, value.content()):
            raise ProjectConfigError(
                f"validating stack config: Stack '{stack}' with configuration key '{declared}' must be of type "
                f"'{infer_full_type_name(t.type, t.items)}'"
            )
    return merged


def config_from_raw(raw: dict[str, Any], stack: str, project: str = "gpu-platform") -> StackConfig:
    """A StackConfig from a raw `gpu-platform:` dict (camelCase keys without the namespace), as a
    generated stack file would give: benchmarks and fuzz tests build configs in memory."""
    return StackConfig(
        project=project,
        stack=stack,
        values={f"{project}:{k}": _stack_value(v).program_text() for k, v in raw.items()},
        secret_keys=[],
    )
