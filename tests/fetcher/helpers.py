"""Run the weights fetcher (components/models/fetcher/fetch.py) for real, as the pod runs it: a child
`python3 fetch.py ...` process with only the environment the pod would have, against servers on loopback."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass

from components.models.fetcher import SCRIPT_PATH


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def run_fetcher(*args: str, env: dict[str, str] | None = None) -> Run:
    base = {"PATH": os.environ.get("PATH", ""), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT_PATH), *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_digest(files: dict[str, bytes]) -> str:
    """The documented tree digest, computed independently of the fetcher: sha256sum lines sorted by path."""
    lines = "".join(f"{sha(files[p])}  {p}\n" for p in sorted(files))
    return sha(lines.encode())
