# SPDX-License-Identifier: MIT
"""Live metrics: GetMetrics' JSON snapshot, the Prometheus exposition (checked with the
prometheus_client parser from Debian) and `laminad --metrics ADDR:PORT`."""
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from laminad_harness import FunctionFactory


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text):
    """{(name, frozenset(labels)): value} of every sample; the parser raises on bad text."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def fn_labels(name, version="$LATEST", **more):
    return frozenset({"function": name, "version": version, **more}.items())


def test_snapshot_counts_invocations_errors_throttles_cold_starts(daemon, client, fns):
    ok = fns.python("def handler(e, c):\n    if e.get('fail'): raise ValueError('x')\n    return 1\n")
    for i in range(5):
        client.ok("Invoke", FunctionName=ok, Payload={"fail": i == 4})
    client.ok("PutFunctionConcurrency", FunctionName=ok, ReservedConcurrentExecutions=0)
    client.err("Invoke", "TooManyRequestsException", FunctionName=ok, Payload={})
    # An instance that answered is busy until its runtime asks for the next event: at
    # 128 MB's CPU share that can take a throttling period, so wait for it (5 s at most).
    deadline = time.monotonic() + 5
    while True:
        m = client.ok("GetMetrics")
        entry = next(f for f in m["Functions"] if f["FunctionName"] == ok)
        if entry["BusyInstances"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert entry["Version"] == "$LATEST"
    assert entry["Invocations"] == 5
    assert entry["Errors"] == 1
    assert entry["Throttles"] == 1
    assert entry["ColdStarts"] == 1
    assert entry["WarmInstances"] == 1 and entry["BusyInstances"] == 0
    assert 0 < entry["DurationP50Ms"] <= entry["DurationP99Ms"]
    assert entry["MaxMemoryUsedMB"] > 1
    assert entry["InvocationsPerSecond"] > 0
    host = m["Host"]
    assert host["Cpus"] >= 1 and 0 <= host["CpuPercent"] <= 100
    assert 0 < host["MemAvailableMB"] <= host["MemTotalMB"]
    assert host["Instances"] >= 1
    assert m["UptimeSeconds"] > 0


def test_prometheus_text_parses_and_agrees(daemon, client, fns):
    name = fns.python("def handler(e, c):\n    return e\n")
    for i in range(4):
        client.ok("Invoke", FunctionName=name, Payload={"i": i})
    client.ok("PublishVersion", FunctionName=name)
    client.ok("Invoke", FunctionName=name, Qualifier="1", Payload={})
    r = client.ok("GetMetrics", Format="prometheus")
    assert r["ContentType"].startswith("text/plain; version=0.0.4")
    s = samples(r["Text"])
    assert s[("lamina_invocations_total", fn_labels(name))] == 4
    assert s[("lamina_invocations_total", fn_labels(name, "1"))] == 1
    assert s[("lamina_invocation_duration_seconds_count", fn_labels(name))] == 4
    assert s[("lamina_invocation_duration_seconds_bucket", fn_labels(name, le="+Inf"))] == 4
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in s.items()
                     if k[0] == "lamina_invocation_duration_seconds_bucket" and dict(k[1])["function"] == name
                     and dict(k[1])["version"] == "$LATEST")
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "buckets must be cumulative"
    assert s[("lamina_cold_starts_total", fn_labels(name))] == 1
    assert s[("lamina_billed_gb_seconds_total", fn_labels(name))] > 0
    assert s[("lamina_host_instances", frozenset())] >= 2
    assert s[("lamina_metering_exact", frozenset())] in (0, 1)
    client.err("GetMetrics", "InvalidParameterValueException", Format="xml")


def test_http_endpoint(start_daemon, workdir):
    port = free_port()
    d = start_daemon("metrics-http", {"KeepAliveSeconds": 60}, args=["--metrics", f"127.0.0.1:{port}"])
    fns = FunctionFactory(workdir, d)
    name = fns.python("def handler(e, c):\n    return 1\n")
    with d.client() as c:
        for _ in range(3):
            c.ok("Invoke", FunctionName=name, Payload={})
    # a scraper that connects and says nothing must not hold the others up
    stalled = socket.create_connection(("127.0.0.1", port))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = resp.read().decode()
        assert samples(text)[("lamina_invocations_total", fn_labels(name))] == 3
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
        assert e.value.code == 404
        req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", data=b"x", method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        assert e.value.code == 405
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"\x00\x01garbage\r\n\r\n")
            s.settimeout(5)
            assert s.recv(100).startswith(b"HTTP/1.1 400")
    finally:
        stalled.close()
    d.check_serving()


def test_metrics_address_is_checked(workdir):
    import subprocess
    from laminad_harness import LAMINAD
    r = subprocess.run([str(LAMINAD), "--state-dir", str(workdir / "state-badaddr"), "--socket",
                        str(workdir / "badaddr.sock"), "--metrics", "nonsense"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "--metrics 'nonsense': expected ADDR:PORT" in r.stderr, r.stderr
