# SPDX-License-Identifier: MIT
"""Resource limits: what a sandbox may use, how it ends when it uses more, and what
lamina-run reports. The autouse fixture checks that each run leaves nothing behind."""
import os
import select
import signal
import subprocess
import time

import pytest

from conftest import CGROUP_ROOT, cgroup_hierarchies, finish, parse_kv, processes_running

MiB = 1 << 20


# ---- memory ----

def test_program_within_its_memory_runs(lamina):
    r = lamina.probe("memhog", 16, flags=("--memory", "64"))
    assert r.returncode == 0, str(r)
    assert r.line("memhog:") == "memhog: touched 16 MiB", str(r)
    assert r.info["reason"] == "exit" and r.info["oom_kills"] == 0, str(r)
    assert 16 * MiB <= r.info["peak_memory_bytes"] <= 64 * MiB, str(r)


def test_program_past_its_memory_is_oom_killed(lamina):
    r = lamina.probe("memhog", 64, flags=("--memory", "32"))
    assert r.returncode == 137, str(r)
    assert "memhog: touched" not in r.stdout, str(r)
    assert r.info["reason"] == "oom", str(r)
    assert r.info["signal"] == 9 and r.info["exit_code"] is None, str(r)
    assert r.info["oom_kills"] >= 1, str(r)
    assert r.info["peak_memory_bytes"] <= 32 * MiB, str(r)


def test_oom_kill_of_a_child_process_is_reported(lamina):
    r = lamina.run(["/bin/sh", "-c", "/var/task/probe memhog 64; echo status=$?"], "--memory", "32")
    assert r.returncode == 0, str(r)
    assert r.line("status=") == "status=137", str(r)
    assert r.info["oom_kills"] >= 1, str(r)


# ---- processes ----

def test_fork_bomb_stops_at_the_pids_limit(lamina):
    r = lamina.probe("forkbomb", flags=("--pids", "32"))
    assert r.returncode == 0, str(r)
    bomb = r.line("forkbomb: forked")
    forked = int(bomb.split()[2])
    assert 16 <= forked <= 31 and bomb.endswith("errno=EAGAIN"), str(r)   # 32 with the probe itself
    assert r.line("forkbomb: reaped") == f"forkbomb: reaped {forked}", str(r)
    # The host and later sandboxes are unaffected.
    assert subprocess.run(["true"], timeout=10).returncode == 0
    r = lamina.probe("pid")
    assert r.returncode == 0 and r.line("pid:") == "pid: pid=1 ppid=0", str(r)


def test_default_pids_limit_is_1024(lamina):
    r = lamina.probe("forkbomb", flags=("--memory", "512"))
    assert r.returncode == 0, str(r)
    forked = int(r.line("forkbomb: forked").split()[2])
    assert 1000 <= forked <= 1023, str(r)


# ---- time ----

def test_spinning_program_is_killed_at_its_timeout(lamina):
    r = lamina.probe("spin", flags=("--timeout", "0.5"))
    assert r.returncode == 124, str(r)
    assert r.info["reason"] == "timeout", str(r)
    assert 500 <= r.info["wall_ms"] < 1500, str(r)
    assert r.elapsed_s < 3, str(r)


def test_sub_millisecond_timeout_is_not_ignored(lamina):
    """A positive --timeout, however small, either limits the run or is refused."""
    r = lamina.probe("spin", flags=("--timeout", "0.0004"), timeout=3)
    assert r.returncode in (124, 125), str(r)


def test_timeout_kills_every_process_of_the_sandbox(lamina, tracker):
    r = lamina.probe("spin", 4, flags=("--timeout", "0.5"))
    assert r.returncode == 124, str(r)
    assert r.line("spin:").endswith("children=4"), str(r)   # they did start, and escaped the session
    assert r.info["reason"] == "timeout", str(r)
    assert processes_running(tracker.temp_files) == [], "spinning processes outlived the timeout"


def test_stop_request_kills_the_sandbox(lamina, tracker):
    t0 = time.monotonic()
    p = lamina.start(["/var/task/probe", "spin", "2"])
    ready, _, _ = select.select([p.stdout], [], [], 10)
    assert ready, "the probe did not start"
    assert p.stdout.readline().startswith("spin:")
    assert len(processes_running(tracker.temp_files)) == 3
    t_stop = time.monotonic()
    p.send_signal(signal.SIGTERM)
    r = finish(p, t0, timeout=10)
    assert time.monotonic() - t_stop < 2, str(r)
    assert r.returncode != 0 and r.info and r.info["reason"] in ("signal", "timeout"), str(r)
    assert processes_running(tracker.temp_files) == [], "sandbox processes outlived lamina-run"


def test_background_processes_end_with_the_function(lamina, tracker):
    r = lamina.run(["/bin/sh", "-c", "setsid /var/task/probe spin 2 >/dev/null 2>&1 & "
                    "sleep 0.2; /var/task/probe ps"], "--timeout", "10")
    assert r.returncode == 0, str(r)
    spinning = [pid for pid, comm in parse_kv(r.line("ps:")).items() if comm == "probe"]
    assert len(spinning) >= 3 + 1, str(r)   # the parent, two escaped children, and ps itself
    assert processes_running(tracker.temp_files) == [], "background processes outlived the function"


# ---- CPU ----

def test_cpu_limit_caps_cpu_time(lamina):
    r = lamina.probe("burn", 1, flags=("--cpus", "0.5"))
    assert r.returncode == 0, str(r)
    burn = parse_kv(r.line("burn:"))
    share = int(burn["cpu_ms"]) / int(burn["wall_ms"])
    assert 0.1 <= share <= 0.65, f"CPU share {share:.2f} with --cpus 0.5\n{r}"


# ---- /tmp and files ----

def test_filling_tmp_stops_at_its_size_with_enospc(lamina):
    r = lamina.probe("fill", "/tmp/a", "/tmp/b", flags=("--tmp-size", "8"))
    assert r.returncode == 0, str(r)
    line = r.line("fill:")
    assert parse_kv(line)["errno"] == "ENOSPC", str(r)
    assert 7 * MiB <= int(line.split()[2]) <= 8 * MiB, str(r)


def test_one_file_can_fill_tmp_and_gets_enospc(lamina):
    """A program (not the sandbox's pid 1: a child of the bootstrap shell, as functions
    usually are) writing one big file gets ENOSPC when /tmp is full, and is not killed."""
    r = lamina.run(["/bin/sh", "-c", "/var/task/probe fill /tmp/big; echo status=$?"],
                   "--tmp-size", "8")
    assert r.returncode == 0, str(r)
    assert r.line("status=") == "status=0", str(r)
    line = r.line("fill:")
    assert parse_kv(line)["errno"] == "ENOSPC", str(r)
    assert 7 * MiB <= int(line.split()[2]) <= 8 * MiB, str(r)


def test_output_to_a_large_log_file_is_not_cut_off(lamina, tracker):
    """The function's stdout may be a host log file much larger than its /tmp: writing to
    it must work (RLIMIT_FSIZE, if any, is for the sandbox's own files)."""
    log = tracker.mkdtemp("log") / "function.log"
    log.write_bytes(b"earlier invocations\n" * (3 * MiB // 20))
    size = log.stat().st_size
    with open(log, "a") as out:
        r = lamina.run(["/bin/sh", "-c", "/var/task/probe pid; echo status=$? >&2"],
                       "--tmp-size", "1", stdout=out)
    assert r.returncode == 0, str(r)
    assert "status=0" in r.stderr, str(r)
    assert log.read_bytes()[size:] == b"pid: pid=2 ppid=1\n", str(r)


def test_file_descriptor_and_core_limits(lamina):
    r = lamina.probe("rlimits")
    assert r.returncode == 0, str(r)
    lim = parse_kv(r.line("rlimits:"))
    assert lim["NOFILE"] == "1024/1024" and lim["CORE"] == "0/0", str(r)
    r = lamina.probe("openmany")
    assert r.returncode == 0, str(r)
    opened = r.line("openmany:")
    assert opened == "openmany: opened 1021 errno=EMFILE", str(r)   # 1024 with stdin, stdout, stderr


# ---- how it ended ----

@pytest.mark.parametrize("code", [0, 3, 42])
def test_exit_code_passes_through(lamina, code):
    r = lamina.probe("exit", code)
    assert r.returncode == code, str(r)
    assert r.info["reason"] == "exit" and r.info["exit_code"] == code and r.info["signal"] is None, str(r)


# Only signals the kernel forces through: the command is pid 1 of its namespace, and
# the kernel shields a namespace's init from default-action signals it sends itself
# (abort(), kill(getpid(), SIGTERM)), as in a container run without an init.
@pytest.mark.parametrize("how,sig", [("segv", signal.SIGSEGV)])
def test_fatal_signal_passes_through(lamina, how, sig):
    r = lamina.probe(how)
    assert r.returncode == 128 + sig, str(r)
    assert r.info["reason"] == "signal" and r.info["signal"] == sig, str(r)
    assert r.info["exit_code"] is None, str(r)


def test_json_report_follows_the_commands_output(lamina):
    r = lamina.probe("cat", "/nonexistent")
    assert r.returncode == 1, str(r)
    lines = r.stderr.splitlines()
    assert lines[0] == "cat /nonexistent: errno=ENOENT", str(r)
    assert lines[-1].startswith("{") and len(lines) == 2, str(r)
    assert set(r.info) == {"exit_code", "signal", "reason", "wall_ms", "peak_memory_bytes", "oom_kills"}, str(r)
    assert r.info["exit_code"] == 1 and r.info["reason"] == "exit" and r.info["oom_kills"] == 0, str(r)
    assert 0 < r.info["wall_ms"] <= r.elapsed_s * 1000, str(r)
    assert r.info["peak_memory_bytes"] > 0, str(r)


def test_without_json_nothing_is_added_to_stderr(lamina):
    r = lamina.probe("pid", json_out=False)
    assert r.returncode == 0 and r.stderr == "", str(r)


# ---- cgroups ----

def test_given_cgroup_parent_holds_the_sandbox_and_is_kept(lamina, tracker):
    name = f"lamina-it-{os.getpid()}"
    parents = [h / name for h in cgroup_hierarchies()]
    for par in parents:
        par.mkdir()
    p = None
    try:
        t0 = time.monotonic()
        p = lamina.start(["/var/task/probe", "spin"], "--cgroup-parent", name, "--memory", "48",
                         "--pids", "7", "--cpus", "0.25", "--timeout", "5")
        ready, _, _ = select.select([p.stdout], [], [], 10)
        assert ready and p.stdout.readline().startswith("spin:")
        leaves = [c for par in parents for c in par.iterdir()
                  if c.is_dir() and c.name.startswith(f"sbx-{p.pid}-")]
        assert len(leaves) == len(parents), leaves
        for leaf in leaves:
            assert (leaf / "cgroup.procs").read_text().split(), f"{leaf} holds no process"
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            leaf = leaves[0]
            assert (leaf / "memory.max").read_text().strip() == str(48 * MiB)
            assert (leaf / "pids.max").read_text().strip() == "7"
            assert (leaf / "cpu.max").read_text().split()[0] == "25000"
        else:
            by_ctl = {l.parent.parent.name: l for l in leaves}
            assert (by_ctl["memory"] / "memory.limit_in_bytes").read_text().strip() == str(48 * MiB)
            assert (by_ctl["pids"] / "pids.max").read_text().strip() == "7"
            assert (by_ctl["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "25000"
        p.send_signal(signal.SIGTERM)
        r = finish(p, t0, timeout=10)
        assert r.returncode != 0, str(r)
        for par in parents:
            assert par.is_dir(), f"the given parent {par} was removed"
            assert [c.name for c in par.iterdir() if c.is_dir()] == [], f"{par} not emptied"
    finally:
        if p and p.poll() is None:   # an assertion failed mid-run: stop it cleanly
            p.send_signal(signal.SIGTERM)
            p.wait(10)
        # Only the parents this test made; a leaf left inside makes rmdir fail, and the
        # assertion above has already reported it.
        for par in parents:
            try:
                par.rmdir()
            except OSError:
                pass
