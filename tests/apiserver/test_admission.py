"""Issue 14: every object of every stack admitted by a real API server (tests/apiserver/cluster.py).

Per stack, on the session's one API server (Kubernetes v1.34.12 from `make tools`):

1. the CRDs the stack's charts ship are applied for real and waited for (Established); a models-only
   stack gets those of its cluster stack, which installed them;
2. the namespaces are created for real with the labels the program gives them (our Namespace objects:
   Pod Security enforce/audit/warn, istio-injection); a release namespace that no Namespace object of
   ours makes is created as Helm's createNamespace would, without labels;
3. every other object — ours (manifests/), chart-rendered (manifests/charts/<release>/) and injected
   (manifests/injected/, replacing the original) — is server-side applied with dryRun=All: validation,
   defaulting, CRD schemas and CEL rules, and every admission plugin (PodSecurity included) run,
   nothing is persisted. Webhook configurations go last.

Every refusal and every `Warning` header (PodSecurity reports a workload's pod template that violates
its namespace's enforce or warn level as a warning; deprecated APIs warn too) is a finding; the test
fails listing each, unless tests/apiserver/exceptions.yaml names the object with a reason.
"""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver.cluster import (
    ApiServer,
    MissingTools,
    api_server,
    listening_addresses,
    object_ref,
    processes_mentioning,
)
from tests.apiserver.objects import Item, StackObjects, read_plan_dir
from tests.conftest import STACKS, Plan
from tests.spec_helpers import raw_stack
from tools.offline.reference_outputs import SECRET
from tools.offline.runner import PROJECT_DIR

# etcd, kube-apiserver and kubectl, and the plan runner's helm and istioctl, from `make tools`
pytestmark = pytest.mark.tools

EXCEPTIONS_FILE = Path(__file__).with_name("exceptions.yaml")
SUMMARY_DIR = PROJECT_DIR / "build" / "apiserver"
BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
WEBHOOK_KINDS = frozenset({"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"})
ENFORCE = "pod-security.kubernetes.io/enforce"
# The keys the API server requires of a Secret of each built-in type: what a Secret map recorded as
# SECRET is given (its real keys are not in the plan), so the rest of the Secret is checked.
SECRET_TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "kubernetes.io/basic-auth": ("username", "password"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


# ---------------------------------------------------------------------------------------------------
# exceptions


@dataclass(frozen=True)
class Documented:
    object: str  # `Kind namespace/name` or `Kind name`
    message: str  # a substring of the refusal or warning (the whole message, for PodSecurity's)
    reason: str
    stacks: tuple[str, ...] = ()  # only these stacks; empty: every stack that has the object

    def applies(self, stack: str, refs: set[str]) -> bool:
        """Whether this exception is in force for `stack`, whose objects are `refs`."""
        return (not self.stacks or stack in self.stacks) and self.object in refs

    def covers(self, finding: Finding) -> bool:
        return finding.ref == self.object and self.message in " ".join(finding.message.split())


def load_exceptions() -> list[Documented]:
    raw = yaml.safe_load(EXCEPTIONS_FILE.read_text()) or {}
    out = []
    for n, e in enumerate(raw.get("exceptions") or []):
        missing = [k for k in ("object", "message", "reason") if not e.get(k)]
        assert not missing, f"{EXCEPTIONS_FILE.name}: exceptions[{n}] lacks {', '.join(missing)}"
        unknown = set(e) - {"object", "message", "reason", "stacks"}
        assert not unknown, f"{EXCEPTIONS_FILE.name}: exceptions[{n}]: unknown keys {sorted(unknown)}"
        stacks = tuple(e.get("stacks") or ())
        assert set(stacks) <= set(STACKS), f"{EXCEPTIONS_FILE.name}: exceptions[{n}]: no stack file for {stacks}"
        out.append(
            Documented(e["object"], " ".join(str(e["message"]).split()), " ".join(str(e["reason"]).split()), stacks)
        )
    return out


# ---------------------------------------------------------------------------------------------------
# admission of one stack


@dataclass(frozen=True)
class Finding:
    source: str  # ours | charts | injected
    file: str
    ref: str
    what: str  # rejected | warning
    message: str

    def __str__(self) -> str:
        return f"{self.what}: {self.ref} ({self.source}: {self.file}): {self.message}"


@dataclass
class Admission:
    stack: str
    admitted: Counter[str] = field(default_factory=Counter)  # source -> objects admitted
    applied: Counter[str] = field(default_factory=Counter)  # CRDs / Namespaces created for real
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def cluster_stack_of(stack: str) -> str | None:
    """The stack name a models-only stack references (`organization/gpu-platform/dev` -> dev)."""
    ref = raw_stack(stack).get("clusterStack")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def _record(adm: Admission, item: Item, result_error: str, warnings: list[str]) -> bool:
    if result_error:
        adm.findings.append(Finding(item.source, item.file, item.ref, "rejected", result_error))
    for w in warnings:
        adm.findings.append(Finding(item.source, item.file, item.ref, "warning", w))
    return not result_error


def _placed(api: ApiServer, item: Item) -> tuple[dict[str, Any], str]:
    """The object as it goes to the server: a namespaced object without a namespace gets the release's
    (Helm) or `default` (the Kubernetes provider's default); a cluster-scoped one loses a namespace
    (as kubectl and Helm drop it); a Secret map the plan recorded as secret gets the
    keys its type requires (SECRET_TYPE_KEYS; none for Opaque). Error text when the server serves no such kind."""
    obj = copy.deepcopy(item.obj)
    res = api.resource(obj.get("apiVersion", ""), obj.get("kind", ""))
    if res is None:
        return (
            obj,
            f"the server does not serve {obj.get('apiVersion')} {obj.get('kind')} (no such API, or no CRD of this stack)",
        )
    if obj["kind"] == "Secret" and obj["apiVersion"] == "v1":
        # pulumi-kubernetes marks a Secret's data / stringData secret as a whole, so the plan records the
        # map as SECRET; the rest of the Secret is checked, the map's keys are taken on trust
        for key in ("data", "stringData"):
            if obj.get(key) == SECRET:
                obj[key] = {k: SECRET for k in SECRET_TYPE_KEYS.get(obj.get("type", "Opaque"), ())}
    meta = obj.setdefault("metadata", {})
    if res.namespaced and not meta.get("namespace"):
        meta["namespace"] = item.default_namespace
    if not res.namespaced:
        meta.pop("namespace", None)
    return obj, ""


def admit_stack(
    api: ApiServer, stack: str, objects: Callable[[str], StackObjects], plan: Callable[[str], Plan]
) -> Admission:
    adm = Admission(stack)
    own = objects(stack)
    cluster = cluster_stack_of(stack)
    base = objects(cluster) if cluster else own
    start = time.monotonic()  # the API server's part only: plans and rendering are shared with other tests

    # 1. CRDs, for real
    crds = [i for i in base.items if i.obj["kind"] == "CustomResourceDefinition"]
    if cluster:
        crds += [i for i in own.items if i.obj["kind"] == "CustomResourceDefinition"]
    if base.charts_skipped or (base.release_namespaces and not base.charts_rendered):
        pytest.fail(f"{base.stack}: the plan runner rendered no chart: {base.charts_skipped}", pytrace=False)
    injecting = any(
        (i.obj["metadata"].get("labels") or {}).get("istio-injection") == "enabled"
        for i in own.items
        if i.obj["kind"] == "Namespace"
    )
    if injecting and not own.injected_present:
        pytest.fail(f"{stack}: the plan runner injected no sidecar: {own.injection_skipped}", pytrace=False)
    groups = {(i.obj["spec"]["group"], i.obj["spec"]["names"]["kind"]) for i in crds}
    for item, result in zip(crds, api.apply_all([i.obj for i in crds]), strict=True):
        if _record(adm, item, result.error, result.warnings) and item in own.items:
            adm.applied["CustomResourceDefinition"] += 1
    api.wait_established(sorted({i.obj["metadata"]["name"] for i in crds}))
    served_by_crd = {
        (c["spec"]["group"], c["spec"]["names"]["kind"])
        for c in api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").body.get("items", [])
    }

    # 2. namespaces, for real, with our labels
    namespace_items = [i for i in base.items if i.obj["kind"] == "Namespace"]
    if cluster:
        namespace_items += [i for i in own.items if i.obj["kind"] == "Namespace"]
    namespaces = set(BUILTIN_NAMESPACES)
    for item, result in zip(namespace_items, api.apply_all([i.obj for i in namespace_items]), strict=True):
        if _record(adm, item, result.error, result.warnings):
            namespaces.add(item.obj["metadata"]["name"])
            if item in own.items:
                adm.applied["Namespace"] += 1
    for release, ns in sorted(base.release_namespaces.items()):
        if ns not in namespaces:  # Helm's createNamespace: a plain namespace, no labels
            api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            namespaces.add(ns)
            adm.notes.append(f"namespace {ns} (release {release}) has no Namespace object: created without labels")

    # 3. everything else, dry-run; webhook configurations last
    rest = [i for i in own.items if i.obj["kind"] not in ("CustomResourceDefinition", "Namespace")]
    ready: list[tuple[Item, dict[str, Any]]] = []
    for item in rest:
        obj, error = _placed(api, item)
        if error:
            _record(adm, item, error, [])
            continue
        api_version = obj["apiVersion"]
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        if (group, obj["kind"]) in served_by_crd and (group, obj["kind"]) not in groups:
            _record(adm, item, f"{api_version} {obj['kind']} comes from a CRD no release of {base.stack} installs", [])
            continue
        ns = (obj.get("metadata") or {}).get("namespace")
        if ns and ns not in namespaces:
            _record(adm, item, f"namespace {ns} is created by nothing in {stack}", [])
            continue
        ready.append((item, obj))
    for webhooks in (False, True):  # webhook configurations last (nothing is persisted, but in order)
        batch = [(i, o) for i, o in ready if (o["kind"] in WEBHOOK_KINDS) == webhooks]
        for (item, _), result in zip(batch, api.dry_run_all([o for _, o in batch]), strict=True):
            if _record(adm, item, result.error, result.warnings):
                adm.admitted[item.source] += 1
    for item in own.items:  # CRDs and Namespaces of this stack were admitted for real above
        if item.obj["kind"] in ("CustomResourceDefinition", "Namespace") and not any(
            f.ref == item.ref and f.what == "rejected" for f in adm.findings
        ):
            adm.admitted[item.source] += 1
    adm.seconds = time.monotonic() - start
    return adm


# ---------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def stack_objects(
    tmp_path_factory: pytest.TempPathFactory, plan: Callable[[str], Plan]
) -> Callable[[str], StackObjects]:
    cache: dict[str, StackObjects] = {}

    def get(stack: str) -> StackObjects:
        if stack not in cache:
            cluster = cluster_stack_of(stack)
            cache[stack] = read_plan_dir(
                stack,
                plan(stack).data,
                tmp_path_factory.mktemp(f"plan-{stack}"),
                cluster_plan=plan(cluster).data if cluster else None,
            )
        return cache[stack]

    return get


def _write_summary(adm: Admission, objects: StackObjects) -> None:
    SUMMARY_DIR.mkdir(parents=True, exist_ok=True)
    (SUMMARY_DIR / f"{adm.stack}.json").write_text(
        json.dumps(
            {
                "stack": adm.stack,
                "admitted": dict(adm.admitted),
                "objects": dict(Counter(i.source for i in objects.items)),
                "appliedForReal": dict(adm.applied),
                "chartsRendered": objects.charts_rendered,
                "injectedPresent": objects.injected_present,
                "findings": [str(f) for f in adm.findings],
                "notes": adm.notes,
                "seconds": round(adm.seconds, 2),
            },
            indent=2,
        )
        + "\n"
    )


# ---------------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_is_admitted_by_a_real_api_server(
    stack: str,
    api_server: ApiServer,
    stack_objects: Callable[[str], StackObjects],
    plan: Callable[[str], Plan],
) -> None:
    adm = admit_stack(api_server, stack, stack_objects, plan)
    _write_summary(adm, stack_objects(stack))
    refs = {i.ref for i in stack_objects(stack).items}
    exceptions = [e for e in load_exceptions() if e.applies(stack, refs)]
    unexcused = [f for f in adm.findings if not any(e.covers(f) for e in exceptions)]
    unused = [e for e in exceptions if not any(e.covers(f) for f in adm.findings)]
    assert sum(adm.admitted.values()) > 0
    problems = [f"  {f}" for f in unexcused]
    problems += [f"  stale exception (matches nothing here; remove it): {e.object}: {e.message}" for e in unused]
    assert not problems, (
        f"{stack}: {len(unexcused)} findings of the API server not in {EXCEPTIONS_FILE.name}, "
        f"{len(unused)} stale exceptions:\n" + "\n".join(problems)
    )


def test_exceptions_name_an_object_and_a_reason() -> None:
    for e in load_exceptions():
        assert e.object.split(" ", 1)[0][:1].isupper() and " " in e.object, e.object
        assert len(e.reason) >= 20, f"{e.object}: say why, not just that"


# The API server's words (v1.34.12) for a container with only `privileged: true` in a pod whose
# pod-level securityContext meets restricted (runAsNonRoot, seccompProfile RuntimeDefault).
PLANTED_VIOLATIONS = (
    'violates PodSecurity "restricted:latest": '
    'privileged (container "planted" must not set securityContext.privileged=true), '
    'allowPrivilegeEscalation != false (container "planted" must set securityContext.allowPrivilegeEscalation=false), '
    'unrestricted capabilities (container "planted" must set securityContext.capabilities.drop=["ALL"])'
)
PLANTED_REFUSAL = f'pods "planted" is forbidden: {PLANTED_VIOLATIONS}'
PLANTED_WARNING = f"would {PLANTED_VIOLATIONS.replace('violates', 'violate', 1)}"


def _restricted_model_namespace(stack_objects: Callable[[str], StackObjects]) -> tuple[Item, Item]:
    """(Namespace, Deployment) of the first model namespace of dev that enforces restricted."""
    items = stack_objects("dev").items
    ns = next(
        i
        for i in items
        if i.obj["kind"] == "Namespace"
        and (i.obj["metadata"].get("labels") or {}).get(ENFORCE) == "restricted"
        and (i.obj["metadata"].get("labels") or {}).get("gpu-platform.io/models") == "true"
    )
    name = ns.obj["metadata"]["name"]
    deployment = next(i for i in items if i.obj["kind"] == "Deployment" and i.obj["metadata"].get("namespace") == name)
    return ns, deployment


def test_a_privileged_container_in_a_restricted_namespace_is_refused(
    api_server: ApiServer, stack_objects: Callable[[str], StackObjects]
) -> None:
    ns, deployment = _restricted_model_namespace(stack_objects)
    namespace = ns.obj["metadata"]["name"]
    api_server.apply(ns.obj)
    # What a bare Pod needs to exist: its service account (ServiceAccount admission) and priority class.
    template = deployment.obj["spec"]["template"]
    for item in stack_objects("dev").items:
        kind, meta = item.obj["kind"], item.obj["metadata"]
        if (kind == "ServiceAccount" and meta.get("namespace") == namespace) or (
            kind == "PriorityClass" and meta["name"] == template["spec"].get("priorityClassName")
        ):
            api_server.apply(item.obj)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "planted", "namespace": namespace, "labels": template["metadata"].get("labels", {})},
        "spec": copy.deepcopy(template["spec"]),
    }
    # our model pod as a bare Pod: admitted, no warning
    ours = api_server.dry_run(pod)
    assert (ours.error, ours.warnings) == ("", [])
    # the same pod with a privileged container planted: refused by the API server's PodSecurity admission
    image = pod["spec"]["containers"][0]["image"]
    pod["spec"]["containers"].append({"name": "planted", "image": image, "securityContext": {"privileged": True}})
    refused = api_server.dry_run(pod)
    assert (refused.status, refused.reason) == (403, "Forbidden")
    assert refused.error == PLANTED_REFUSAL
    # as a Deployment's template it is admitted, with PodSecurity's warning: why warnings are findings
    planted = copy.deepcopy(deployment.obj)
    planted["spec"]["template"]["spec"] = pod["spec"]
    warned = api_server.dry_run(planted)
    assert (warned.error, warned.warnings) == ("", [PLANTED_WARNING])


def test_the_api_server_listens_on_loopback_only(api_server: ApiServer) -> None:
    for pid in api_server.pids:
        addresses = listening_addresses(pid)
        assert addresses, f"pid {pid} listens on nothing?"
        assert {a for a, _ in addresses} == {"127.0.0.1"}, addresses
    assert api_server.get("/version").body["gitVersion"] == "v1.34.12"
    assert "kube-system" in api_server.kubectl("get", "namespaces", "-o", "name").stdout


def test_the_fixture_stops_its_processes_even_when_the_test_fails() -> None:
    class Boom(Exception):
        pass

    seen: dict[str, Any] = {}
    with pytest.raises(Boom), api_server() as api:
        seen.update(pids=api.pids, workdir=str(api.workdir))
        assert all(Path(f"/proc/{p}").exists() for p in api.pids)
        raise Boom
    assert processes_mentioning(seen["workdir"]) == []
    assert not any(Path(f"/proc/{p}").exists() for p in seen["pids"])
    assert not Path(seen["workdir"]).exists()


def test_without_the_binaries_the_fixture_says_run_make_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tests.apiserver.cluster as cluster

    monkeypatch.setattr(cluster, "BIN_DIR", tmp_path)
    with pytest.raises(MissingTools, match="run make tools"), api_server():
        pass
    assert object_ref({"kind": "Pod", "metadata": {"name": "a", "namespace": "b"}}) == "Pod b/a"
