# SPDX-License-Identifier: MIT
"""Functions that misbehave: each gets the right error, and the daemon goes on serving."""
import threading
import time
from pathlib import Path

from laminad_harness import get_logs, wait_for

HEALTHY = "def handler(event, context):\n    return {'ok': event}\n"


def healthy_still_works(c, name):
    r = c.invoke(name, {"after": "fault"})
    assert r["Payload"] == {"ok": {"after": "fault"}} and "FunctionError" not in r, r


def test_crash_python_and_node(fns, client):
    c = client
    ok = fns.python(HEALTHY)
    py = fns.python("import os\n\ndef handler(event, context):\n"
                    "    if event.get('crash'):\n        os._exit(3)\n    return 'alive'\n")
    node = fns.node("exports.handler = async (event) => { if (event.crash) process.exit(3); return 'alive'; };\n")
    for name in (py, node):
        assert c.invoke(name, {})["Payload"] == "alive"
        r = c.invoke(name, {"crash": True})
        assert r["FunctionError"] == "Unhandled", r
        assert r["Payload"]["errorType"] == "Runtime.ExitError", r
        assert r["RequestId"] in r["Payload"]["errorMessage"], r
        assert "exit status 3" in r["Payload"]["errorMessage"], r
        # the function itself recovers, with a new instance
        r = c.invoke(name, {})
        assert r["Payload"] == "alive" and r["Report"].get("InitDurationMs", 0) > 0, r
    healthy_still_works(c, ok)


def test_out_of_memory(daemon, fns, client):
    c = client
    ok = fns.python(HEALTHY)
    hog = fns.python("def handler(event, context):\n"
                     "    chunks = []\n"
                     "    for _ in range(300):\n"
                     "        chunks.append(b'x' * (1 << 20))\n"
                     "    return len(chunks)\n", memory=128, timeout=10)
    t0 = time.monotonic()
    r = c.invoke(hog, {})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "Runtime.OutOfMemory", r
    assert time.monotonic() - t0 < 8, "an OOM kill took as long as a timeout"
    assert r["Report"]["MaxMemoryUsedMB"] <= 128 + 1, r
    healthy_still_works(c, ok)


def test_timeout_kills_the_instance(daemon, fns, client):
    c = client
    ok = fns.python(HEALTHY)
    slow = fns.python("import os, subprocess, time\n\ndef handler(event, context):\n"
                      "    if event.get('sleep'):\n"
                      "        # a detached grandchild must die with the instance too\n"
                      "        subprocess.Popen(['/bin/sh', '-c', 'sleep 1000 &'], start_new_session=True).wait()\n"
                      "        time.sleep(30)\n"
                      "    return os.getuid()\n", timeout=1)
    uid = c.invoke(slow, {})["Payload"]
    t0 = time.monotonic()
    r = c.invoke(slow, {"sleep": True})
    elapsed = time.monotonic() - t0
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "Sandbox.Timedout", r
    assert r["Payload"]["errorMessage"] == f"RequestId: {r['RequestId']} Error: Task timed out after 1.00 seconds", r
    assert 0.9 < elapsed < 3, f"timed out after {elapsed:.2f}s"
    assert 990 <= r["Report"]["DurationMs"] <= 2000, r
    # the whole instance is gone, its detached sleep included
    assert wait_for(lambda: not daemon.instances_of_uid(uid), 3), \
        f"processes of the timed-out instance still run: {sorted(daemon.instances_of_uid(uid))}"
    # the next invocation gets a fresh instance and works
    r = c.invoke(slow, {})
    assert "FunctionError" not in r and r["Report"].get("InitDurationMs", 0) > 0, r
    healthy_still_works(c, ok)


def test_init_that_never_answers(daemon, fns, client):
    """A bootstrap that never asks for its first event: the invocation fails within
    the init allowance plus the timeout, and the instance is stopped."""
    c = client
    ok = fns.python(HEALTHY)
    stuck = fns.provided("#!/bin/sh\nexec sleep 1000\n", timeout=1)
    t0 = time.monotonic()
    rid = c.send("Invoke", FunctionName=stuck, Payload={})
    # meanwhile the daemon serves others
    healthy_still_works(c, ok)
    r = c.recv(rid, timeout=25)
    elapsed = time.monotonic() - t0
    assert r["ok"], r
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "Sandbox.Timedout", r
    assert elapsed < 13, f"answered after {elapsed:.1f}s"
    # no process of the stuck function is left: its sleep was the only one
    assert wait_for(lambda: not [p for p in daemon.instance_pids()
                                 if "sleep" in _cmdline(p)], 5), "the stuck instance is still running"
    healthy_still_works(c, ok)


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_hundred_megabytes_of_output(daemon, fns, client):
    c = client
    ok = fns.python(HEALTHY)
    healthy_still_works(c, ok)
    rss_before = daemon.rss_kb()
    printer = fns.python(
        "import sys\n\ndef handler(event, context):\n"
        "    line = 'y' * 1023 + '\\n'\n"
        "    block = line * 1024\n"
        "    for _ in range(50):\n"          # 50 MB in 1 KB lines
        "        sys.stdout.write(block)\n"
        "    long = 'z' * (1 << 20)\n"
        "    for _ in range(50):\n"          # 50 MB in one line without end
        "        sys.stdout.write(long)\n"
        "    sys.stdout.write('\\nthe end\\n')\n"
        "    sys.stdout.flush()\n"
        "    return 'printed'\n", memory=1024, timeout=60)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], daemon.rss_kb() or 0)
            time.sleep(0.05)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        r = c.invoke(printer, {}, timeout=90)
    finally:
        done.set()
        t.join()
    assert r["Payload"] == "printed" and "FunctionError" not in r, r
    logdir = daemon.state_dir / "logs" / printer
    size = sum(f.stat().st_size for f in logdir.rglob("*") if f.is_file())
    assert size < 50 << 20, f"{logdir} holds {size >> 20} MB after 100 MB of output"
    def last_line_logged():   # log files are written in batches, within 20 ms
        newest = max(logdir.glob("*.log"), key=lambda f: int(f.stem))
        return f"{r['RequestId']} the end".encode() in newest.read_bytes()[-(1 << 20):]
    assert wait_for(last_line_logged, 2), "the last line printed is not in the log"
    assert peak[0] - rss_before < 64 * 1024, f"laminad's RSS grew from {rss_before} kB to {peak[0]} kB"
    assert daemon.rss_kb() - rss_before < 32 * 1024, f"laminad's RSS stays at {daemon.rss_kb()} kB"
    # the log is still readable, in pages
    with daemon.client() as c2:
        page = c2.ok("GetLogs", FunctionName=printer, Limit=100)
        assert 0 < len(page["Events"]) <= 100 and page["NextToken"], page.keys()
    healthy_still_works(c, ok)


def test_payload_over_six_megabytes(daemon, fns, client):
    c = client
    name = fns.python("def handler(event, context):\n    print('ran')\n    return 1\n")
    live_before = daemon.live_instances()
    big = {"blob": "q" * (6 * 1024 * 1024 + 100)}
    c.err("Invoke", "RequestTooLargeException", FunctionName=name, Payload=big)
    c.err("Invoke", "RequestTooLargeException", FunctionName=name, Payload={"blob": "q" * (1024 * 1024 + 10)},
          InvocationType="Event")
    time.sleep(0.3)
    assert daemon.live_instances() <= live_before, "a refused payload started an instance"
    assert not [e for e in get_logs(daemon, name) if e["Message"].startswith("START")], "it ran"
    # a response over 6 MB is an error too, not a crash
    big_out = fns.python("def handler(event, context):\n    return 'r' * (7 * 1024 * 1024)\n", memory=256)
    r = c.invoke(big_out, {})
    assert r["FunctionError"] == "Unhandled", str(r)[:300]
    assert "size" in r["Payload"]["errorMessage"].lower(), str(r)[:300]
    r = c.invoke(name, {})
    assert r["Payload"] == 1, r


def test_provided_init_error(fns, client):
    """A custom runtime that reports an init error: the invocation gets it."""
    c = client
    bootstrap = """#!/bin/sh
    curl -sS -o /dev/null -H 'Expect:' -H 'Lambda-Runtime-Function-Error-Type: Runtime.ConfigError' \\
      --data-binary '{"errorMessage": "cannot start: no config", "errorType": "Runtime.ConfigError"}' \\
      "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"
    exit 1
    """
    name = fns.provided(bootstrap, timeout=2)
    t0 = time.monotonic()
    r = c.invoke(name, {})
    assert r["FunctionError"] == "Unhandled", r
    assert r["Payload"]["errorType"] == "Runtime.ConfigError", r
    assert r["Payload"]["errorMessage"] == "cannot start: no config", r
    assert time.monotonic() - t0 < 5
    # and again: every invocation tries a new init
    r = c.invoke(name, {})
    assert r["Payload"]["errorType"] == "Runtime.ConfigError", r


def test_fork_bomb_is_contained(daemon, fns, client):
    c = client
    ok = fns.python(HEALTHY)
    bomb = fns.python("import os, time\n\ndef handler(event, context):\n"
                      "    n = 0\n"
                      "    try:\n"
                      "        for _ in range(3000):\n"
                      "            if os.fork() == 0:\n"
                      "                time.sleep(30)\n"
                      "                os._exit(0)\n"
                      "            n += 1\n"
                      "    except OSError as e:\n"
                      "        return {'forked': n, 'error': e.errno, 'uid': os.getuid()}\n"
                      "    return {'forked': n, 'uid': os.getuid()}\n", memory=512, timeout=5)
    r = c.invoke(bomb, {}, timeout=30)
    if "FunctionError" not in r:
        assert r["Payload"]["forked"] < 1024, f"the pids limit did not hold: {r['Payload']}"
    healthy_still_works(c, ok)
    c.ok("DeleteFunction", FunctionName=bomb)
    if "FunctionError" not in r:
        uid = r["Payload"]["uid"]
        assert wait_for(lambda: not daemon.instances_of_uid(uid), 5), "the bomb outlived its function"
    healthy_still_works(c, ok)


def test_runtime_that_dies_during_init(fns, client):
    """A bootstrap that exits before asking for an event, one that cannot be executed, and
    a provided function without a bootstrap: each invocation fails promptly."""
    c = client
    cases = {
        "exits": fns.provided("#!/bin/sh\necho 'going away' >&2\nexit 3\n", timeout=1),
        "not executable": fns.create({"bootstrap": ("#!/bin/sh\nexit 0\n", 0o644)}, runtime="provided",
                                     handler="x", timeout=1),
        "missing": fns.create({"README": "no bootstrap here\n"}, runtime="provided", handler="x", timeout=1),
    }
    for what, name in cases.items():
        t0 = time.monotonic()
        r = c.invoke(name, {}, timeout=20)
        elapsed = time.monotonic() - t0
        assert r.get("FunctionError") == "Unhandled", (what, r)
        assert r["Payload"]["errorType"].startswith("Runtime."), (what, r)
        assert elapsed < 3, f"{what}: the invocation failed only after {elapsed:.1f}s"
    r = c.invoke(cases["exits"], {})
    assert "exit status 3" in r["Payload"]["errorMessage"], r
