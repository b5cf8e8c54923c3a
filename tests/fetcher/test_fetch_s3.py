"""s3:// fetched for real from a moto S3 server on loopback (AWS_ENDPOINT_URL_S3/_STS): with static keys and
through IRSA's web-identity exchange at moto's STS, a prefix (tree digest) and a single object (file digest);
a planted mismatch fails with its log line and keeps nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.fetcher.helpers import run_fetcher, sha, tree_digest

BUCKET = "gpu-prod-llama3-8b-artifacts"
FILES = {
    "config.json": b'{"hidden_size": 4096}',
    "model.safetensors": b"\x00\x01weights" * 4096,
    "tokenizer/tokenizer.json": b'{"model": "bpe"}',
}
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=BUCKET)
        for name, data in FILES.items():
            s3.put_object(Bucket=BUCKET, Key=f"v1/{name}", Body=data)
        s3.put_object(Bucket=BUCKET, Key="v1/", Body=b"")  # a console-made "folder" object is skipped
        yield endpoint
    finally:
        server.stop()


def _env(endpoint: str, **extra: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ENDPOINT_URL_STS": endpoint, **extra}


def test_prefix_with_static_keys(s3_endpoint: str, tmp_path: Path) -> None:
    digest = tree_digest(FILES)
    run = run_fetcher(
        "fetch",
        "--uri",
        f"s3://{BUCKET}/v1/",
        "--sha256",
        digest,
        "--dest",
        str(tmp_path),
        env=_env(s3_endpoint, **KEYS),
    )
    assert run.code == 0, run.stderr
    assert {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()} == {*FILES, ".verified"}
    assert (tmp_path / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    # A second start of the same pod (restart) finds the verified weights and downloads nothing.
    again = run_fetcher(
        "fetch",
        "--uri",
        f"s3://{BUCKET}/v1/",
        "--sha256",
        digest,
        "--dest",
        str(tmp_path),
        env=_env("http://127.0.0.1:9"),
    )
    assert again.code == 0 and "already verified" in again.stdout


def test_single_object_through_irsa_web_identity(s3_endpoint: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.sig")  # moto's STS accepts any web identity token
    irsa = {
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/llama3-8b-reader",
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
        "AWS_REGION": "us-east-1",
    }
    run = run_fetcher(
        "fetch",
        "--uri",
        f"s3://{BUCKET}/v1/model.safetensors",
        "--sha256",
        sha(FILES["model.safetensors"]),
        "--dest",
        str(tmp_path / "w"),
        env=_env(s3_endpoint, **irsa),
    )
    assert run.code == 0, run.stderr
    assert (tmp_path / "w" / "model.safetensors").read_bytes() == FILES["model.safetensors"]


def test_planted_mismatch_fails_the_fetch(s3_endpoint: str, tmp_path: Path) -> None:
    planted = tree_digest({**FILES, "model.safetensors": b"the evaluated weights"})
    run = run_fetcher(
        "fetch",
        "--uri",
        f"s3://{BUCKET}/v1/",
        "--sha256",
        planted,
        "--dest",
        str(tmp_path),
        env=_env(s3_endpoint, **KEYS),
    )
    assert run.code == 3
    assert run.stderr.strip() == (
        f"fetch-weights: sha256 MISMATCH for s3://{BUCKET}/v1/: expected {planted}, got {tree_digest(FILES)} over 3 "
        "file(s); the weights were deleted and the pod will not start. Fix the artifact or the version's "
        "artifact.sha256 (compute it with `fetch.py digest`)"
    )
    assert list(tmp_path.iterdir()) == []


def test_no_credentials_is_a_clear_failure(s3_endpoint: str, tmp_path: Path) -> None:
    run = run_fetcher("fetch", "--uri", f"s3://{BUCKET}/v1/", "--dest", str(tmp_path), env=_env(s3_endpoint))
    assert run.code == 4
    assert run.stderr.strip() == (
        f"fetch-weights: s3://{BUCKET}/v1/: no AWS credentials (no IRSA token: the ServiceAccount needs the read "
        "role annotation, which artifactBucket: true sets)"
    )


def test_missing_prefix(s3_endpoint: str, tmp_path: Path) -> None:
    run = run_fetcher("fetch", "--uri", f"s3://{BUCKET}/v9/", "--dest", str(tmp_path), env=_env(s3_endpoint, **KEYS))
    assert (run.code, run.stderr.strip()) == (4, f"fetch-weights: s3://{BUCKET}/v9/: no objects under this prefix")
