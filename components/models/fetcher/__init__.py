"""The weights fetcher: our program (fetch.py, standard library only) run by a digest-pinned public image.

Why this shape (docs/model-weights.md#the-fetcher): the logic that decides whether weights are served —
listing, downloading, the sha256 over a tree, the refusal on a mismatch — is ours, reviewed here and
tested for real (tests/fetcher/: a loopback HTTP server and a moto S3 server). It needs no SDK (SigV4,
the OSS header signature and the STS exchanges of IRSA and RRSA are a few lines of stdlib), so the image
only has to provide a Python interpreter: the distroless Python image, non-root (65532), no shell, no
package manager, pinned by digest. The program travels in a ConfigMap next to the release, so a fix to
it is a reviewed diff in the plan, not a new image build.
"""

from __future__ import annotations

import functools
from pathlib import Path

# gcr.io/distroless/python3-debian12:nonroot (Python 3.11, uid/gid 65532, CA certificates, no shell). The
# digest as published for that tag (confirm with `crane digest gcr.io/distroless/python3-debian12:nonroot`
# before the first `pulumi up`; bump it like any pin: a reviewed diff).
FETCHER_IMAGE = (
    "gcr.io/distroless/python3-debian12:nonroot@sha256:7d1042ce588ab97019fe95c24ffca7bc5a82ccdac572511d5e09bda4435c89c5"
)
FETCHER_PYTHON = "/usr/bin/python3"
SCRIPT_NAME = "fetch.py"
SCRIPT_PATH = Path(__file__).with_name(SCRIPT_NAME)


@functools.cache
def script() -> str:
    """The fetcher's source, as the ConfigMap carries it."""
    return SCRIPT_PATH.read_text()
