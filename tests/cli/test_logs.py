# SPDX-License-Identifier: MIT
"""lamina logs: paging with NextToken, --request-id, --follow."""
import json
import signal
import subprocess
import time

from fakedaemon import LAMINA, err, ok

T0 = 1714564800123  # 2024-05-01T12:00:00.123Z


def event(message, offset=0, request_id="req-1"):
    return {"Timestamp": T0 + offset, "Message": message, "RequestId": request_id}


def test_logs_pages_until_the_daemon_has_no_more(daemon):
    daemon.answer(ok(Events=[event("START RequestId: req-1"), event("hello", 1500)],
                     NextToken="t1"),
                  ok(Events=[event("END RequestId: req-1", 2000)], NextToken="t2"),
                  ok(Events=[], NextToken="t2"))
    r = daemon.run("logs", "hello")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [
        {"action": "GetLogs", "FunctionName": "hello"},
        {"action": "GetLogs", "FunctionName": "hello", "NextToken": "t1"},
        {"action": "GetLogs", "FunctionName": "hello", "NextToken": "t2"},
    ]
    assert r.out.splitlines() == [
        "2024-05-01T12:00:00.123Z START RequestId: req-1",
        "2024-05-01T12:00:01.623Z hello",
        "2024-05-01T12:00:02.123Z END RequestId: req-1",
    ]


def test_logs_stops_without_a_next_token(daemon):
    daemon.answer(ok(Events=[event("only")], NextToken=None))
    r = daemon.run("logs", "hello", "--request-id", "req-9")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "GetLogs", "FunctionName": "hello",
                               "RequestId": "req-9"}]
    assert r.out == "2024-05-01T12:00:00.123Z only\n"


def test_logs_json_is_one_document(daemon):
    daemon.answer(ok(Events=[event("a")], NextToken="t1"), ok(Events=[], NextToken="t1"))
    r = daemon.run("logs", "hello", "--json")
    assert r.returncode == 0, r.err
    assert json.loads(r.out) == {"Events": [event("a")], "NextToken": "t1"}


def test_logs_of_a_missing_function_exits_3(daemon):
    daemon.answer(err("ResourceNotFoundException", "Function not found: nope"))
    r = daemon.run("logs", "nope")
    assert r.returncode == 3
    assert "ResourceNotFoundException" in r.err


def test_logs_follow_polls_with_the_next_token_until_interrupted(daemon):
    daemon.answer(ok(Events=[event("first")], NextToken="t1"),
                  ok(Events=[], NextToken="t1"),
                  ok(Events=[event("second", 10)], NextToken="t2"))
    for _ in range(50):
        daemon.answer(ok(Events=[], NextToken="t2"))
    p = subprocess.Popen([LAMINA, "--socket", daemon.path, "logs", "hello", "--follow"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while len(daemon.requests) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        start = len(daemon.requests)
        time.sleep(0.5)
        polls = len(daemon.requests) - start
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=5)
    assert out.decode().splitlines() == ["2024-05-01T12:00:00.123Z first",
                                         "2024-05-01T12:00:00.133Z second"]
    calls = daemon.calls()
    assert calls[0] == {"action": "GetLogs", "FunctionName": "hello"}
    assert calls[1]["NextToken"] == "t1" and calls[2]["NextToken"] == "t1"
    assert all(c["NextToken"] == "t2" for c in calls[3:])
    # About every 200 ms once caught up, not a busy loop.
    assert 1 <= polls <= 4
