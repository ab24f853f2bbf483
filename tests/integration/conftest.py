# SPDX-License-Identifier: MIT
"""Fixtures for the integration tests: they drive the real `lamina-run` binary and put the
multi-call `probe` (tests/probe/probe.c) in the sandbox's code directory to do the attacking.

After every test, pass or fail, `_nothing_left_behind` checks that the test leaked nothing:
no sandbox cgroup, no `lamina` parent cgroup it did not find, no mount of its temp dirs, no
process it started (those still running are killed by pid, and the test fails).

Build first: `make build/bin/lamina-run build/tests/probe`; `LAMINA_BUILD` names another
build directory (default `<repo>/build`).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("LAMINA_BUILD", REPO / "build"))
LAMINA_RUN = BUILD / "bin" / "lamina-run"
PROBE = BUILD / "tests" / "probe"
CGROUP_ROOT = Path("/sys/fs/cgroup")
DEFAULT_PARENT = "lamina"
# A run that takes longer than this is a hang, not a slow test.
RUN_TIMEOUT_S = 60


def cgroup_hierarchies():
    """Where lamina-run makes its cgroups: the v1 controllers and the unified tree of a
    hybrid host, or the root of a pure v2 host."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT]
    return [CGROUP_ROOT / d for d in ("memory", "pids", "cpu", "unified") if (CGROUP_ROOT / d).is_dir()]


def sbx_dirs(parent=DEFAULT_PARENT):
    """Every sandbox cgroup under the parent, as paths."""
    found = set()
    for h in cgroup_hierarchies():
        p = h / parent
        if p.is_dir():
            found.update(c for c in p.iterdir() if c.is_dir() and c.name.startswith("sbx-"))
    return found


def sbx_owner(path):
    """lamina-run names a leaf sbx-<its pid>-<n>."""
    m = re.match(r"sbx-(\d+)-\d+$", path.name)
    return int(m.group(1)) if m else None


def pid_alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def host_processes():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def paths_held_open():
    """Every path some live process has an fd on (a runtime keeps one on its cgroup parent)."""
    held = set()
    for pid in host_processes():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                held.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
    return held


def processes_running(files):
    """Host pids of live processes executing one of files, given as (st_dev, st_ino)."""
    found = []
    for pid in host_processes():
        try:
            st = os.stat(f"/proc/{pid}/exe")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in files and pid_alive(pid):
            found.append(pid)
    return found


def parse_kv(line):
    """'x: a=1 b=2' -> {'a': '1', 'b': '2'}"""
    body = line.split(":", 1)[1] if ":" in line else line
    out = {}
    for tok in body.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


@dataclass(repr=False)
class Result:
    args: list
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float
    info: dict = None          # the --json line, parsed

    @property
    def lines(self):
        return self.stdout.splitlines()

    @property
    def messages(self):
        """stderr without the --json line."""
        return "\n".join(l for l in self.stderr.splitlines() if not l.startswith("{"))

    def line(self, prefix):
        """The one stdout line starting with prefix."""
        found = [l for l in self.lines if l.startswith(prefix)]
        assert len(found) == 1, f"expected one line starting {prefix!r} in output of {self.args}:\n{self}"
        return found[0]

    def __repr__(self):
        return f"<Result exit {self.returncode} of {' '.join(map(str, self.args[-3:]))}>"

    def __str__(self):
        """What a failed assertion shows (pass str(r) as its message)."""
        return (f"$ {' '.join(map(str, self.args))}\nexit {self.returncode} after {self.elapsed_s:.2f}s\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}")


@dataclass
class Tracker:
    """What a test started and made, so that the teardown can tell what it left behind."""
    procs: list = field(default_factory=list)
    temp_dirs: list = field(default_factory=list)
    temp_files: list = field(default_factory=list)   # (dev, ino) of executables placed in temp dirs

    def popen(self, args, **kw):
        p = subprocess.Popen([str(a) for a in args], **kw)
        self.procs.append(p)
        return p

    def mkdtemp(self, prefix):
        d = Path(tempfile.mkdtemp(prefix=f"lamina-it-{prefix}-"))
        # The sandbox runs as an unprivileged id: it must be able to enter the code dir.
        d.chmod(0o755)
        self.temp_dirs.append(d)
        return d

    def place(self, src, directory, name=None, mode=0o755):
        dst = Path(directory) / (name or Path(src).name)
        shutil.copyfile(src, dst)
        dst.chmod(mode)
        st = dst.stat()
        self.temp_files.append((st.st_dev, st.st_ino))
        return dst

    def lamina_pids(self):
        return {p.pid for p in self.procs}


class Lamina:
    """Runs lamina-run the way a user would, recording what it starts."""

    def __init__(self, tracker, code_dir):
        self.tracker = tracker
        self.code_dir = code_dir

    def start(self, cmd, *flags, code="default", json_out=True, env=None, pass_fds=(), **kw):
        args = [LAMINA_RUN]
        if code == "default":
            code = self.code_dir
        if code is not None:
            args += ["--code", code]
        if json_out:
            args.append("--json")
        args += [str(f) for f in flags]
        args += ["--", *[str(c) for c in cmd]]
        if env is None:
            env = {"PATH": "/usr/bin:/bin"}
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        return self.tracker.popen(args, stderr=subprocess.PIPE, text=True, env=env,
                                  pass_fds=pass_fds, **kw)

    def run(self, cmd, *flags, timeout=RUN_TIMEOUT_S, input=None, **kw):
        t0 = time.monotonic()
        if input is not None:
            kw["stdin"] = subprocess.PIPE
        p = self.start(cmd, *flags, **kw)
        return finish(p, t0, timeout, input)

    def probe(self, *probe_args, flags=(), **kw):
        return self.run(["/var/task/probe", *probe_args], *flags, **kw)


def finish(p, t0, timeout=RUN_TIMEOUT_S, input=None):
    hung = False
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
    if hung:
        # A stop request lets lamina-run kill the sandbox and clean up.
        p.send_signal(signal.SIGTERM)
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        pytest.fail(f"still running after {timeout}s, stopped with SIGTERM: "
                    f"{' '.join(map(str, p.args))}\n--- stdout\n{out}--- stderr\n{err}", pytrace=False)
    res = Result(p.args, p.returncode, out or "", err, time.monotonic() - t0)
    json_lines = [l for l in err.splitlines() if l.startswith("{")]
    if json_lines:
        res.info = json.loads(json_lines[-1])
    return res


@pytest.fixture(scope="session", autouse=True)
def _prerequisites():
    if os.geteuid() != 0:
        pytest.skip("lamina-run needs root (namespaces, mounts, cgroups)")
    for path in (LAMINA_RUN, PROBE):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: run `make {path.relative_to(REPO) if path.is_relative_to(REPO) else path}`",
                        pytrace=False)


@pytest.fixture
def tracker():
    return Tracker()


@pytest.fixture(autouse=True)
def _nothing_left_behind(tracker):
    parents_before = {h: (h / DEFAULT_PARENT).is_dir() for h in cgroup_hierarchies()}
    yield
    problems = []

    # 1. Processes the test started (lamina-run, host helpers) must have ended.
    for p in tracker.procs:
        if p.poll() is None:
            problems.append(f"process {p.pid} ({' '.join(map(str, p.args))}) still running")
            p.kill()
            p.wait()

    # 2. Nothing may run from a sandbox of this test: no task in one of its cgroups,
    #    no process executing a file the test placed.
    ours = tracker.lamina_pids()
    leaf = re.compile(r"/sbx-(\d+)-\d+$")
    for pid in host_processes():
        if pid == os.getpid():
            continue
        why = None
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                for line in f:
                    m = leaf.search(line.strip())
                    if m and int(m.group(1)) in ours:
                        why = f"in cgroup {line.strip()}"
            st = os.stat(f"/proc/{pid}/exe")
            if (st.st_dev, st.st_ino) in tracker.temp_files:
                why = why or "runs a file the test placed"
        except OSError:
            continue
        if why and pid_alive(pid):
            problems.append(f"process {pid} left running ({why}); killed")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # 3. No sandbox cgroup of this test; no parent cgroup that appeared during the test
    #    and that no other runtime (a laminad, someone else's lamina-run) holds open.
    for d in sbx_dirs():
        if sbx_owner(d) in ours:
            problems.append(f"cgroup {d} left behind")
    appeared = [h / DEFAULT_PARENT for h, existed in parents_before.items()
                if not existed and (h / DEFAULT_PARENT).is_dir()]
    if appeared:
        held = paths_held_open()
        problems += [f"parent cgroup {p} left behind" for p in appeared if str(p) not in held]

    # 4. No mount on the host that mentions the test's temp dirs.
    for mounts in ("/proc/self/mountinfo", "/proc/1/mountinfo"):
        try:
            text = Path(mounts).read_text()
        except OSError:
            continue
        for d in tracker.temp_dirs:
            for line in text.splitlines():
                if str(d) in line:
                    problems.append(f"mount left behind ({mounts}): {line}")

    for d in tracker.temp_dirs:
        shutil.rmtree(d, ignore_errors=True)
    assert not problems, "the test left things behind:\n  " + "\n  ".join(problems)


@pytest.fixture
def code_dir(tracker):
    """A code dir (bound at /var/task) holding a copy of the probe."""
    d = tracker.mkdtemp("code")
    tracker.place(PROBE, d, "probe")
    return d


@pytest.fixture
def lamina(tracker, code_dir):
    return Lamina(tracker, code_dir)


@pytest.fixture(scope="session")
def host_id_in_use():
    """Whether a uid/gid belongs to a host account or group."""
    import grp
    import pwd

    def in_use(uid=None, gid=None):
        if uid is not None:
            try:
                pwd.getpwuid(uid)
                return True
            except KeyError:
                pass
        if gid is not None:
            try:
                grp.getgrgid(gid)
                return True
            except KeyError:
                pass
        return False
    return in_use
