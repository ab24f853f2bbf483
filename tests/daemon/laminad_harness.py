# SPDX-License-Identifier: MIT
"""The daemon tests' harness: laminad processes, an API client, function code
directories and host inspection (cgroups, processes). Fixtures are in conftest.py;
this module has a name of its own so that it never clashes with another directory's
conftest.py.
"""
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("LAMINA_BUILD", REPO / "build"))
LAMINAD = BUILD / "bin" / "laminad"
ECHO_BOOTSTRAP = BUILD / "runtimes" / "provided-echo" / "bootstrap"
EXAMPLES = REPO / "images" / "examples"
CGROUP_ROOT = Path("/sys/fs/cgroup")
FIRST_UID = 300000
UID_SPAN = 100000
READY_TIMEOUT_S = 20
STOP_TIMEOUT_S = 20
CALL_TIMEOUT_S = 30


# ---------------------------------------------------------------- host inspection


def cgroup_hierarchies():
    """The hierarchies laminad makes instance cgroups in: the root of a pure v2 host, or
    the memory, pids and cpu v1 controllers plus the unified tree of a hybrid one."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT]
    return [CGROUP_ROOT / d for d in ("memory", "pids", "cpu", "unified") if (CGROUP_ROOT / d).is_dir()]


def read_int_list(path):
    try:
        return [int(x) for x in Path(path).read_text().split()]
    except OSError:
        return []


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def proc_uid(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_start_time(pid):
    """The process's start time in clock ticks (with the pid, a process's identity: pids
    are reused)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def proc_cgroups(pid):
    try:
        return Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return ""


def rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def all_pids():
    for e in os.listdir("/proc"):
        if e.isdigit():
            yield int(e)


def wait_for(predicate, timeout, interval=0.05):
    """Polls predicate until it returns something true or timeout passes; returns its
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- the client


class ApiError(AssertionError):
    pass


class Client:
    """One connection to laminad's API. send() returns the id it used; recv(id) returns
    that id's response, keeping others that arrive first for their own recv()."""

    _ids = itertools.count(1)

    def __init__(self, path, timeout=CALL_TIMEOUT_S):
        self.path = str(path)
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(self.path)
        self.buf = b""
        self.responses = {}      # id (as JSON text) -> response
        self.anonymous = []      # responses whose id is null
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _key(rid):
        return json.dumps(rid, sort_keys=True)

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send(self, action, rid=None, **params):
        if rid is None:
            rid = next(self._ids)
        req = {"id": rid, "action": action}
        req.update(params)
        self.send_raw(json.dumps(req).encode() + b"\n")
        return rid

    def _read_line(self, deadline):
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply from laminad within {self.timeout}s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                raise TimeoutError(f"no reply from laminad within {self.timeout}s") from None
            if not chunk:
                self.eof = True
                continue
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_one(self, timeout=None):
        """The next response line, parsed (None at EOF)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        line = self._read_line(deadline)
        if line is None:
            return None
        try:
            resp = json.loads(line)
        except ValueError:
            raise AssertionError(f"laminad sent a line that is not JSON: {line[:300]!r}") from None
        assert isinstance(resp, dict), f"a response must be an object: {line[:300]!r}"
        return resp

    def recv(self, rid, timeout=None):
        key = self._key(rid)
        deadline = time.monotonic() + (timeout or self.timeout)
        while key not in self.responses:
            line = self._read_line(deadline)
            if line is None:
                raise ConnectionError(f"laminad closed the connection before answering id {rid}")
            try:
                resp = json.loads(line)
            except ValueError:
                raise AssertionError(f"laminad sent a line that is not JSON: {line[:300]!r}") from None
            assert isinstance(resp, dict) and "id" in resp, f"response without id: {line[:300]!r}"
            assert isinstance(resp.get("ok"), bool), f"response without ok: {line[:300]!r}"
            if resp["id"] is None:
                self.anonymous.append(resp)
            else:
                k = self._key(resp["id"])
                assert k not in self.responses, f"two responses for id {resp['id']!r}"
                self.responses[k] = resp
        return self.responses.pop(key)

    def call(self, action, timeout=None, **params):
        """The raw response (ok or not)."""
        return self.recv(self.send(action, **params), timeout=timeout)

    def ok(self, action, timeout=None, **params):
        """The response of a request that must succeed."""
        resp = self.call(action, timeout=timeout, **params)
        if not resp["ok"]:
            raise ApiError(f"{action} {_short(params)} failed: {resp.get('error')}")
        return resp

    def err(self, action, expected_type, timeout=None, **params):
        """The error of a request that must fail with expected_type."""
        resp = self.call(action, timeout=timeout, **params)
        assert resp["ok"] is False, f"{action} {_short(params)} succeeded, expected {expected_type}: {_short(resp)}"
        error = resp.get("error")
        assert isinstance(error, dict) and isinstance(error.get("message"), str), f"bad error object: {resp}"
        assert error.get("type") == expected_type, (
            f"{action} {_short(params)}: error {error.get('type')} ({error.get('message')}), expected {expected_type}")
        return error

    def invoke(self, name, payload=None, timeout=None, **params):
        """A successful Invoke's result (the function may still have failed)."""
        if payload is not None:
            params["Payload"] = payload
        return self.ok("Invoke", timeout=timeout, FunctionName=name, **params)


def _short(obj, n=400):
    s = json.dumps(obj) if not isinstance(obj, str) else obj
    return s if len(s) <= n else s[:n] + "…"


# ---------------------------------------------------------------- the daemon


class Daemon:
    """One laminad process with its own state dir, socket and cgroup parent."""

    def __init__(self, workdir, tag, config=None, state_dir=None, args=(), wrapper=()):
        self.workdir = Path(workdir)
        self.args = list(args)         # more laminad flags
        self.wrapper = list(wrapper)   # a command that execs laminad (its argv follows)
        self.tag = tag
        self.state_dir = Path(state_dir) if state_dir else self.workdir / f"state-{tag}"
        self.socket = self.workdir / f"{tag}.sock"
        self.cgroup_parent = f"lamina-test-{os.getpid()}-{tag}"
        self.config = dict(config or {})
        self.config_path = self.workdir / f"{tag}.config.json"
        self.log_path = self.workdir / f"{tag}.laminad.log"
        self.proc = None
        self.seen = {}             # instance processes observed in its cgroups: pid -> start time
        self.killed = False        # stopped with SIGKILL on purpose
        self.term_sent = False     # SIGTERM sent (by terminate() or stop())

    # -- lifecycle

    def start(self, log_level="debug"):
        self.config_path.write_text(json.dumps(self.config))
        self.killed = self.term_sent = False
        with open(self.log_path, "ab") as log:
            log.write(f"---- start {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.wrapper +
                [str(LAMINAD), "--state-dir", str(self.state_dir), "--socket", str(self.socket),
                 "--cgroup-parent", self.cgroup_parent, "--config", str(self.config_path),
                 "--log-level", log_level] + self.args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        ok = wait_for(lambda: self.proc.poll() is not None or "ready: socket" in self._log_since_start(),
                      READY_TIMEOUT_S)
        if self.proc.poll() is not None or not ok or "ready: socket" not in self._log_since_start():
            rc = self.proc.poll()
            if rc is None:
                self.proc.kill()
                self.proc.wait()
            self.cleanup_leftovers()
            raise AssertionError(f"laminad did not become ready (exit {rc}):\n{self.log_tail()}")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _log_since_start(self):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text.rsplit("---- start", 1)[-1]

    def log_tail(self, n=40):
        return "\n".join(self._log_since_start().splitlines()[-n:])

    def client(self, timeout=CALL_TIMEOUT_S):
        return Client(self.socket, timeout=timeout)

    # -- inspection

    def cgroup_dirs(self, pid_prefix=None):
        """Instance cgroups (sbx-*) under the parent in each hierarchy."""
        found = []
        for h in cgroup_hierarchies():
            p = h / self.cgroup_parent
            try:
                for c in p.iterdir():
                    if c.is_dir() and c.name.startswith("sbx-") and (
                            pid_prefix is None or c.name.startswith(f"sbx-{pid_prefix}-")):
                        found.append(c)
            except OSError:
                pass
        return found

    def instance_pids(self):
        """Every process in one of its instance cgroups (remembered for the stop check)."""
        pids = set()
        for c in self.cgroup_dirs():
            pids.update(read_int_list(c / "cgroup.procs"))
        self._remember(pids)
        return pids

    def _remember(self, pids):
        for p in pids:
            if p not in self.seen:
                st = proc_start_time(p)
                if st is not None:
                    self.seen[p] = st

    def seen_pids(self):
        """Processes seen in its cgroups that still exist (the same processes, not reused
        pids)."""
        return {p for p, st in self.seen.items() if proc_start_time(p) == st}

    def live_instances(self):
        """Names of its instance cgroups that hold a process (an emptied cgroup may be kept
        for reuse, so counting directories alone is not counting instances)."""
        live = set()
        for c in self.cgroup_dirs():
            if read_int_list(c / "cgroup.procs"):
                live.add(c.name)
                self._remember(read_int_list(c / "cgroup.procs"))
        return live

    def instances_of_uid(self, uid):
        """Host pids of processes in its cgroups running as uid."""
        return {p for p in self.instance_pids() if proc_uid(p) == uid}

    def stray_processes(self):
        """Processes of function uids that still belong to this daemon's cgroups or that
        were seen in them."""
        stray = set()
        seen = self.seen_pids()
        for pid in all_pids():
            uid = proc_uid(pid)
            if uid is None or not FIRST_UID <= uid < FIRST_UID + UID_SPAN:
                continue
            if pid in seen or f"/{self.cgroup_parent}/" in proc_cgroups(pid):
                if pid_alive(pid):
                    stray.add(pid)
        return stray

    def rss_kb(self):
        return rss_kb(self.pid)

    def check_serving(self):
        assert self.alive(), f"laminad exited with {self.proc.poll()}:\n{self.log_tail()}"
        with self.client(timeout=10) as c:
            resp = c.call("ListFunctions")
        assert resp["ok"], f"ListFunctions failed: {resp}"

    # -- stopping

    def kill9(self):
        """SIGKILL, on purpose (the durability test)."""
        self.instance_pids()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.killed = True

    def terminate(self):
        """Sends SIGTERM (stop() then waits for the end and checks it)."""
        self.instance_pids()
        self.proc.send_signal(signal.SIGTERM)
        self.term_sent = True

    def stop(self):
        """SIGTERM and the checks of a clean stop. Returns a list of problems (empty if
        clean); whatever was left is cleaned up either way."""
        problems = []
        if self.proc is None:
            return problems
        if not self.killed and (self.alive() or self.term_sent):
            if not self.term_sent:
                self.terminate()
            try:
                rc = self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(10)
                problems.append(f"laminad (pid {self.pid}) did not stop within {STOP_TIMEOUT_S}s of "
                                "SIGTERM: killed it with SIGKILL")
                rc = None
            if rc is not None and rc != 0:
                problems.append(f"laminad exited {rc} after SIGTERM")
            if rc is not None and self.socket.exists():
                problems.append(f"laminad left its socket {self.socket}")
        elif not self.killed:
            problems.append(f"laminad had already exited with {self.proc.poll()} before the stop")
        if not self.killed:
            left = wait_for(lambda: not self.cgroup_dirs() and not self.stray_processes(), 5)
            if not left:
                if self.cgroup_dirs():
                    problems.append("instance cgroups left: " + ", ".join(sorted(map(str, self.cgroup_dirs()))))
                if self.stray_processes():
                    problems.append(f"function processes left: {sorted(self.stray_processes())}")
        problems += self.cleanup_leftovers()
        if problems:
            problems.append("laminad log:\n" + self.log_tail())
        return problems

    def cleanup_leftovers(self):
        """Kills (by pid) what its instances left, removes its cgroups and the parent."""
        problems = []
        for pid in self.stray_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for c in self.cgroup_dirs():
            for pid in read_int_list(c / "cgroup.procs"):
                if proc_uid(pid) is not None and FIRST_UID <= proc_uid(pid) < FIRST_UID + UID_SPAN:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        for h in cgroup_hierarchies():
            parent = h / self.cgroup_parent
            if not parent.is_dir():
                continue
            for c in sorted(parent.glob("**/"), key=lambda p: -len(p.parts)):
                if c == parent:
                    continue
                wait_for(lambda: _rmdir(c), 3)
            if not wait_for(lambda: _rmdir(parent), 3):
                problems.append(f"cannot remove cgroup {parent}")
        return problems


def _rmdir(path):
    try:
        path.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


class DaemonRegistry:
    """Every daemon the session started, so the per-test check knows what to look at."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.running = []
        self.n = itertools.count(1)

    def start(self, tag=None, config=None, state_dir=None, **kw):
        d = Daemon(self.workdir, tag or f"d{next(self.n)}", config, state_dir, **kw)
        self.running.append(d)
        d.start()
        return d

    def stop(self, d):
        problems = d.stop()
        if d in self.running:
            self.running.remove(d)
        return problems

    def forget(self, d):
        """A killed daemon whose state and cgroups a new one (same tag) took over."""
        assert d.killed
        if d in self.running:
            self.running.remove(d)


# ---------------------------------------------------------------- functions


def make_code_dir(root, files):
    """Writes {relative path: text or bytes or (text, mode)} under a new dir in root,
    readable by everyone; returns the directory (absolute)."""
    d = Path(tempfile.mkdtemp(prefix="fn-", dir=root))
    for rel, content in files.items():
        mode = 0o644
        if isinstance(content, tuple):
            content, mode = content
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = textwrap.dedent(content).lstrip("\n")
            p.write_text(content)
        else:
            p.write_bytes(content)
        os.chmod(p, mode)
    for dirpath, dirnames, _ in os.walk(d):
        os.chmod(dirpath, 0o755)
    return d


def copy_example(root, name):
    """A copy of images/examples/<name> (without caches), readable by everyone."""
    d = Path(tempfile.mkdtemp(prefix=f"ex-{name}-", dir=root))
    shutil.copytree(EXAMPLES / name, d, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for dirpath, dirnames, filenames in os.walk(d):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            p = os.path.join(dirpath, f)
            os.chmod(p, 0o755 if os.access(p, os.X_OK) else 0o644)
    return d


class FunctionFactory:
    """Writes code dirs and creates functions with unique names on a daemon."""

    def __init__(self, root, daemon):
        self.root = root
        self.daemon = daemon

    def name(self, prefix="fn"):
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def code(self, files):
        return make_code_dir(self.root, files)

    def create(self, files=None, runtime="python3.11", handler="app.handler", name=None,
               memory=128, timeout=2, code_dir=None, client=None, **extra):
        name = name or self.name()
        code_dir = code_dir or self.code(files)
        params = dict(FunctionName=name, Runtime=runtime, Handler=handler, MemorySize=memory,
                      Timeout=timeout, Code={"Directory": str(code_dir)})
        params.update(extra)
        if client is not None:
            client.ok("CreateFunction", **params)
        else:
            with self.daemon.client() as c:
                c.ok("CreateFunction", **params)
        return name

    def python(self, source, **kw):
        return self.create({"app.py": source}, runtime="python3.11", handler="app.handler", **kw)

    def node(self, source, filename="index.js", **kw):
        return self.create({filename: source}, runtime="nodejs20.x",
                           handler=filename.split(".")[0] + ".handler", **kw)

    def provided(self, bootstrap_sh, **kw):
        return self.create({"bootstrap": (bootstrap_sh, 0o755)}, runtime="provided",
                           handler="bootstrap.handler", **kw)


# ---------------------------------------------------------------- helpers for tests


def run_threads(n, fn):
    """Runs fn(i) for i in range(n) at once (each in its own thread); returns results in
    order, re-raising the first exception."""
    results = [None] * n
    errors = [None] * n
    barrier = threading.Barrier(n)

    def body(i):
        try:
            barrier.wait(10)
            results[i] = fn(i)
        except BaseException as e:  # noqa: B902 - re-raised below
            errors[i] = e

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for e in errors:
        if e is not None:
            raise e
    return results


def get_logs(daemon, name, request_id=None, want=None, timeout=5):
    """The function's log events (for one request id if given), waiting until want(events)
    holds."""
    def fetch():
        with daemon.client() as c:
            params = {"FunctionName": name, "Limit": 10000}
            if request_id:
                params["RequestId"] = request_id
            events, token = [], None
            for _ in range(100):
                if token:
                    params["NextToken"] = token
                r = c.ok("GetLogs", **params)
                events += r["Events"]
                if not r["Events"] or r.get("NextToken") in (None, token):
                    break
                token = r["NextToken"]
            return events
    events = fetch()
    if want is None:
        return events
    deadline = time.monotonic() + timeout
    while not want(events) and time.monotonic() < deadline:
        time.sleep(0.1)
        events = fetch()
    return events
