# SPDX-License-Identifier: MIT
"""lamina top: plain frames when stdout is not a terminal; on a pseudo-terminal, a live
view on the alternate screen that quits on q, fits the window, and always gives the
terminal back as it found it (q, SIGINT, SIGTERM, the daemon going away)."""
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time

import pytest

from fakedaemon import LAMINA, Always, Hangup, err, ok, run_lamina

ENTER = b"\x1b[?1049h"
LEAVE = b"\x1b[?1049l"
ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def function(name, version="$LATEST", rate=1.0, **over):
    f = {"FunctionName": name, "Version": version, "Invocations": 100,
         "InvocationsPerSecond": rate, "Concurrency": 2, "WarmInstances": 4,
         "BusyInstances": 2, "DurationP50Ms": 0.21, "DurationP99Ms": 1.234,
         "MaxMemoryUsedMB": 9.4, "Errors": 1, "Throttles": 0, "ColdStarts": 3}
    f.update(over)
    return f


def snapshot(functions=None, **host):
    h = {"Cpus": 2, "CpuPercent": 12.34, "MemTotalMB": 7890, "MemAvailableMB": 6000,
         "Instances": 10, "BusyInstances": 3, "Metering": "bpf"}
    h.update(host)
    if functions is None:
        functions = [function("hello", rate=12.5),
                     function("image-resizer", "3", rate=120.5, Concurrency=12,
                              WarmInstances=14, BusyInstances=12, DurationP50Ms=45.2,
                              DurationP99Ms=1500, MaxMemoryUsedMB=300, Errors=0,
                              Throttles=7, ColdStarts=14)]
    return {"UptimeSeconds": 3723.4, "Host": h, "Functions": functions}


# Plain frames -----------------------------------------------------------------------

def test_top_without_a_terminal_prints_plain_frames_sorted_by_rate(daemon):
    daemon.answer(Always(ok(**snapshot())))
    r = daemon.run("top", "--iterations", "2", "--interval", "0.1")
    assert r.returncode == 0, r.err
    assert b"\x1b" not in r.stdout
    assert daemon.calls() == [{"action": "GetMetrics"}] * 2
    # Each frame ends with a blank line.
    frames = re.split(r"(?<=\n\n)(?=lamina top )", r.out)
    assert len(frames) == 2
    for frame in frames:
        assert frame.endswith("3\n\n")
        lines = frame[:-2].split("\n")
        assert re.fullmatch(r"lamina top  \d\d:\d\d:\d\d UTC  up 01:02:03  every 0.1s",
                            lines[0])
        assert lines[1:] == [
            "Host  CPU 12.3% of 2  Memory 1890/7890 MB used  Instances 3/10 busy  "
            "Metering bpf",
            "",
            "FUNCTION       VERSION  INV/S  CONC  WARM  BUSY  P50 MS  P99 MS  MAX MB  ERRORS"
            "  THROTTLES  COLD",
            "image-resizer  3        120.5    12    14    12    45.2    1500   300.0       0"
            "          7    14",
            "hello          $LATEST   12.5     2     4     2    0.21    1.23     9.4       1"
            "          0     3",
        ]


def test_top_frames_come_every_interval(daemon):
    daemon.answer(Always(ok(**snapshot())))
    start = time.monotonic()
    r = daemon.run("top", "--iterations", "4", "--interval", "0.25")
    took = time.monotonic() - start
    assert r.returncode == 0, r.err
    assert r.out.count("FUNCTION") == 4
    assert 0.7 <= took < 3


def test_top_shows_missing_figures_as_dashes_and_approximate_metering(daemon):
    daemon.answer(Always(ok(**snapshot(
        functions=[{"FunctionName": "new", "Version": "1"}],
        Metering="cgroup", CpuPercent=None))))
    r = daemon.run("top", "--iterations", "1")
    assert r.returncode == 0, r.err
    lines = r.out.splitlines()
    assert "CPU -" in lines[1]
    assert lines[1].endswith("Metering cgroup (approximate)")
    assert lines[4].split() == ["new", "1"] + ["-"] * 10


def test_top_never_prints_control_characters_it_was_sent(daemon):
    daemon.answer(Always(ok(**snapshot(functions=[function("evil\x1b[2J\u00e9")],
                                       Metering="bpf\x07"))))
    r = daemon.run("top", "--iterations", "1")
    assert r.returncode == 0, r.err
    assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout
    assert "Metering bpf?" in r.out
    assert "evil?[2J??" in r.out


def test_top_with_no_functions_says_so(daemon):
    daemon.answer(Always(ok(**snapshot(functions=[]))))
    r = daemon.run("top", "--iterations", "1")
    assert r.returncode == 0, r.err
    assert r.out.splitlines()[4] == "(no functions)"


def test_top_ties_sort_by_name_then_version(daemon):
    daemon.answer(Always(ok(**snapshot(functions=[
        function("b", "2", rate=0), function("a", "2", rate=0), function("b", "1", rate=0),
        function("z", rate=0.5)]))))
    r = daemon.run("top", "--iterations", "1")
    rows = [line.split()[:2] for line in r.out.splitlines()[4:] if line]
    assert rows == [["z", "$LATEST"], ["a", "2"], ["b", "1"], ["b", "2"]]


def test_top_json_prints_one_snapshot_per_line(daemon):
    snap = snapshot()
    daemon.answer(Always(ok(**snap)))
    r = daemon.run("top", "--json", "--iterations", "3", "--interval", "0.1")
    assert r.returncode == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 3
    assert all(json.loads(line) == snap for line in lines)


@pytest.mark.parametrize("args,message", [
    (["--interval", "0.05"], "--interval: invalid value '0.05' (0.1 to 86400 seconds)"),
    (["--interval", "0"], "--interval: invalid value '0'"),
    (["--interval", "fast"], "--interval: invalid value 'fast' (expected seconds)"),
    (["--interval", "nan"], "--interval: invalid value 'nan'"),
    (["--iterations", "0"], "--iterations: invalid value '0' (at least 1)"),
    (["--iterations", "x"], "--iterations: invalid value 'x'"),
    (["now"], "unexpected argument 'now'"),
])
def test_top_rejects_bad_arguments(daemon, args, message):
    r = daemon.run("top", *args)
    assert r.returncode == 2
    assert message in r.err
    assert daemon.requests == []


def test_top_without_a_daemon_exits_4(workdir):
    r = run_lamina("--socket", f"{workdir}/none.sock", "top", "--iterations", "1")
    assert r.returncode == 4
    assert "cannot connect to laminad" in r.err


def test_top_refused_exits_3(daemon):
    daemon.answer(err("ServiceException", "metrics unavailable"))
    r = daemon.run("top")
    assert r.returncode == 3
    assert r.err == "lamina: ServiceException: metrics unavailable\n"


def test_top_exits_4_when_the_daemon_goes_away_between_frames(daemon):
    daemon.answer(ok(**snapshot()), Hangup())
    r = daemon.run("top", "--interval", "0.1")
    assert r.returncode == 4
    assert r.out.count("FUNCTION") == 1
    assert "laminad at" in r.err


# On a terminal ------------------------------------------------------------------------

class Terminal:
    """lamina top on a pseudo-terminal that is its controlling terminal, as in a shell."""

    def __init__(self, daemon, *args, cols=120, rows=30):
        self.master, self.slave = os.openpty()
        self.resize(cols, rows)
        self.modes = termios.tcgetattr(self.slave)
        self.output = b""
        self._lock = threading.Lock()
        self._stop = False
        self.proc = subprocess.Popen(
            [LAMINA, "--socket", daemon.path, "top", *args],
            stdin=self.slave, stdout=self.slave, stderr=self.slave, close_fds=True,
            preexec_fn=self._controlling_terminal)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @staticmethod
    def _controlling_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def resize(self, cols, rows):
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def _read(self):
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            with self._lock:
                self.output += data

    def text(self):
        with self._lock:
            return self.output

    def wait_for(self, pattern, timeout=5, start=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pattern in self.text()[start:]:
                return
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} on the terminal: {self.text()!r}")

    def type(self, keys):
        os.write(self.master, keys)

    def wait(self, timeout=5):
        rc = self.proc.wait(timeout=timeout)
        time.sleep(0.1)     # the last bytes through the reader
        return rc

    def restored(self):
        return termios.tcgetattr(self.slave) == self.modes

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stop = True
        self._reader.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal(daemon):
    terminals = []

    def start(*args, **kw):
        t = Terminal(daemon, *args, **kw)
        terminals.append(t)
        return t

    yield start
    for t in terminals:
        t.close()


def screen_lines(frame):
    """The visible lines of one frame: escape sequences out, split at the line breaks."""
    return [line.rstrip("\r") for line in ESCAPE.sub(b"", frame).decode().split("\n")]


def last_frame(output):
    """From the last home-cursor sequence to the end."""
    return output[output.rindex(b"\x1b[H"):]


def test_top_on_a_terminal_draws_on_the_alternate_screen_and_quits_on_q(daemon, terminal):
    daemon.answer(Always(ok(**snapshot())))
    t = terminal("--interval", "0.2")
    t.wait_for(b"image-resizer")
    out = t.text()
    assert out.startswith(ENTER)
    assert b"\x1b[?25l" in out      # cursor hidden
    assert not t.restored()         # cbreak: no echo, no line editing
    lines = screen_lines(last_frame(out))
    assert "(q to quit)" in lines[0]
    assert lines[3].startswith("FUNCTION       VERSION  INV/S")
    assert lines[4].startswith("image-resizer  3        120.5")
    # Frames keep coming.
    t.wait_for(b"image-resizer", start=len(out))

    typed = time.monotonic()
    t.type(b"q")
    assert t.wait() == 0
    assert time.monotonic() - typed < 1
    assert t.restored()
    assert t.text().endswith(b"\x1b[?25h" + LEAVE)


def test_top_on_a_terminal_ignores_other_keys_and_does_not_echo_them(daemon, terminal):
    daemon.answer(Always(ok(**snapshot())))
    t = terminal("--interval", "5")
    t.wait_for(b"image-resizer")
    n = len(daemon.requests)
    t.type(b"xyz")
    time.sleep(0.3)
    assert t.proc.poll() is None
    assert b"xyz" not in t.text()
    t.type(b" ")                    # space: a new frame now
    deadline = time.monotonic() + 2
    while len(daemon.requests) == n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(daemon.requests) == n + 1
    t.type(b"Q")
    assert t.wait() == 0
    assert t.restored()


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "ctrl-c"])
def test_top_on_a_terminal_restores_it_when_interrupted(daemon, terminal, how):
    daemon.answer(Always(ok(**snapshot())))
    t = terminal()
    t.wait_for(b"image-resizer")
    if how == "ctrl-c":
        t.type(b"\x03")
        sig = signal.SIGINT
    else:
        sig = getattr(signal, how)
        t.proc.send_signal(sig)
    assert t.wait() == -sig
    assert t.restored()
    assert t.text().endswith(LEAVE)


def test_top_on_a_terminal_exits_4_with_the_terminal_restored_when_the_daemon_dies(
        daemon, terminal):
    daemon.answer(Always(ok(**snapshot())))
    t = terminal("--interval", "0.2")
    t.wait_for(b"image-resizer")
    daemon.close()
    assert t.wait() == 4
    assert t.restored()
    out = t.text()
    # The error comes after the normal screen is back, so that it stays visible.
    after = out[out.rindex(LEAVE) + len(LEAVE):].decode()
    assert re.fullmatch(r"lamina: laminad at \S+ closed the connection\r\n", after) or \
        re.fullmatch(r"lamina: lost connection to laminad at \S+: .*\r\n", after), after


def test_top_on_a_terminal_fits_the_window_and_redraws_when_it_changes(daemon, terminal):
    functions = [function(f"function-with-a-long-name-{i:02}", rate=i) for i in range(20)]
    daemon.answer(Always(ok(**snapshot(functions=functions))))
    t = terminal("--interval", "30", cols=40, rows=10)
    t.wait_for(b"function-with")
    time.sleep(0.2)
    lines = screen_lines(last_frame(t.text()))
    assert len(lines) == 10
    assert all(len(line) <= 40 for line in lines)
    assert lines[3] == "FUNCTION                      VERSION  I"
    assert lines[4].startswith("function-with-a-long-name-19")
    assert lines[9] == "... and 15 more"
    n = len(daemon.requests)

    # The kernel sends SIGWINCH; the last snapshot is drawn again at the new size at once.
    mark = len(t.text())
    t.resize(200, 14)
    t.wait_for(b"... and 11 more", timeout=2, start=mark)
    lines = screen_lines(last_frame(t.text()))
    assert len(lines) == 14
    assert lines[4].endswith(" 3")
    assert len(daemon.requests) == n
    t.type(b"q")
    assert t.wait() == 0
    assert t.restored()


def test_top_on_a_terminal_with_iterations_leaves_the_last_frame_on_the_normal_screen(
        daemon, terminal):
    daemon.answer(Always(ok(**snapshot())))
    t = terminal("--iterations", "2", "--interval", "0.1")
    assert t.wait() == 0
    assert t.restored()
    assert len(daemon.requests) == 2
    out = t.text()
    after = out[out.rindex(LEAVE) + len(LEAVE):]
    assert b"\x1b" not in after
    lines = after.decode().replace("\r\n", "\n").split("\n")
    assert lines[0].startswith("lamina top ") and "(q to quit)" not in lines[0]
    assert lines[4].startswith("image-resizer  3        120.5")


def test_top_on_a_terminal_gives_it_back_while_stopped(daemon, terminal):
    daemon.answer(Always(ok(**snapshot())))
    t = terminal("--interval", "0.2")
    t.wait_for(b"image-resizer")
    mark = len(t.text())
    t.proc.send_signal(signal.SIGTSTP)
    t.wait_for(LEAVE, start=mark)
    # A session leader's group is orphaned, so the kernel does not actually stop it:
    # top takes the terminal back at once, as it would after fg.
    t.proc.send_signal(signal.SIGCONT)
    t.wait_for(ENTER, start=mark)
    t.wait_for(b"image-resizer", start=t.text().rindex(ENTER))
    t.type(b"q")
    assert t.wait() == 0
    assert t.restored()


def test_top_on_a_terminal_without_a_daemon_says_so_plainly(workdir):
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        p = subprocess.run([LAMINA, "--socket", f"{workdir}/none.sock", "top"],
                           stdin=slave, stdout=slave, stderr=slave, timeout=10)
        assert p.returncode == 4
        assert termios.tcgetattr(slave) == before
        out = os.read(master, 65536)
        assert b"\x1b" not in out
        assert b"cannot connect to laminad" in out
    finally:
        os.close(master)
        os.close(slave)
