# SPDX-License-Identifier: MIT
"""The connection: socket selection, unreachable daemon, framing, ids, usage and help."""
import json
import os
import socket

import pytest

from fakedaemon import Before, Hangup, Raw, configuration, err, ok, run_lamina


def test_daemon_not_running_exits_4_naming_the_socket(workdir):
    path = os.path.join(workdir, "absent.sock")
    r = run_lamina("--socket", path, "list")
    assert r.returncode == 4
    assert r.err == f"lamina: cannot connect to laminad at {path}: No such file or directory\n"


def test_socket_with_no_listener_exits_4(workdir):
    path = os.path.join(workdir, "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    r = run_lamina("--socket", path, "get", "hello")
    assert r.returncode == 4
    assert f"cannot connect to laminad at {path}: Connection refused" in r.err


def test_default_socket_path_is_named_when_unreachable(workdir):
    if os.path.exists("/run/lamina/lamina.sock"):
        pytest.skip("a laminad is running here")
    r = run_lamina("list")
    assert r.returncode == 4
    assert "/run/lamina/lamina.sock" in r.err


def test_lamina_socket_environment_variable_selects_the_socket(daemon):
    daemon.answer(ok(Functions=[]))
    r = run_lamina("list", env={"LAMINA_SOCKET": daemon.path})
    assert r.returncode == 0, r.err
    assert daemon.actions() == ["ListFunctions"]


def test_socket_flag_beats_the_environment_and_may_follow_the_command(daemon, workdir):
    daemon.answer(ok(Functions=[]))
    r = run_lamina("list", "--socket", daemon.path,
                   env={"LAMINA_SOCKET": os.path.join(workdir, "wrong.sock")})
    assert r.returncode == 0, r.err
    assert daemon.actions() == ["ListFunctions"]


def test_responses_for_other_ids_are_not_taken_for_ours(daemon):
    stray = json.dumps({"id": 999, "ok": False,
                        "error": {"type": "ServiceException", "message": "not yours"}})
    daemon.answer(Before([stray], ok(Configuration=configuration())))
    r = daemon.run("get", "hello")
    assert r.returncode == 0, r.err
    assert r.out.startswith("FunctionName:     hello\n")


def test_request_ids_are_integers_and_unique(daemon, workdir):
    os.makedirs(os.path.join(workdir, "img"))
    with open(os.path.join(workdir, "img", "lamina.json"), "w") as f:
        json.dump({"FunctionName": "f", "Runtime": "provided", "Handler": "h"}, f)
    daemon.answer(ok(Configuration=configuration("f")), ok(**configuration("f")),
                  ok(**configuration("f")), ok(**configuration("f", Version="1")))
    r = daemon.run("deploy", os.path.join(workdir, "img"), "--publish")
    assert r.returncode == 0, r.err
    ids = [q["id"] for q in daemon.requests]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    # One connection carries all of a command's requests.
    assert daemon.connections == 1


def test_an_error_without_an_id_answers_the_pending_request(daemon):
    line = json.dumps({"id": None, "ok": False, "error": {
        "type": "RequestTooLargeException", "message": "Request must be smaller than 6291456 bytes"}})
    daemon.answer(Raw(line + "\n"))
    r = daemon.run("invoke", "hello")
    assert r.returncode == 3
    assert r.err == ("lamina: RequestTooLargeException: Request must be smaller than "
                     "6291456 bytes\n")


def test_daemon_hanging_up_exits_4(daemon):
    daemon.answer(Hangup())
    r = daemon.run("list")
    assert r.returncode == 4
    assert f"laminad at {daemon.path} closed the connection" in r.err


def test_malformed_response_exits_4(daemon):
    daemon.answer(Raw("this is not json\n"))
    r = daemon.run("list")
    assert r.returncode == 4
    assert "malformed response" in r.err


def test_error_without_details_is_still_reported(daemon):
    daemon.answer({"ok": False})
    r = daemon.run("list")
    assert r.returncode == 3
    assert r.err == "lamina: ServiceException\n"


@pytest.mark.parametrize("command", ["deploy", "invoke", "publish", "alias", "list", "get",
                                     "versions", "delete", "config", "logs"])
def test_every_command_has_help(command):
    r = run_lamina(command, "--help")
    assert r.returncode == 0
    assert r.out.startswith(f"usage: lamina {command}")
    assert run_lamina("help", command).out == r.out


def test_top_level_help_lists_every_command():
    r = run_lamina("--help")
    assert r.returncode == 0
    for command in ["deploy", "invoke", "publish", "alias", "list", "get", "versions",
                    "delete", "config", "logs"]:
        assert f"lamina {command}" in r.out


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["--frob", "list"], ["--socket"],
                                  ["list", "--frob"], ["help", "frobnicate"]])
def test_usage_errors_exit_2(workdir, args):
    r = run_lamina("--socket", os.path.join(workdir, "none.sock"), *args)
    assert r.returncode == 2, args
    assert r.err


def test_json_flag_works_before_and_after_the_command(daemon):
    result = {"Functions": [configuration()]}
    daemon.answer(ok(**result), ok(**result))
    a = daemon.run("--json", "list")
    b = daemon.run("list", "--json")
    assert json.loads(a.out) == json.loads(b.out) == result
