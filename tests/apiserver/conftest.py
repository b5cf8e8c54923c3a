"""The session's API server (tests/apiserver/cluster.py) and the check that none of its processes survive."""

from __future__ import annotations

import os
import signal

import pytest

from tests.apiserver.cluster import STARTED, api_server_fixture, processes_mentioning

__all__ = ["api_server_fixture"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture is torn down: no etcd / kube-apiserver the fixture started is still running."""
    survivors = [(pid, workdir) for _, workdir in STARTED for pid in processes_mentioning(workdir)]
    if not survivors:
        return
    for pid, _ in survivors:  # ours (their command line names our temp dir): stop them, then fail
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"tests/apiserver: processes of the session's API server survived it: {survivors}"
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(message, red=True)
    else:
        print(message)
