"""A hard per-example time bound for the garbage-input fuzzers (tests/robustness/test_yaml_garbage.py,
tests/release/test_release_garbage.py): a hang fails the example instead of the suite."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Unbounded(BaseException):
    """An example ran past its time bound (a BaseException: no `except Exception` boundary swallows it)."""


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise Unbounded after `seconds` (SIGALRM: main thread only)."""

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise Unbounded(f"ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
