"""Issue 13 on Alibaba Cloud: the ACK kubeconfig holds no credential and is the same on every run (item
10)."""

from __future__ import annotations

import json
import re
from typing import Any

from pulumi.runtime import mocks

from components.alicloud.ack import CA_READ_MINUTES, api_server, kubeconfig
from tests.conftest import Plan
from tests.spec_helpers import mutate, raw_stack
from tools.offline.config import StackConfig, config_from_raw
from tools.offline.recording import PlanMocks, RecordingMonitor, _wire_secrets
from tools.offline.reference_outputs import SECRET_KEY
from tools.offline.runner import run_stack

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


# -- item 10: the ACK kubeconfig ---------------------------------------------------------------------


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
