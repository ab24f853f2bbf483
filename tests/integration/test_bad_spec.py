# SPDX-License-Identifier: MIT
"""A bad request is refused before anything runs: a one-line `lamina-run: ...` message, exit
125 (or 126/127 for a command that cannot run), and nothing left behind (checked by the
autouse fixture)."""
import os
import re

import pytest

MiB = 1 << 20


def host_memory_mb():
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // MiB


def assert_refused(r, pattern, status=125):
    assert r.returncode == status, str(r)
    assert r.stdout == "", str(r)
    assert r.info is None, f"a refused run reported how it ended\n{r}"
    assert re.search(pattern, r.stderr, re.M), f"expected /{pattern}/ on stderr\n{r}"


def test_missing_code_dir_is_refused(lamina, tracker):
    missing = tracker.mkdtemp("gone") / "no-such-dir"
    r = lamina.probe("pid", code=missing)
    assert_refused(r, rf"^lamina-run: .*'{re.escape(str(missing))}'.*No such file or directory")


def test_code_dir_that_is_a_file_is_refused(lamina, code_dir):
    r = lamina.probe("pid", code=code_dir / "probe")
    assert_refused(r, r"^lamina-run: .*(not a directory|Not a directory)")


@pytest.mark.parametrize("mb", ["0", "1", "15"])
def test_memory_below_16_mb_is_refused(lamina, mb):
    r = lamina.probe("pid", flags=("--memory", mb))
    assert_refused(r, r"^lamina-run: .*memory.*(below|minimum).*16")


def test_memory_of_16_mb_is_accepted(lamina):
    r = lamina.probe("pid", flags=("--memory", "16"))
    assert r.returncode == 0, str(r)


def test_memory_above_host_ram_is_refused(lamina):
    r = lamina.probe("pid", flags=("--memory", str(host_memory_mb() + 1024)))
    assert_refused(r, r"^lamina-run: .*memory.*above the host")


def test_unknown_command_exits_127(lamina):
    r = lamina.run(["no-such-command-lamina"])
    assert_refused(r, r"^lamina-run: .*no-such-command-lamina.*No such file or directory", status=127)


def test_command_missing_from_code_dir_exits_127(lamina):
    r = lamina.run(["/var/task/no-such-file"])
    assert_refused(r, r"^lamina-run: .*/var/task/no-such-file", status=127)


def test_non_executable_command_exits_126(lamina, code_dir):
    (code_dir / "data.txt").write_text("not a program\n")
    (code_dir / "data.txt").chmod(0o644)
    r = lamina.run(["/var/task/data.txt"])
    assert_refused(r, r"^lamina-run: .*/var/task/data.txt.*Permission denied", status=126)


@pytest.mark.parametrize("flags", [
    ("--memory", "abc"), ("--memory", "-1"), ("--memory", "1.5"), ("--memory", ""),
    ("--pids", "0"), ("--pids", "x"), ("--pids", "-3"),
    ("--cpus", "0"), ("--cpus", "-1"), ("--cpus", "abc"), ("--cpus", "nan"),
    ("--timeout", "0"), ("--timeout", "-1"), ("--timeout", "abc"),
    ("--tmp-size", "0"), ("--tmp-size", "x"),
    ("--uid", "x"), ("--uid", "-1"), ("--gid", "x"),
    ("--net", "bogus"), ("--env", "NOEQUALS"), ("--env", "=value"),
    ("--cgroup-parent", "../escape"), ("--cgroup-parent", "/absolute"),
    ("--frobnicate",),
], ids=lambda f: " ".join(f) or "empty")
def test_bad_flag_value_is_refused(lamina, flags):
    r = lamina.probe("pid", flags=flags)
    assert_refused(r, r"lamina-run: \S")
    assert len(r.messages.splitlines()) >= 1


def test_cpu_share_below_the_kernels_minimum_is_refused_naming_the_flag(lamina):
    """The CFS quota has a 1 ms floor per 100 ms period: --cpus below 0.01 cannot be met,
    and the message should say which flag, not which cgroup file, is wrong."""
    r = lamina.probe("pid", flags=("--cpus", "0.001"))
    assert_refused(r, r"^lamina-run: .*--cpus")


def test_missing_command_is_refused(lamina, code_dir):
    r = lamina.run([], code=code_dir)
    assert_refused(r, r"^lamina-run: no command")
