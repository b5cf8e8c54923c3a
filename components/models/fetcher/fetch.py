"""fetch-weights: download a model version's weights, verify their sha256, and only then hand them over.

Runs as the `fetch-weights` init container of a model server and as the model cache's populate Job
(docs/model-weights.md). Python standard library only, so it runs unchanged on the digest-pinned
distroless Python image (components/models/fetcher/__init__.py: FETCHER_IMAGE) and in the tests
(tests/fetcher/) — no SDK, no pip install in the pod. Shipped to the pod as a ConfigMap.

    python3 fetch.py fetch --uri s3://bucket/v1/ --sha256 <64 hex> --dest /models/weights
    python3 fetch.py wait  --sha256 <64 hex> --dest /models/cache/<64 hex> --timeout 3600
    python3 fetch.py digest DIR_OR_FILE

URIs and credentials (what the cluster's workload identity webhooks inject):
- s3://bucket/key or s3://bucket/prefix/  IRSA (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE) or the
  AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN] variables; AWS_REGION; endpoints
  AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_STS (path-style requests) override the regional ones.
- oss://bucket/key or oss://bucket/prefix/  ACK RRSA (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN,
  ALIBABA_CLOUD_OIDC_TOKEN_FILE); OSS_ENDPOINT (the regional endpoint's host; a URL for path-style) and
  ALIBABA_CLOUD_STS_ENDPOINT.
- hf://org/model@revision  HF_TOKEN (optional, from a Kubernetes secret); HF_ENDPOINT overrides huggingface.co.
- pvc://claim/path  the claim is mounted read-only at PVC_ROOT (/models/source).

Digest: a single object (a URI not ending in '/', a file on the claim) is the sha256 of its bytes, as
`sha256sum` prints it. A prefix, a directory or a Hugging Face revision is a tree: the sha256 of the lines
"<file sha256>  <relative path>\\n" sorted by path (bytewise) — `find . -type f -printf '%P\\n' |
LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum` in the directory, or `fetch.py digest DIR`.

Exit codes: 0 verified (DEST holds the files and DEST/.verified the digest), 2 usage or a refused
path, 3 sha256 mismatch (nothing kept), 4 download failure, 5 wait timed out. Every failure prints one
line starting with "fetch-weights:" naming the URI and what to do.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

MARKER = ".verified"
PARTIAL = ".partial"
CHUNK = 8 * 1024 * 1024
PVC_ROOT = Path(os.environ.get("PVC_ROOT", "/models/source"))
HEX64 = re.compile(r"^[0-9a-f]{64}$")
EXIT_USAGE, EXIT_MISMATCH, EXIT_DOWNLOAD, EXIT_TIMEOUT = 2, 3, 4, 5


class FetchError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- digests ---------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def tree_sha256(files: dict[str, str]) -> str:
    """`files`: relative path -> sha256 of its bytes."""
    lines = "".join(f"{files[p]}  {p}\n" for p in sorted(files, key=lambda s: s.encode()))
    return hashlib.sha256(lines.encode()).hexdigest()


def local_digest(path: Path) -> str:
    if path.is_file():
        return file_sha256(path)
    files = {
        p.relative_to(path).as_posix(): file_sha256(p)
        for p in path.rglob("*")
        if p.is_file() and p.name not in (MARKER,) and PARTIAL not in p.relative_to(path).parts
    }
    return tree_sha256(files)


def safe_relative(name: str, uri: str) -> str:
    """A remote object's path inside DEST: relative, no '..', no empty segments."""
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or any(part in ("", "..", ".") for part in name.split("/")):
        raise FetchError(EXIT_USAGE, f"fetch-weights: {uri}: refusing object path {name!r} (absolute or '..')")
    return rel.as_posix()


# --- HTTP ------------------------------------------------------------------------------------------


def _open(req: urllib.request.Request, uri: str, timeout: float = 60) -> http.client.HTTPResponse:
    try:
        return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (https URLs built from checked parts)
    except urllib.error.HTTPError as e:
        body = e.read(300).decode(errors="replace")
        raise FetchError(
            EXIT_DOWNLOAD, f"fetch-weights: {uri}: {req.get_method()} {req.full_url} -> HTTP {e.code}: {body}"
        ) from e
    except (urllib.error.URLError, OSError) as e:
        raise FetchError(EXIT_DOWNLOAD, f"fetch-weights: {uri}: {req.full_url} unreachable: {e}") from e


def _stream(req: urllib.request.Request, uri: str, target: Path) -> str:
    """Download to `target`, hashing while writing; the file's sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    with _open(req, uri, timeout=300) as resp, target.open("wb") as out:
        while block := resp.read(CHUNK):
            h.update(block)
            out.write(block)
    return h.hexdigest()


# --- s3 --------------------------------------------------------------------------------------------


def _aws_credentials(region: str, uri: str) -> tuple[str, str, str | None]:
    role, token_file = os.environ.get("AWS_ROLE_ARN"), os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    if role and token_file:
        # IRSA: the EKS pod identity webhook projects an audience-bound token; STS trades it for the role.
        sts = os.environ.get("AWS_ENDPOINT_URL_STS") or f"https://sts.{region}.{_aws_suffix(region)}"
        # POST with a form body, as the AWS SDKs send this unsigned call.
        form = urllib.parse.urlencode(
            {
                "Action": "AssumeRoleWithWebIdentity",
                "Version": "2011-06-15",
                "RoleArn": role,
                "RoleSessionName": "fetch-weights",
                "WebIdentityToken": Path(token_file).read_text().strip(),
                "DurationSeconds": "3600",
            }
        )
        req = urllib.request.Request(
            f"{sts.rstrip('/')}/",
            data=form.encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        with _open(req, uri) as resp:
            doc = ET.fromstring(resp.read())
        creds = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in doc.iter()}
        if not creds.get("AccessKeyId") or not creds.get("SecretAccessKey"):
            raise FetchError(EXIT_DOWNLOAD, f"fetch-weights: {uri}: STS at {sts} returned no credentials")
        return creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken") or None
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret, os.environ.get("AWS_SESSION_TOKEN")
    raise FetchError(
        EXIT_DOWNLOAD,
        f"fetch-weights: {uri}: no AWS credentials (no IRSA token: the ServiceAccount needs the read role "
        "annotation, which artifactBucket: true sets)",
    )


def _aws_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def _q(s: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(s, safe=safe)


def sigv4_headers(
    method: str, url: str, region: str, creds: tuple[str, str, str | None], now: dt.datetime
) -> dict[str, str]:
    """AWS Signature Version 4 for S3 (unsigned payload; the sha256 check is ours)."""
    parts = urllib.parse.urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers = {"host": parts.netloc, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz_date}
    if creds[2]:
        headers["x-amz-security-token"] = creds[2]
    query = sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    canonical = "\n".join(
        [
            method,
            _q(urllib.parse.unquote(parts.path) or "/", safe="-_.~/"),
            "&".join(f"{_q(k)}={_q(v)}" for k, v in query),
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            ";".join(sorted(headers)),
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = f"AWS4{creds[1]}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds[0]}/{scope}, SignedHeaders={';'.join(sorted(headers))}, Signature={signature}"
    )
    return headers


class S3:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.creds = _aws_credentials(self.region, uri)
        self.endpoint = os.environ.get("AWS_ENDPOINT_URL_S3")

    def url(self, bucket: str, key: str, query: str = "") -> str:
        path = "/" + _q(key, safe="-_.~/") if key else "/"
        if self.endpoint:  # path-style, e.g. a local S3 server in tests
            base = f"{self.endpoint.rstrip('/')}/{bucket}"
        else:
            base = f"https://{bucket}.s3.{self.region}.{_aws_suffix(self.region)}"
        return f"{base}{path}{'?' + query if query else ''}"

    def request(self, url: str) -> urllib.request.Request:
        headers = sigv4_headers("GET", url, self.region, self.creds, dt.datetime.now(dt.UTC))
        headers.pop("host")
        return urllib.request.Request(url, headers=headers)

    def list(self, bucket: str, prefix: str) -> Iterator[str]:
        token: str | None = None
        while True:
            params = {"list-type": "2", "prefix": prefix}
            if token:
                params["continuation-token"] = token
            with _open(
                self.request(
                    self.url(bucket, "", urllib.parse.urlencode(params, safe="-_.~", quote_via=urllib.parse.quote))
                ),
                self.uri,
            ) as r:
                doc = ET.fromstring(r.read())
            ns = {"s3": doc.tag.split("}")[0].strip("{")} if doc.tag.startswith("{") else {}
            pre = "s3:" if ns else ""
            for c in doc.findall(f"{pre}Contents", ns):
                yield c.findtext(f"{pre}Key", "", ns)
            if doc.findtext(f"{pre}IsTruncated", "false", ns) != "true":
                return
            token = doc.findtext(f"{pre}NextContinuationToken", None, ns)

    def download(self, bucket: str, key: str, target: Path) -> str:
        return _stream(self.request(self.url(bucket, key)), self.uri, target)


# --- oss -------------------------------------------------------------------------------------------


class Oss:
    """Alibaba Cloud OSS with ACK RRSA credentials (STS AssumeRoleWithOIDC needs no signature) and the
    OSS header signature (V1: HMAC-SHA1 over verb, date, x-oss-* headers and /bucket/key)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.endpoint = os.environ.get("OSS_ENDPOINT", "")
        if not self.endpoint:
            raise FetchError(EXIT_USAGE, f"fetch-weights: {uri}: OSS_ENDPOINT is not set")
        role, provider = os.environ.get("ALIBABA_CLOUD_ROLE_ARN"), os.environ.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")
        token_file = os.environ.get("ALIBABA_CLOUD_OIDC_TOKEN_FILE")
        if not (role and provider and token_file):
            raise FetchError(
                EXIT_DOWNLOAD,
                f"fetch-weights: {uri}: no RRSA credentials (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, "
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE: the release sets them when the cluster's seam reads oss://)",
            )
        sts = os.environ.get("ALIBABA_CLOUD_STS_ENDPOINT", "https://sts.aliyuncs.com")
        body = urllib.parse.urlencode(
            {
                "Action": "AssumeRoleWithOIDC",
                "Format": "JSON",
                "Version": "2015-04-01",
                "RoleArn": role,
                "OIDCProviderArn": provider,
                "OIDCToken": Path(token_file).read_text().strip(),
                "RoleSessionName": "fetch-weights",
                "DurationSeconds": "3600",
            }
        ).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        with _open(urllib.request.Request(sts, data=body, method="POST", headers=headers), uri) as r:
            c = json.loads(r.read())["Credentials"]
        self.creds = (c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"])

    def base(self, bucket: str) -> str:
        # A host (the pod spec's regional endpoint): virtual-hosted HTTPS, as the ServiceEntry allows. A
        # URL (a local server in tests): path-style.
        if "://" in self.endpoint:
            return f"{self.endpoint.rstrip('/')}/{bucket}"
        return f"https://{bucket}.{self.endpoint}"

    def request(self, bucket: str, key: str, query: str = "") -> urllib.request.Request:
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        to_sign = f"GET\n\n\n{date}\nx-oss-security-token:{self.creds[2]}\n/{bucket}/{key}"
        sig = base64.b64encode(hmac.new(self.creds[1].encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
        url = f"{self.base(bucket)}/{_q(key, safe='-_.~/')}{'?' + query if query else ''}"
        headers = {"Date": date, "x-oss-security-token": self.creds[2], "Authorization": f"OSS {self.creds[0]}:{sig}"}
        return urllib.request.Request(url, headers=headers)

    def list(self, bucket: str, prefix: str) -> Iterator[str]:
        marker = ""
        while True:
            query = urllib.parse.urlencode(
                {"prefix": prefix, "marker": marker}, safe="-_.~", quote_via=urllib.parse.quote
            )
            with _open(self.request(bucket, "", query), self.uri) as r:
                doc = ET.fromstring(r.read())
            for c in doc.findall("Contents"):
                yield c.findtext("Key", "")
            if doc.findtext("IsTruncated", "false") != "true":
                return
            marker = doc.findtext("NextMarker", "")

    def download(self, bucket: str, key: str, target: Path) -> str:
        return _stream(self.request(bucket, key), self.uri, target)


# --- fetch -----------------------------------------------------------------------------------------


def _object_store(uri: str, store: S3 | Oss, work: Path) -> tuple[str, dict[str, str], bool]:
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    if not key.endswith("/") and key:
        name = safe_relative(PurePosixPath(key).name, uri)
        return name, {name: store.download(bucket, key, work / name)}, False
    files: dict[str, str] = {}
    for k in store.list(bucket, key):
        if k.endswith("/"):
            continue  # "directory" placeholder objects
        rel = safe_relative(k[len(key) :], uri)
        files[rel] = store.download(bucket, k, work / rel)
    if not files:
        raise FetchError(EXIT_DOWNLOAD, f"fetch-weights: {uri}: no objects under this prefix")
    return key, files, True


def _hf(uri: str, work: Path) -> dict[str, str]:
    repo, _, revision = uri.removeprefix("hf://").partition("@")
    if not revision or repo.count("/") != 1:
        raise FetchError(EXIT_USAGE, f"fetch-weights: {uri}: expected hf://org/model@<revision>")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    token = os.environ.get("HF_TOKEN", "").strip()

    def req(url: str) -> urllib.request.Request:
        r = urllib.request.Request(url)
        if token:  # never forwarded to the CDN a download redirects to
            r.add_unredirected_header("Authorization", f"Bearer {token}")
        return r

    url: str | None = f"{endpoint}/api/models/{repo}/tree/{_q(revision)}?recursive=true"
    paths: list[str] = []
    while url:
        with _open(req(url), uri) as r:
            paths += [e["path"] for e in json.loads(r.read()) if e.get("type") == "file"]
            link = re.search(r'<([^>]+)>;\s*rel="next"', r.headers.get("Link", ""))
        url = link.group(1) if link else None
    if not paths:
        raise FetchError(EXIT_DOWNLOAD, f"fetch-weights: {uri}: the revision lists no files")
    files: dict[str, str] = {}
    for p in paths:
        rel = safe_relative(p, uri)
        files[rel] = _stream(req(f"{endpoint}/{repo}/resolve/{_q(revision)}/{_q(p, safe='-_.~/')}"), uri, work / rel)
    return files


def _pvc(uri: str, work: Path) -> tuple[dict[str, str], bool]:
    _claim, _, path = uri.removeprefix("pvc://").partition("/")
    src = PVC_ROOT / path if path else PVC_ROOT
    if not src.exists():
        raise FetchError(EXIT_DOWNLOAD, f"fetch-weights: {uri}: {src} does not exist on the mounted claim")
    if src.is_file():
        shutil.copyfile(src, work / src.name)
        return {src.name: file_sha256(work / src.name)}, False
    shutil.copytree(src, work, dirs_exist_ok=True)
    return {p.relative_to(work).as_posix(): file_sha256(p) for p in work.rglob("*") if p.is_file()}, True


def fetch(uri: str, expected: str | None, dest: Path) -> str:
    """Download `uri` into `dest`, verify `expected` (when given), return the digest."""
    if expected is not None and not HEX64.match(expected):
        raise FetchError(EXIT_USAGE, f"fetch-weights: {uri}: --sha256 {expected!r} is not 64 lowercase hex")
    if (dest / MARKER).is_file() and expected and (dest / MARKER).read_text().strip() == expected:
        print(f"fetch-weights: {uri}: already verified in {dest} (sha256 {expected})", flush=True)
        return expected
    work = dest / PARTIAL
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    scheme = uri.split("://", 1)[0]
    try:
        if scheme in ("s3", "oss"):
            store: S3 | Oss = S3(uri) if scheme == "s3" else Oss(uri)
            _, files, tree = _object_store(uri, store, work)
        elif scheme == "hf":
            files, tree = _hf(uri, work), True
        elif scheme == "pvc":
            files, tree = _pvc(uri, work)
        else:
            raise FetchError(EXIT_USAGE, f"fetch-weights: {uri}: scheme {scheme!r} is not s3, oss, hf or pvc")
        got = tree_sha256(files) if tree else next(iter(files.values()))
        if expected is not None and got != expected:
            raise FetchError(
                EXIT_MISMATCH,
                f"fetch-weights: sha256 MISMATCH for {uri}: expected {expected}, got {got} over {len(files)} "
                "file(s); the weights were deleted and the pod will not start. Fix the artifact or the "
                "version's artifact.sha256 (compute it with `fetch.py digest`)",
            )
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    for entry in work.iterdir():
        target = dest / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        entry.replace(target)
    work.rmdir()
    (dest / MARKER).write_text(got + "\n")
    size = sum((dest / p).stat().st_size for p in files)
    print(f"fetch-weights: {uri}: verified sha256 {got} ({len(files)} file(s), {size} bytes) into {dest}", flush=True)
    return got


def wait(expected: str, dest: Path, timeout: float, poll: float = 5) -> None:
    """Block until the cache Job has verified `expected` into `dest` (read-only mount)."""
    deadline = time.monotonic() + timeout
    while True:
        marker = dest / MARKER
        if marker.is_file():
            got = marker.read_text().strip()
            if got != expected:
                raise FetchError(EXIT_MISMATCH, f"fetch-weights: cache {dest} holds sha256 {got}, expected {expected}")
            print(f"fetch-weights: cache hit {dest} (sha256 {expected})", flush=True)
            return
        if time.monotonic() >= deadline:
            raise FetchError(
                EXIT_TIMEOUT,
                f"fetch-weights: cache {dest} not populated after {timeout:.0f}s; check the model's cache Job",
            )
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fetch-weights")
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch")
    f.add_argument("--uri", required=True)
    f.add_argument("--sha256", default="")
    f.add_argument("--dest", required=True, type=Path)
    f.add_argument("--require-sha256", action="store_true", help="refuse to run without --sha256 (prod)")
    w = sub.add_parser("wait")
    w.add_argument("--sha256", required=True)
    w.add_argument("--dest", required=True, type=Path)
    w.add_argument("--timeout", type=float, default=3600)
    w.add_argument("--poll", type=float, default=5)
    d = sub.add_parser("digest")
    d.add_argument("path", type=Path)
    a = p.parse_args(argv)
    try:
        if a.cmd == "digest":
            print(local_digest(a.path))
        elif a.cmd == "wait":
            wait(a.sha256, a.dest, a.timeout, a.poll)
        else:
            if a.require_sha256 and not a.sha256:
                raise FetchError(EXIT_USAGE, f"fetch-weights: {a.uri}: --sha256 is required here (prod)")
            fetch(a.uri, a.sha256 or None, a.dest)
    except FetchError as e:
        print(str(e), file=sys.stderr, flush=True)
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
