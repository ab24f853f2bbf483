# SPDX-License-Identifier: MIT
"""The socket API under bad input and bad clients: each connection's trouble stays its own."""
import json
import socket
import threading
import time


def test_malformed_json_then_next_line_works(client):
    c = client
    for bad in [b"{not json", b'{"id": 1, "action": "ListFunctions"', b"[1, 2, 3]", b'"just a string"',
                b"\xff\xfe\x00garbage", b'{"id": 2, "action": "ListFunctions", "action": "GetFunction"}']:
        c.send_raw(bad + b"\n")
        resp = c.read_one(timeout=5)
        assert resp is not None, f"connection closed after {bad!r}"
        assert resp["ok"] is False and resp["error"]["type"] == "InvalidParameterValueException", (bad, resp)
        assert isinstance(resp["error"]["message"], str) and resp["error"]["message"], resp
        assert "id" in resp, resp
        r = c.call("ListFunctions")
        assert r["ok"], (bad, r)
    # blank lines are nothing; \r\n line ends are fine
    c.send_raw(b"\n\n" + json.dumps({"id": "crlf", "action": "ListFunctions"}).encode() + b"\r\n")
    assert c.recv("crlf")["ok"]


def test_unknown_action_and_missing_action(client):
    c = client
    e = c.err("LaunchMissiles", "InvalidParameterValueException")
    assert "LaunchMissiles" in e["message"], e
    c.send_raw(json.dumps({"id": "noaction", "FunctionName": "x"}) + "\n")
    r = c.recv("noaction")
    assert not r["ok"] and r["error"]["type"] == "InvalidParameterValueException", r
    c.send_raw(json.dumps({"id": "numaction", "action": 7}) + "\n")
    r = c.recv("numaction")
    assert not r["ok"] and r["error"]["type"] == "InvalidParameterValueException", r


def test_wrong_field_types(fns, client):
    c = client
    code = str(fns.code({"app.py": "def handler(e, c):\n    return 1\n"}))
    base = dict(FunctionName=fns.name("types"), Runtime="python3.11", Handler="app.handler",
                Code={"Directory": code})
    for field, value in [("MemorySize", "big"), ("MemorySize", 128.5), ("MemorySize", True),
                         ("MemorySize", [128]), ("Timeout", "3"), ("Timeout", {}),
                         ("FunctionName", 5), ("FunctionName", None), ("FunctionName", ["a"]),
                         ("Runtime", 3.11), ("Handler", {"x": 1}), ("Code", "/tmp"),
                         ("Code", {"Directory": 5}), ("Environment", {"Variables": ["A=1"]}),
                         ("Environment", "A=1"), ("Publish", "yes"), ("Description", 9)]:
        c.err("CreateFunction", "InvalidParameterValueException", **{**base, field: value})
    c.err("GetFunction", "ResourceNotFoundException", FunctionName=base["FunctionName"])
    name = fns.python("def handler(e, c):\n    return 1\n")
    c.err("Invoke", "InvalidParameterValueException", FunctionName=name, Qualifier=1)
    c.err("Invoke", "InvalidParameterValueException", FunctionName=name, InvocationType=1)
    c.err("UpdateFunctionConfiguration", "InvalidParameterValueException", FunctionName=name, Timeout="slow")
    c.err("PutFunctionConcurrency", "InvalidParameterValueException", FunctionName=name,
          ReservedConcurrentExecutions="1")
    c.err("GetLogs", "InvalidParameterValueException", FunctionName=name, Limit="ten")
    c.err("CreateAlias", "InvalidParameterValueException", FunctionName=name, Name="a1", FunctionVersion=1)
    c.err("CreateAlias", "InvalidParameterValueException", FunctionName=name, Name="a1",
          FunctionVersion="$LATEST", RoutingConfig={"AdditionalVersionWeights": {"1": "half"}})
    assert c.invoke(name, {})["Payload"] == 1


def test_ids_of_every_json_type_are_echoed(client):
    c = client
    for rid in [0, -7, 2 ** 53, 1.5, "str", "", {"nested": [1, {"a": None}]}, [1, 2], True, False]:
        c.send_raw(json.dumps({"id": rid, "action": "ListFunctions"}) + "\n")
        r = c.read_one(timeout=5)
        assert r["ok"] and r["id"] == rid and type(r["id"]) is type(rid), (rid, r)
    c.send_raw(json.dumps({"action": "ListFunctions"}) + "\n")
    r = c.read_one(timeout=5)
    assert r["ok"] and r.get("id") is None, r


def test_oversized_line_does_not_block_others(daemon):
    big = daemon.client(timeout=30)
    other = daemon.client(timeout=5)
    sent = threading.Event()
    send_error = []

    def flood():
        try:
            chunk = b"x" * (1 << 20)
            big.send_raw(b'{"id": "huge", "action": "ListFunctions", "pad": "')
            for _ in range(8):
                big.send_raw(chunk)
        except OSError as e:
            send_error.append(e)
        sent.set()

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        # served while the flood goes on and after it
        latencies = []
        while not sent.is_set() or len(latencies) < 5:
            t0 = time.monotonic()
            assert other.call("ListFunctions")["ok"]
            latencies.append(time.monotonic() - t0)
            if len(latencies) > 2000:
                break
        assert max(latencies) < 2, f"another client waited {max(latencies):.2f}s"
        t.join(30)
        assert sent.is_set()
        # the flooder hears RequestTooLargeException, or its connection is closed
        try:
            if not send_error:
                big.send_raw(b'"}\n' + json.dumps({"id": "after", "action": "ListFunctions"}).encode() + b"\n")
            first = big.read_one(timeout=10)
        except (ConnectionError, OSError):
            first = None
        if first is not None:
            assert first["ok"] is False and first["error"]["type"] == "RequestTooLargeException", first
            # if it is still open, the next line is served
            try:
                nxt = big.read_one(timeout=10)
            except (ConnectionError, OSError):
                nxt = None
            assert nxt is None or (nxt["id"] == "after" and nxt["ok"]), nxt
        assert other.call("ListFunctions")["ok"]
    finally:
        big.close()
        other.close()


def test_half_closed_connection_gets_its_reply(daemon, fns):
    name = fns.python("import time\ndef handler(e, c):\n    time.sleep(0.2)\n    return 'late'\n")
    for action, params, check in [("ListFunctions", {}, lambda r: r["ok"]),
                                  ("Invoke", {"FunctionName": name, "Payload": {}},
                                   lambda r: r["ok"] and r["Payload"] == "late")]:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        try:
            s.connect(str(daemon.socket))
            s.sendall(json.dumps({"id": 1, "action": action, **params}).encode() + b"\n")
            s.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            lines = data.decode().splitlines()
            assert len(lines) == 1, f"{action}: {lines}"
            r = json.loads(lines[0])
            assert r["id"] == 1 and check(r), r
        finally:
            s.close()


def test_client_that_never_reads_does_not_stall_others(daemon, fns):
    # ~4 KB of environment (Lambda's limit) makes each GetFunction reply ~5 KB: 2,000 of
    # them are more than the daemon buffers for a client before it stops reading from it
    env = {f"VAR_{i:02d}": "v" * 90 for i in range(40)}
    name = fns.python("def handler(e, c):\n    return 'pong'\n", Environment={"Variables": env})
    hog = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hog.connect(str(daemon.socket))
    hog.settimeout(20)
    stop = threading.Event()
    sent = [0]

    def flood():
        big = b"".join(json.dumps({"id": i, "action": "GetFunction", "FunctionName": name}).encode() + b"\n"
                       for i in range(2000))
        try:
            hog.sendall(big)
            sent[0] = 2000
        except OSError:
            pass   # the daemon stopped reading (or cut it off): both are fine

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        with daemon.client(timeout=5) as c:
            for i in range(20):
                t0 = time.monotonic()
                assert c.call("GetFunction", FunctionName=name)["ok"]
                assert c.invoke(name, {})["Payload"] == "pong"
                assert time.monotonic() - t0 < 2
            t.join(20)
            # and after the flood too
            assert c.call("ListFunctions")["ok"]
    finally:
        stop.set()
        try:
            hog.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        hog.close()
        t.join(5)
    daemon.check_serving()


def test_pipelined_requests_all_answered(daemon, fns):
    fast = fns.python("def handler(e, c):\n    return e\n")
    slow = fns.python("import time\ndef handler(e, c):\n    time.sleep(0.3)\n    return 'slow'\n")
    with daemon.client(timeout=30) as c:
        reqs = []
        for i in range(300):
            # ten invocations, the rest registry calls
            kind = 3 if i % 30 == 3 else (0, 1, 2, 4)[i % 4]
            if kind == 0:
                reqs.append({"id": f"list-{i}", "action": "ListFunctions"})
            elif kind == 1:
                reqs.append({"id": f"get-{i}", "action": "GetFunction", "FunctionName": fast})
            elif kind == 2:
                reqs.append({"id": f"missing-{i}", "action": "GetFunction", "FunctionName": "no-such-fn-xyz"})
            elif kind == 3:
                reqs.append({"id": f"inv-{i}", "action": "Invoke", "FunctionName": fast, "Payload": {"i": i}})
            else:
                reqs.append({"id": i, "action": "Bogus"})
        reqs.insert(0, {"id": "slow", "action": "Invoke", "FunctionName": slow, "Payload": {}})
        c.send_raw(b"".join(json.dumps(r).encode() + b"\n" for r in reqs))
        got = {}
        order = []
        for _ in range(len(reqs)):
            r = c.read_one(timeout=30)
            assert r is not None, f"connection closed after {len(got)} replies"
            key = json.dumps(r["id"])
            assert key not in got, f"two replies for {r['id']}"
            got[key] = r
            order.append(r["id"])
        for req in reqs:
            r = got.get(json.dumps(req["id"]))
            assert r is not None, f"no reply for {req['id']}"
            rid = str(req["id"])
            if rid.startswith(("list-", "get-")):
                assert r["ok"], r
            elif rid.startswith("missing-"):
                assert r["error"]["type"] == "ResourceNotFoundException", r
            elif rid.startswith("inv-"):
                assert r["ok"] and r["Payload"] == {"i": int(rid[4:])}, r
            elif rid == "slow":
                assert r["ok"] and r["Payload"] == "slow", r
            else:
                assert r["error"]["type"] == "InvalidParameterValueException", r
        # the slow invocation (first on the line) did not hold up the registry calls behind it
        registry = [i for i, rid in enumerate(order) if not str(rid).startswith(("inv-", "slow"))]
        assert order.index("slow") > max(registry), "replies waited behind a slow invocation"


def test_socket_mode_and_a_second_daemon(daemon, start_daemon, workdir):
    import os
    import stat
    from laminad_harness import Daemon
    mode = stat.S_IMODE(os.stat(daemon.socket).st_mode)
    assert mode == 0o660, f"socket mode {oct(mode)}"
    # a second daemon on a live daemon's socket refuses to start, and the first goes on
    first = start_daemon("first", {})
    second = Daemon(workdir, "second")
    second.socket = first.socket
    try:
        second.start()
    except AssertionError:
        pass
    else:
        problems = second.stop()
        raise AssertionError("a second laminad took over a live daemon's socket " + "\n".join(problems))
    assert second.proc.returncode not in (0, None), second.proc.returncode
    first.check_serving()


def test_client_gone_before_its_reply(daemon, fns):
    """Clients that hang up with invocations in flight cost the daemon nothing."""
    name = fns.python("import time\ndef handler(e, c):\n    time.sleep(0.3)\n    return 1\n")
    for _ in range(5):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(daemon.socket))
        s.sendall(b"".join(json.dumps({"id": i, "action": a, "FunctionName": name, "Payload": {}}).encode() + b"\n"
                           for i, a in enumerate(["Invoke", "GetFunction", "Invoke", "GetLogs"])))
        s.close()
    time.sleep(1)
    daemon.check_serving()
    with daemon.client() as c:
        assert c.invoke(name, {})["Payload"] == 1
