# SPDX-License-Identifier: MIT
"""Scale-out, concurrency limits, keep-alive, code updates and weighted aliases."""
import math
import time

import pytest

from laminad_harness import run_threads, wait_for

SLEEPER = """
import os, time, uuid
INSTANCE = uuid.uuid4().hex
def handler(event, context):
    time.sleep(event.get('sleep', 0))
    return {'instance': INSTANCE, 'uid': os.getuid()}
"""


def invoke_each_own_connection(daemon, name, n, payload, timeout=30):
    """n invocations at once, each on its own connection; returns the raw responses."""
    def one(i):
        with daemon.client(timeout=timeout) as c:
            return c.call("Invoke", FunctionName=name, Payload=payload)
    return run_threads(n, one)


def function_instances(daemon, uid):
    """Names of the live instance cgroups holding a process of uid."""
    live = set()
    for cg in daemon.cgroup_dirs():
        try:
            pids = [int(x) for x in (cg / "cgroup.procs").read_text().split()]
        except OSError:
            continue
        for p in pids:
            try:
                st = open(f"/proc/{p}/status").read()
            except OSError:
                continue
            if f"\nUid:\t{uid}\t" in st:
                live.add(cg.name)
    return live


def test_scale_out(daemon, fns, client):
    n = 4
    name = fns.python(SLEEPER, timeout=5)
    t0 = time.monotonic()
    results = invoke_each_own_connection(daemon, name, n, {"sleep": 0.3})
    elapsed = time.monotonic() - t0
    assert all(r["ok"] for r in results), results
    assert all("FunctionError" not in r for r in results), results
    instances = {r["Payload"]["instance"] for r in results}
    assert len(instances) == n, f"{n} concurrent invocations ran in {len(instances)} instance(s)"
    assert elapsed < n * 0.3 + 2, f"{n} concurrent 300 ms invocations took {elapsed:.2f}s"
    uid = results[0]["Payload"]["uid"]
    assert len(function_instances(daemon, uid)) == n
    # they stay warm: the next round needs no new instance
    again = invoke_each_own_connection(daemon, name, n, {"sleep": 0.3})
    assert {r["Payload"]["instance"] for r in again} <= instances, "warm instances were not reused"
    assert all("InitDurationMs" not in r["Report"] for r in again), again
    assert len(function_instances(daemon, uid)) == n


def test_reserved_concurrency(daemon, fns, client):
    c = client
    name = fns.python(SLEEPER, timeout=5)
    c.ok("PutFunctionConcurrency", FunctionName=name, ReservedConcurrentExecutions=1)
    results = invoke_each_own_connection(daemon, name, 2, {"sleep": 1})
    errors = [r["error"]["type"] for r in results if not r["ok"]]
    assert errors == ["TooManyRequestsException"], results
    assert sum(r["ok"] for r in results) == 1, results
    # within the limit, one after the other, all is well
    for _ in range(2):
        assert c.invoke(name, {})["Payload"]["instance"]
    # zero: the function is switched off
    c.ok("PutFunctionConcurrency", FunctionName=name, ReservedConcurrentExecutions=0)
    c.err("Invoke", "TooManyRequestsException", FunctionName=name, Payload={})
    c.ok("DeleteFunctionConcurrency", FunctionName=name)
    results = invoke_each_own_connection(daemon, name, 2, {"sleep": 0.5})
    assert all(r["ok"] for r in results), results


@pytest.fixture
def small_daemon(start_daemon):
    return start_daemon("small", {"AccountConcurrency": 2, "KeepAliveSeconds": 1})


def test_account_concurrency(small_daemon, workdir):
    from laminad_harness import FunctionFactory
    fns = FunctionFactory(workdir, small_daemon)
    a = fns.python(SLEEPER, timeout=5)
    b = fns.python(SLEEPER, timeout=5)
    # three at once against a limit of two, across two functions
    def one(i):
        with small_daemon.client() as c:
            return c.call("Invoke", FunctionName=(a, b, a)[i], Payload={"sleep": 1})
    results = run_threads(3, one)
    errors = [r["error"]["type"] for r in results if not r["ok"]]
    assert errors == ["TooManyRequestsException"], results
    # after them, two at once are fine
    results = invoke_each_own_connection(small_daemon, b, 2, {"sleep": 0.2})
    assert all(r["ok"] for r in results), results


def test_keep_alive(small_daemon, workdir):
    from laminad_harness import FunctionFactory
    fns = FunctionFactory(workdir, small_daemon)
    name = fns.python(SLEEPER, timeout=5)
    with small_daemon.client() as c:
        r1 = c.invoke(name, {})
        assert r1["Report"].get("InitDurationMs", 0) > 0, r1
        r2 = c.invoke(name, {})
        assert "InitDurationMs" not in r2["Report"], r2
        uid = r1["Payload"]["uid"]
        assert len(function_instances(small_daemon, uid)) == 1
        t0 = time.monotonic()
        gone = wait_for(lambda: not function_instances(small_daemon, uid), 4)
        assert gone, "the idle instance still runs 4 s after its last invocation (KeepAliveSeconds 1)"
        assert time.monotonic() - t0 > 0.5, "the instance stopped while it was meant to be warm"
        r3 = c.invoke(name, {})
        assert r3["Report"].get("InitDurationMs", 0) > 0, f"not a cold start after the keep-alive: {r3}"
        assert r3["Payload"]["instance"] != r1["Payload"]["instance"], r3


def test_update_code_reaches_the_next_invoke(daemon, fns, client):
    c = client
    old = "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return 'old'\n"
    name = fns.python(old, timeout=5)
    assert c.invoke(name, {})["Payload"] == "old"
    assert c.invoke(name, {})["Payload"] == "old"   # warm now
    # an invocation in flight finishes with the code it started with
    rid = c.send("Invoke", FunctionName=name, Payload={"sleep": 0.6})
    time.sleep(0.2)
    c.ok("UpdateFunctionCode", FunctionName=name,
         Code={"Directory": str(fns.code({"app.py": "def handler(e, c):\n    return 'new'\n"}))})
    assert c.invoke(name, {})["Payload"] == "new"
    r = c.recv(rid)
    assert r["ok"] and r["Payload"] == "old", r
    assert c.invoke(name, {})["Payload"] == "new"
    # so does a configuration change
    c.ok("UpdateFunctionConfiguration", FunctionName=name, MemorySize=320)
    r = c.invoke(name, {})
    assert r["Report"]["MemorySizeMB"] == 320, r
    c.ok("UpdateFunctionConfiguration", FunctionName=name, Environment={"Variables": {"WORD": "env"}})
    c.ok("UpdateFunctionCode", FunctionName=name,
         Code={"Directory": str(fns.code({"app.py": "import os\ndef handler(e, c):\n    return os.environ['WORD']\n"}))})
    assert c.invoke(name, {})["Payload"] == "env"


def test_weighted_alias(daemon, fns, client):
    c = client
    name = fns.python("def handler(e, c):\n    return 'one'\n", Publish=True)
    c.ok("UpdateFunctionCode", FunctionName=name,
         Code={"Directory": str(fns.code({"app.py": "def handler(e, c):\n    return 'two'\n"}))}, Publish=True)
    c.ok("CreateAlias", FunctionName=name, Name="canary", FunctionVersion="1",
         RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    n = 200
    counts = {"1": 0, "2": 0}
    for _ in range(n):
        r = c.invoke(name, {}, Qualifier="canary")
        assert r["Payload"] == {"1": "one", "2": "two"}[r["ExecutedVersion"]], r
        counts[r["ExecutedVersion"]] += 1
    # binomial(200, 0.5): 5.6 standard deviations either side
    sd = math.sqrt(n * 0.25)
    assert abs(counts["2"] - n / 2) < 5.6 * sd, counts
    # weight 0.1: version 2 rare but present
    c.ok("UpdateAlias", FunctionName=name, Name="canary", FunctionVersion="1",
         RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    counts = {"1": 0, "2": 0}
    for _ in range(n):
        counts[c.invoke(name, {}, Qualifier="canary")["ExecutedVersion"]] += 1
    sd = math.sqrt(n * 0.1 * 0.9)
    assert abs(counts["2"] - n * 0.1) < 5.6 * sd, counts
    # no weights: version 1 only
    c.ok("UpdateAlias", FunctionName=name, Name="canary", FunctionVersion="1",
         RoutingConfig={"AdditionalVersionWeights": {}})
    assert {c.invoke(name, {}, Qualifier="canary")["ExecutedVersion"] for _ in range(20)} == {"1"}


def test_delete_stops_the_functions_instances(daemon, fns, client):
    c = client
    name = fns.python(SLEEPER, timeout=5)
    results = invoke_each_own_connection(daemon, name, 2, {"sleep": 0.2})
    uid = results[0]["Payload"]["uid"]
    assert len(function_instances(daemon, uid)) == 2
    # one invocation in flight while the function is deleted
    rid = c.send("Invoke", FunctionName=name, Payload={"sleep": 0.5})
    time.sleep(0.2)
    c.ok("DeleteFunction", FunctionName=name)
    r = c.recv(rid, timeout=10)
    assert r["ok"] or r["error"]["type"] in ("ResourceNotFoundException", "ServiceException"), r
    assert wait_for(lambda: not function_instances(daemon, uid), 5), \
        f"instances of the deleted function still run: {function_instances(daemon, uid)}"
    c.err("Invoke", "ResourceNotFoundException", FunctionName=name)


def test_concurrency_accounting_survives_changes_in_flight(small_daemon, workdir):
    """Reservations put, removed or deleted with their function while an invocation runs
    leave the account's count right (AccountConcurrency 2 here)."""
    from laminad_harness import FunctionFactory
    fns = FunctionFactory(workdir, small_daemon)
    free = fns.python(SLEEPER, timeout=5)

    def two_at_once():
        results = invoke_each_own_connection(small_daemon, free, 2, {"sleep": 0.3})
        return [r.get("error", {}).get("type") for r in results if not r["ok"]]

    with small_daemon.client() as c:
        # reserve while in flight, then remove the reservation while in flight
        name = fns.python(SLEEPER, timeout=5)
        rid = c.send("Invoke", FunctionName=name, Payload={"sleep": 1.2})
        time.sleep(0.7)       # running by now, past any cold start
        c.ok("PutFunctionConcurrency", FunctionName=name, ReservedConcurrentExecutions=1)
        assert c.recv(rid)["ok"]
        rid = c.send("Invoke", FunctionName=name, Payload={"sleep": 1.2})
        time.sleep(0.7)       # running by now, past any cold start
        c.ok("DeleteFunctionConcurrency", FunctionName=name)
        assert c.recv(rid)["ok"]
        assert two_at_once() == [], "the account lost capacity after reservation changes"
        # delete a function with a reservation while it runs
        c.ok("PutFunctionConcurrency", FunctionName=name, ReservedConcurrentExecutions=1)
        rid = c.send("Invoke", FunctionName=name, Payload={"sleep": 1.2})
        time.sleep(0.7)       # running by now, past any cold start
        c.ok("DeleteFunction", FunctionName=name)
        c.recv(rid)
        assert two_at_once() == [], \
            "after deleting a reserved function mid-invocation, unreserved functions are throttled"


COLD_NODE = "exports.handler = async (e) => 'v1';\n"


@pytest.mark.parametrize("change", ["UpdateFunctionCode", "UpdateFunctionConfiguration", "DeleteFunction"])
def test_change_during_a_cold_start(daemon, fns, client, change):
    """An invocation waiting for its instance's init when the function changes is still
    answered promptly (with the old code, the new code, or ResourceNotFound after a delete);
    it does not wait out the init allowance."""
    c = client
    name = fns.node(COLD_NODE, timeout=1)
    rid = c.send("Invoke", FunctionName=name, Payload={})
    time.sleep(0.05)      # queued behind the first instance's init (node needs ~0.3 s)
    t0 = time.monotonic()
    if change == "UpdateFunctionCode":
        c.ok(change, FunctionName=name, Code={"Directory": str(fns.code({"index.js": "exports.handler = async () => 'v2';\n"}))})
    elif change == "UpdateFunctionConfiguration":
        c.ok(change, FunctionName=name, MemorySize=192)
    else:
        c.ok(change, FunctionName=name)
    r = c.recv(rid, timeout=20)
    elapsed = time.monotonic() - t0
    if change == "DeleteFunction" and not r["ok"]:
        assert r["error"]["type"] in ("ResourceNotFoundException", "ServiceException"), r
    else:
        assert r["ok"] and "FunctionError" not in r and r["Payload"] in ("v1", "v2"), \
            f"after {change} during its cold start, after {elapsed:.1f}s: {r}"
    assert elapsed < 4, f"answered {elapsed:.1f}s after the {change}"
    if change != "DeleteFunction":
        assert c.invoke(name, {})["Payload"] == ("v2" if change == "UpdateFunctionCode" else "v1")


SPINNER = """
import time
def handler(event, context):
    end = time.monotonic() + event['wall']
    while time.monotonic() < end:
        pass
    return {}
"""
WALL_S = 0.6


def cpu_of_a_warm_spin(client, name):
    client.invoke(name, {"wall": 0.05})          # cold start: init runs unthrottled
    r = client.invoke(name, {"wall": WALL_S})
    assert "FunctionError" not in r, r
    return r["Report"]["CpuTimeMs"] / 1000.0


def test_cpu_share_is_proportional_to_memory(daemon, fns, client):
    """As on Lambda, 1,769 MB buys one CPU: a 128 MB function spinning for 0.6 s gets
    about 7% of a CPU, a 1,769 MB one nearly all of one."""
    small = cpu_of_a_warm_spin(client, fns.python(SPINNER, memory=128, timeout=5))
    full = cpu_of_a_warm_spin(client, fns.python(SPINNER, memory=1769, timeout=5))
    assert small < 0.25 * WALL_S, f"128 MB spun {small:.3f} s of CPU in {WALL_S} s"
    assert full > 0.5 * WALL_S, f"1,769 MB spun only {full:.3f} s of CPU in {WALL_S} s"


def test_cpu_share_can_be_turned_off(start_daemon, workdir):
    from laminad_harness import FunctionFactory
    d = start_daemon("nocpushare", {"CpuProportionalToMemory": False})
    fns = FunctionFactory(workdir, d)
    with d.client() as c:
        cpu = cpu_of_a_warm_spin(c, fns.python(SPINNER, memory=128, timeout=5))
    assert cpu > 0.5 * WALL_S, f"with CpuProportionalToMemory false, 128 MB spun only {cpu:.3f} s"
