# SPDX-License-Identifier: MIT
"""lamina invoke: payload in, response payload out, the REPORT line, exit statuses."""
import json
import os
import time

import pytest

from fakedaemon import err, ok


def invoke_result(payload=None, init=None, **over):
    report = {"DurationMs": 1.234, "BilledDurationMs": 2, "MemorySizeMB": 128,
              "MaxMemoryUsedMB": 9, "CpuTimeMs": 0.8}
    if init is not None:
        report["InitDurationMs"] = init
    result = {"StatusCode": 200, "Payload": payload if payload is not None else {"ok": True},
              "ExecutedVersion": "$LATEST", "RequestId": "c6af9ac6-7b61-11e6-9a41-93e812345678",
              "Report": report}
    result.update(over)
    return ok(**result)


REPORT = ("REPORT RequestId: c6af9ac6-7b61-11e6-9a41-93e812345678 Duration: 1.23 ms "
          "Billed Duration: 2 ms Memory Size: 128 MB Max Memory Used: 9 MB")


def test_invoke_sends_the_payload_and_prints_the_response_and_report(daemon):
    daemon.answer(invoke_result({"greeting": "hello", "n": [1, 2]}))
    r = daemon.run("invoke", "hello:live", "--payload", '{"name": "world"}')
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "Invoke", "FunctionName": "hello:live",
                               "InvocationType": "RequestResponse",
                               "Payload": {"name": "world"}}]
    assert r.out == '{"greeting":"hello","n":[1,2]}\n'
    assert r.err == REPORT + "\n"


def test_invoke_report_shows_init_duration_on_a_cold_start(daemon):
    daemon.answer(invoke_result(init=3.1))
    r = daemon.run("invoke", "hello")
    assert r.returncode == 0, r.err
    assert r.err == REPORT + " Init Duration: 3.10 ms\n"


def test_invoke_without_payload_sends_an_empty_object(daemon):
    daemon.answer(invoke_result())
    r = daemon.run("invoke", "hello")
    assert r.returncode == 0, r.err
    assert daemon.calls()[0]["Payload"] == {}


def test_invoke_reads_the_payload_from_a_file(daemon, workdir):
    path = os.path.join(workdir, "event.json")
    with open(path, "w") as f:
        f.write('{\n  "records": [\n    {"id": 1},\n    {"id": 2}\n  ]\n}\n')
    daemon.answer(invoke_result())
    r = daemon.run("invoke", "hello", "--payload-file", path)
    assert r.returncode == 0, r.err
    assert daemon.calls()[0]["Payload"] == {"records": [{"id": 1}, {"id": 2}]}
    # One request per line, however the file was laid out.
    assert len(daemon.raw_lines) == 1


def test_invoke_reads_the_payload_from_stdin(daemon):
    daemon.answer(invoke_result())
    r = daemon.run("invoke", "hello", "--payload-file", "-", input='[1, "two", null]')
    assert r.returncode == 0, r.err
    assert daemon.calls()[0]["Payload"] == [1, "two", None]


def test_invoke_passes_the_payload_text_through_unchanged(daemon):
    daemon.answer(invoke_result())
    text = '{"big": 123456789012345678901234567890, "x": 0.1, "s": "a\\u00e9\\n"}'
    r = daemon.run("invoke", "hello", "--payload", text)
    assert r.returncode == 0, r.err
    assert (b'"Payload":{"big":123456789012345678901234567890,"x":0.1,"s":"a\\u00e9\\n"}'
            in daemon.raw_lines[0])


def test_invoke_sends_and_prints_nul_characters(daemon):
    """JSON's \\u0000 is valid in a payload and in a response: sent and printed as such."""
    daemon.answer(invoke_result({"m": "a\x00b"}))
    r = daemon.run("invoke", "hello", "--payload", '{"s": "x\\u0000y"}')
    assert r.returncode == 0, r.err
    assert daemon.calls()[0]["Payload"] == {"s": "x\x00y"}
    assert r.out == '{"m":"a\\u0000b"}\n'


@pytest.mark.parametrize("payload, where", [
    ('{"a": 1,}', "line 1, column 9"),
    ('{"a": 1}\n{"b": 2}', "line 2"),
    ("{'a': 1}", "line 1"),
    ("", "empty"),
    (" \n", "empty"),
    ("[1, 2", "line 1"),
])
def test_invoke_malformed_payload_is_a_usage_error_and_sends_nothing(daemon, payload, where):
    r = daemon.run("invoke", "hello", "--payload", payload)
    assert r.returncode == 2
    assert "malformed payload JSON" in r.err and where in r.err
    assert daemon.requests == []
    assert daemon.connections == 0


def test_invoke_malformed_payload_file_is_a_usage_error(daemon, workdir):
    path = os.path.join(workdir, "bad.json")
    with open(path, "w") as f:
        f.write('{"ok": true}\n{"oops"\n')
    r = daemon.run("invoke", "hello", "--payload-file", path)
    assert r.returncode == 2
    assert "line 2" in r.err
    r = daemon.run("invoke", "hello", "--payload-file", os.path.join(workdir, "missing.json"))
    assert r.returncode == 2
    assert "missing.json" in r.err
    assert daemon.requests == []


def test_invoke_with_both_payload_flags_is_a_usage_error(daemon, workdir):
    r = daemon.run("invoke", "hello", "--payload", "{}", "--payload-file", "-")
    assert r.returncode == 2
    assert daemon.requests == []


def test_invoke_function_error_exits_1_and_still_prints_the_payload(daemon):
    error = {"errorMessage": "division by zero", "errorType": "ZeroDivisionError",
             "stackTrace": ["  File \"/var/task/app.py\", line 2"]}
    daemon.answer(invoke_result(error, FunctionError="Unhandled"))
    r = daemon.run("invoke", "hello")
    assert r.returncode == 1
    assert json.loads(r.out) == error
    assert r.out == json.dumps(error, separators=(",", ":")) + "\n"
    assert r.err == REPORT + "\n"


def test_invoke_service_error_exits_3_with_its_type_and_message(daemon):
    daemon.answer(err("TooManyRequestsException", "Rate Exceeded."))
    r = daemon.run("invoke", "hello")
    assert r.returncode == 3
    assert r.err == "lamina: TooManyRequestsException: Rate Exceeded.\n"
    assert r.out == ""


def test_invoke_async_queues_an_event_and_prints_its_request_id(daemon):
    daemon.answer(ok(StatusCode=202, RequestId="9d0e1a2b-0000-4000-8000-00000000abcd"))
    r = daemon.run("invoke", "hello", "--async", "--payload", '{"k": 1}')
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "Invoke", "FunctionName": "hello",
                               "InvocationType": "Event", "Payload": {"k": 1}}]
    assert r.out == "9d0e1a2b-0000-4000-8000-00000000abcd\n"
    assert r.err == ""


def test_invoke_non_json_response_prints_as_a_json_string(daemon):
    daemon.answer(invoke_result("plain text\nwith a newline"))
    r = daemon.run("invoke", "hello")
    assert r.returncode == 0, r.err
    assert r.out == '"plain text\\nwith a newline"\n'


def test_invoke_json_prints_the_whole_result(daemon):
    daemon.answer(invoke_result({"x": 0.1}, init=2.5))
    r = daemon.run("invoke", "hello", "--json")
    assert r.returncode == 0, r.err
    doc = json.loads(r.out)
    assert doc["Payload"] == {"x": 0.1}
    assert doc["Report"]["InitDurationMs"] == 2.5
    assert "id" not in doc and "ok" not in doc
    assert '"x":0.1' in r.out  # as sent, not re-encoded
    assert r.out.count("\n") == 1


def test_invoke_handles_a_6_mb_response(daemon):
    big = {"data": "x" * (6 * 1024 * 1024 - 64), "n": 1}
    daemon.answer(invoke_result(big))
    start = time.monotonic()
    r = daemon.run("invoke", "hello")
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.err
    assert len(r.stdout) > 6 * 1024 * 1024 - 64
    assert json.loads(r.out) == big
    assert elapsed < 5


def test_invoke_sends_a_6_mb_payload_from_stdin(daemon):
    event = {"blob": "y" * (6 * 1024 * 1024 - 100)}
    daemon.answer(invoke_result())
    r = daemon.run("invoke", "hello", "--payload-file", "-", input=json.dumps(event))
    assert r.returncode == 0, r.err
    assert daemon.calls()[0]["Payload"] == event


def test_invoke_waits_as_long_as_the_function_runs(daemon):
    def slow(req):
        time.sleep(1.5)
        return invoke_result()
    daemon.answer(slow)
    r = daemon.run("invoke", "hello")
    assert r.returncode == 0, r.err
    assert r.err == REPORT + "\n"
