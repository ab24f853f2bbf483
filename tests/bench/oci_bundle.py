#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns `crun spec`'s config.json into a bundle as close as OCI allows to what a lamina
sandbox gets: the same namespaces (no user namespace), a read-only root holding only a
read-only /usr (plus the merged-/usr symlinks), /proc, a small /dev, a private /tmp,
no capabilities, no_new_privs, uid/gid 61000, memory and pids limits, and lamina's own
seccomp allowlist (read out of runtime/seccomp.c so both filters have the same rules).

usage: oci_bundle.py BUNDLE_DIR SECCOMP_C CGROUPS_PATH
BUNDLE_DIR must hold the config.json from `crun spec` and an empty rootfs/."""
import json
import os
import re
import sys

ENOSYS, EPERM = 38, 1

# Used only if runtime/seccomp.c cannot be parsed: what crun and /bin/true need.
FALLBACK_ALLOWED = """read write openat close close_range fstat newfstatat lseek mmap munmap
mprotect brk rt_sigaction rt_sigprocmask rt_sigreturn ioctl pread64 access execve exit
exit_group arch_prctl set_tid_address set_robust_list rseq prlimit64 getrandom futex
fcntl dup dup2 dup3 getpid getuid geteuid getgid getegid capget capset prctl""".split()


def seccomp_lists(path):
    try:
        src = open(path).read()
    except OSError:
        return FALLBACK_ALLOWED, [], "fallback"

    def array(name):
        m = re.search(r"static const char \*const " + name + r"\[\] = \{(.*?)\n\};", src, re.S)
        if not m:
            return None
        body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
        return re.findall(r'"([a-z0-9_]+)"', body)

    allowed, denied = array("allowed"), array("denied")
    if not allowed:
        return FALLBACK_ALLOWED, [], "fallback"
    return allowed, denied or [], "lamina"


def main():
    bundle, seccomp_c, cgroups_path = sys.argv[1:4]
    cfg_path = os.path.join(bundle, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)

    rootfs = os.path.join(bundle, "rootfs")
    for d in ("usr", "proc", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = "/" + link
        if os.path.islink(host) and not os.path.lexists(os.path.join(rootfs, link)):
            os.symlink(os.readlink(host), os.path.join(rootfs, link))

    proc = cfg["process"]
    proc["terminal"] = False
    proc["args"] = ["/bin/true"]
    proc["cwd"] = "/"
    proc["env"] = ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"]
    proc["user"] = {"uid": 61000, "gid": 61000}
    proc["noNewPrivileges"] = True
    proc["capabilities"] = {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}
    proc["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
                       {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}]
    cfg["root"] = {"path": "rootfs", "readonly": True}
    cfg["hostname"] = "lamina"
    cfg["mounts"] = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "noexec", "mode=755", "size=64k"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=1777", "size=512m"]},
        {"destination": "/usr", "type": "bind", "source": "/usr",
         "options": ["rbind", "ro", "nosuid", "nodev"]},
    ]
    linux = cfg["linux"]
    linux["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]
    linux["cgroupsPath"] = cgroups_path
    linux["resources"] = {
        "devices": [{"allow": False, "access": "rwm"}],
        "memory": {"limit": 128 << 20, "swap": 128 << 20},
        "pids": {"limit": 1024},
    }
    allowed, denied, origin = seccomp_lists(seccomp_c)
    linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": ENOSYS,
        "architectures": ["SCMP_ARCH_X86_64"] if os.uname().machine == "x86_64" else [],
        "syscalls": [
            {"names": sorted(set(allowed)), "action": "SCMP_ACT_ALLOW"},
        ] + ([{"names": sorted(set(denied) - set(allowed)), "action": "SCMP_ACT_ERRNO",
               "errnoRet": EPERM}] if denied else []),
    }
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=1)
    print(f"seccomp={origin} allowed={len(set(allowed))} denied={len(set(denied))}")


if __name__ == "__main__":
    main()
