"""Fixtures of the release tests: T0 (two hours ago, on a minute) and one real Prometheus per session
holding every scenario's series (tests/release/series.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.release.prometheus import prometheus_with
from tests.release.series import openmetrics


@pytest.fixture(scope="session")
def t0() -> int:
    return int(time.time()) // 60 * 60 - 2 * 3600


@pytest.fixture(scope="session")
def prometheus(t0: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prometheus_with(openmetrics(t0), tmp_path_factory.mktemp("prom")) as url:
        yield url
