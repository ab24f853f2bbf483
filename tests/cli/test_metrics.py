# SPDX-License-Identifier: MIT
"""lamina metrics: the Prometheus text exactly as laminad sent it; --json the snapshot."""
import json

from fakedaemon import err, ok, run_lamina

TEXT = (
    "# HELP lamina_invocations_total Invocations that finished.\n"
    "# TYPE lamina_invocations_total counter\n"
    'lamina_invocations_total{function="hello",version="$LATEST"} 12\n'
    'lamina_invocations_total{function="we\\"ird\\\\",version="3"} 1\n'
    "# HELP lamina_duration_seconds Measured duration.\n"
    "# TYPE lamina_duration_seconds histogram\n"
    'lamina_duration_seconds_bucket{function="hello",version="$LATEST",le="0.001"} 3\n'
    'lamina_duration_seconds_bucket{function="hello",version="$LATEST",le="+Inf"} 12\n'
    'lamina_duration_seconds_sum{function="hello",version="$LATEST"} 0.0123\n'
    'lamina_duration_seconds_count{function="hello",version="$LATEST"} 12\n'
    "# unicode: \u00e9\u2603\n"
)

SNAPSHOT = {
    "UptimeSeconds": 12.5,
    "Host": {"Cpus": 2, "CpuPercent": 3.5, "MemTotalMB": 7890, "MemAvailableMB": 6000,
             "Instances": 1, "BusyInstances": 0, "Metering": "bpf"},
    "Functions": [{"FunctionName": "hello", "Version": "$LATEST", "Invocations": 12,
                   "InvocationsPerSecond": 0.5, "Concurrency": 0, "WarmInstances": 1,
                   "BusyInstances": 0, "DurationP50Ms": 0.2, "DurationP99Ms": 1.1,
                   "MaxMemoryUsedMB": 9.4, "Errors": 0, "Throttles": 0, "ColdStarts": 1}],
}


def test_metrics_prints_the_prometheus_text_byte_for_byte(daemon):
    daemon.answer(ok(ContentType="text/plain; version=0.0.4", Text=TEXT))
    r = daemon.run("metrics")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "GetMetrics", "Format": "prometheus"}]
    assert r.stdout == TEXT.encode()
    assert r.err == ""


def test_metrics_adds_nothing_to_text_without_a_final_newline(daemon):
    daemon.answer(ok(ContentType="text/plain; version=0.0.4", Text="a 1\nb 2"))
    r = daemon.run("metrics")
    assert r.returncode == 0, r.err
    assert r.stdout == b"a 1\nb 2"


def test_metrics_json_prints_the_snapshot(daemon):
    daemon.answer(ok(**SNAPSHOT))
    r = daemon.run("metrics", "--json")
    assert r.returncode == 0, r.err
    assert daemon.calls() == [{"action": "GetMetrics"}]
    assert json.loads(r.out) == SNAPSHOT
    assert r.out.count("\n") == 1


def test_metrics_without_text_is_a_broken_daemon(daemon):
    daemon.answer(ok(**SNAPSHOT))
    r = daemon.run("metrics")
    assert r.returncode == 4
    assert r.err == "lamina: metrics: laminad sent no Prometheus text\n"
    assert r.out == ""


def test_metrics_refused_exits_3(daemon):
    daemon.answer(err("InvalidParameterValueException",
                      "Format 'prometheus' must be json or prometheus"))
    r = daemon.run("metrics")
    assert r.returncode == 3
    assert "InvalidParameterValueException" in r.err


def test_metrics_takes_no_arguments(daemon):
    r = daemon.run("metrics", "extra")
    assert r.returncode == 2
    assert "unexpected argument 'extra'" in r.err
    assert daemon.requests == []


def test_metrics_without_a_daemon_exits_4(workdir):
    r = run_lamina("--socket", f"{workdir}/none.sock", "metrics")
    assert r.returncode == 4
    assert "cannot connect to laminad" in r.err
