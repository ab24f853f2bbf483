"""The `provided` examples: the C echo bootstrap and the curl/shell tutorial bootstrap."""

import json

import pytest

from conftest import CURL, MODES, SHELL_EXAMPLE
from fakeapi import Event, run_bootstrap

PAYLOADS = [
    {"a": 1, "b": [True, None, 2.5]},
    [1, 2, 3],
    "h\u00e9llo \u2603",
    {"big": "y" * (3 << 20)},
]


@pytest.mark.parametrize("mode", MODES)
def test_c_echo(mode, echo_bin, task_dir):
    root = task_dir()
    events = [Event(p) for p in PAYLOADS] + [Event(None, raw=b""), Event(None, raw=b"not json \x00\xff")]
    run = run_bootstrap([str(echo_bin)], root, "echo.handler", events, mode)
    assert run.returncode == 0, run.stderr  # exits cleanly when the API hangs up
    assert run.stderr == ""
    for ev in events:
        kind, req = run.result(ev)
        assert kind == "response"
        assert req.body == ev.body
    gets = [r for r in run.api.requests if r.method == "GET"]
    assert len(gets) == len(events) + 1


def test_c_echo_many(echo_bin, task_dir):
    events = [Event({"i": i}) for i in range(300)]
    run = run_bootstrap([str(echo_bin)], task_dir(), "echo.handler", events, "fd")
    assert run.returncode == 0
    assert all(run.result(ev)[1].body == ev.body for ev in events)


def test_c_echo_without_api(echo_bin, task_dir):
    import subprocess
    r = subprocess.run([str(echo_bin)], env={}, capture_output=True, timeout=10)
    assert r.returncode != 0 and b"LAMINA_RUNTIME_FD" in r.stderr


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_shell_tutorial_bootstrap(task_dir):
    root = task_dir(copy_of=SHELL_EXAMPLE)
    manifest = json.loads((root / "lamina.json").read_text())
    assert manifest == {"FunctionName": "shell-echo", "Runtime": "provided", "Handler": "function.handler"}
    payloads = [{"a": 1}, [1, 2], "x y  z", {"q": "it's \"quoted\" $HOME `x`"}]
    events = [Event(p) for p in payloads]
    run = run_bootstrap([str(root / "bootstrap")], root, "function.handler", events, "tcp")
    assert run.returncode == 0, run.stderr
    for ev in events:
        kind, req = run.result(ev)
        assert kind == "response"
        assert req.body == ev.body
        assert f"handler: got {ev.body.decode()}" in run.stderr


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_shell_bootstrap_handler_failure(task_dir):
    root = task_dir(copy_of=SHELL_EXAMPLE, files={"function.sh": "handler () {\n  echo oops >&2\n  return 3\n}\n"})
    ev = Event({})
    run = run_bootstrap([str(root / "bootstrap")], root, "function.handler", [ev], "tcp")
    kind, req = run.result(ev)
    assert kind == "error"
    assert req.headers["lambda-runtime-function-error-type"] == "Unhandled"
    assert req.json()["errorMessage"] == "handler exited with status 3"


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_shell_bootstrap_missing_script(task_dir):
    root = task_dir(copy_of=SHELL_EXAMPLE)
    run = run_bootstrap([str(root / "bootstrap")], root, "nosuch.handler", [Event({})], "tcp")
    assert run.returncode != 0
    errs = run.api.init_errors()
    assert len(errs) == 1 and errs[0].json()["errorType"] == "Runtime.ImportModuleError"
