# SPDX-License-Identifier: MIT
"""Fixtures for the CLI tests: a fake laminad per test, in its own temporary directory."""
import os
import tempfile

import pytest

from fakedaemon import LAMINA, FakeDaemon


@pytest.fixture(scope="session", autouse=True)
def lamina_binary():
    if not os.access(LAMINA, os.X_OK):
        pytest.fail(f"{LAMINA} is not built: run 'make build/bin/lamina'")
    return LAMINA


@pytest.fixture
def workdir():
    """A short temporary directory (socket paths are limited to 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="lamina-cli-") as d:
        yield d


@pytest.fixture
def daemon(workdir):
    d = FakeDaemon(os.path.join(workdir, "lamina.sock"))
    try:
        yield d
    finally:
        d.close()
