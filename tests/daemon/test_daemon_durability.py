# SPDX-License-Identifier: MIT
"""Durability and stopping: kill -9 in the middle of a stream of changes loses no
acknowledged change and leaves nothing a restart does not clean up; SIGTERM drains and
removes everything."""
import threading
import time

from laminad_harness import FunctionFactory, proc_start_time, run_threads, wait_for

SLEEPER = "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return e.get('say', 'ok')\n"


class Ledger:
    """What the daemon acknowledged, and the one change it may have applied unacknowledged."""

    def __init__(self):
        self.functions = {}   # name -> {"latest": sha, "versions": {v: sha}, "aliases": {a: v}}
        self.acks = 0
        self.pending = None   # (kind, name, detail) of the change sent and not acknowledged
        self.unacked = []     # the pending change of each kill
        self.error = None


def writer(daemon, ledger, codes, stop, prefix):
    """Deploys, publishes and moves aliases until stop is set or the daemon goes away."""
    try:
        with daemon.client(timeout=10) as c:
            i = 0
            while not stop.is_set():
                name = f"{prefix}-{i:03d}"
                fn = {"latest": None, "versions": {}, "aliases": {}}

                def step(kind, detail, action, **params):
                    ledger.pending = (kind, name, detail)
                    r = c.ok(action, **params)
                    ledger.pending = None
                    ledger.acks += 1
                    return r

                code0, code1 = codes[i % 2], codes[(i + 1) % 2]
                r = step("create", None, "CreateFunction", FunctionName=name, Runtime="python3.11",
                         Handler="app.handler", Timeout=2, Code={"Directory": str(code0)})
                fn["latest"] = r["CodeSha256"]
                ledger.functions[name] = fn
                r = step("publish", "1", "PublishVersion", FunctionName=name)
                assert r["Version"] == "1", r
                fn["versions"]["1"] = r["CodeSha256"]
                step("alias", ("live", "1"), "CreateAlias", FunctionName=name, Name="live", FunctionVersion="1")
                fn["aliases"]["live"] = "1"
                r = step("code", None, "UpdateFunctionCode", FunctionName=name, Code={"Directory": str(code1)})
                fn["latest"] = r["CodeSha256"]
                r = step("publish", "2", "PublishVersion", FunctionName=name)
                assert r["Version"] == "2", r
                fn["versions"]["2"] = r["CodeSha256"]
                step("alias", ("live", "2"), "UpdateAlias", FunctionName=name, Name="live", FunctionVersion="2")
                fn["aliases"]["live"] = "2"
                step("alias", ("beta", "1"), "CreateAlias", FunctionName=name, Name="beta", FunctionVersion="1")
                fn["aliases"]["beta"] = "1"
                step("memory", 128 + i, "UpdateFunctionConfiguration", FunctionName=name, MemorySize=128 + i)
                fn["memory"] = 128 + i
                step("reserved", i % 5 + 1, "PutFunctionConcurrency", FunctionName=name,
                     ReservedConcurrentExecutions=i % 5 + 1)
                fn["reserved"] = i % 5 + 1
                i += 1
    except (ConnectionError, OSError, TimeoutError) as e:
        if not stop.is_set():
            ledger.error = e
    except AssertionError as e:   # an API failure while the daemon was still up
        if not stop.is_set():
            ledger.error = e


def test_kill9_loses_no_acknowledged_change(start_daemon, daemons, workdir):
    state = workdir / "state-durable"
    d = start_daemon("durable", {"KeepAliveSeconds": 60}, state_dir=state)
    fns = FunctionFactory(workdir, d)
    warm = fns.python(SLEEPER, name="warm-one", timeout=5)
    codes = [fns.code({"app.py": "def handler(e, c):\n    return 'code-a'\n"}),
             fns.code({"app.py": "def handler(e, c):\n    return 'code-b'\n"})]
    # two warm instances, so the kill leaves processes and cgroups behind
    def invoke(i):
        with d.client() as c:
            return c.call("Invoke", FunctionName=warm, Payload={"sleep": 0.3})
    assert all(r["ok"] for r in run_threads(2, invoke))
    assert len(d.instance_pids()) >= 2

    ledger = Ledger()
    for round_ in range(2):
        old_pid = d.pid
        old_instances = {p: proc_start_time(p) for p in d.instance_pids()}
        assert len(old_instances) >= 1 and d.cgroup_dirs(old_pid), "no instance running before the kill"
        stop = threading.Event()
        t = threading.Thread(target=writer, args=(d, ledger, codes, stop, f"dur{round_}"), daemon=True)
        t.start()
        target = ledger.acks + 30 + 7 * round_
        wait_for(lambda: ledger.acks >= target or not t.is_alive(), 10)
        assert t.is_alive(), f"the writer stopped early: {ledger.error}"
        d.kill9()
        stop.set()
        t.join(15)
        assert not t.is_alive()
        ledger.unacked.append(ledger.pending)
        ledger.pending = None
        assert ledger.acks >= target

        # its instances die with it
        def still_running():
            return [p for p, st in old_instances.items() if st is not None and proc_start_time(p) == st]
        wait_for(lambda: not still_running(), 3)
        survivors = still_running()

        # restart on the same state (and cgroup parent): the old cgroups are gone before it serves
        d2 = start_daemon("durable", {"KeepAliveSeconds": 60}, state_dir=state)
        daemons.forget(d)
        left = [str(p) for p in d2.cgroup_dirs(old_pid)]
        assert not left, f"cgroups of the killed daemon (pid {old_pid}) left after the restart: {left}"
        assert not survivors, f"instances of the killed daemon outlived it: {survivors}"
        assert not still_running(), "instances of the killed daemon still run"
        d = d2
        problems = check_ledger(d, ledger)
        assert not problems, (f"round {round_}: {len(problems)} acknowledged change(s) lost of "
                              f"{ledger.acks}:\n" + "\n".join(problems))
        # and it works (which also starts an instance for the next round to leave behind)
        with d.client() as c:
            assert c.invoke(warm, {"say": "after restart"})["Payload"] == "after restart"

    with d.client() as c:
        done = [n for n, fn in ledger.functions.items() if fn["aliases"].get("live") == "2"]
        assert done, "the writer finished no function"
        r = c.invoke(done[0], {}, Qualifier="live")
        assert r["ExecutedVersion"] == "2" and r["Payload"] in ("code-a", "code-b"), r
        # new changes are accepted where the stream stopped
        fns2 = FunctionFactory(workdir, d)
        fresh = fns2.python(SLEEPER, Publish=True)
        assert c.invoke(fresh, {"say": "fresh"}, Qualifier="1")["Payload"] == "fresh"


def check_ledger(d, ledger):
    problems = []
    with d.client() as c:
        listed = {f["FunctionName"] for f in c.ok("ListFunctions")["Functions"]}
        for name, fn in ledger.functions.items():
            if name not in listed:
                problems.append(f"{name}: acknowledged, gone after the kill")
                continue
            pend = [p for p in ledger.unacked if p and p[1] == name]
            p_kind = pend[0][0] if pend else None
            g = c.ok("GetFunction", FunctionName=name)
            got = g["Configuration"]["CodeSha256"]
            if "memory" in fn and g["Configuration"]["MemorySize"] != fn["memory"]:
                problems.append(f"{name}: MemorySize {g['Configuration']['MemorySize']}, acknowledged {fn['memory']}")
            if "memory" not in fn and p_kind != "memory" and g["Configuration"]["MemorySize"] != 128:
                problems.append(f"{name}: MemorySize {g['Configuration']['MemorySize']}, acknowledged 128")
            if "reserved" in fn:
                got_r = g.get("Concurrency", {}).get("ReservedConcurrentExecutions")
                if got_r != fn["reserved"]:
                    problems.append(f"{name}: reserved concurrency {got_r}, acknowledged {fn['reserved']}")
            allowed = {fn["latest"]} | (_all_shas(ledger) if p_kind == "code" else set())
            if got not in allowed:
                problems.append(f"{name}: $LATEST CodeSha256 {got}, acknowledged {fn['latest']}")
            versions = {v["Version"] for v in c.ok("ListVersionsByFunction", FunctionName=name)["Versions"]}
            for v, sha in fn["versions"].items():
                if v not in versions:
                    problems.append(f"{name}: acknowledged version {v} is gone")
                    continue
                got = c.ok("GetFunction", FunctionName=name, Qualifier=v)["Configuration"]["CodeSha256"]
                if got != sha:
                    problems.append(f"{name}:{v}: CodeSha256 {got}, acknowledged {sha}")
            aliases = {a["Name"]: a["FunctionVersion"] for a in c.ok("ListAliases", FunctionName=name)["Aliases"]}
            for a, v in fn["aliases"].items():
                ok_versions = {v}
                if p_kind == "alias" and pend[0][2][0] == a:
                    ok_versions.add(pend[0][2][1])
                if aliases.get(a) not in ok_versions:
                    problems.append(f"{name}: alias {a} -> {aliases.get(a)}, acknowledged -> {v}")
    return problems


def _all_shas(ledger):
    shas = set()
    for fn in ledger.functions.values():
        shas.add(fn["latest"])
        shas.update(fn["versions"].values())
    return shas


def test_sigterm_drains_and_cleans_up(start_daemon, daemons, workdir):
    d = start_daemon("term", {"KeepAliveSeconds": 60})
    fns = FunctionFactory(workdir, d)
    warm = fns.python(SLEEPER, timeout=5)
    slow = fns.python(SLEEPER, timeout=5)
    node = fns.node("exports.handler = async () => 'node';\n")
    with d.client() as c:
        assert c.invoke(warm, {})["Payload"] == "ok"
        assert c.invoke(node, {})["Payload"] == "node"
        assert c.invoke(slow, {})["Payload"] == "ok"
        assert len(d.live_instances()) == 3
        rid = c.send("Invoke", FunctionName=slow, Payload={"sleep": 1.5, "say": "drained"})
        time.sleep(0.4)
        t0 = time.monotonic()
        d.terminate()
        r = c.recv(rid, timeout=15)
    assert r["ok"] and r["Payload"] == "drained", f"the in-flight invocation was not drained: {r}"
    problems = daemons.stop(d)
    assert not problems, "\n".join(problems)
    assert time.monotonic() - t0 < 10


def test_sigterm_during_a_cold_start(start_daemon, daemons, workdir):
    """SIGTERM while an invocation waits for its instance's init: the invocation is
    answered (drained) promptly and the daemon stops cleanly."""
    d = start_daemon("term-cold", {"KeepAliveSeconds": 60})
    fns = FunctionFactory(workdir, d)
    name = fns.node("exports.handler = async () => 'served';\n", timeout=1)
    with d.client() as c:
        rid = c.send("Invoke", FunctionName=name, Payload={})
        time.sleep(0.05)
        t0 = time.monotonic()
        d.terminate()
        r = c.recv(rid, timeout=20)
        elapsed = time.monotonic() - t0
    problems = daemons.stop(d)
    stopped = time.monotonic() - t0
    assert r["ok"] and r.get("Payload") == "served" and "FunctionError" not in r, \
        f"the invocation queued behind a cold start at SIGTERM got, after {elapsed:.1f}s: {r}"
    assert not problems, "\n".join(problems)
    assert stopped < 5, f"laminad took {stopped:.1f}s to stop"
