# SPDX-License-Identifier: MIT
"""What a function inside a sandbox can see and do: nothing of the host, nothing privileged."""
import ctypes
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import finish, parse_kv

# Each could reach the host, the kernel or a neighbour; the sandbox answers EPERM. The probe
# calls them with arguments an unprivileged process outside a sandbox would get through the
# kernel's own checks where possible (see test_probe_attempts_are_not_refused_outside_a_sandbox).
DENIED_SYSCALLS = [
    "mount", "umount", "pivot_root", "chroot", "unshare", "unshare-newns", "unshare-newnet",
    "setns", "clone-newns", "clone-newuser", "clone-newnet", "clone-newpid", "clone-newuts",
    "clone-newipc", "clone-newcgroup", "ptrace", "process_vm_readv", "process_vm_writev", "bpf",
    "perf_event_open", "keyctl", "add_key", "request_key", "init_module", "finit_module",
    "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "userfaultfd", "open_by_handle_at", "name_to_handle_at", "io_uring_setup", "fsopen",
    "open_tree", "kcmp", "pidfd_getfd", "sethostname", "syslog",
]
# Refused as unknown (ENOSYS), so that runtimes take their fallbacks: clone3 (whose flags
# seccomp cannot read) and personalities outside Docker's list (ADDR_NO_RANDOMIZE).
UNKNOWN_SYSCALLS = ["clone3", "personality-noaslr"]
# What every function needs.
ORDINARY_SYSCALLS = ["getpid", "fork", "clone-plain", "socket-inet"]
# Another ABI's entry point (int 0x80 on x86-64) kills the caller (SIGSYS).
FOREIGN_ABI_SYSCALLS = ["i386-getpid"]


# ---- processes ----

def test_function_is_pid_1_and_sees_no_host_process(lamina):
    r = lamina.probe("pid")
    assert r.returncode == 0, str(r)
    assert parse_kv(r.line("pid:")) == {"pid": "1", "ppid": "0"}, str(r)
    r = lamina.probe("ps")
    assert r.returncode == 0, str(r)
    assert parse_kv(r.line("ps:")) == {"1": "probe"}, str(r)


def test_function_cannot_signal_host_processes(lamina, tracker):
    victim = tracker.popen(["sleep", "30"])
    try:
        r = lamina.probe("kill", victim.pid, 9)
        assert r.returncode == 0, str(r)
        assert r.line("kill") == f"kill {victim.pid} 9: errno=ESRCH", str(r)
        time.sleep(0.05)
        assert victim.poll() is None, "a host process died of a signal sent from a sandbox"
    finally:
        victim.kill()
        victim.wait()


# ---- file system ----

@pytest.mark.parametrize("path", [
    "/lamina-probe", "/usr/lamina-probe", "/usr/bin/lamina-probe", "/var/task/lamina-probe",
    "/var/task/probe", "/etc/lamina-probe", "/etc/passwd", "/etc/ssl/lamina-probe",
    "/var/lamina-probe", "/opt/lamina-probe", "/dev/lamina-probe",
])
def test_root_file_system_is_read_only(lamina, code_dir, path):
    before = sorted(p.name for p in code_dir.iterdir())
    r = lamina.probe("write", path)
    assert r.returncode == 0, str(r)
    assert re.fullmatch(rf"write {re.escape(path)}: errno=(EROFS|EACCES|ETXTBSY)", r.line("write")), str(r)
    assert sorted(p.name for p in code_dir.iterdir()) == before


def test_code_dir_is_read_only_even_when_the_host_lets_anyone_write_it(lamina, code_dir):
    code_dir.chmod(0o777)
    r = lamina.probe("write", "/var/task/new-file")
    assert r.line("write") == "write /var/task/new-file: errno=EROFS", str(r)
    assert not (code_dir / "new-file").exists()


def test_tmp_is_writable(lamina):
    r = lamina.probe("write", "/tmp/lamina-probe")
    assert r.returncode == 0, str(r)
    assert r.line("write") == "write /tmp/lamina-probe: ok", str(r)


def test_tmp_is_private_to_each_sandbox(lamina):
    name = f"/tmp/lamina-it-{uuid.uuid4().hex}"
    assert not os.path.exists(name)
    r = lamina.probe("write", name)
    assert r.line("write") == f"write {name}: ok", str(r)
    r = lamina.probe("read", name)
    assert r.line("read") == f"read {name}: errno=ENOENT", str(r)
    assert not os.path.exists(name), "a sandbox's /tmp file appeared on the host"


@pytest.mark.parametrize("path", ["/root", "/home", "/sys", "/run", "/var/lib", "/boot"])
def test_host_directories_are_not_visible(lamina, path):
    r = lamina.probe("ls", path)
    assert r.returncode == 0, str(r)
    assert r.line("ls") == f"ls {path}: errno=ENOENT", str(r)


def test_host_accounts_and_secrets_are_not_visible(lamina):
    r = lamina.probe("read", "/etc/shadow")
    assert r.line("read") == "read /etc/shadow: errno=ENOENT", str(r)
    r = lamina.probe("cat", "/etc/passwd")
    assert r.returncode == 0, str(r)
    inside = {l.split(":")[0] for l in r.lines if l}
    host = {p.pw_name for p in pwd.getpwall()} - {"root", "nobody"}
    assert host, "no host account to look for"
    assert not inside & host, f"host accounts visible inside: {sorted(inside & host)}"


def test_callers_files_outside_the_code_dir_are_not_readable(lamina, tracker):
    secret_dir = tracker.mkdtemp("secret")
    secret = secret_dir / "secret.txt"
    secret.write_text("host secret\n")
    secret.chmod(0o644)
    for path in (str(secret), f"/proc/1/root{secret}", f"/proc/self/root{secret}",
                 f"/var/task/..{secret}"):
        r = lamina.probe("read", path)
        assert r.returncode == 0, str(r)
        assert r.line("read") == f"read {path}: errno=ENOENT", str(r)


def test_proc_1_root_is_the_sandbox_root(lamina):
    r = lamina.probe("readlink", "/proc/1/root")
    assert r.line("readlink") == "readlink /proc/1/root: /", str(r)
    inside_root = lamina.probe("ls", "/").line("ls").split(":", 1)[1]
    via_proc = lamina.probe("ls", "/proc/1/root").line("ls").split(":", 1)[1]
    assert via_proc == inside_root
    host_only = {p for p in os.listdir("/") if p not in inside_root.split()}
    assert host_only, "the host root has nothing the sandbox lacks: nothing to check"
    assert not host_only & set(via_proc.split())


def test_no_sys_and_no_cgroup_controls(lamina):
    r = lamina.probe("ls", "/sys")
    assert r.line("ls") == "ls /sys: errno=ENOENT", str(r)
    for path in ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max",
                 "/sys/fs/cgroup/unified/cgroup.procs", "/sys/fs/cgroup/cgroup.procs"):
        r = lamina.probe("write", path)
        assert r.line("write") == f"write {path}: errno=ENOENT", str(r)


def test_cgroup_namespace_hides_host_cgroup_paths(lamina):
    r = lamina.probe("cgroup")
    assert r.returncode == 0, str(r)
    assert r.lines, str(r)
    for line in r.lines:
        assert line.endswith(":/"), f"host cgroup path visible: {line}"


def test_dev_holds_only_the_minimal_devices(lamina):
    r = lamina.probe("ls", "/dev")
    assert r.line("ls").split(":", 1)[1].split() == \
        ["fd", "full", "null", "random", "stderr", "stdin", "stdout", "urandom", "zero"], str(r)
    for dev in ("/dev/mem", "/dev/kmsg", "/dev/vda", "/dev/sda", "/dev/tty", "/dev/ptmx"):
        r = lamina.probe("read", dev)
        assert r.line("read") == f"read {dev}: errno=ENOENT", str(r)


def test_only_the_sandbox_mounts_are_visible(lamina):
    r = lamina.probe("cat", "/proc/self/mountinfo")
    assert r.returncode == 0, str(r)
    points = [l.split()[4] for l in r.lines if l]
    allowed = re.compile(r"/|/usr|/etc/[^/]+|/var/task|/opt|/dev|/tmp|/proc")
    assert points, str(r)
    assert [p for p in points if not allowed.fullmatch(p)] == [], str(r)


# ---- system calls ----

@pytest.mark.parametrize("name", DENIED_SYSCALLS)
def test_dangerous_syscall_is_refused(lamina, name):
    r = lamina.probe("try-syscall", name)
    assert r.returncode == 0, str(r)
    assert r.line(f"{name}:") == f"{name}: errno=EPERM", str(r)


@pytest.mark.parametrize("name", UNKNOWN_SYSCALLS)
def test_unlisted_syscall_fails_as_unknown(lamina, name):
    r = lamina.probe("try-syscall", name)
    assert r.returncode == 0, str(r)
    assert r.line(f"{name}:") == f"{name}: errno=ENOSYS", str(r)


@pytest.mark.parametrize("name", FOREIGN_ABI_SYSCALLS)
def test_foreign_abi_syscall_kills_the_caller(lamina, name):
    if os.uname().machine != "x86_64":
        pytest.skip("the i386 ABI exists on x86-64 only")
    r = lamina.probe("try-syscall", name)
    assert r.line(f"{name}:") == f"{name}: killed signal={int(signal.SIGSYS)}", str(r)


def test_device_nodes_cannot_be_made(lamina):
    r = lamina.probe("try-syscall", "mknod-char")
    assert r.line("mknod-char:") == "mknod-char: errno=EPERM", str(r)


def test_ordinary_syscalls_work(lamina):
    r = lamina.probe("try-syscall", *ORDINARY_SYSCALLS)
    assert r.returncode == 0, str(r)
    assert r.lines == [f"{n}: ok" for n in ORDINARY_SYSCALLS], str(r)


def test_probe_attempts_are_not_refused_outside_a_sandbox(tracker, code_dir):
    """A control for the tests above: run as root outside any sandbox (in throw-away mount
    and UTS namespaces, so that mount and sethostname touch nothing), the same attempts
    pass the kernel's checks, so the EPERM inside is the sandbox's doing."""
    unshare = shutil.which("unshare")
    if not unshare:
        pytest.skip("util-linux unshare is not installed")
    t0 = time.monotonic()
    p = tracker.popen([unshare, "--mount", "--uts", "--propagation", "private",
                       code_dir / "probe", "try-syscall", *DENIED_SYSCALLS, *UNKNOWN_SYSCALLS,
                       *(FOREIGN_ABI_SYSCALLS if os.uname().machine == "x86_64" else [])],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r = finish(p, t0)
    assert r.returncode == 0, str(r)
    refused = [l for l in r.lines if l.endswith("errno=EPERM") or "probe-error" in l or "killed" in l]
    assert refused == [], str(r)
    assert len(r.lines) >= len(DENIED_SYSCALLS) + len(UNKNOWN_SYSCALLS), str(r)


# ---- network ----

def test_only_loopback_exists_and_it_is_up(lamina):
    r = lamina.probe("ifaces")
    assert r.returncode == 0, str(r)
    assert parse_kv(r.line("ifaces:")) == {"lo": "up"}, str(r)


def test_no_route_out_of_the_sandbox(lamina):
    r = lamina.probe("connect-tcp", "192.0.2.1", 80)
    assert r.line("connect-tcp") == "connect-tcp 192.0.2.1:80: errno=ENETUNREACH", str(r)


def test_host_loopback_services_are_not_reachable(lamina):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]
        # Control: the service answers on the host.
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        r = lamina.probe("connect-tcp", "127.0.0.1", port)
        assert r.line("connect-tcp") == f"connect-tcp 127.0.0.1:{port}: errno=ECONNREFUSED", str(r)


def test_host_abstract_unix_sockets_are_not_reachable(lamina):
    name = f"lamina-it-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind("\0" + name)
        srv.listen(4)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.connect("\0" + name)   # control: reachable on the host
        r = lamina.probe("connect-unix-abstract", name)
        assert r.line("connect-unix-abstract") == f"connect-unix-abstract {name}: errno=ECONNREFUSED", str(r)


def test_host_ipc_objects_are_not_visible(lamina, code_dir):
    libc = ctypes.CDLL(None, use_errno=True)
    key = int(uuid.uuid4().int & 0x3fffffff) | 1
    qid = libc.msgget(key, 0o1000 | 0o2000 | 0o666)  # IPC_CREAT | IPC_EXCL
    assert qid >= 0, os.strerror(ctypes.get_errno())
    try:
        control = subprocess.run([code_dir / "probe", "msgget", str(key)], capture_output=True,
                                 text=True, timeout=10)
        assert control.stdout.startswith(f"msgget {key}: ok"), str(control)
        r = lamina.probe("msgget", key)
        assert r.line("msgget") == f"msgget {key}: errno=ENOENT", str(r)
    finally:
        libc.msgctl(qid, 0, None)  # IPC_RMID


# ---- privileges and identity ----

@pytest.mark.parametrize("flags", [(), ("--uid", "1234", "--gid", "2345")], ids=["default-ids", "given-ids"])
def test_function_holds_no_capability(lamina, flags):
    r = lamina.probe("caps", flags=flags)
    assert r.returncode == 0, str(r)
    caps = parse_kv(r.line("caps:"))
    assert caps == {"CapInh": "0" * 16, "CapPrm": "0" * 16, "CapEff": "0" * 16,
                    "CapBnd": "0" * 16, "CapAmb": "0" * 16, "NoNewPrivs": "1", "Seccomp": "2"}, str(r)


def test_runs_as_an_id_no_host_account_uses(lamina, host_id_in_use):
    r = lamina.probe("id")
    assert r.returncode == 0, str(r)
    ids = parse_kv(r.line("id:"))
    uid, gid = int(ids["uid"]), int(ids["gid"])
    assert ids["euid"] == ids["suid"] == str(uid) and ids["egid"] == ids["sgid"] == str(gid), str(r)
    assert uid != 0 and gid != 0, str(r)
    assert ids["groups"] == "", str(r)
    assert not host_id_in_use(uid=uid, gid=gid), f"uid {uid}/gid {gid} belongs to a host account"


def test_uid_and_gid_flags_are_honoured(lamina):
    r = lamina.probe("id", flags=("--uid", "1234", "--gid", "2345"))
    assert r.returncode == 0, str(r)
    assert r.line("id:") == "id: uid=1234 euid=1234 suid=1234 gid=2345 egid=2345 sgid=2345 groups=", str(r)


@pytest.mark.parametrize("flags", [("--uid", "0"), ("--gid", "0"), ("--uid", "0", "--gid", "0")],
                         ids=["uid0", "gid0", "both0"])
def test_root_identity_is_refused(lamina, flags):
    r = lamina.probe("id", flags=flags)
    assert r.returncode == 125, str(r)
    assert r.stdout == "", str(r)
    assert re.search(r"^lamina-run: .*(root|must not be 0)", r.stderr, re.M), str(r)


def test_setuid_binaries_give_no_privilege(lamina, tracker, code_dir):
    suid = tracker.place(code_dir / "probe", code_dir, "probe-suid", mode=0o755)
    os.chown(suid, 0, 0)
    suid.chmod(0o4755)

    def as_nobody():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    # Control: outside a sandbox the copy does make an unprivileged caller root.
    control = subprocess.run([suid, "setuid-check"], capture_output=True, text=True, timeout=10,
                             preexec_fn=as_nobody)
    assert parse_kv(control.stdout).get("euid") == "0", str(control)
    r = lamina.run(["/var/task/probe-suid", "setuid-check"])
    assert r.returncode == 0, str(r)
    ids = parse_kv(r.line("setuid-check:"))
    assert ids["euid"] != "0" and ids["suid"] != "0", str(r)
    assert ids["setuid0"] == "EPERM" and ids["euid_after"] != "0", str(r)


def test_no_host_file_descriptor_leaks_in(lamina, tracker, code_dir):
    secret_dir = tracker.mkdtemp("fds")
    fd = os.open(secret_dir / "open-file", os.O_RDWR | os.O_CREAT, 0o600)
    os.set_inheritable(fd, True)
    try:
        # Control: a child of this process does get the fd.
        control = subprocess.run([code_dir / "probe", "fds"], capture_output=True, text=True,
                                 timeout=10, pass_fds=(fd,))
        assert str(fd) in parse_kv(control.stdout), str(control)
        r = lamina.probe("fds", pass_fds=(fd,))
        assert r.returncode == 0, str(r)
        assert sorted(parse_kv(r.line("fds:"))) == ["0", "1", "2"], str(r)
    finally:
        os.close(fd)


def test_hostname_is_not_the_hosts(lamina):
    host = socket.gethostname()
    r = lamina.probe("hostname")
    assert r.returncode == 0, str(r)
    inside = r.line("hostname:").split(":", 1)[1].strip()
    assert inside and inside != host, str(r)
    assert socket.gethostname() == host


def test_environment_is_only_what_was_given(lamina):
    marker = f"LAMINA_IT_MARKER_{uuid.uuid4().hex[:8]}"
    env = {"PATH": "/usr/bin:/bin", marker: "host-secret", "HOME": "/root", "USER": "root"}
    r = lamina.probe("env", flags=("--env", "GIVEN=value with spaces", "--env", "OTHER=1"), env=env)
    assert r.returncode == 0, str(r)
    inside = dict(l[len("env: "):].split("=", 1) for l in r.lines if l.startswith("env: "))
    assert marker not in inside and "USER" not in inside, str(r)
    assert inside["GIVEN"] == "value with spaces" and inside["OTHER"] == "1", str(r)
    assert inside.get("HOME") != "/root", str(r)
    assert set(inside) <= {"PATH", "HOME", "LANG", "TZ", "GIVEN", "OTHER"}, str(r)


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_sandboxes_are_separate(lamina, round_):
    t0 = time.monotonic()
    names = [f"/tmp/lamina-it-{i}" for i in range(8)]
    procs = [lamina.start(["/bin/sh", "-c", f"/var/task/probe write {n} && /var/task/probe ls /tmp && /var/task/probe pid"])
             for n in names]
    results = [finish(p, t0) for p in procs]
    for n, r in zip(names, results):
        assert r.returncode == 0, str(r)
        assert r.line("ls /tmp:") == f"ls /tmp: {n.rsplit('/', 1)[1]}", str(r)
        assert parse_kv(r.line("pid:"))["ppid"] == "1", str(r)   # the shell is each sandbox's pid 1


def test_working_directory_is_the_code_dir(lamina):
    r = lamina.probe("readlink", "/proc/self/cwd")
    assert r.line("readlink") == "readlink /proc/self/cwd: /var/task", str(r)


def test_opt_dir_is_bound_read_only(lamina, tracker):
    opt = tracker.mkdtemp("opt")
    (opt / "layer.txt").write_text("layer\n")
    (opt / "layer.txt").chmod(0o644)
    r = lamina.probe("cat", "/opt/layer.txt", flags=("--opt", opt))
    assert r.returncode == 0 and r.stdout == "layer\n", str(r)
    r = lamina.probe("write", "/opt/new", flags=("--opt", opt))
    assert r.line("write") == "write /opt/new: errno=EROFS", str(r)
    assert sorted(p.name for p in opt.iterdir()) == ["layer.txt"]


def test_stdin_reaches_the_function(lamina):
    r = lamina.probe("cat", "-", input="event payload\n")
    assert r.returncode == 0 and r.stdout == "event payload\n", str(r)


def test_net_host_shares_the_hosts_interfaces(lamina):
    host = sorted(l.split(":")[0].strip() for l in Path("/proc/net/dev").read_text().splitlines()[2:])
    r = lamina.probe("ifaces", flags=("--net", "host"))
    assert r.returncode == 0, str(r)
    assert sorted(parse_kv(r.line("ifaces:"))) == host, str(r)
