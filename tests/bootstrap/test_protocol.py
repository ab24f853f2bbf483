"""HTTP robustness, the same for every bootstrap: responses split into tiny reads,
lower-case header names, chunked event bodies, and servers that close after each reply."""

import pytest

from conftest import NODE, node_cmd, python_cmd
from fakeapi import Event, run_bootstrap

PY_ECHO = {"app.py": "def handler(e, c):\n    return e\n"}
NODE_ECHO = {"app.js": "exports.handler = async (e) => e;"}

QUIRKS = {
    "dribble": dict(dribble=True),
    "lower-headers": dict(lower_headers=True),
    "chunked": dict(chunked=True),
    "chunked-dribble-lower": dict(chunked=True, dribble=True, lower_headers=True),
    "close-each": dict(close_each=True),
    "nonblocking-fd": dict(nonblocking_fd=True, dribble=True),
}


def _cmd(kind, echo_bin, pycache_env):
    if kind == "python":
        return python_cmd(), PY_ECHO, pycache_env
    if kind == "node":
        if NODE is None:
            pytest.skip("node is not installed")
        return node_cmd(), NODE_ECHO, {}
    return [str(echo_bin)], {}, {}


@pytest.mark.parametrize("quirk", list(QUIRKS))
@pytest.mark.parametrize("kind", ["c", "python", "node"])
def test_http_quirks(kind, quirk, request, task_dir, pycache_env):
    echo_bin = request.getfixturevalue("echo_bin") if kind == "c" else None
    cmd, files, env = _cmd(kind, echo_bin, pycache_env)
    opts = QUIRKS[quirk]
    modes = {"close-each": ["tcp"], "nonblocking-fd": ["fd"]}.get(quirk, ["fd", "tcp"])
    for mode in modes:
        events = [Event({"n": 1, "s": "h\u00e9llo"}), Event([1, 2, 3])]
        run = run_bootstrap(cmd, task_dir(files), "app.handler", events, mode, env=env, **opts)
        assert run.returncode == 0, run.stderr
        for ev in events:
            kind_, req = run.result(ev)
            assert kind_ == "response", (mode, req, run.stderr)
            # Python re-serialises with json.dumps' spacing, node with JSON.stringify's
            if kind == "node":
                assert req.json() == __import__("json").loads(ev.body)
            else:
                assert req.body == ev.body
