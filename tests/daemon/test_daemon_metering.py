# SPDX-License-Identifier: MIT
"""Kernel metering (eBPF), the billing ledger and GetBill, checked against ground truth.

The ground-truth function (tests/functions/groundtruth.c, a static `provided` bootstrap)
does exactly what its event says: spin N ms of CPU, sleep N ms, touch N MB, or have a
child spin; it answers with its own wall-clock time from just after it read the event to
just before it writes the answer (`wall_ns`), which the kernel-measured duration must
match within 1 ms."""
import os
import shutil
import sqlite3
import subprocess
import time

import pytest

from laminad_harness import BUILD, LAMINAD, wait_for

GROUNDTRUTH = BUILD / "tests" / "groundtruth" / "bootstrap"
MS = 1_000_000
MB = 1 << 20


@pytest.fixture
def groundtruth(daemon, fns):
    if not GROUNDTRUTH.exists():
        pytest.fail(f"{GROUNDTRUTH} is missing: run make first", pytrace=False)
    code = fns.code({"bootstrap": (GROUNDTRUTH.read_bytes(), 0o755)})
    # 2,048 MB buys more than one CPU: the spinner is never throttled by its share.
    return fns.create(code_dir=code, runtime="provided", handler="groundtruth", memory=2048, timeout=10)


def invoke(client, name, payload):
    r = client.ok("Invoke", FunctionName=name, Payload=payload)
    assert "FunctionError" not in r, r
    return r


def test_probes_are_loaded(daemon, client):
    m = client.ok("GetMetrics")
    assert m["Host"]["Metering"] == "bpf", "the eBPF probes did not load: see the laminad log"


def test_spinner_duration_and_cpu(client, groundtruth):
    invoke(client, groundtruth, {"work": "echo"})          # warm the instance
    for _ in range(3):
        r = invoke(client, groundtruth, {"work": "spin", "ms": 50})
        rep = r["Report"]
        assert rep["Approximate"] is False
        assert abs(rep["DurationNs"] - r["Payload"]["wall_ns"]) < 1 * MS, (rep, r["Payload"])
        assert abs(rep["CpuTimeNs"] - 50 * MS) < 3 * MS, rep
        assert rep["DurationNs"] >= 50 * MS


def test_sleeper_uses_no_cpu(client, groundtruth):
    invoke(client, groundtruth, {"work": "echo"})
    for _ in range(3):
        r = invoke(client, groundtruth, {"work": "sleep", "ms": 50})
        rep = r["Report"]
        assert abs(rep["DurationNs"] - r["Payload"]["wall_ns"]) < 1 * MS, (rep, r["Payload"])
        assert abs(rep["DurationNs"] - 50 * MS) < 5 * MS, rep
        assert rep["CpuTimeNs"] < 2 * MS, rep


def test_peak_memory_of_64_mb(client, groundtruth):
    base = invoke(client, groundtruth, {"work": "echo"})["Report"]["MaxMemoryUsedBytes"]
    r = invoke(client, groundtruth, {"work": "touch", "mb": 64})
    rep = r["Report"]
    assert abs(rep["MaxMemoryUsedBytes"] - base - 64 * MB) < 2 * MB, (base, rep)
    assert rep["PageFaults"] >= 64 * MB // 4096, rep
    assert rep["MaxMemoryUsedMB"] == (rep["MaxMemoryUsedBytes"] + MB - 1) // MB
    # freed again: the next invocation's peak is back at the baseline
    after = invoke(client, groundtruth, {"work": "echo"})["Report"]["MaxMemoryUsedBytes"]
    assert after < base + 2 * MB, (base, after)


def test_child_cpu_is_counted(daemon, client, groundtruth):
    invoke(client, groundtruth, {"work": "echo"})
    r = invoke(client, groundtruth, {"work": "fork-spin", "ms": 50})
    rep = r["Report"]
    assert rep["CpuTimeNs"] >= 48 * MS, rep
    assert rep["Forks"] >= 1 and rep["Exits"] >= 1, rep
    assert abs(rep["DurationNs"] - r["Payload"]["wall_ns"]) < 1 * MS, (rep, r["Payload"])
    # the probes' ring buffer tells the daemon of the child's birth and exit
    assert wait_for(lambda: f"instance of {groundtruth}:$LATEST: task" in daemon._log_since_start(), 3)
    log = daemon._log_since_start()
    assert "born of" in log and "exited (wait status" in log


def test_log_lines_carry_kernel_figures(daemon, client, groundtruth):
    from laminad_harness import get_logs
    r = invoke(client, groundtruth, {"work": "spin", "ms": 20})
    rid = r["RequestId"]
    events = get_logs(daemon, groundtruth, rid, want=lambda ev: any("REPORT" in e["Message"] for e in ev))
    report = next(e["Message"] for e in events if e["Message"].startswith("REPORT"))
    # the same double the daemon formats: nanoseconds / 1e6
    assert f"Duration: {r['Report']['DurationNs'] / 1e6:.2f} ms" in report, report
    assert "approximate" not in report


# ---------------------------------------------------------------- the ledger


def ledger_rows(daemon, where="", args=()):
    db = sqlite3.connect(f"file:{daemon.state_dir / 'lamina.db'}?mode=ro", uri=True)
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(f"SELECT * FROM ledger {where}", args)]
    finally:
        db.close()


PRICES = {"PricePerRequest": 0.0000002, "PricePerGbSecond": 0.0000166667,
          "FreeRequests": 3, "FreeGbSeconds": 0.01, "KeepAliveSeconds": 60}


def test_bill_matches_ledger_rows_exactly(start_daemon, workdir):
    from laminad_harness import FunctionFactory
    d = start_daemon("bill", PRICES)
    fns = FunctionFactory(workdir, d)
    ok = fns.python("def handler(e, c):\n    return e\n", memory=256)
    bad = fns.python("def handler(e, c):\n    raise ValueError('no')\n", memory=128)
    with d.client() as c:
        reports = {}
        for i in range(7):
            r = c.ok("Invoke", FunctionName=ok, Payload={"i": i})
            reports[r["RequestId"]] = r["Report"]
        for i in range(3):
            r = c.ok("Invoke", FunctionName=bad, Payload={})
            assert r["FunctionError"] == "Unhandled"
            reports[r["RequestId"]] = r["Report"]
        bill = c.ok("GetBill")
        one = c.ok("GetBill", FunctionName=ok)
        c.err("GetBill", "ResourceNotFoundException", FunctionName="never-was")
        future = c.ok("GetBill", Since=time.time() + 3600)
    rows = ledger_rows(d)
    assert len(rows) == 10
    for row in rows:   # each row is what the invoker was told
        rep = reports[row["request_id"]]
        assert row["duration_ns"] == rep["DurationNs"]
        assert row["billed_ms"] == rep["BilledDurationMs"]
        assert row["cpu_ns"] == rep["CpuTimeNs"]
        assert row["max_memory_bytes"] == rep["MaxMemoryUsedBytes"]
        assert row["memory_mb"] == rep["MemorySizeMB"]
        assert row["exact"] == 1
        assert row["billed_ms"] == max(1, -(-row["duration_ns"] // MS))
    assert sorted(r["outcome"] for r in rows) == ["Success"] * 7 + ["Unhandled"] * 3
    by_fn = {f["FunctionName"]: f for f in bill["Functions"]}
    for fn in (ok, bad):
        mine = [r for r in rows if r["function"] == fn]
        mb_ms = sum(r["billed_ms"] * r["memory_mb"] for r in mine)
        assert by_fn[fn]["Requests"] == len(mine)
        assert by_fn[fn]["BilledDurationMs"] == sum(r["billed_ms"] for r in mine)
        assert by_fn[fn]["GbSeconds"] == pytest.approx(mb_ms / 1024 / 1000, rel=1e-12)
    total_gb_s = sum(r["billed_ms"] * r["memory_mb"] for r in rows) / 1024 / 1000
    t = bill["Total"]
    assert t["Requests"] == 10 and t["FreeRequestsApplied"] == 3
    assert t["GbSeconds"] == pytest.approx(total_gb_s, rel=1e-12)
    free_gb = min(total_gb_s, 0.01)
    assert t["Cost"] == pytest.approx((10 - 3) * 0.0000002 + (total_gb_s - free_gb) * 0.0000166667, rel=1e-9)
    assert [f["FunctionName"] for f in one["Functions"]] == [ok]
    assert future["Total"]["Requests"] == 0


def test_billing_granularity_from_config(start_daemon, workdir):
    from laminad_harness import FunctionFactory
    d = start_daemon("gran", {"BillingGranularityMs": 100})
    fns = FunctionFactory(workdir, d)
    name = fns.python("def handler(e, c):\n    return 1\n")
    with d.client() as c:
        rep = c.ok("Invoke", FunctionName=name, Payload={})["Report"]
        c.ok("GetBill")     # commits the pending batch
    assert rep["BilledDurationMs"] == 100 and rep["DurationMs"] < 100
    assert [r["billed_ms"] for r in ledger_rows(d)] == [100]


def test_ledger_survives_kill9_without_double_billing(start_daemon, workdir, daemons):
    from laminad_harness import FunctionFactory
    d = start_daemon("ledger9", {"KeepAliveSeconds": 60})
    fns = FunctionFactory(workdir, d)
    name = fns.python("def handler(e, c):\n    return e\n")
    with d.client() as c:
        ids = [c.ok("Invoke", FunctionName=name, Payload={"i": i})["RequestId"] for i in range(20)]
    time.sleep(0.3)    # past the ledger's batch window (50 ms)
    d.kill9()
    d2 = start_daemon("ledger9", {"KeepAliveSeconds": 60}, state_dir=d.state_dir)
    daemons.forget(d)
    with d2.client() as c:
        assert c.ok("GetBill", FunctionName=name)["Total"]["Requests"] == 20
        ids.append(c.ok("Invoke", FunctionName=name, Payload={})["RequestId"])
        assert c.ok("GetBill", FunctionName=name)["Total"]["Requests"] == 21
    rows = ledger_rows(d2)
    assert sorted(r["request_id"] for r in rows) == sorted(ids)


# ---------------------------------------------------------------- without BPF


def _no_btf_wrapper():
    """Runs laminad in a mount namespace of its own where the kernel's BTF is hidden:
    the probes cannot load there, as on a kernel built without BTF."""
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        pytest.fail("this kernel has no BTF: the fallback is all there is", pytrace=False)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind /dev/null /sys/kernel/btf/vmlinux && exec "$@"', "laminad"]


def test_without_btf_falls_back_to_cgroup_accounting(start_daemon, workdir):
    from laminad_harness import FunctionFactory
    d = start_daemon("nobtf", {"KeepAliveSeconds": 60}, wrapper=_no_btf_wrapper())
    fns = FunctionFactory(workdir, d)
    name = fns.python("import time\ndef handler(e, c):\n    time.sleep(0.02)\n    return 1\n")
    with d.client() as c:
        reps = [c.ok("Invoke", FunctionName=name, Payload={})["Report"] for _ in range(3)]
        assert c.ok("GetMetrics")["Host"]["Metering"] == "cgroup"
    assert all(r["Approximate"] is True for r in reps), reps
    assert all(r["DurationMs"] >= 20 for r in reps)
    log = d._log_since_start()
    assert log.count("eBPF metering unavailable") == 1, log
    assert "falling back to cgroup accounting" in log
    from laminad_harness import get_logs
    events = get_logs(d, name, want=lambda ev: sum("REPORT" in e["Message"] for e in ev) >= 3)
    assert all("(approximate)" in e["Message"] for e in events if e["Message"].startswith("REPORT"))


def test_metering_bpf_refuses_to_start_without_btf(workdir):
    state = workdir / "state-nobtf-strict"
    r = subprocess.run(_no_btf_wrapper() + [str(LAMINAD), "--state-dir", str(state), "--socket",
                       str(workdir / "nobtf-strict.sock"), "--cgroup-parent",
                       f"lamina-test-{os.getpid()}-strict", "--metering", "bpf"],
                       capture_output=True, text=True, timeout=30)
    shutil.rmtree(state, ignore_errors=True)
    assert r.returncode != 0
    assert "--metering bpf: the eBPF probes cannot load" in r.stderr, r.stderr
    assert not (workdir / "nobtf-strict.sock").exists()


def test_metering_flag_is_checked(workdir):
    r = subprocess.run([str(LAMINAD), "--metering", "perf"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "expected auto, bpf or cgroup" in r.stderr


def test_oom_kill_is_counted(daemon, client, fns):
    if not GROUNDTRUTH.exists():
        pytest.fail(f"{GROUNDTRUTH} is missing: run make first", pytrace=False)
    code = fns.code({"bootstrap": (GROUNDTRUTH.read_bytes(), 0o755)})
    name = fns.create(code_dir=code, runtime="provided", handler="groundtruth", memory=128, timeout=10)
    client.ok("Invoke", FunctionName=name, Payload={"work": "echo"})
    r = client.ok("Invoke", FunctionName=name, Payload={"work": "touch", "mb": 512})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "Runtime.OutOfMemory", r
    assert r["Report"]["OomKills"] >= 1, r["Report"]
    assert r["Report"]["MaxMemoryUsedMB"] >= 120, r["Report"]
    assert wait_for(lambda: f"instance of {name}:$LATEST: the OOM killer chose task" in daemon._log_since_start(), 3)
    # the next invocation gets a new instance, and works
    assert client.ok("Invoke", FunctionName=name, Payload={"work": "echo"})["Report"]["InitDurationMs"] > 0
