"""Shared fixtures for the bootstrap tests (run: /usr/bin/python3 -m pytest -q tests/bootstrap).

Each test runs a real bootstrap process (not sandboxed) against the in-process fake Runtime
API in fakeapi.py. Every process is reaped and every temporary directory removed, pass or
fail; nothing is written into the source tree (byte code goes to a temporary
PYTHONPYCACHEPREFIX).
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fakeapi  # noqa: E402

REPO = HERE.parent.parent
PY_RUNTIME = REPO / "images" / "runtimes" / "python3.11"
NODE_RUNTIME = REPO / "images" / "runtimes" / "nodejs20.x"
EXAMPLES = REPO / "images" / "examples"
ECHO_SRC = EXAMPLES / "provided-c" / "echo.c"
ECHO_LIB = EXAMPLES / "provided-c" / "runtime_api.c"   # lamina's C Runtime API client
SHELL_EXAMPLE = EXAMPLES / "provided-shell"

NODE = shutil.which("node")
CURL = shutil.which("curl")
CC = shutil.which("cc") or shutil.which("gcc")

MODES = ["fd", "tcp"]


@pytest.fixture(scope="session")
def session_tmp():
    d = tempfile.mkdtemp(prefix="lamina-bootstrap-tests-")
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def pycache_env(session_tmp):
    return {"PYTHONPYCACHEPREFIX": str(session_tmp / "pycache")}


@pytest.fixture
def task_dir():
    """A factory for task roots: task_dir({"app.py": "..."}) or task_dir(copy_of=path)."""
    made = []

    def make(files=None, copy_of=None):
        d = Path(tempfile.mkdtemp(prefix="lamina-task-"))
        made.append(d)
        if copy_of is not None:
            shutil.copytree(copy_of, d, dirs_exist_ok=True)
        for name, content in (files or {}).items():
            p = d / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
        return d

    try:
        yield make
    finally:
        for d in made:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def echo_bin(session_tmp):
    if CC is None:
        pytest.skip("no C compiler")
    out = session_tmp / "echo"
    flags = [
        "-O2", "-std=gnu11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-Wshadow",
        "-Wmissing-prototypes", "-Wstrict-prototypes", "-Werror=implicit-function-declaration",
        "-Wno-missing-field-initializers", "-fno-strict-aliasing",
    ]
    r = subprocess.run([CC, *flags, "-static", "-o", str(out), str(ECHO_SRC), str(ECHO_LIB)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "cannot find -lc" in r.stderr:
        # no static libc installed: a dynamic build tests the same code
        r = subprocess.run([CC, *flags, "-o", str(out), str(ECHO_SRC), str(ECHO_LIB)],
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def python_cmd():
    return [sys.executable, str(PY_RUNTIME / "bootstrap.py")]


def node_cmd():
    return [NODE, str(NODE_RUNTIME / "bootstrap.js")]


@pytest.fixture
def run_python(pycache_env):
    def run(task_root, handler, events, mode="fd", env=None, **kw):
        e = dict(pycache_env)
        e.update(env or {})
        return fakeapi.run_bootstrap(python_cmd(), task_root, handler, events, mode, env=e, **kw)

    return run


@pytest.fixture
def run_node():
    if NODE is None:
        pytest.skip("node is not installed")

    def run(task_root, handler, events, mode="fd", env=None, **kw):
        return fakeapi.run_bootstrap(node_cmd(), task_root, handler, events, mode, env=env, **kw)

    return run
