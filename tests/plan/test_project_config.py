"""The offline runner applies the Pulumi CLI's project-config rules before the program starts, with the
CLI's messages (pulumi/pulumi pkg/workspace/config.go mergeConfig / validateStackConfigValues, sdk
go/common/workspace/project.go Project.Validate / ValidateConfigValue), and hands values over as the CLI
does (yaml.v3 reading, Go JSON)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import STACKS
from tools.offline.config import PROJECT_DIR, SECRET_PLACEHOLDER, ProjectConfigError, StackConfig, load_stack_config
from tools.offline.gowire import go_json, resolve_plain

HEAD = "name: proj\nruntime: python\n"

# An older config block of Pulumi.yaml: four keys typed without a default, so required by the CLI in every
# stack file (why Pulumi.yaml declares no optional key: docs/deploying.md#deploying-pulumi-up-per-environment).
PULUMI_YAML_WITH_REQUIRED_KEYS = """\
name: gpu-platform
runtime:
  name: python
config:
  gpu-platform:environment:
    type: string
  gpu-platform:cloud:
    type: string
    description: "aws | alicloud (default aws)"
  gpu-platform:region:
    type: string
  gpu-platform:zones:
    type: array
    items:
      type: string
  gpu-platform:clusterStack:
    type: string
"""


def _load(tmp_path: Path, project: str, stack: str, name: str = "s") -> StackConfig:
    (tmp_path / "Pulumi.yaml").write_text(HEAD + project if not project.startswith("name:") else project)
    (tmp_path / f"Pulumi.{name}.yaml").write_text(stack)
    return load_stack_config(tmp_path, name)


def _refused(tmp_path: Path, project: str, stack: str) -> str:
    with pytest.raises(ProjectConfigError) as err:
        _load(tmp_path, project, stack)
    return str(err.value)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.plan", *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120
    )


# ------------------------------------------------------------------------------------------------
# The committed files


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_files_pass_the_cli_project_config_rules(stack: str) -> None:
    cfg = load_stack_config(PROJECT_DIR, stack)
    assert cfg.values["gpu-platform:environment"] in ("dev", "staging", "prod")
    assert cfg.warnings == ()


def test_pulumi_yaml_declares_no_key_a_models_only_stack_must_not_set() -> None:
    # Declared without default = required in every stack; with a default = handed to every stack, which a
    # models-only stack refuses for cloud/region/zones. Either way such a key cannot be declared.
    text = (PROJECT_DIR / "Pulumi.yaml").read_text()
    for key in ("cloud", "region", "zones", "clusterStack"):
        assert f"gpu-platform:{key}:" not in text


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        ("dev", "Stack 'dev' is missing configuration values 'gpu-platform:cloud' and 'gpu-platform:clusterStack'"),
        ("prod", "Stack 'prod' is missing configuration values 'gpu-platform:cloud' and 'gpu-platform:clusterStack'"),
        ("alicloud-dev", "Stack 'alicloud-dev' is missing configuration value 'gpu-platform:clusterStack'"),
        ("alicloud-prod", "Stack 'alicloud-prod' is missing configuration value 'gpu-platform:clusterStack'"),
        (
            "models-dev",
            "Stack 'models-dev' is missing configuration values "
            "'gpu-platform:cloud', 'gpu-platform:region' and 'gpu-platform:zones'",
        ),
    ],
)
def test_a_pulumi_yaml_with_required_keys_fails_every_stack_as_the_cli_did(
    tmp_path: Path, stack: str, message: str
) -> None:
    (tmp_path / "Pulumi.yaml").write_text(PULUMI_YAML_WITH_REQUIRED_KEYS)
    shutil.copy(PROJECT_DIR / f"Pulumi.{stack}.yaml", tmp_path)
    with pytest.raises(ProjectConfigError) as err:
        load_stack_config(tmp_path, stack)
    assert str(err.value) == f"validating stack config: {message}"


def test_cli_exits_2_with_the_cli_message_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(PULUMI_YAML_WITH_REQUIRED_KEYS)
    shutil.copy(PROJECT_DIR / "__main__.py", tmp_path)
    shutil.copy(PROJECT_DIR / "Pulumi.alicloud-dev.yaml", tmp_path)
    res = _cli("alicloud-dev", "--project-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr == (
        "error: validating stack config: Stack 'alicloud-dev' is missing configuration value "
        "'gpu-platform:clusterStack'\n"
    )
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------
# Required keys (mergeConfig)


def test_a_project_key_without_default_or_value_is_required_typed_or_not(tmp_path: Path) -> None:
    project = "config:\n  proj:a:\n    description: untyped\n  b:\n    type: string\n  proj:c:\n    type: integer\n"
    assert _refused(tmp_path, project, "config:\n  proj:c: 1\n") == (
        "validating stack config: Stack 's' is missing configuration values 'b' and 'proj:a'"
    )
    three = "config:\n  proj:a: {type: string}\n  proj:b: {type: string}\n  proj:c: {type: string}\n"
    assert _refused(tmp_path, three, "config: {}\n").endswith(
        "missing configuration values 'proj:a', 'proj:b' and 'proj:c'"
    )
    assert _load(tmp_path, project, "config:\n  proj:a: x\n  proj:b: y\n  proj:c: 1\n").values == {
        "proj:a": "x",
        "proj:b": "y",
        "proj:c": "1",
    }


def test_an_empty_stack_file_misses_every_required_key(tmp_path: Path) -> None:
    assert _refused(tmp_path, "config:\n  proj:a: {type: string}\n", "") == (
        "validating stack config: Stack 's' is missing configuration value 'proj:a'"
    )


def test_project_defaults_and_values_reach_the_program_unless_the_stack_sets_the_key(tmp_path: Path) -> None:
    project = (
        "config:\n"
        "  proj:count: 3\n"  # shorthand in the project namespace: a default
        "  flag: true\n"
        "  proj:zones: [a, b]\n"
        "  proj:ratio: {type: string, default: '0.5'}\n"
        "  proj:obj: {default: {z: 1, a: [1.5, x]}}\n"
        "  aws:region: us-west-2\n"  # shorthand in another namespace: a value
        "  aws:profile: {value: ops}\n"
    )
    cfg = _load(tmp_path, project, "config:\n  proj:count: 5\n  aws:profile: dev\n")
    assert cfg.values == {
        "aws:profile": "dev",
        "aws:region": "us-west-2",
        "proj:count": "5",
        "proj:flag": "true",
        "proj:obj": '{"a":[1.5,"x"],"z":1}',
        "proj:ratio": "0.5",
        "proj:zones": '["a","b"]',
    }


# ------------------------------------------------------------------------------------------------
# Types (validateStackConfigValue / ValidateConfigValue)


@pytest.mark.parametrize(
    ("decl", "value", "ok"),
    [
        ("type: string", "aws", True),
        ("type: string", "3", True),  # a YAML number is handed over as the string "3"
        ("type: string", "[a]", False),
        ("type: string", "{a: 1}", False),
        ("type: integer", "3", True),
        ("type: integer", "'-42'", True),
        ("type: integer", "'+7'", True),
        ("type: integer", "3.5", False),
        ("type: integer", "'3.0'", False),
        ("type: integer", "x", False),
        ("type: integer", "'9223372036854775808'", False),  # beyond int64: Atoi fails
        ("type: boolean", "true", True),
        ("type: boolean", "'false'", True),
        ("type: boolean", "True", True),  # YAML bool -> "true"
        ("type: boolean", "yes", False),  # yaml.v3: the string "yes"
        ("type: boolean", "'TRUE'", False),
        ("type: object", "{a: 1}", True),
        ("type: object", "[a]", False),
        ("type: object", "a", False),
        ("{type: array, items: {type: string}}", "[a, b]", True),
        ("{type: array, items: {type: string}}", "[a, 1]", False),
        ("{type: array, items: {type: string}}", "a", False),
        ("{type: array, items: {type: integer}}", "[1, '2', 3.0]", True),
        ("{type: array, items: {type: integer}}", "[1, 2.5]", False),
        ("{type: array, items: {type: boolean}}", "[true, 'false']", True),
        ("{type: array, items: {type: array, items: {type: integer}}}", "[[1], [2, 3]]", True),
        ("{type: array, items: {type: array, items: {type: integer}}}", "[[1], 2]", False),
        ("{type: array, items: {type: object}}", "[{a: 1}]", True),
    ],
)
def test_declared_types_are_checked_as_the_cli_checks_them(tmp_path: Path, decl: str, value: str, ok: bool) -> None:
    project = f"config:\n  proj:k: {decl if decl.startswith('{') else '{' + decl + '}'}\n"
    stack = f"config:\n  proj:k: {value}\n"
    if ok:
        _load(tmp_path, project, stack)
        return
    full = decl.replace("{", "").replace("}", "")
    type_name = (
        "array<array<integer>>"
        if full.count("array") == 2
        else f"array<{full.rsplit('type: ', 1)[1]}>"
        if "items" in full
        else full.removeprefix("type: ")
    )
    assert _refused(tmp_path, project, stack) == (
        f"validating stack config: Stack 's' with configuration key 'proj:k' must be of type '{type_name}'"
    )


def test_a_typed_default_is_checked_when_the_project_loads(tmp_path: Path) -> None:
    msg = _refused(tmp_path, "config:\n  proj:n: {type: integer, default: many}\n", "")
    assert msg == (
        f"could not unmarshal '{tmp_path / 'Pulumi.yaml'}': The default value specified for configuration key "
        "'proj:n' is not of the expected type 'integer'"
    )
    msg = _refused(tmp_path, "config:\n  proj:z: {type: array, items: {type: string}, default: [a, 1]}\n", "")
    assert msg.endswith("is not of the expected type 'array<string>'")


# ------------------------------------------------------------------------------------------------
# Secrets


def test_a_secret_key_must_be_set_with_a_secure_value(tmp_path: Path) -> None:
    project = "config:\n  proj:token: {type: string, secret: true}\n"
    assert _refused(tmp_path, project, "config:\n  proj:token: plain\n") == (
        "validating stack config: Stack 's' with configuration key 'proj:token' must be encrypted as it's secret"
    )
    cfg = _load(tmp_path, project, "config:\n  proj:token:\n    secure: AAABAxyz\n")
    assert cfg.values == {"proj:token": SECRET_PLACEHOLDER} and cfg.secret_keys == ["proj:token"]


def test_a_secret_key_is_not_satisfied_by_a_project_default(tmp_path: Path) -> None:
    project = "config:\n  proj:token: {type: string, secret: true, default: x}\n"
    assert _refused(tmp_path, project, "").endswith("'proj:token' must be encrypted as it's secret")


def test_secret_is_only_enforced_on_a_typed_key(tmp_path: Path) -> None:
    # validateStackConfigValues checks `secret` inside `if IsExplicitlyTyped()`.
    assert _load(tmp_path, "config:\n  proj:token: {secret: true, default: x}\n", "").values == {"proj:token": "x"}


def test_secure_values_nested_in_objects_make_the_key_secret(tmp_path: Path) -> None:
    project = "config:\n  proj:db: {type: object, secret: true}\n"
    cfg = _load(tmp_path, project, "config:\n  proj:db:\n    user: app\n    password:\n      secure: AAAB\n")
    assert cfg.values == {"proj:db": f'{{"password":"{SECRET_PLACEHOLDER}","user":"app"}}'}
    assert cfg.secret_keys == ["proj:db"]


def test_a_secure_scalar_is_a_string_to_the_type_check(tmp_path: Path) -> None:
    # Not an object value: the decrypted text is a string, never an array.
    project = "config:\n  proj:l: {type: array, items: {type: string}}\n"
    assert _refused(tmp_path, project, "config:\n  proj:l:\n    secure: AAAB\n").endswith(
        "must be of type 'array<string>'"
    )


# ------------------------------------------------------------------------------------------------
# Schema only in the project's namespace (Project.Validate) and the Pulumi.yaml schema


@pytest.mark.parametrize(
    ("decl", "message"),
    [
        (
            "aws:region: {type: string}",
            "Configuration key 'aws:region' is not namespaced by the project and should not define a type",
        ),
        (
            "aws:region: {default: us-west-2}",
            "Configuration key 'aws:region' is not namespaced by the project and should not define a default value. "
            "Did you mean to use the 'value' attribute instead of 'default'?",
        ),
        (
            "aws:region: {description: x}",
            "Configuration key 'aws:region' is namespaced and must provide an attribute 'value'",
        ),
        (
            "proj:a: {default: 1, value: 2}",
            "project config 'proj:a' cannot have both a 'default' and 'value' attribute",
        ),
        (
            "proj:a: {type: array}",
            "The configuration key 'proj:a' declares an array but does not specify the underlying type via the "
            "'items' attribute",
        ),
    ],
)
def test_project_declarations_the_cli_refuses(tmp_path: Path, decl: str, message: str) -> None:
    assert (
        _refused(tmp_path, f"config:\n  {decl}\n", "") == f"could not unmarshal '{tmp_path / 'Pulumi.yaml'}': {message}"
    )


@pytest.mark.parametrize(
    ("decl", "message"),
    [
        (
            "proj:a: {type: string, defualt: x}",
            "#/config/proj:a: additionalProperties 'defualt' not allowed; did you mean 'default'?",
        ),
        (
            "proj:a: {type: string, required: true}",
            "#/config/proj:a: additionalProperties 'required' not allowed; the allowed attributes are 'default', "
            "'description', 'items', 'secret', 'type' and 'value'",
        ),
        (
            "proj:a: {type: list}",
            "#/config/proj:a/type: value must be one of 'string', 'integer', 'boolean', 'array', 'object'",
        ),
        ("proj:a: {type: string, secret: 'yes'}", "#/config/proj:a/secret: expected boolean, but got string"),
        ("proj:a: {type: array, items: {}}", "#/config/proj:a/items: missing property 'type'"),
        (
            "proj:a: 1.5",
            "#/config/proj:a: expected string, integer, boolean, array or a config type declaration, but got number",
        ),
    ],
)
def test_pulumi_yaml_schema_violations(tmp_path: Path, decl: str, message: str) -> None:
    assert (
        _refused(tmp_path, f"config:\n  {decl}\n", "") == f"could not validate '{tmp_path / 'Pulumi.yaml'}': {message}"
    )


# ------------------------------------------------------------------------------------------------
# Keys and values as the CLI hands them over


def test_stack_keys_are_namespaced_like_the_cli(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "", "config:\n  bare: 1\n  proj:config:old: 2\n  aws:region: x\n")
    assert cfg.values == {"aws:region": "x", "proj:bare": "1", "proj:old": "2"}
    assert _refused(tmp_path, "", "config:\n  a:b:c: 1\n").startswith("could not unmarshal map: could not parse a:b:c")


def test_values_are_read_like_yaml_v3_and_passed_like_go(tmp_path: Path) -> None:
    stack = (
        "config:\n"
        "  proj:a: on\n"  # YAML 1.1 bool for PyYAML, a string for yaml.v3
        "  proj:b: yes\n"
        "  proj:c: 0o17\n"
        "  proj:d: 1_000\n"
        "  proj:e: 2024-01-02\n"
        "  proj:f: 1:30\n"  # sexagesimal 90 in YAML 1.1
        "  proj:g: {x: 1.0e-7, y: '<b>', z: 010}\n"
        "  proj:h: 1e3\n"
        "  proj:i: .5\n"
        "  proj:j: 0x1F\n"
    )
    cfg = _load(tmp_path, "", stack)
    assert cfg.values == {
        "proj:a": "on",
        "proj:b": "yes",
        "proj:c": "15",
        "proj:d": "1000",
        "proj:e": "2024-01-02 00:00:00 +0000 UTC",
        "proj:f": "1:30",
        "proj:g": '{"x":1e-7,"y":"\\u003cb\\u003e","z":8}',
        "proj:h": "1000",
        "proj:i": "0.5",
        "proj:j": "31",
    }


def test_an_empty_value_is_an_empty_string_with_the_cli_warning(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "", "config:\n  proj:a:\n  proj:b: x\n")
    assert cfg.values == {"proj:a": "", "proj:b": "x"}
    assert cfg.warnings == (
        'No value for configuration key "proj:a". This is currently treated as an empty string `""`, but will be '
        'treated as `null` in a future version of pulumi.\nSet the value to `""` to avoid this warning.',
    )


def test_a_timestamp_the_runner_cannot_reproduce_is_refused_cleanly(tmp_path: Path) -> None:
    assert "quote it" in _refused(tmp_path, "", "config:\n  proj:a: 2024-01-02T10:00:00Z\n")


def test_esc_environments_are_refused_cleanly(tmp_path: Path) -> None:
    assert "ESC environments" in _refused(tmp_path, "", "environment:\n  - team/dev\nconfig: {}\n")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("~", None),
        ("", None),
        ("off", "off"),
        ("No", "No"),
        ("12", 12),
        ("-12", -12),
        ("012", 10),
        ("08", 8.0),  # not octal, but a yaml-style float
        ("0b101", 5),
        ("18446744073709551615", 18446744073709551615),
        ("-9223372036854775809", -9.223372036854776e18),
        ("1e400", "1e400"),
        ("1.5", 1.5),
        (".inf", float("inf")),
        ("abc", "abc"),
        ("2024-1-2", "2024-01-02 00:00:00 +0000 UTC"),
    ],
)
def test_plain_scalars_resolve_like_yaml_v3(text: str, value: object) -> None:
    assert resolve_plain(text) == value and type(resolve_plain(text)) is type(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (3.0, "3"),
        (-0.0, "-0"),
        ({"b": [1, "&"], "a": None}, '{"a":null,"b":[1,"\\u0026"]}'),
        ("é\u2028", '"é\\u2028"'),
    ],
)
def test_go_json(value: object, text: str) -> None:
    assert go_json(value) == text


# ------------------------------------------------------------------------------------------------
# Namespaces and secrets of the stack's config as a whole (stacks/spec/parse.py, docs/stack-files.md)


def test_namespace_problems_and_warnings() -> None:
    from stacks.spec.parse import namespace_problems

    keys = [
        "gpu-platform:models",
        "gpu-platform-secret:slack",  # typo of the secrets namespace
        "gpu-platform-secrets:slack",
        "gpu-platform-secrets:grafana",
        "kubernetes:context",
        "pulumi:disable-default-providers",
    ]
    problems, warnings = namespace_problems(keys, secret_keys={"gpu-platform-secrets:slack"})
    assert problems == [
        "gpu-platform-secret:slack: unknown config namespace 'gpu-platform-secret', so nothing reads this key; did "
        "you mean 'gpu-platform-secrets:slack'?",
        "gpu-platform-secrets:grafana: given in plain text, but every gpu-platform-secrets: key is a secret "
        "(Alertmanager receiver keys, the Grafana admin password, kubeconfigs) and a plain value is committed "
        "unencrypted with the stack file; remove it and store it encrypted: pulumi config set --secret "
        "gpu-platform-secrets:grafana <value>",
    ]
    assert warnings == [
        "kubernetes:context: ignored by gpu-platform: it configures the kubernetes default provider, but every "
        "kubernetes resource here uses an explicit provider for the cluster this stack builds or references "
        "(docs/stack-files.md#namespaces-and-secrets)",
        "pulumi:disable-default-providers: ignored by gpu-platform: it is read by the Pulumi engine (e.g. "
        "pulumi:tags), not by this program, and the offline plan does not apply it "
        "(docs/stack-files.md#namespaces-and-secrets)",
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_files_have_no_namespace_problem(stack: str) -> None:
    from stacks.spec.parse import namespace_problems

    cfg = load_stack_config(PROJECT_DIR, stack)
    assert namespace_problems(cfg.values, cfg.secret_keys) == ([], [])
