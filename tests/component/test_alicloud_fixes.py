"""The real path on Alibaba Cloud (docs/design.md#real-path, docs/alicloud.md#running-pulumi-up-on-alibaba-cloud):
the ACK kubeconfig holds no credential and is the same on every run; no deprecated Alibaba resource, function
or field is used (that the alicloud component tests pass with DeprecationWarning as an error:
tests/robustness/test_sdk_deprecations.py)."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import mocks

import tests.sdk_imports  # noqa: F401  (the SDKs' import-time DeprecationWarnings, once and quietly)
from components.alicloud.ack import CA_READ_MINUTES, api_server, kubeconfig
from tests.conftest import Plan, plan_of
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import StackConfig, config_from_raw
from tools.offline.recording import PlanMocks, RecordingMonitor, _wire_secrets
from tools.offline.reference_outputs import SECRET_KEY
from tools.offline.runner import run_stack

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

ACK = "alicloud:cs/managedKubernetes:ManagedKubernetes"
CREDENTIAL = "alicloud:cs/getClusterCredential:getClusterCredential"
INTRANET, INTERNET = "https://192.168.0.10:6443", "https://47.0.0.10:6443"
CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"


def _secret(value: Any) -> dict[str, Any]:
    """A secret as the engine sends it (tools/offline/recording.py _wire_secrets)."""
    return _wire_secrets({SECRET_KEY: value})


class Deployed(PlanMocks):
    """A preview of a deployed alicloud stack: the cluster has an id and endpoints, and every credential
    read returns a fresh client certificate, key and token (serial `n`), as the ACK API does."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.invokes: list[tuple[str, dict[str, Any]]] = []

    def secrets(self) -> tuple[str, ...]:
        return (f"CLIENT-CERT-{self.n}", f"CLIENT-KEY-{self.n}", f"TOKEN-{self.n}")

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        rid, state = super().new_resource(args)
        if args.typ == ACK:
            conn = {
                "apiServerIntranet": INTRANET,
                "apiServerInternet": INTERNET,
                "serviceDomain": "",
                "masterPublicIp": "",
            }
            return "c-known", {**state, "connections": [conn]}
        return rid, state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.invokes.append((args.token, dict(args.args)))
        if args.token != CREDENTIAL:
            return super().call(args)
        cert, key, token = self.secrets()
        config = (
            f"apiVersion: v1\nclusters:\n- cluster:\n    server: {INTERNET}\n    certificate-authority-data: {CA}\n"
            f"  name: kubernetes\nusers:\n- name: u\n  user:\n    client-certificate-data: {cert}\n"
            f"    client-key-data: {key}\n    token: {token}\n"
        )
        return {
            "id": "c-known",
            "clusterId": "c-known",
            "clusterName": "gpu-dev",
            # The provider marks the credential sensitive: the program sees secrets.
            "kubeConfig": _secret(config),
            "temporaryDurationMinutes": args.args.get("temporaryDurationMinutes"),
            "certificateAuthorities": _secret([{"clusterCert": CA, "clientCert": cert, "clientKey": key}]),
            "expiration": f"2030-01-0{self.n}T00:00:00Z",
        }, []


def deployed_plan(n: int, stack: str = "alicloud-dev", config: StackConfig | None = None) -> tuple[Plan, Deployed]:
    m = Deployed(n)
    return Plan(run_stack(stack, config=config, monitor=RecordingMonitor(m))), m


# -- the ACK kubeconfig (docs/alicloud.md#running-pulumi-up-on-alibaba-cloud) -------------------------


def test_ack_kubeconfig_in_state_holds_no_credential_and_is_stable_across_runs() -> None:
    (first, m1), (second, m2) = deployed_plan(1), deployed_plan(2)
    k1 = first.one("pulumi:providers:kubernetes", "gpu-dev-k8s")["inputs"]
    k2 = second.one("pulumi:providers:kubernetes", "gpu-dev-k8s")["inputs"]
    # A rotated credential changes nothing: no diff in any preview, nothing to expire in state.
    assert k1 == k2
    assert first.outputs["kubeconfig"] == second.outputs["kubeconfig"] == k1["kubeconfig"]
    # The provider keeps its identity: a CA or endpoint change updates it, never replaces the objects.
    assert k1["clusterIdentifier"] == "c-known"
    doc = json.loads(k1["kubeconfig"])
    assert doc["clusters"] == [
        {"name": "c-known", "cluster": {"server": INTRANET, "certificate-authority-data": CA}}  # private API
    ]
    (user,) = doc["users"]
    assert list(user["user"]) == ["exec"]  # no client-certificate-data, client-key-data, token, password
    assert user["user"]["exec"]["command"] == "ack-ram-tool"
    assert user["user"]["exec"]["args"][:4] == ["credential-plugin", "get-credential", "--cluster-id", "c-known"]
    # No minted credential reaches state (inputs of any resource) or the outputs.
    for plan, m in ((first, m1), (second, m2)):
        text = json.dumps(plan.data)
        assert not [s for s in m.secrets() if s in text]
        assert not re.search(r"client-key|client-certificate-data|\"token\"", text)
    # The credential API is read for the CA only, with the shortest lifetime it allows.
    reads = [a for t, a in m1.invokes if t == CREDENTIAL]
    assert reads and all(a.get("temporaryDurationMinutes") == CA_READ_MINUTES == 15 for a in reads)


def test_ack_kubeconfig_is_the_documented_exec_plugin_form() -> None:
    doc = json.loads(kubeconfig("c-1", INTRANET, CA))
    assert doc["current-context"] == "c-1"
    assert doc["contexts"] == [{"name": "c-1", "context": {"cluster": "c-1", "user": "c-1"}}]
    # `ack-ram-tool credential-plugin get-kubeconfig --cluster-id c-1` (mode certificate) writes this user:
    # the plugin mints a temporary client certificate for the caller's identity and renews it before expiry.
    assert doc["users"][0]["user"]["exec"] == {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "ack-ram-tool",
        "args": [
            "credential-plugin",
            "get-credential",
            "--cluster-id",
            "c-1",
            "--api-version",
            "v1beta1",
            "--expiration",
            "3h",
            "--log-level",
            "error",
        ],
        "interactiveMode": "Never",
        "provideClusterInfo": False,
    }
    assert kubeconfig("c-1", INTRANET, CA) == kubeconfig("c-1", INTRANET, CA)  # deterministic (sorted keys)


def test_api_server_is_public_only_with_public_access() -> None:
    class Conn:
        api_server_intranet = INTRANET
        api_server_internet = INTERNET

    assert api_server([Conn()], public_access=False) == INTRANET
    assert api_server([Conn()], public_access=True) == INTERNET
    assert api_server([], public_access=True) == ""
    raw = mutate(
        raw_stack("alicloud-dev"),
        "cluster.endpoint",
        {"publicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"], "allowWorld": True},
    )
    plan, _ = deployed_plan(1, "alicloud-public", config_from_raw(raw, "alicloud-public"))
    doc = json.loads(plan.one("pulumi:providers:kubernetes", "gpu-dev-k8s")["inputs"]["kubeconfig"])
    assert doc["clusters"][0]["cluster"]["server"] == INTERNET


# -- nothing deprecated (docs/alicloud.md#running-pulumi-up-on-alibaba-cloud) ----------------------------

_ARGS_REF = re.compile(r"ForwardRef\('(\w+Args)'\)")


def _sdk_member(token: str, suffix: str = "") -> Any:
    """`alicloud:ram/role:Role` -> pulumi_alicloud.ram.Role (+ suffix, e.g. 'Args')."""
    if token == "pulumi:providers:alicloud":
        return getattr(importlib.import_module("pulumi_alicloud"), f"Provider{suffix}")
    _, module, name = token.split(":")
    package = module.split("/")[0]
    mod = importlib.import_module("pulumi_alicloud" if package == "index" else f"pulumi_alicloud.{package}")
    return getattr(mod, f"{name}{suffix}")


def _function(token: str) -> Any:
    """`alicloud:cs/getClusterCredential:getClusterCredential` -> pulumi_alicloud.cs.get_cluster_credential."""
    _, module, name = token.split(":")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return getattr(importlib.import_module(f"pulumi_alicloud.{module.split('/')[0]}"), snake)


def _deprecated_resource_or_function(obj: Any) -> str | None:
    """The SDK's own verdict: a deprecated resource warns `<Name> is deprecated:` when constructed, a
    deprecated function `<name> is deprecated:` when called (pulumi.log.warn in the generated code)."""
    code = inspect.getsource(inspect.getattr_static(obj, "_internal_init") if inspect.isclass(obj) else obj)
    found = re.search(r"log\.warn\(\"\"\"(\w+ is deprecated: [^\"]*)", code)
    return found.group(1) if found else None


def deprecated_fields(args_cls: type, inputs: Any, path: str = "") -> list[str]:
    """Every input set on `args_cls` (recursively into nested *Args types) whose SDK getter is marked
    deprecated (`_utilities.deprecated`: the SDK warns only when the *Args class is used, not for the
    keyword arguments our components pass, so it is checked here)."""
    if not isinstance(inputs, dict):
        return []
    module = sys.modules[args_cls.__module__]
    found: list[str] = []
    for python_name, prop in vars(args_cls).items():
        if not isinstance(prop, property) or prop.fget is None:
            continue
        engine_name = getattr(prop.fget, "_pulumi_name", python_name)
        if engine_name not in inputs:
            continue
        if "_pulumi_deprecated_callable" in prop.fget.__dict__:
            found.append(f"{path or args_cls.__name__ + '.'}{python_name}")
        nested = {getattr(module, n, None) for n in _ARGS_REF.findall(str(prop.fget.__annotations__.get("return")))}
        values = inputs[engine_name] if isinstance(inputs[engine_name], list) else [inputs[engine_name]]
        for cls in (c for c in nested if isinstance(c, type)):
            for v in values:
                found += deprecated_fields(cls, v, f"{path or args_cls.__name__ + '.'}{python_name}.")
    return found


def test_the_deprecation_checks_see_a_deprecated_use() -> None:
    assert _deprecated_resource_or_function(_sdk_member("alicloud:vpc/subnet:Subnet")) == (
        "Subnet is deprecated: This resource has been deprecated and replaced by the Switch resource."
    )
    assert _deprecated_resource_or_function(_sdk_member("alicloud:ecs/eip:Eip")) is not None
    assert _deprecated_resource_or_function(_function("alicloud:ecs/getEips:getEips")) is not None
    assert _deprecated_resource_or_function(_sdk_member("alicloud:vpc/switch:Switch")) is None
    assert _deprecated_resource_or_function(_function(CREDENTIAL)) is None
    role = _sdk_member("alicloud:ram/role:Role", "Args")
    assert deprecated_fields(role, {"name": "x", "roleName": "x"}) == ["RoleArgs.name"]
    cluster = _sdk_member(ACK, "Args")
    assert deprecated_fields(cluster, {"workerVswitchIds": ["v"], "vswitchIds": ["v"]}) == [
        "ManagedKubernetesArgs.worker_vswitch_ids"
    ]
    pool = _sdk_member("alicloud:cs/nodePool:NodePool", "Args")  # nested *Args types too
    assert deprecated_fields(pool, {"management": {"enable": True, "surge": 1}}) == ["NodePoolArgs.management.surge"]


def test_planted_deprecated_resource_shows_in_the_plan_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text(
        "import pulumi_alicloud as alicloud\n"
        "alicloud.vpc.Subnet('old', vpc_id='vpc-1', cidr_block='10.0.0.0/24', zone_id='z')\n"
    )
    data = run_stack(
        "planted", tmp_path, config=StackConfig(project="planted", stack="planted", values={}, secret_keys=[])
    )
    assert any("Subnet is deprecated" in d["message"] for d in data["diagnostics"])


@pytest.mark.parametrize("stack", ["alicloud-dev", "alicloud-prod"])
def test_alicloud_stacks_use_no_deprecated_resource_function_or_field(stack: str) -> None:
    deployed, m = deployed_plan(1, stack)  # the cluster exists, so the credential invoke runs too
    problems: list[str] = []
    for plan in (plan_of(stack), deployed):
        problems += [d["message"] for d in plan.data["diagnostics"] if "deprecated" in d["message"]]
        for r in plan.resources:
            if not (r["type"].startswith("alicloud:") or r["type"] == "pulumi:providers:alicloud"):
                continue
            cls = _sdk_member(r["type"])
            if (why := _deprecated_resource_or_function(cls)) is not None:
                problems.append(f"{r['type']} {r['name']}: {why}")
            problems += [
                f"{r['type']} {r['name']}: {f}" for f in deprecated_fields(_sdk_member(r["type"], "Args"), r["inputs"])
            ]
    tokens = {t for t, _ in m.invokes if t.startswith("alicloud:")}
    assert CREDENTIAL in tokens
    problems += [f"{t}: {why}" for t in sorted(tokens) if (why := _deprecated_resource_or_function(_function(t)))]
    assert problems == []
