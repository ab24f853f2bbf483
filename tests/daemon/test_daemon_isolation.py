# SPDX-License-Identifier: MIT
"""Isolation between functions: one function's instances cannot reach another's sockets,
files or processes, and run as a different uid."""
from laminad_harness import proc_uid, read_int_list, run_threads

# A: listens on an abstract Unix socket and on 127.0.0.1, keeps a secret in /tmp, and
# proves that it can reach all three itself.
SERVER_A = r'''
import os, socket, threading

STATE = {}

def _serve(sock):
    while True:
        try:
            conn, _ = sock.accept()
            conn.sendall(b"secret-of-A")
            conn.close()
        except OSError:
            return

def _start(tag):
    abstract = "\0lamina-isolation-" + tag
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.bind(abstract)
    u.listen(8)
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", 0))
    t.listen(8)
    for s in (u, t):
        threading.Thread(target=_serve, args=(s,), daemon=True).start()
    with open("/tmp/secret-of-A", "w") as f:
        f.write("A's secret")
    STATE.update(abstract=abstract, port=t.getsockname()[1], socks=(u, t))

def _fetch(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(addr)
        return s.recv(100).decode()
    finally:
        s.close()

def procs():
    out = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                for line in open(f"/proc/{e}/status"):
                    if line.startswith("Uid:"):
                        out[e] = int(line.split()[1])
            except OSError:
                pass
    return out

def handler(event, context):
    if not STATE:
        _start(event["tag"])
    return {
        "pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(),
        "port": STATE["port"], "abstract": STATE["abstract"][1:],
        "self_abstract": _fetch(socket.AF_UNIX, STATE["abstract"]),
        "self_tcp": _fetch(socket.AF_INET, ("127.0.0.1", STATE["port"])),
        "self_file": open("/tmp/secret-of-A").read(),
        "procs": procs(),
    }
'''

# B: tries to reach A in every way it was told of; reports what happened.
PROBE_B = r'''
import errno, os, socket

def _try(fn):
    try:
        return "OK " + repr(fn())
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def _connect(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(addr)
        return s.recv(100)
    finally:
        s.close()

def handler(event, context):
    own = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                for line in open(f"/proc/{e}/status"):
                    if line.startswith("Uid:"):
                        own[e] = int(line.split()[1])
            except OSError:
                pass
    signalable = []
    for pid in list(range(1, 101)) + event["host_pids"]:
        try:
            os.kill(pid, 0)
            signalable.append(pid)
        except OSError:
            pass
    return {
        "uid": os.getuid(),
        "abstract": _try(lambda: _connect(socket.AF_UNIX, "\0" + event["abstract"])),
        "tcp": _try(lambda: _connect(socket.AF_INET, ("127.0.0.1", event["port"]))),
        "file": _try(lambda: open("/tmp/secret-of-A").read()),
        "tmp": os.listdir("/tmp"),
        "kill_host_pids": {str(p): _try(lambda: os.kill(p, 0)) for p in event["host_pids"]},
        "signalable": signalable,
        "procs": own,
        "mounts_A_tmp": "secret-of-A" in open("/proc/self/mountinfo").read(),
    }
'''


def test_functions_are_isolated(daemon, fns, client):
    c = client
    a = fns.python(SERVER_A, timeout=5)
    b = fns.python(PROBE_B, timeout=10)
    ra = c.invoke(a, {"tag": a})
    assert "FunctionError" not in ra, ra
    pa = ra["Payload"]
    # A can reach its own things (so B's failures below are isolation, not breakage)
    assert pa["self_abstract"] == pa["self_tcp"] == "secret-of-A" and pa["self_file"] == "A's secret", pa
    uid_a = pa["uid"]
    assert uid_a >= 300000 and pa["gid"] >= 300000, pa
    host_pids_a = sorted(daemon.instances_of_uid(uid_a))
    assert host_pids_a, f"no process of uid {uid_a} in the daemon's cgroups"

    rb = c.invoke(b, {"abstract": pa["abstract"], "port": pa["port"], "host_pids": host_pids_a})
    assert "FunctionError" not in rb, rb
    pb = rb["Payload"]
    uid_b = pb["uid"]
    assert uid_b != uid_a and uid_b >= 300000, (uid_a, uid_b)
    problems = []
    if pb["abstract"] not in ("ECONNREFUSED", "ENOENT"):
        problems.append(f"B connecting to A's abstract socket: {pb['abstract']}")
    if pb["tcp"] not in ("ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH"):
        problems.append(f"B connecting to A's TCP port 127.0.0.1:{pa['port']}: {pb['tcp']}")
    if pb["file"] != "ENOENT" or "secret-of-A" in pb["tmp"]:
        problems.append(f"B reading A's /tmp/secret-of-A: {pb['file']} (B's /tmp: {pb['tmp']})")
    for pid, res in pb["kill_host_pids"].items():
        if res != "ESRCH":
            problems.append(f"B's kill(A's host pid {pid}, 0): {res}")
    for pid in pb["signalable"]:
        if str(pid) not in pb["procs"] or pb["procs"][str(pid)] != uid_b:
            problems.append(f"B can signal pid {pid}, which is not one of its own processes")
    foreign = {p: u for p, u in pb["procs"].items() if u != uid_b}
    if foreign:
        problems.append(f"B's /proc shows processes of other uids: {foreign}")
    if pb["mounts_A_tmp"]:
        problems.append("A's secret appears in B's mount table")
    # A sees only its own processes too, as many as its instance holds
    foreign = {p: u for p, u in pa["procs"].items() if u != uid_a}
    if foreign:
        problems.append(f"A's /proc shows processes of other uids: {foreign}")
    instance_cgroup = _cgroup_of(daemon, host_pids_a[0])
    if instance_cgroup and len(pa["procs"]) != len(read_int_list(instance_cgroup / "cgroup.procs")):
        problems.append(f"A's /proc lists {len(pa['procs'])} processes, its cgroup holds "
                        f"{read_int_list(instance_cgroup / 'cgroup.procs')}")
    assert not problems, "\n".join(problems)
    # on the host, every process in an instance cgroup runs as a function uid, never root
    for pid in daemon.instance_pids():
        uid = proc_uid(pid)
        assert uid is None or uid >= 300000, f"instance process {pid} runs as uid {uid}"


def _cgroup_of(daemon, pid):
    for cg in daemon.cgroup_dirs():
        if pid in read_int_list(cg / "cgroup.procs"):
            return cg
    return None


def test_instances_of_one_function_are_isolated(daemon, fns, client):
    """Two concurrent instances of the same function share its uid but not their
    processes or /tmp."""
    src = r'''
import os, time
def handler(event, context):
    mine = "/tmp/mark-" + context.aws_request_id
    open(mine, "w").write("x")
    time.sleep(0.5)
    procs = [e for e in os.listdir("/proc") if e.isdigit()]
    return {"tmp": sorted(os.listdir("/tmp")), "procs": procs, "uid": os.getuid(),
            "rid": context.aws_request_id}
'''
    name = fns.python(src, timeout=5)

    def one(i):
        with daemon.client() as c:
            return c.invoke(name, {})
    results = run_threads(2, one)
    p1, p2 = results[0]["Payload"], results[1]["Payload"]
    assert p1["uid"] == p2["uid"]
    assert f"mark-{p2['rid']}" not in p1["tmp"] and f"mark-{p1['rid']}" not in p2["tmp"], (p1, p2)
    host = daemon.instances_of_uid(p1["uid"])
    assert len(host) >= 2, host
    # each sees fewer processes than the function has on the host
    assert len(p1["procs"]) < len(host) and len(p2["procs"]) < len(host), (p1, p2, host)


SANDBOX_PROBE = r'''
import errno, os, socket

def _try(fn):
    try:
        fn()
        return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def _status():
    out = {}
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out

def _connect(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(addr)
    finally:
        s.close()

def handler(event, context):
    st = _status()
    return {
        "uid": os.getuid(), "euid": os.geteuid(),
        "cap_eff": st["CapEff"], "cap_prm": st["CapPrm"], "cap_bnd": st["CapBnd"],
        "no_new_privs": st.get("NoNewPrivs"), "seccomp": st.get("Seccomp"),
        "interfaces": [n for _, n in socket.if_nameindex()],
        "outside": _try(lambda: _connect(("1.1.1.1", 53))),
        "write_task": _try(lambda: open("/var/task/new-file", "w")),
        "write_root": _try(lambda: open("/etc/new-file", "w")),
        "write_usr": _try(lambda: open("/usr/new-file", "w")),
        "write_tmp": _try(lambda: open("/tmp/new-file", "w").write("x")),
        "setuid0": _try(lambda: os.setuid(0)),
        "nofile": __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE),
        "dev": sorted(os.listdir("/dev")),
    }
'''


def test_instance_sandbox(daemon, fns, client):
    """What an instance sees of its sandbox: DESIGN.md "Inside an instance"."""
    name = fns.python(SANDBOX_PROBE, memory=256, timeout=5)
    p = client.invoke(name, {})["Payload"]
    problems = []
    if p["uid"] < 300000 or p["euid"] != p["uid"]:
        problems.append(f"uid {p['uid']} euid {p['euid']}")
    for k in ("cap_eff", "cap_prm", "cap_bnd"):
        if int(p[k], 16) != 0:
            problems.append(f"{k} {p[k]}")
    if p["no_new_privs"] != "1":
        problems.append(f"NoNewPrivs {p['no_new_privs']}")
    if p["seccomp"] != "2":
        problems.append(f"Seccomp mode {p['seccomp']}")
    if p["interfaces"] != ["lo"]:
        problems.append(f"network interfaces {p['interfaces']}")
    if p["outside"] not in ("ENETUNREACH", "EHOSTUNREACH", "ECONNREFUSED", "EPERM", "EACCES"):
        problems.append(f"connect to 1.1.1.1:53: {p['outside']}")
    for k in ("write_task", "write_root", "write_usr"):
        if p[k] not in ("EROFS", "EACCES", "EPERM"):
            problems.append(f"{k}: {p[k]}")
    if p["write_tmp"] != "OK":
        problems.append(f"/tmp is not writable: {p['write_tmp']}")
    if p["setuid0"] != "EPERM":
        problems.append(f"setuid(0): {p['setuid0']}")
    if p["nofile"][1] > 1024:
        problems.append(f"RLIMIT_NOFILE {p['nofile']}")
    if not set(p["dev"]) <= {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr",
                              "pts", "ptmx", "shm", "mqueue", "tty", "console", "core"}:
        problems.append(f"/dev holds {p['dev']}")
    assert not problems, "\n".join(problems)
    # the memory limit on the host is the function's MemorySize
    uid = p["uid"]
    pids = daemon.instances_of_uid(uid)
    cgs = {cg for cg in daemon.cgroup_dirs() if "/memory/" in str(cg) and pids & set(read_int_list(cg / "cgroup.procs"))}
    assert cgs, "no memory cgroup holds the instance"
    for cg in cgs:
        limit = int((cg / "memory.limit_in_bytes").read_text())
        assert limit == 256 << 20, f"{cg}: memory limit {limit}"
