"""hf:// fetched for real from a Hugging Face-shaped HTTP server on loopback (HF_ENDPOINT): the tree
listing, the downloads with the token from the secret, the sha256 over the tree; a planted mismatch fails
the fetch with its log line and keeps nothing; pvc:// copies from the mounted claim and verifies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.fetcher.helpers import run_fetcher, sha, tree_digest

FILES = {
    "config.json": b'{"architectures": ["LlamaForCausalLM"]}',
    "model-00001-of-00002.safetensors": b"\x00weights-part-one" * 1000,
    "model-00002-of-00002.safetensors": b"\x01weights-part-two" * 1000,
    "tokenizer/tokenizer.json": b'{"model": {"type": "BPE"}}',
}
REPO, REVISION, TOKEN = "acme/llama", "0123456789abcdef0123456789abcdef01234567", "hf_secret_token"


@pytest.fixture
def hf_server() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            seen.append((self.path, self.headers.get("Authorization")))
            if self.path.startswith("/cdn/"):  # where the Hub redirects large files: no token expected
                body = FILES[self.path.removeprefix("/cdn/")]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.send_error(401)
                return
            tree = f"/api/models/{REPO}/tree/{REVISION}?recursive=true"
            if self.path == tree:
                body = json.dumps(
                    [{"type": "directory", "path": "tokenizer"}]
                    + [{"type": "file", "path": p, "size": len(d)} for p, d in FILES.items()]
                ).encode()
            elif self.path.startswith(f"/{REPO}/resolve/{REVISION}/"):
                name = self.path.removeprefix(f"/{REPO}/resolve/{REVISION}/")
                if name not in FILES:
                    self.send_error(404)
                    return
                if name.endswith(".safetensors"):  # LFS files: redirected to the CDN, as the Hub does
                    self.send_response(302)
                    self.send_header("Location", f"/cdn/{name}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = FILES[name]
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _env(endpoint: str) -> dict[str, str]:
    return {"HF_ENDPOINT": endpoint, "HF_TOKEN": TOKEN}


def test_hf_revision_fetched_and_verified(hf_server: tuple[str, list[tuple[str, str | None]]], tmp_path: Path) -> None:
    endpoint, seen = hf_server
    dest = tmp_path / "weights"
    digest = tree_digest(FILES)
    run = run_fetcher(
        "fetch", "--uri", f"hf://{REPO}@{REVISION}", "--sha256", digest, "--dest", str(dest), env=_env(endpoint)
    )
    assert run.code == 0, run.stderr
    assert {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()} == {*FILES, ".verified"}
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data
    assert (dest / ".verified").read_text() == digest + "\n"
    assert f"verified sha256 {digest} (4 file(s)" in run.stdout
    # The token goes to the Hub only, never to the CDN its large files are redirected to.
    assert {p: auth for p, auth in seen if p.startswith("/cdn/")} == {
        "/cdn/model-00001-of-00002.safetensors": None,
        "/cdn/model-00002-of-00002.safetensors": None,
    }
    assert all(auth == f"Bearer {TOKEN}" for p, auth in seen if not p.startswith("/cdn/"))
    assert len(seen) == 1 + len(FILES) + 2
    # The fetcher's own digest command agrees with the documented definition.
    assert run_fetcher("digest", str(dest)).stdout.strip() == digest


def test_hf_planted_mismatch_fails_and_keeps_nothing(
    hf_server: tuple[str, list[tuple[str, str | None]]], tmp_path: Path
) -> None:
    endpoint, _ = hf_server
    dest = tmp_path / "weights"
    planted = tree_digest({**FILES, "config.json": b"what was evaluated"})
    run = run_fetcher(
        "fetch", "--uri", f"hf://{REPO}@{REVISION}", "--sha256", planted, "--dest", str(dest), env=_env(endpoint)
    )
    assert run.code == 3
    assert run.stderr.strip() == (
        f"fetch-weights: sha256 MISMATCH for hf://{REPO}@{REVISION}: expected {planted}, got {tree_digest(FILES)} "
        "over 4 file(s); the weights were deleted and the pod will not start. Fix the artifact or the version's "
        "artifact.sha256 (compute it with `fetch.py digest`)"
    )
    assert list(dest.iterdir()) == []


def test_hf_without_token_is_refused_by_the_server(
    hf_server: tuple[str, list[tuple[str, str | None]]], tmp_path: Path
) -> None:
    endpoint, _ = hf_server
    run = run_fetcher(
        "fetch", "--uri", f"hf://{REPO}@{REVISION}", "--dest", str(tmp_path / "w"), env={"HF_ENDPOINT": endpoint}
    )
    assert run.code == 4
    assert run.stderr.startswith(f"fetch-weights: hf://{REPO}@{REVISION}: GET {endpoint}/api/models/{REPO}/tree/")
    assert "HTTP 401" in run.stderr


def test_prod_refuses_to_fetch_without_a_sha256(tmp_path: Path) -> None:
    run = run_fetcher("fetch", "--uri", "s3://b/k", "--require-sha256", "--dest", str(tmp_path / "w"))
    assert (run.code, run.stderr.strip()) == (2, "fetch-weights: s3://b/k: --sha256 is required here (prod)")


def test_pvc_file_and_tree(tmp_path: Path) -> None:
    claim = tmp_path / "claim"
    (claim / "llama" / "v1").mkdir(parents=True)
    for name, data in FILES.items():
        (claim / "llama" / "v1" / name).parent.mkdir(parents=True, exist_ok=True)
        (claim / "llama" / "v1" / name).write_bytes(data)
    env = {"PVC_ROOT": str(claim)}
    tree = run_fetcher(
        "fetch",
        "--uri",
        "pvc://weights/llama/v1",
        "--sha256",
        tree_digest(FILES),
        "--dest",
        str(tmp_path / "a"),
        env=env,
    )
    assert tree.code == 0, tree.stderr
    one = FILES["config.json"]
    single = run_fetcher(
        "fetch",
        "--uri",
        "pvc://weights/llama/v1/config.json",
        "--sha256",
        sha(one),
        "--dest",
        str(tmp_path / "b"),
        env=env,
    )
    assert single.code == 0, single.stderr
    assert (tmp_path / "b" / "config.json").read_bytes() == one
    bad = run_fetcher(
        "fetch",
        "--uri",
        "pvc://weights/llama/v1/config.json",
        "--sha256",
        "0" * 64,
        "--dest",
        str(tmp_path / "c"),
        env=env,
    )
    assert bad.code == 3 and "sha256 MISMATCH for pvc://weights/llama/v1/config.json" in bad.stderr


def test_wait_for_the_cache(tmp_path: Path) -> None:
    digest = "a" * 64
    missing = run_fetcher("wait", "--sha256", digest, "--dest", str(tmp_path), "--timeout", "0.2", "--poll", "0.05")
    assert (missing.code, missing.stderr.strip()) == (
        5,
        f"fetch-weights: cache {tmp_path} not populated after 0s; check the model's cache Job",
    )
    (tmp_path / ".verified").write_text("b" * 64 + "\n")
    wrong = run_fetcher("wait", "--sha256", digest, "--dest", str(tmp_path), "--timeout", "1")
    assert wrong.code == 3 and f"holds sha256 {'b' * 64}, expected {digest}" in wrong.stderr
    (tmp_path / ".verified").write_text(digest + "\n")
    assert run_fetcher("wait", "--sha256", digest, "--dest", str(tmp_path), "--timeout", "1").code == 0
