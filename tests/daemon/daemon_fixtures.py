# SPDX-License-Identifier: MIT
"""The pytest fixtures that start and check laminad, shared by tests/daemon and
tests/images (each conftest imports them; each has its own `workdir`):

- `daemons`: every daemon the session started; at its end each still running is stopped
  and the stop's checks (exit 0, nothing left behind) are asserted.
- `start_daemon`: starts a daemon of the test's own, stopped and checked at its end.
"""
import pytest

from laminad_harness import DaemonRegistry


@pytest.fixture(scope="session")
def daemons(workdir):
    reg = DaemonRegistry(workdir)
    yield reg
    problems = []
    for d in list(reg.running):
        problems += reg.stop(d)
    assert not problems, "\n".join(problems)


@pytest.fixture
def start_daemon(daemons):
    """Starts a daemon of the test's own (stopped, and checked, at the test's end)."""
    started = []

    def start(tag=None, config=None, state_dir=None, **kw):
        d = daemons.start(tag, config, state_dir, **kw)
        started.append(d)
        return d

    yield start
    problems = []
    for d in started:
        if d in daemons.running:
            problems += daemons.stop(d)
    assert not problems, "\n".join(problems)
