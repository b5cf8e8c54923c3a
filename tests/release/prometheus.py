"""A real Prometheus (Debian's /usr/bin/prometheus) on loopback, loaded with series through promtool's
TSDB backfill (`promtool tsdb create-blocks-from openmetrics`), started and stopped by the fixture."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.promtool.promtool import promtool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    """A loopback URL nothing listens on: Prometheus down."""
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def prometheus_with(series_openmetrics: str, work: Path, lifetime_seconds: int = 1800) -> Iterator[str]:
    """Backfill the series into a fresh TSDB, start Prometheus on it, yield its URL, stop it."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not on PATH: `make system-deps` (Debian package prometheus)", pytrace=False)
    (work / "series.om").write_text(series_openmetrics)
    res = subprocess.run(
        [promtool(), "tsdb", "create-blocks-from", "openmetrics", "series.om", "data"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    (work / "prometheus.yml").write_text("global: {evaluation_interval: 15s}\n")
    port = free_port()
    # `timeout` bounds the server even if the test process dies; the fixture also stops it.
    proc = subprocess.Popen(
        [
            "timeout",
            str(lifetime_seconds),
            binary,
            "--config.file=prometheus.yml",
            "--storage.tsdb.path=data",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=2d",
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=(work / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"prometheus did not become ready: {(work / 'prometheus.log').read_text()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
