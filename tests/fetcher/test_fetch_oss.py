"""oss:// fetched for real from an OSS-shaped server on loopback (OSS_ENDPOINT as a URL: path-style): the RRSA
exchange (AssumeRoleWithOIDC with the projected token, at ALIBABA_CLOUD_STS_ENDPOINT), every request signed
with the STS credentials (the server checks the OSS header signature, computed here on its own), a prefix
listed and fetched, a planted mismatch refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.fetcher.helpers import run_fetcher, tree_digest

BUCKET = "gpu-ali-prod-models"
FILES = {"config.json": b'{"model_type": "qwen2"}', "model-00001.safetensors": b"\x02qwen" * 5000}
AK, SK, TOKEN = "STS.ak", "sts-secret", "sts-security-token"
ROLE, PROVIDER, OIDC = "acs:ram::1:role/qwen", "acs:ram::1:oidc-provider/ack-rrsa", "projected.jwt.token"


def oss_signature(date: str, resource: str) -> str:
    """OSS header signature (V1): HMAC-SHA1 over verb, Content-MD5, Content-Type, Date, the x-oss-*
    headers and the canonical resource."""
    to_sign = f"GET\n\n\n{date}\nx-oss-security-token:{TOKEN}\n{resource}"
    return base64.b64encode(hmac.new(SK.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def oss() -> Iterator[tuple[str, list[str]]]:
    log: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
            pass

        def reply(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
            ok = (form.get("Action"), form.get("RoleArn"), form.get("OIDCProviderArn"), form.get("OIDCToken")) == (
                "AssumeRoleWithOIDC",
                ROLE,
                PROVIDER,
                OIDC,
            )
            log.append(f"sts {ok}")
            creds = {"AccessKeyId": AK, "AccessKeySecret": SK, "SecurityToken": TOKEN}
            self.reply(200 if ok else 403, json.dumps({"Credentials": creds} if ok else {}).encode())

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            url = urllib.parse.urlsplit(self.path)
            bucket, _, key = url.path.lstrip("/").partition("/")
            key = urllib.parse.unquote(key)
            want = f"OSS {AK}:{oss_signature(self.headers.get('Date', ''), f'/{bucket}/{key}')}"
            if self.headers.get("Authorization") != want or self.headers.get("x-oss-security-token") != TOKEN:
                log.append(f"refused {url.path}")
                self.reply(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
                return
            log.append(f"get {url.path}")
            if not key:
                prefix = dict(urllib.parse.parse_qsl(url.query)).get("prefix", "")
                keys = [f"qwen2-72b/v1/{n}" for n in FILES if f"qwen2-72b/v1/{n}".startswith(prefix)]
                contents = "".join(f"<Contents><Key>{k}</Key></Contents>" for k in keys)
                self.reply(
                    200, f"<ListBucketResult>{contents}<IsTruncated>false</IsTruncated></ListBucketResult>".encode()
                )
            else:
                self.reply(200, FILES[key.removeprefix("qwen2-72b/v1/")])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()


def _env(endpoint: str, token: Path) -> dict[str, str]:
    token.write_text(OIDC)
    return {
        "OSS_ENDPOINT": endpoint,
        "ALIBABA_CLOUD_STS_ENDPOINT": f"{endpoint}/",
        "ALIBABA_CLOUD_ROLE_ARN": ROLE,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(token),
    }


def test_prefix_through_rrsa_with_signed_requests(oss: tuple[str, list[str]], tmp_path: Path) -> None:
    endpoint, log = oss
    digest = tree_digest(FILES)
    dest = tmp_path / "w"
    run = run_fetcher(
        "fetch", "--uri", f"oss://{BUCKET}/qwen2-72b/v1/", "--sha256", digest, "--dest", str(dest),
        env=_env(endpoint, tmp_path / "token"),
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert log == [
        "sts True",
        f"get /{BUCKET}/",
        f"get /{BUCKET}/qwen2-72b/v1/config.json",
        f"get /{BUCKET}/qwen2-72b/v1/model-00001.safetensors",
    ]
    assert (dest / "model-00001.safetensors").read_bytes() == FILES["model-00001.safetensors"]


def test_planted_mismatch_fails(oss: tuple[str, list[str]], tmp_path: Path) -> None:
    endpoint, _ = oss
    planted = tree_digest({**FILES, "config.json": b"{}"})
    run = run_fetcher(
        "fetch", "--uri", f"oss://{BUCKET}/qwen2-72b/v1/", "--sha256", planted, "--dest", str(tmp_path / "w"),
        env=_env(endpoint, tmp_path / "token"),
    )  # fmt: skip
    assert run.code == 3
    assert (
        f"sha256 MISMATCH for oss://{BUCKET}/qwen2-72b/v1/: expected {planted}, got {tree_digest(FILES)}" in run.stderr
    )


def test_without_the_rrsa_token_nothing_is_requested(oss: tuple[str, list[str]], tmp_path: Path) -> None:
    endpoint, log = oss
    run = run_fetcher(
        "fetch", "--uri", f"oss://{BUCKET}/qwen2-72b/v1/", "--dest", str(tmp_path), env={"OSS_ENDPOINT": endpoint}
    )
    assert run.code == 4 and log == []
    assert run.stderr.strip() == (
        f"fetch-weights: oss://{BUCKET}/qwen2-72b/v1/: no RRSA credentials (ALIBABA_CLOUD_ROLE_ARN, "
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE: the release sets them when the cluster's "
        "seam reads oss://)"
    )
