# SPDX-License-Identifier: MIT
"""Fixtures for the daemon tests: they start the real `laminad` and talk to it over its
socket API, as a client would.

- `Daemon` starts `laminad --state-dir … --socket … --cgroup-parent lamina-test-<pid>[-tag]
  --config …` in the foreground and stops it with SIGTERM. Stopping asserts that it exited
  0, removed its socket, and left no cgroup under any hierarchy and no process of its
  function uids (300000+) in its cgroups. Only if it hangs is it killed with -9 (by pid),
  and the stop then fails saying so. Whatever is left (processes of its instances, by pid;
  its cgroups; the parent cgroup this test made) is cleaned up before the assertion.
- `Client` is a small socket API client: numbered ids, pipelining, raw lines.
- `FunctionFactory` writes function code directories (chmod a+rX) and creates them.

The session daemon (`daemon`) is shared by most tests; after every test that used it the
`_daemon_still_serving` check asserts that it is alive and answers ListFunctions.
Tests that need a special configuration start their own daemon (`start_daemon`).

Build first: `make build/bin/laminad build/runtimes/provided-echo/bootstrap`.

The harness itself (Daemon, Client, FunctionFactory, host inspection) is in
laminad_harness.py.
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from daemon_fixtures import daemons, start_daemon  # noqa: F401 - fixtures
from laminad_harness import LAMINAD, FunctionFactory

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def workdir():
    if not LAMINAD.exists():
        pytest.fail(f"{LAMINAD} is missing: run `make build/bin/laminad` first", pytrace=False)
    d = tempfile.mkdtemp(prefix="lamina-daemon-tests-")
    os.chmod(d, 0o711)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


class _MainDaemon:
    """The shared daemon. If a test kills it, the next test gets a new one (on a new state
    dir) instead of a cascade of failures; the crash is reported by the test that caused
    it (the after-test check) and again at the end of the session."""

    CONFIG = {"KeepAliveSeconds": 60}

    def __init__(self, daemons):
        self.daemons = daemons
        self.current = None
        self.generation = 0
        self.problems = []

    def get(self):
        if self.current is not None and not self.current.alive():
            self.problems += [f"the shared laminad (pid {self.current.pid}) died during the session"]
            self.problems += self.daemons.stop(self.current)
            self.current = None
        if self.current is None:
            self.generation += 1
            tag = "main" if self.generation == 1 else f"main{self.generation}"
            self.current = self.daemons.start(tag, self.CONFIG)
        return self.current

    def stop(self):
        if self.current is not None:
            self.problems += self.daemons.stop(self.current)
            self.current = None
        return self.problems


@pytest.fixture(scope="session")
def _main_daemon(daemons):
    main = _MainDaemon(daemons)
    yield main
    problems = main.stop()
    assert not problems, "\n".join(problems)


@pytest.fixture
def daemon(_main_daemon):
    """The shared daemon (keeps idle instances 60 s)."""
    return _main_daemon.get()


@pytest.fixture
def client(daemon):
    with daemon.client() as c:
        yield c


@pytest.fixture
def fns(workdir, daemon):
    return FunctionFactory(workdir, daemon)


@pytest.fixture(autouse=True)
def _daemon_still_serving(request, daemons):
    """After every test: each daemon still running is alive and serving."""
    yield
    for d in list(daemons.running):
        if d.killed:
            continue
        d.check_serving()


