"""A real Kubernetes API server for tests: etcd + kube-apiserver from .tools/bin on 127.0.0.1.

    with api_server() as api:                       # or the session fixture `api_server` (conftest)
        api.apply(namespace)                        # created for real (server-side apply)
        result = api.dry_run(deployment)            # ?dryRun=All: admitted or not, with its warnings
        api.kubectl("get", "ns")                    # kubectl from .tools/bin with the fixture's kubeconfig

No nodes and no controllers: what runs is the API server's own admission chain (built-in plugins such as
NamespaceLifecycle, PodSecurity, LimitRanger, ResourceQuota, ServiceAccount; CRD structural schemas,
CEL rules, defaulting), which is what refuses an object at apply time in a real cluster. Everything
binds to 127.0.0.1 on free ports; the PKI (CA, serving and admin client certificates, service-account
key pair) is made with openssl in a temporary directory that is removed afterwards. Both processes are
stopped by the context manager itself on every exit path (exception, KeyboardInterrupt, a failed
start), and each child asks the kernel to kill it if the test process dies first (PR_SET_PDEATHSIG).

The binaries come from `make tools` (docs/tools.md); without them this raises `MissingTools`, and the
pytest fixture fails (never skips) with the message.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import ctypes
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tools.offline.runner import PROJECT_DIR

BIN_DIR = PROJECT_DIR / ".tools" / "bin"
BINARIES = ("etcd", "kube-apiserver", "kubectl")
FIELD_MANAGER = "gpu-platform-tests"
READY_TIMEOUT = 90.0  # seconds; ready after ~3 s on an idle machine, loaded CI machines are slower
STOP_TIMEOUT = 15.0
LOOPBACK = "127.0.0.1"


class MissingTools(RuntimeError):
    """A binary the fixture needs is not in .tools/bin."""


class ApiServerError(RuntimeError):
    """The API server did not start, or answered a request the caller did not expect to fail."""


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not os.access(BIN_DIR / b, os.X_OK)]


def require_binaries() -> None:
    if missing := missing_binaries():
        raise MissingTools(
            f"{', '.join(missing)} not in {BIN_DIR}: run make tools "
            "(builds etcd, kube-apiserver and kubectl from their pinned Go modules; docs/tools.md)"
        )


# ---------------------------------------------------------------------------------------------------
# processes


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (bound together so they differ, then released)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - single-threaded at this point in tests
            start_new_session=True,  # a Ctrl-C in the terminal reaches pytest only; we stop them
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait, then SIGKILL: the process is reaped when this returns."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process `pid` listens on (Linux /proc)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if m := re.fullmatch(r"socket:\[(\d+)\]", target):
                    inodes.add(m.group(1))
    found: list[tuple[str, int]] = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as f:
            next(f)
            for row in f:
                cols = row.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if state != "0A" or inode not in inodes:  # 0A: LISTEN
                    continue
                hex_addr, hex_port = local.split(":")
                raw = bytes.fromhex(hex_addr)
                # /proc prints the address as 32-bit words in host (little-endian) order
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.append((socket.inet_ntop(family, raw), int(hex_port, 16)))
    return found


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains `text` (e.g. the fixture's temp dir)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(
                (
                    ln.split()[1]
                    for ln in Path(f"/proc/{entry}/status").read_text().splitlines()
                    if ln.startswith("State:")
                ),
                "",
            )
            if text in cmdline and state != "Z":
                pids.append(int(entry))
    return pids


# ---------------------------------------------------------------------------------------------------
# PKI


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path) -> None:
    """CA; apiserver serving cert (IP SAN 127.0.0.1); admin client cert in system:masters; SA key pair."""
    if shutil.which("openssl") is None:
        raise MissingTools("openssl is not installed (Debian package openssl)")
    _openssl(
        d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=gpu-platform-test-ca",
        "-keyout", "ca.key", "-out", "ca.crt",
    )  # fmt: skip
    (d / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    (d / "client.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
    )
    for name, subject, ext in (
        ("apiserver", "/CN=kube-apiserver", "server.ext"),
        ("admin", "/O=system:masters/CN=gpu-platform-test-admin", "client.ext"),
    ):
        _openssl(
            d, "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.csr"
        )
        _openssl(
            d, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", ext, "-out", f"{name}.crt",
        )  # fmt: skip
    _openssl(d, "genrsa", "-out", "sa.key", "2048")
    _openssl(d, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")
    for key in d.glob("*.key"):
        key.chmod(0o600)


# ---------------------------------------------------------------------------------------------------
# client


@dataclass(frozen=True)
class Resource:
    """One API resource from discovery: where objects of a kind live."""

    group_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None, name: str | None = None) -> str:
        base = f"/api/{self.group_version}" if "/" not in self.group_version else f"/apis/{self.group_version}"
        if self.namespaced:
            if not namespace:
                raise ValueError(f"{self.kind} is namespaced: the object needs metadata.namespace")
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """The API server's own words for a failed request (Status.message)."""
        return str(self.body.get("message", self.body)) if not self.ok else ""


@dataclass
class DryRun:
    """What the API server said about one object: admitted or not, and every Warning header."""

    obj: dict[str, Any]
    status: int
    error: str  # Status.message when refused, "" when admitted
    reason: str  # Status.reason (Invalid, Forbidden, NotFound, ...) when refused
    warnings: list[str] = field(default_factory=list)

    @property
    def admitted(self) -> bool:
        return not self.error


_WARNING = re.compile(r'^\s*(\d{3})\s+\S+\s+"((?:[^"\\]|\\.)*)"')


def parse_warning(header: str) -> str:
    """`299 - "message"` (RFC 7234 warn-code warn-agent "warn-text") -> message."""
    if m := _WARNING.match(header):
        return re.sub(r"\\(.)", r"\1", m.group(2))
    return header


def object_ref(obj: dict[str, Any]) -> str:
    """`Kind namespace/name` (cluster-scoped: `Kind name`): how tests and exceptions.yaml name objects."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


class ApiServer:
    """A running API server and a small client for it (HTTP/1.1 keep-alive over TLS, admin identity)."""

    def __init__(self, port: int, pki: Path, kubeconfig: Path, workdir: Path, pids: tuple[int, ...]) -> None:
        self.host = LOOPBACK
        self.port = port
        self.url = f"https://{LOOPBACK}:{port}"
        self.pki = pki
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.pids = pids
        self._ssl = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self._ssl.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self._local = threading.local()  # one keep-alive connection per thread (admit_many)
        self._conns: list[http.client.HTTPSConnection] = []
        self._lock = threading.Lock()
        self._resources: dict[tuple[str, str], Resource] | None = None
        self._applied: dict[tuple[str, str, str, str], str] = {}  # object -> digest of what was applied

    # -- raw requests ---------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json", **query: str
    ) -> Response:
        if query:
            path += ("&" if "?" in path else "?") + urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", "Content-Type": content_type}
        for attempt in (1, 2):  # the keep-alive connection may have been closed by the server
            conn = self._connection()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
                continue
            warnings = [parse_warning(w) for w in resp.headers.get_all("Warning") or []]
            try:
                parsed = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                parsed = {"message": raw.decode(errors="replace")}
            return Response(resp.status, parsed if isinstance(parsed, dict) else {"items": parsed}, warnings)
        raise AssertionError("unreachable")

    def get(self, path: str, **query: str) -> Response:
        return self.request("GET", path, **query)

    def _connection(self) -> http.client.HTTPSConnection:
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self._ssl, timeout=60)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()

    # -- discovery ------------------------------------------------------------------------------

    def refresh_discovery(self) -> None:
        self._resources = None

    def resources(self) -> dict[tuple[str, str], Resource]:
        """(apiVersion, kind) -> Resource for every served top-level resource (subresources left out)."""
        if self._resources is None:
            found: dict[tuple[str, str], Resource] = {}
            group_versions = ["v1"]
            for g in self.get("/apis").body.get("groups", []):
                group_versions += [v["groupVersion"] for v in g.get("versions", [])]
            for gv in group_versions:
                r = self.get(f"/api/{gv}" if gv == "v1" else f"/apis/{gv}")
                for res in r.body.get("resources", []) if r.ok else []:
                    if "/" not in res["name"]:
                        found[(gv, res["kind"])] = Resource(gv, res["kind"], res["name"], res["namespaced"])
            self._resources = found
        return self._resources

    def resource(self, api_version: str, kind: str) -> Resource | None:
        if (api_version, kind) not in self.resources():
            self.refresh_discovery()  # a CRD may have become Established since the last look
        return self.resources().get((api_version, kind))

    # -- objects --------------------------------------------------------------------------------

    def _apply(self, obj: dict[str, Any], dry_run: bool) -> tuple[Response | None, str]:
        res = self.resource(obj.get("apiVersion", ""), obj.get("kind", ""))
        if res is None:
            return None, f"the server does not serve {obj.get('apiVersion')} {obj.get('kind')} (no such API or CRD)"
        meta = obj.get("metadata") or {}
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        path = res.path(meta.get("namespace"), meta.get("name"))
        return self.request("PATCH", path, obj, content_type="application/apply-patch+yaml", **query), ""

    def admit(self, obj: dict[str, Any], dry_run: bool = True) -> DryRun:
        """Server-side apply; with dry_run (dryRun=All) the whole admission chain runs and nothing is
        persisted. The result holds the server's refusal (Status.message, reason) and every Warning."""
        resp, error = self._apply(obj, dry_run=dry_run)
        if resp is None:
            return DryRun(obj, 404, error, "NotFound")
        reason = str(resp.body.get("reason", "")) if not resp.ok else ""
        return DryRun(obj, resp.status, resp.message, reason, resp.warnings)

    def dry_run(self, obj: dict[str, Any]) -> DryRun:
        return self.admit(obj, dry_run=True)

    def dry_run_all(self, objs: list[dict[str, Any]], workers: int = 4) -> list[DryRun]:
        """dry_run of each object, `workers` requests at a time (results in the order given)."""
        self.resources()  # discovery once, before the threads share it
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.dry_run, objs))

    def apply(self, obj: dict[str, Any]) -> DryRun:
        """Server-side apply for real (persisted); raises ApiServerError with the server's message."""
        result = self.admit(obj, dry_run=False)
        if not result.admitted:
            raise ApiServerError(f"{object_ref(obj)}: {result.error}")
        return result

    def apply_all(self, objs: list[dict[str, Any]], workers: int = 4) -> list[DryRun]:
        """Server-side apply for real of each object, `workers` at a time; an object applied before in
        this session with the same content is not sent again (its earlier result is not kept: it had
        no refusal, its warnings were reported then)."""
        self.resources()

        def key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
            meta = obj.get("metadata") or {}
            return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))

        def digest(obj: dict[str, Any]) -> str:
            return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()

        def one(obj: dict[str, Any]) -> DryRun:
            k, d = key(obj), digest(obj)
            if self._applied.get(k) == d:
                return DryRun(obj, 200, "", "")
            result = self.admit(obj, dry_run=False)
            if result.admitted:
                with self._lock:
                    self._applied[k] = d
            return result

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, objs))

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise ApiServerError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.1)

    def wait_established(self, crd_names: list[str], timeout: float = 60.0) -> None:
        """Wait until every named CustomResourceDefinition has condition Established=True."""

        def established(name: str) -> bool:
            r = self.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{quote(name, safe='')}")
            conditions = (r.body.get("status") or {}).get("conditions") or [] if r.ok else []
            return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

        pending = list(crd_names)

        def all_established() -> bool:
            pending[:] = [n for n in pending if not established(n)]
            return not pending

        self.wait_for(f"CRDs to be Established: {pending}", all_established, timeout)
        self.refresh_discovery()

    # -- kubectl --------------------------------------------------------------------------------

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubectl from .tools/bin against this server (its own kubeconfig; nothing from ~/.kube)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["HOME"] = str(self.workdir)  # kubectl's discovery cache goes into the temp dir
        return subprocess.run(
            [str(BIN_DIR / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=check,
            env=env,
            timeout=120,
        )


def _kubeconfig(path: Path, url: str, pki: Path) -> None:
    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": {"server": url, "certificate-authority-data": b64("ca.crt")}}],
                "users": [
                    {
                        "name": "admin",
                        "user": {"client-certificate-data": b64("admin.crt"), "client-key-data": b64("admin.key")},
                    }
                ],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
                "current-context": "test",
            },
            indent=2,
        )
    )
    path.chmod(0o600)


def _commands(d: Path) -> tuple[list[str], list[str], int]:
    etcd_port, peer_port, api_port = free_ports(3)
    pki = d / "pki"
    etcd = [
        str(BIN_DIR / "etcd"),
        "--name", "test",
        "--data-dir", str(d / "etcd"),
        "--listen-client-urls", f"http://{LOOPBACK}:{etcd_port}",
        "--advertise-client-urls", f"http://{LOOPBACK}:{etcd_port}",
        "--listen-peer-urls", f"http://{LOOPBACK}:{peer_port}",
        "--initial-advertise-peer-urls", f"http://{LOOPBACK}:{peer_port}",
        "--initial-cluster", f"test=http://{LOOPBACK}:{peer_port}",
        "--unsafe-no-fsync",
        "--log-level", "warn",
    ]  # fmt: skip
    apiserver = [
        str(BIN_DIR / "kube-apiserver"),
        "--etcd-servers", f"http://{LOOPBACK}:{etcd_port}",
        "--bind-address", LOOPBACK,
        "--advertise-address", LOOPBACK,
        "--secure-port", str(api_port),
        "--cert-dir", str(d / "certs"),
        "--tls-cert-file", str(pki / "apiserver.crt"),
        "--tls-private-key-file", str(pki / "apiserver.key"),
        "--client-ca-file", str(pki / "ca.crt"),
        "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file", str(pki / "sa.pub"),
        "--service-account-signing-key-file", str(pki / "sa.key"),
        "--service-cluster-ip-range", "10.96.0.0/16",  # a setting only: nothing is routed
        "--authorization-mode", "RBAC",
        # as EKS, ACK and kubeadm run it: privileged containers are Pod Security's call, not refused
        # outright by validation ("disallowed by cluster policy", the flag's default false)
        "--allow-privileged=true",
        # the `kubernetes` Endpoints cannot hold a loopback address; nothing here needs them
        "--endpoint-reconciler-type", "none",
        "--profiling=false",
        "--v", "1",
    ]  # fmt: skip
    return etcd, apiserver, api_port


@contextlib.contextmanager
def api_server(ready_timeout: float = READY_TIMEOUT) -> Iterator[ApiServer]:
    """Start etcd + kube-apiserver on 127.0.0.1, wait for /readyz, yield the client, stop both.

    Retries the start once when a port picked as free was taken meanwhile. Raises MissingTools without
    the binaries and ApiServerError (with the last log lines) when the server does not become ready.
    """
    require_binaries()
    workdir = Path(tempfile.mkdtemp(prefix="gpu-platform-apiserver-"))
    procs: list[subprocess.Popen[bytes]] = []
    api: ApiServer | None = None
    try:
        pki = workdir / "pki"
        pki.mkdir()
        make_pki(pki)
        for attempt in (1, 2):
            etcd_cmd, api_cmd, api_port = _commands(workdir)
            etcd = _start(etcd_cmd, workdir / "etcd.log")
            procs.append(etcd)
            apiserver = _start(api_cmd, workdir / "kube-apiserver.log")
            procs.append(apiserver)
            kubeconfig = workdir / "kubeconfig"
            _kubeconfig(kubeconfig, f"https://{LOOPBACK}:{api_port}", pki)
            api = ApiServer(api_port, pki, kubeconfig, workdir, (etcd.pid, apiserver.pid))
            deadline = time.monotonic() + ready_timeout
            failure = ""
            while time.monotonic() < deadline:
                if etcd.poll() is not None or apiserver.poll() is not None:
                    failure = "exited"
                    break
                with contextlib.suppress(OSError, http.client.HTTPException):
                    if api.get("/readyz").status == 200:
                        break
                time.sleep(0.2)
            else:
                failure = "timeout"
            if not failure:
                break
            logs = f"--- etcd.log\n{_tail(workdir / 'etcd.log')}\n--- kube-apiserver.log\n{_tail(workdir / 'kube-apiserver.log')}"
            api.close()
            for p in reversed(procs):
                _stop(p)
            procs.clear()
            in_use = "address already in use" in logs
            if attempt == 2 or not in_use:
                what = "exited" if failure == "exited" else f"was not ready after {ready_timeout:.0f} s"
                raise ApiServerError(f"etcd + kube-apiserver {what} (workdir {workdir})\n{logs}")
        assert api is not None
        yield api
    finally:
        if api is not None:
            api.close()
        for p in reversed(procs):  # the API server first, then its etcd
            _stop(p)
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------
# pytest


STARTED: list[tuple[tuple[int, ...], str]] = []
"""(pids, workdir) of every server the session fixture started: tests/apiserver/conftest.py checks at
the end of the session that none of them survived."""


@pytest.fixture(scope="session", name="api_server")
def api_server_fixture() -> Iterator[ApiServer]:
    """One API server for the whole session (CRDs and namespaces created by one test stay for the next).

    Fails, never skips, when .tools/bin lacks a binary: CI must not pass without admitting anything.
    Use from another directory with `from tests.apiserver.cluster import api_server_fixture  # noqa: F401`
    in its conftest.py (each conftest that imports it gets its own server; a session with both
    directories starts two).
    """
    try:
        with api_server() as api:
            STARTED.append((api.pids, str(api.workdir)))
            yield api
    except MissingTools as err:
        pytest.fail(str(err), pytrace=False)
