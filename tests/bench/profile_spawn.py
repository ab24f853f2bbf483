#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Where a lamina spawn's time goes, by phase and by syscall.

usage: profile_spawn.py BUILD_DIR [RUNS] [-- SPAWN_BENCH_OPTIONS...]
       profile_spawn.py --parse PERF_TRACE_OUTPUT

Runs `spawn_bench --runs RUNS` untraced, then under a system-wide `perf trace` of a few
marker syscalls (in a private mount namespace with tracefs mounted, so nothing is left
mounted; system-wide, because per-task tracing copies its events into every child at
clone). Each spawn is split into phases: the wall time from one marker's entry to the
next is charged to the first one's phase, and the gap from the child's exit_group to the
parent's wake-up is the kernel tearing the sandbox down. The tracing cost per marker is
calibrated from the untraced mean and removed in the 'est.' column; the in-kernel times
of single syscalls (seccomp, execve ...) need no such correction.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

LINE = re.compile(r"^\s*(?P<ts>[\d.]+|\?) \(\s*(?P<dur>[\d.]+)? ?(?:ms)?\s*\): "
                  r"(?P<comm>.+?)/(?P<tid>\d+) (?P<rest>.*)$")
CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*?)\)\s*(?:= (?P<ret>.*)|(?P<open>\.\.\.))\s*$")
CONT = re.compile(r"^\s*\.\.\. \[continued\]: (?P<name>\w+)\(\)\)\s*=\s*(?P<ret>.*)$")

# Only these syscalls are traced: each marks where a phase starts, so that the tracing
# cost (measured at 15-40 us per event in a VM) stays small against the phases.
TRACED = ("clone,write,unshare,setns,fsopen,pivot_root,umount2,sethostname,prlimit64,chdir,"
          "setgroups,seccomp,execve,exit_group,poll,waitid,mkdirat,unlinkat,sysinfo")

PHASES = [
    "clone: task + pid/mnt/ipc/uts(/net) ns, child resets signals",
    "child: join cgroups (write cgroup.procs in each hierarchy)",
    "child: cgroup ns, join netns",
    "child: root (copy the template mount ns, or build it; /tmp, /proc)",
    "child: pivot_root",
    "child: umount2 (detach) and what follows until hostname",
    "child: hostname + fds",
    "child: rlimits",
    "child: cwd + drop bounding set (prctl x41) + ambient",
    "child: setgroups, setresgid/uid, capset, pdeathsig, no_new_privs",
    "child: seccomp filter install",
    "execve (kernel)",
    "/bin/true: ld.so + main",
    "exit: kernel tears the sandbox down until the parent wakes",
    "parent: reap, cgroup stats, release cgroup (pool: empty check)",
    "parent: cgroup rmdir (no pool)",
    "parent: validate spec, plan the root",
    "parent: cgroup mkdir + open (no pool)",
    "parent: cgroup limits (file writes)",
]


def child_phase(name, args, state):
    """The phase that starts at a traced child syscall named name."""
    if state["exec"]:
        return "exit: kernel tears the sandbox down until the parent wakes" \
            if name == "exit_group" else "/bin/true: ld.so + main"
    table = {
        "unshare": PHASES[2], "setns": PHASES[2], "fsopen": PHASES[3],
        "pivot_root": PHASES[4], "umount2": PHASES[5], "sethostname": PHASES[6],
        "prlimit64": PHASES[7], "setgroups": PHASES[9], "seccomp": PHASES[10],
        "execve": PHASES[11], "exit_group": PHASES[13],
    }
    if name in ("setns", "unshare") and re.search(r"NEWNS\b|131072|0x20000\b", args):
        return PHASES[3]	# the runtime's template mount namespace, copied
    if name == "write":
        return PHASES[1] if not state["ns"] else PHASES[3]
    if name == "chdir":
        return PHASES[8] if state["rlimits"] else PHASES[5]
    return table.get(name, state.get("last", PHASES[0]))


PARENT = {
    "poll": PHASES[14], "waitid": PHASES[14], "unlinkat": PHASES[15], "sysinfo": PHASES[16],
    "mkdirat": PHASES[17], "write": PHASES[18],
}


def parse(path):
    """Returns {tid: [[ts, dur, name, args, comm, ret], ...]} in file order."""
    events = collections.defaultdict(list)
    pending = {}
    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            tid, rest = int(m["tid"]), m["rest"]
            c = CONT.match(rest)
            if c:
                if m["ts"] != "?" and tid in pending:
                    ev = pending.pop(tid)
                    ev[1] = float(m["dur"]) if m["dur"] else None
                    ev[5] = c["ret"]
                continue
            c = CALL.match(rest)
            if not c or m["ts"] == "?":
                continue
            ev = [float(m["ts"]), float(m["dur"]) if m["dur"] else None, c["name"], c["args"],
                  m["comm"], c["ret"]]
            events[tid].append(ev)
            if c["open"]:
                pending[tid] = ev
    return events


def analyse(events, untraced=None):
    if not events:
        sys.exit("no events parsed")
    # The parent is the thread that clones sandboxes with a new pid namespace.
    parent = next((t for t, evs in events.items()
                   if any(e[2] == "clone" and "NEWPID" in e[3] for e in evs)), None)
    if parent is None:
        sys.exit("no sandbox clone found in the trace")
    pevs = events[parent]
    clones = [i for i, e in enumerate(pevs) if e[2] == "clone" and "NEWPID" in e[3]]
    totals = collections.Counter()
    nevents = collections.Counter()
    calls = collections.Counter()
    spans = []
    iters = 0
    # Spawn k runs from clone k to clone k+1; the first and the last are dropped.
    for k in range(1, len(clones) - 1):
        ci, cn = clones[k], clones[k + 1]
        start, end = pevs[ci][0], pevs[cn][0]
        # The trace is system-wide: the child is the tid that clone returned.
        ret = re.match(r"\s*(\d+)", pevs[ci][5] or "")
        child = int(ret.group(1)) if ret and int(ret.group(1)) in events else None
        poll = next((e for e in pevs[ci + 1:cn] if e[2] == "poll" and e[1] is not None), None)
        if child is None or poll is None:
            continue
        wake = poll[0] + poll[1]
        cevs = sorted(events[child], key=lambda e: e[0])
        iters += 1
        spans.append(end - start)
        totals[PHASES[0]] += cevs[0][0] - start
        state = {"exec": False, "ns": False, "rlimits": False}
        for i, ev in enumerate(cevs):
            name = ev[2]
            ph = child_phase(name, ev[3], state)
            nxt = cevs[i + 1][0] if i + 1 < len(cevs) else wake
            if name == "execve":
                # The exec itself, then what follows it until exit_group.
                dur = ev[1] if ev[1] is not None else 0.0
                totals[ph] += dur
                totals[PHASES[12]] += nxt - ev[0] - dur
                state["exec"] = True
            else:
                totals[ph] += nxt - ev[0]
            state["ns"] |= name in ("unshare", "setns")
            state["rlimits"] |= name == "prlimit64"
            state["last"] = ph
            nevents[ph] += 1
            if ev[1] is not None:
                calls[(ph, name)] += ev[1]
        # The parent from its wake-up to the next clone.
        t, ph = wake, PHASES[14]
        for ev in pevs[ci + 1:cn]:
            if ev[0] < wake or ev is poll:
                continue
            if ev[2] in PARENT and PARENT[ev[2]] != ph:
                totals[ph] += ev[0] - t
                t, ph = ev[0], PARENT[ev[2]]
            nevents[ph] += 1
        totals[ph] += end - t
    if not iters:
        sys.exit("no complete spawn found in the trace")
    spans.sort()
    total = sum(totals.values()) / iters
    n_per_spawn = (sum(nevents.values()) + iters) / iters	# + the clone itself
    # What tracing adds per traced event, from the untraced mean of the same bench.
    ovh = max(0.0, (total - untraced) / n_per_spawn) if untraced else 0.0
    print(f"per spawn: mean of {iters} traced spawns, in ms. A phase runs from the traced")
    print("syscall that starts it to the one that starts the next (untraced calls inside).")
    if untraced:
        print(f"'est.' removes the tracing cost, {ovh * 1000:.1f} us per traced event, calibrated"
              f" from the untraced mean ({untraced:.3f} ms)")
    print(f"  {'phase':68} {'traced':>7} {'events':>6} {'est.':>7}")
    for ph in PHASES:
        if ph not in totals:
            continue
        n = nevents[ph] / iters + (1 if ph == PHASES[0] else 0)
        est = max(0.0, totals[ph] / iters - n * ovh)
        print(f"  {ph:68} {totals[ph] / iters:7.3f} {n:6.1f} {est:7.3f}")
    print(f"  {'sum':68} {total:7.3f} {n_per_spawn:6.1f} {(untraced or 0):7.3f}")
    print(f"  {'median spawn, traced (clone to next clone)':68} {spans[len(spans) // 2]:7.3f}")
    print("in-kernel time of single traced syscalls, per spawn (ms):")
    for (ph, name), t in calls.most_common(8):
        print(f"  {name:12} {t / iters:7.3f}   ({ph})")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--parse":
        analyse(parse(sys.argv[2]))
        return
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    rest = sys.argv[2:]
    runs = "200"
    if rest and rest[0] != "--":
        runs, rest = rest[0], rest[1:]
    extra = rest[1:] if rest and rest[0] == "--" else []
    bench = os.path.join(build, "tests", "spawn_bench")
    untraced = subprocess.run([bench, "--runs", runs] + extra, capture_output=True, text=True,
                              check=True).stdout
    m = re.search(r"mean_ms=([\d.]+)", untraced)
    with tempfile.TemporaryDirectory(prefix="lamina-profile.") as tmp:
        out = os.path.join(tmp, "trace.txt")
        script = ('mount -t tracefs nodev /sys/kernel/tracing && '
                  'exec perf trace -a -e "$TRACED" -o "$0" -- "$@"')
        subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, out,
                        bench, "--runs", runs, "--warmup", "2"] + extra, check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, TRACED=TRACED))
        analyse(parse(out), float(m.group(1)) if m else None)


if __name__ == "__main__":
    main()
