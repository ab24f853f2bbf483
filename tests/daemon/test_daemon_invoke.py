# SPDX-License-Identifier: MIT
"""Invoke for each runtime: payloads, the context, cold and warm starts, instance reuse,
errors and logs."""
import time

import pytest

from laminad_harness import ECHO_BOOTSTRAP, copy_example, get_logs, run_threads

ARN_PREFIX = "arn:aws:lambda:local:000000000000:function:"
PAYLOAD = {"s": "héllo ☃ \"quoted\" \\ \n", "n": [1, 2.5, -3, None, True, False], "o": {"deep": {"x": []}},
           "big": 12345678901234}


def check_report(r, memory=128, cold=False):
    rep = r["Report"]
    assert r["StatusCode"] == 200, r
    assert isinstance(r["RequestId"], str) and len(r["RequestId"]) >= 32, r
    assert rep["MemorySizeMB"] == memory, r
    assert rep["DurationMs"] >= 0 and rep["BilledDurationMs"] >= rep["DurationMs"], r
    assert rep["BilledDurationMs"] == int(rep["BilledDurationMs"]) and rep["BilledDurationMs"] >= 1, r
    assert rep["MaxMemoryUsedMB"] >= 1 and rep["MaxMemoryUsedMB"] <= memory, r
    assert rep["CpuTimeMs"] >= 0, r
    if cold:
        assert rep.get("InitDurationMs", 0) > 0, f"a cold start without InitDurationMs: {r}"
    else:
        assert "InitDurationMs" not in rep, f"a warm invocation with InitDurationMs: {r}"


def check_logs(daemon, name, request_id, own_line=None):
    """GetLogs has START/END/REPORT for request_id and the function's own line with it."""
    def complete(evs):
        return any(e["Message"].startswith("REPORT") for e in evs)
    events = get_logs(daemon, name, request_id=request_id, want=complete)
    msgs = [e["Message"] for e in events]
    assert all(e.get("RequestId") == request_id for e in events), events
    assert any(m.startswith(f"START RequestId: {request_id}") for m in msgs), msgs
    assert any(m.startswith(f"END RequestId: {request_id}") for m in msgs), msgs
    report = [m for m in msgs if m.startswith(f"REPORT RequestId: {request_id}")]
    assert len(report) == 1, msgs
    for part in ("Duration:", "Billed Duration:", "Memory Size:", "Max Memory Used:"):
        assert part in report[0], report
    assert all(isinstance(e["Timestamp"], int) for e in events), events
    if own_line:
        assert any(own_line in m for m in msgs), f"the function's output {own_line!r} is not in {msgs}"
    # the unfiltered log has them too
    everything = [e for e in get_logs(daemon, name) if e.get("RequestId") == request_id]
    assert len(everything) == len(events), (everything, events)
    return msgs


def test_python_roundtrip_context_cold_warm_and_logs(daemon, fns, client):
    c = client
    name = fns.create(code_dir=copy_example(fns.root, "python"), memory=128, timeout=2)
    results = [c.invoke(name, PAYLOAD) for _ in range(4)]
    for i, r in enumerate(results):
        check_report(r, cold=(i == 0))
        p = r["Payload"]
        assert p["event"] == PAYLOAD, p
        ctx = p["context"]
        assert ctx["aws_request_id"] == r["RequestId"], (ctx, r)
        assert ctx["function_name"] == name and ctx["function_version"] == "$LATEST", ctx
        assert ctx["memory_limit_in_mb"] == 128, ctx
        assert 1000 < ctx["remaining_time_in_millis"] <= 2000, ctx
        assert ctx["log_group_name"] == f"/aws/lambda/{name}", ctx
        # one instance served them all, in order
        assert p["invocations"] == i + 1, f"invocation {i} ran in a fresh instance: {p}"
        assert p["init_pid"] == results[0]["Payload"]["init_pid"]
        assert ctx["log_stream_name"] == results[0]["Payload"]["context"]["log_stream_name"]
        assert r["ExecutedVersion"] == "$LATEST"
    assert len({r["RequestId"] for r in results}) == 4, "request ids repeat"
    assert ctx["invoked_function_arn"].startswith(ARN_PREFIX + name), ctx  # exactly: test_..._arn_...
    msgs = check_logs(daemon, name, results[1]["RequestId"], own_line=f"handling request {results[1]['RequestId']}")
    assert "Init Duration" not in " ".join(msgs)
    msgs = check_logs(daemon, name, results[0]["RequestId"])
    assert "Init Duration" in [m for m in msgs if m.startswith("REPORT")][0], msgs


def test_python_context_invoked_function_arn(fns, client):
    """As on Lambda, invoked_function_arn is the ARN the caller invoked: unqualified,
    the alias, the version."""
    c = client
    name = fns.create(code_dir=copy_example(fns.root, "python"), Publish=True)
    r = c.invoke(name, {})
    assert r["Payload"]["context"]["invoked_function_arn"] == ARN_PREFIX + name, r
    c.ok("CreateAlias", FunctionName=name, Name="live", FunctionVersion="1")
    r = c.invoke(name, {}, Qualifier="live")
    assert r["ExecutedVersion"] == "1"
    assert r["Payload"]["context"]["function_version"] == "1", r
    assert r["Payload"]["context"]["invoked_function_arn"] == f"{ARN_PREFIX}{name}:live", r
    r = c.invoke(f"{name}:1", {})
    assert r["Payload"]["context"]["invoked_function_arn"] == f"{ARN_PREFIX}{name}:1", r


def test_python_errors(daemon, fns, client):
    c = client
    name = fns.create(code_dir=copy_example(fns.root, "python-error"))
    r = c.invoke(name, {"amount": 7})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "InsufficientFunds", r
    assert r["Payload"]["errorMessage"] == "balance too low for 7", r
    assert isinstance(r["Payload"]["stackTrace"], list) and r["Payload"]["stackTrace"], r
    r2 = c.invoke(name, {"handled": True, "reason": "nope"})
    assert r2["FunctionError"] == "Handled", r2
    assert r2["Payload"]["errorType"] == "ValueError" and r2["Payload"]["errorMessage"] == "rejected: nope", r2
    check_report(r2)   # an exception does not cost the instance
    # the error is in the log, tagged
    events = get_logs(daemon, name, request_id=r["RequestId"],
                      want=lambda evs: any("REPORT" in e["Message"] for e in evs))
    assert any("InsufficientFunds" in e["Message"] for e in events), events


def test_python_init_error(fns, client):
    c = client
    name = fns.python("import no_such_module_anywhere\n\ndef handler(e, c):\n    return 1\n")
    r = c.invoke(name, {})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "Runtime.ImportModuleError", r
    name2 = fns.create({"app.py": "def other(e, c):\n    return 1\n"}, handler="app.handler")
    r = c.invoke(name2, {})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"].startswith("Runtime."), r


NODE_CJS = """
'use strict';
const pid = process.pid;
let n = 0;
exports.handler = async (event, context) => {
  n += 1;
  console.log('cjs handling ' + context.awsRequestId);
  return { event, n, pid, fn: context.functionName, version: context.functionVersion,
           rid: context.awsRequestId, arn: context.invokedFunctionArn,
           mem: context.memoryLimitInMB, left: context.getRemainingTimeInMillis() };
};
"""


@pytest.mark.parametrize("kind", ["esm", "commonjs"])
def test_nodejs(daemon, fns, client, kind):
    c = client
    if kind == "esm":
        name = fns.create(code_dir=copy_example(fns.root, "nodejs"), runtime="nodejs20.x", handler="app.handler")
    else:
        name = fns.node(NODE_CJS, timeout=3)
    results = [c.invoke(name, PAYLOAD) for _ in range(3)]
    for i, r in enumerate(results):
        check_report(r, cold=(i == 0))
        p = r["Payload"]
        assert p["event"] == PAYLOAD, p
        if kind == "esm":
            ctx = p["context"]
            assert ctx["awsRequestId"] == r["RequestId"] and ctx["functionName"] == name, p
            assert ctx["functionVersion"] == "$LATEST" and str(ctx["memoryLimitInMB"]) == "128", p
            assert 1000 < ctx["remainingTimeInMillis"] <= 2000, p
            assert ctx["invokedFunctionArn"].startswith(ARN_PREFIX + name), p
            assert p["invocations"] == i + 1 and p["initPid"] == results[0]["Payload"]["initPid"], p
            own = f"handling request {r['RequestId']}"
        else:
            assert p["rid"] == r["RequestId"] and p["fn"] == name and p["version"] == "$LATEST", p
            assert str(p["mem"]) == "128" and 2000 < p["left"] <= 3000, p
            assert p["n"] == i + 1 and p["pid"] == results[0]["Payload"]["pid"], p
            own = f"cjs handling {r['RequestId']}"
        check_logs(daemon, name, r["RequestId"], own_line=own)


def test_nodejs_callback_and_errors(fns, client):
    c = client
    name = fns.create(code_dir=copy_example(fns.root, "nodejs-callback"), runtime="nodejs20.x",
                      handler="index.handler")
    r = c.invoke(name, {"k": 1})
    check_report(r, cold=True)
    assert r["Payload"]["echo"] == {"k": 1} and r["Payload"]["requestId"] == r["RequestId"], r
    r = c.invoke(name, {"fail": True, "reason": "because"})
    assert r["FunctionError"] == "Handled", r
    assert r["Payload"]["errorType"] == "RangeError" and r["Payload"]["errorMessage"] == "refused: because", r
    r = c.invoke(name, {"throw": True})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "TypeError" and "thrown from the handler" in r["Payload"]["errorMessage"], r
    r = c.invoke(name, {"k": 2})
    assert "FunctionError" not in r and r["Payload"]["echo"] == {"k": 2}, r
    # an ESM module that throws
    name2 = fns.node("export const handler = async () => { throw new SyntaxError('esm says no'); };\n",
                     filename="app.mjs")
    r = c.invoke(name2, {})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "SyntaxError" and r["Payload"]["errorMessage"] == "esm says no", r


def test_provided_shell_curl(daemon, fns, client):
    c = client
    name = fns.create(code_dir=copy_example(fns.root, "provided-shell"), runtime="provided",
                      handler="function.handler", timeout=3)
    r = c.invoke(name, PAYLOAD)
    check_report(r, cold=True)
    assert r["Payload"] == PAYLOAD, r
    check_logs(daemon, name, r["RequestId"], own_line="handler: got")
    time.sleep(0.5)   # curl takes a while to ask for the next event at 128 MB's CPU share
    r2 = c.invoke(name, {"second": True})
    check_report(r2, cold=False)
    assert r2["Payload"] == {"second": True}, r2


def test_provided_non_json_response_and_headers(fns, client):
    """A response that is not JSON comes back as a JSON string; the headers are Lambda's."""
    c = client
    bootstrap = r"""#!/bin/sh
    API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
    while true; do
      curl -sS -D /tmp/h -o /tmp/body "$API/invocation/next"
      RID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' /tmp/h | tr -d '\r' | cut -d' ' -f2)
      ARN=$(grep -i '^Lambda-Runtime-Invoked-Function-Arn:' /tmp/h | tr -d '\r' | cut -d' ' -f2)
      DL=$(grep -i '^Lambda-Runtime-Deadline-Ms:' /tmp/h | tr -d '\r' | cut -d' ' -f2)
      TR=$(grep -i '^Lambda-Runtime-Trace-Id:' /tmp/h | tr -d '\r' | cut -d' ' -f2)
      printf 'plain text, not JSON: rid=%s arn=%s deadline=%s trace=%s' "$RID" "$ARN" "$DL" "$TR" > /tmp/out
      curl -sS -o /dev/null -H 'Expect:' --data-binary @/tmp/out "$API/invocation/$RID/response"
    done
    """
    name = fns.provided(bootstrap, timeout=3)
    before = time.time() * 1000
    r = c.invoke(name, {"x": 1})
    p = r["Payload"]
    assert isinstance(p, str) and p.startswith("plain text, not JSON: "), r
    fields = dict(kv.split("=", 1) for kv in p.split(": ", 1)[1].split(" "))
    assert fields["rid"] == r["RequestId"], fields
    assert fields["arn"].startswith(ARN_PREFIX + name), fields
    assert before + 2000 < int(fields["deadline"]) < before + 3000 + 5000, fields
    assert fields["trace"], fields


def test_provided_c_echo(daemon, fns, client):
    c = client
    assert ECHO_BOOTSTRAP.exists(), f"{ECHO_BOOTSTRAP} is missing: make build/runtimes/provided-echo/bootstrap"
    name = fns.create({"bootstrap": (ECHO_BOOTSTRAP.read_bytes(), 0o755)}, runtime="provided",
                      handler="echo", timeout=3)
    results = [c.invoke(name, PAYLOAD) for _ in range(5)]
    for i, r in enumerate(results):
        assert r["Payload"] == PAYLOAD, r
        check_report(r, cold=(i == 0))
    # a payload near the 6 MB limit goes through and back
    big = {"blob": "z" * (5 * 1024 * 1024 + 12345)}
    r = c.invoke(name, big)
    assert "FunctionError" not in r and r["Payload"] == big, {k: str(v)[:200] for k, v in r.items()}
    for payload in ["just a string", 42, [1, "two"], None, {}]:
        assert c.ok("Invoke", FunctionName=name, Payload=payload)["Payload"] == payload
    # none of these needed another instance
    events = get_logs(daemon, name)
    reports = [e["Message"] for e in events if e["Message"].startswith("REPORT")]
    assert len(reports) == 11, reports
    assert sum("Init Duration" in m for m in reports) == 1, reports


def test_provided_c_echo_over_tcp(daemon, fns, client):
    """The C client also works at AWS_LAMBDA_RUNTIME_API (TCP loopback), as any foreign
    runtime would reach the API: its pipelined next-GET is answered there too."""
    wrapper = "#!/bin/sh\nunset LAMINA_RUNTIME_FD\nexec ./echo\n"
    name = fns.create({"bootstrap": (wrapper, 0o755), "echo": (ECHO_BOOTSTRAP.read_bytes(), 0o755)},
                      runtime="provided", handler="echo", timeout=3)
    for i in range(4):
        r = client.invoke(name, {"i": i, **PAYLOAD})
        assert r["Payload"] == {"i": i, **PAYLOAD}, r
        check_report(r, cold=(i == 0))


PIPELINING_BOOTSTRAP = r"""#!/usr/bin/python3
# Sends each answer and the next GET in one write, then reads both answers in order.
import json, os, socket
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
f = s.makefile("rb")
GET = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n"

def read_response():
    status = f.readline().split()[1].decode()
    headers = {}
    while (line := f.readline().strip()):
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers, f.read(int(headers.get("content-length", "0")))

acks = []
s.sendall(GET)
while True:
    status, headers, body = read_response()
    rid = headers["lambda-runtime-aws-request-id"]
    answer = json.dumps({"status": status, "event": json.loads(body), "acks": acks}).encode()
    s.sendall(b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: api\r\n"
              b"Content-Length: %d\r\n\r\n%s%s" % (rid.encode(), len(answer), answer, GET))
    acks.append(read_response()[0])
"""


def test_runtime_api_answers_pipelined_requests_in_order(fns, client):
    """A runtime that pipelines its next GET behind its answer gets the 202 first, then
    the next event, on the same connection; nothing is lost or reordered."""
    name = fns.provided(PIPELINING_BOOTSTRAP, timeout=3)
    for i in range(4):
        r = client.invoke(name, {"i": i})
        assert "FunctionError" not in r, r
        assert r["Payload"] == {"status": "200", "event": {"i": i}, "acks": ["202"] * i}, r


def test_absent_payload_is_empty_object(fns, client):
    name = fns.python("def handler(event, context):\n    return {'got': event}\n")
    assert client.ok("Invoke", FunctionName=name)["Payload"] == {"got": {}}


def test_nul_characters_travel_in_payloads_and_nowhere_else(fns, client):
    """JSON's \\u0000 is valid in an event and in a result, as on Lambda: both come back
    as JSON, not turned into a string; an error message may hold one too. In the other
    request fields, which the daemon reads as C strings, it is refused clearly."""
    name = fns.python("def handler(event, context):\n"
                      "    if event.get('fail'):\n"
                      "        raise ValueError('bad\\x00byte')\n"
                      "    return {'got': event, 'made': 'a\\x00b'}\n")
    r = client.invoke(name, {"s": "x\x00y"})
    assert r["Payload"] == {"got": {"s": "x\x00y"}, "made": "a\x00b"}, r
    r = client.invoke(name, {"fail": True})
    assert r["FunctionError"] == "Unhandled" and r["Payload"]["errorMessage"] == "bad\x00byte", r
    e = client.err("Invoke", "InvalidParameterValueException", FunctionName=name + "\x00x", Payload={})
    assert "FunctionName must not contain a NUL" in e["message"], e


def test_environment(fns, client):
    src = """
    import os
    def handler(event, context):
        keys = ['AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
                'AWS_LAMBDA_LOG_GROUP_NAME', '_HANDLER', 'LAMBDA_TASK_ROOT', 'AWS_REGION', 'TZ', 'MY_VAR']
        st = os.statvfs('/tmp')
        return {k: os.environ.get(k) for k in keys} | {'cwd': os.getcwd(), 'tmp_mb': st.f_blocks * st.f_frsize >> 20}
    """
    name = fns.create({"app.py": src}, memory=160, Environment={"Variables": {"MY_VAR": "mine"}},
                      EphemeralStorage={"Size": 700})
    p = client.invoke(name)["Payload"]
    tmp_mb = p.pop("tmp_mb")
    assert tmp_mb == 700, f"/tmp is {tmp_mb} MB, EphemeralStorage.Size 700"
    assert p == {"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                 "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "160", "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                 "_HANDLER": "app.handler", "LAMBDA_TASK_ROOT": "/var/task", "AWS_REGION": "local",
                 "TZ": ":UTC", "MY_VAR": "mine", "cwd": "/var/task"}, p


def test_event_and_dry_run(daemon, fns, client):
    c = client
    name = fns.python("def handler(event, context):\n    print('async got', event['n'])\n    return 1\n")
    r = c.ok("Invoke", FunctionName=name, InvocationType="DryRun", Payload={})
    assert r["StatusCode"] == 204, r
    assert not get_logs(daemon, name), "DryRun ran the function"
    r = c.ok("Invoke", FunctionName=name, InvocationType="Event", Payload={"n": 5})
    assert r["StatusCode"] == 202, r
    rid = r["RequestId"]
    events = get_logs(daemon, name, request_id=rid, want=lambda evs: any("REPORT" in e["Message"] for e in evs))
    assert any("async got 5" in e["Message"] for e in events), events
    c.err("Invoke", "InvalidParameterValueException", FunctionName=name, InvocationType="Sometimes")


def test_get_logs_pages(daemon, fns, client):
    """GetLogs pages through a log with NextToken: every event once, in order."""
    name = fns.python("def handler(event, context):\n"
                      "    for i in range(50):\n"
                      "        print(f'line {i:02d}')\n"
                      "    return 1\n")
    rid = client.invoke(name, {})["RequestId"]
    get_logs(daemon, name, request_id=rid, want=lambda evs: any("REPORT" in e["Message"] for e in evs))
    seen, token = [], None
    for _ in range(40):
        params = {"FunctionName": name, "Limit": 7}
        if token:
            params["NextToken"] = token
        r = client.ok("GetLogs", **params)
        assert len(r["Events"]) <= 7, r
        if not r["Events"]:
            break
        seen += [e["Message"] for e in r["Events"]]
        assert r["NextToken"] != token, "NextToken did not move"
        token = r["NextToken"]
    lines = [m for m in seen if m.startswith("line ")]
    assert lines == [f"line {i:02d}" for i in range(50)], seen
    assert len(seen) == len(set(seen)), "an event came twice"
    client.err("GetLogs", "InvalidParameterValueException", FunctionName=name, NextToken="not-a-token")


@pytest.mark.parametrize("runtime", ["python3.11", "nodejs20.x"])
def test_output_is_tagged_with_its_invocation(daemon, fns, client, runtime):
    """Every line a handler prints before it returns is in the log with its request id,
    before its END line (the runtime flushes before it answers; the daemon must take what
    was written before it closes the invocation). Cold starts side by side and pipelined
    invocations make the daemon see the answer and the output in the same wake-up."""
    def make():
        if runtime == "python3.11":
            return fns.python("def handler(event, context):\n"
                              "    for i in range(5):\n"
                              "        print(f'out {context.aws_request_id} {i}')\n"
                              "    return 1\n")
        return fns.node("exports.handler = async (e, context) => {\n"
                        "  for (let i = 0; i < 5; i++) console.log(`out ${context.awsRequestId} ${i}`);\n"
                        "  return 1;\n};\n")

    def one(name):
        with daemon.client() as c:
            return c.invoke(name, {})["RequestId"]
    problems, total = [], 0
    for _ in range(3):
        name = make()
        rids = run_threads(8, lambda i: one(name))          # eight cold starts at once
        for _ in range(8):                                   # pipelined, warm
            ids = [client.send("Invoke", FunctionName=name, Payload={}) for _ in range(4)]
            rids += [client.recv(i)["RequestId"] for i in ids]
        time.sleep(0.3)
        events = get_logs(daemon, name)
        total += len(rids)
        for rid in rids:
            mine = [i for i, e in enumerate(events) if f"out {rid} " in e["Message"]]
            untagged = [events[i] for i in mine if events[i].get("RequestId") != rid]
            end = [i for i, e in enumerate(events) if e["Message"].startswith(f"END RequestId: {rid}")]
            late = [events[i] for i in mine if end and i > end[0]]
            if len(mine) != 5 or untagged or late:
                problems.append(f"{rid}: {len(mine)} lines, {len(untagged)} without its request id "
                                f"(e.g. {untagged[:1]}), {len(late)} after its END")
    assert not problems, f"{len(problems)} of {total} invocations:\n" + "\n".join(problems[:5])
