/* SPDX-License-Identifier: MIT */
/*
 * Default-deny syscall allowlist for language runtimes (CPython, Node.js, the JVM, Mono,
 * Go). Unlisted syscalls fail with ENOSYS, so runtimes take their fallback paths (glibc
 * falls back from clone3 to clone, where the flags can be inspected: clone3's flags are
 * in memory that seccomp cannot read, so clone3 is deliberately left unlisted). What a hostile
 * function could use against the host or its neighbours fails with EPERM.
 */
#include "seccomp.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

static const char *const allowed[] = {
	/* files and descriptors */
	"read", "write", "open", "openat", "openat2", "close", "close_range", "creat",
	"stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "lseek",
	"pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2",
	"access", "faccessat", "faccessat2", "dup", "dup2", "dup3", "pipe", "pipe2", "fcntl",
	"flock", "fsync", "fdatasync", "syncfs", "sync", "sync_file_range", "truncate", "ftruncate",
	"fallocate", "fadvise64", "readahead", "getdents", "getdents64", "getcwd", "chdir",
	"fchdir", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat",
	"unlink", "unlinkat", "symlink", "symlinkat", "readlink", "readlinkat", "chmod", "fchmod",
	"fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "umask", "utime", "utimes",
	"utimensat", "futimesat", "mknod", "mknodat", "sendfile", "splice", "tee", "vmsplice",
	"copy_file_range", "setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr",
	"fgetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr",
	"fremovexattr", "memfd_create", "inotify_init", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch",
	/* ioctl: typing into the caller's terminal (TIOCSTI) is refused by the kernel, as
	 * the sandbox runs in a session of its own, without a controlling terminal. */
	"ioctl",
	/* memory */
	"mmap", "munmap", "mprotect", "mremap", "msync", "mincore", "madvise", "brk", "mlock",
	"mlock2", "munlock", "mlockall", "munlockall", "mbind", "get_mempolicy", "set_mempolicy",
	"membarrier", "pkey_mprotect", "pkey_alloc", "pkey_free", "map_shadow_stack", "mseal",
	/* processes, threads, signals */
	"clone", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
	"kill", "tkill", "tgkill", "getpid", "gettid", "getppid", "getpgrp", "getpgid", "setpgid",
	"getsid", "setsid", "set_tid_address", "set_robust_list", "get_robust_list", "rseq",
	"futex", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "arch_prctl", "prctl",
	"personality", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack",
	"pause", "restart_syscall", "pidfd_open", "pidfd_send_signal", "signalfd", "signalfd4",
	"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
	"sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval", "sched_getattr", "sched_setattr",
	"getpriority", "setpriority", "ioprio_get", "ioprio_set", "getcpu",
	/* identity (changes fail without capabilities; reading is harmless) */
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
	"setfsuid", "setfsgid", "capget", "capset",
	/* limits, time, info */
	"getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "sysinfo", "uname",
	"gettimeofday", "time", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"getitimer", "setitimer", "alarm", "timer_create", "timer_settime", "timer_gettime",
	"timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"getrandom",
	/* event loops */
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
	/* sockets: the instance's own network namespace decides what they reach */
	"socket", "socketpair", "connect", "accept", "accept4", "bind", "listen", "shutdown",
	"getsockname", "getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg",
	"recvmsg", "sendmmsg", "recvmmsg",
	/* System V and POSIX IPC, private to the ipc namespace */
	"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
	"msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
	"mq_notify", "mq_getsetattr",
	/* legacy aio (the JVM and Mono probe it) */
	"io_setup", "io_destroy", "io_getevents", "io_submit", "io_cancel",
};

/* Refused with EPERM: each could reach the host, the kernel or another sandbox. */
static const char *const denied[] = {
	"mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen",
	"fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	"ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
	"bpf", "perf_event_open", "keyctl", "add_key", "request_key", "kexec_load",
	"kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
	"swapoff", "userfaultfd", "open_by_handle_at", "name_to_handle_at", "io_uring_setup",
	"io_uring_enter", "io_uring_register", "acct", "quotactl", "quotactl_fd", "syslog", "iopl",
	"ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
	"setdomainname", "vhangup", "lookup_dcookie", "fanotify_init", "modify_ldt", "uselib",
	"move_pages", "migrate_pages", "landlock_create_ruleset", "memfd_secret",
};

/* Namespace-creating clone flags (clone's first argument on x86-64 and arm64). */
#define NAMESPACE_FLAGS                                                                    \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |      \
	 CLONE_NEWPID | CLONE_NEWNET | 0x00000080 /* CLONE_NEWTIME */)

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned count,
		    const struct scmp_arg_cmp *args, struct lr_error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int r;

	/* Names newer than this libseccomp are skipped: they fall to the default (ENOSYS). */
	if (nr == __NR_SCMP_ERROR)
		return 0;
	r = seccomp_rule_add_array(ctx, action, nr, count, args);
	if (r < 0)
		return lr_error_set(err, -r, "seccomp rule for '%s'", name);
	return 0;
}

static bool is_special(const char *name)
{
	return !strcmp(name, "clone") || !strcmp(name, "personality");
}

static int add_special_rules(scmp_filter_ctx ctx, struct lr_error *err)
{
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	/* Docker's list: plain Linux, PER_LINUX32, UNAME26, and the query. */
	static const unsigned long personalities[] = { 0x0, 0x8, 0x20000, 0xffffffff };
	struct scmp_arg_cmp cmp;
	int r;

	/* clone without namespace flags is allowed; each namespace flag is refused by a
	 * rule of its own (libseccomp cannot say "masked value != 0" in one rule). */
	cmp = (struct scmp_arg_cmp)SCMP_A0(SCMP_CMP_MASKED_EQ, NAMESPACE_FLAGS, 0);
	r = add_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &cmp, err);
	for (unsigned bit = 0; bit < 32 && r == 0; bit++) {
		unsigned long flag = 1ul << bit;

		if (!(NAMESPACE_FLAGS & flag))
			continue;
		cmp = (struct scmp_arg_cmp)SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag);
		r = add_rule(ctx, eperm, "clone", 1, &cmp, err);
	}
	for (size_t i = 0; i < sizeof(personalities) / sizeof(personalities[0]) && r == 0; i++) {
		cmp = (struct scmp_arg_cmp)SCMP_A0(SCMP_CMP_EQ, personalities[i]);
		r = add_rule(ctx, SCMP_ACT_ALLOW, "personality", 1, &cmp, err);
	}
	return r;
}

int syscall_filter_compile(struct sock_fprog *prog, struct lr_error *err)
{
	scmp_filter_ctx ctx;
	_cleanup_close_ int memfd = -1;
	struct sock_filter *filter = NULL;
	off_t size;
	int r;

	memset(prog, 0, sizeof(*prog));
	ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	if (!ctx)
		return lr_error_set(err, ENOMEM, "seccomp_init");
	/* Foreign ABIs (int 0x80, x32) would bypass the native numbers: kill. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0) {
		r = lr_error_set(err, -r, "seccomp bad-arch action");
		goto out;
	}
	/* A binary tree instead of a linear list: every syscall of every sandbox walks this
	 * filter, and the allowlist is long. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0) {
		r = lr_error_set(err, -r, "seccomp binary-tree optimisation");
		goto out;
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (is_special(allowed[i]))
			continue;
		r = add_rule(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL, err);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		r = add_rule(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0, NULL, err);
		if (r < 0)
			goto out;
	}
	r = add_special_rules(ctx, err);
	if (r < 0)
		goto out;

	memfd = memfd_create("lamina-seccomp", MFD_CLOEXEC);
	if (memfd < 0) {
		r = lr_error_set(err, errno, "memfd_create for seccomp");
		goto out;
	}
	r = seccomp_export_bpf(ctx, memfd);
	if (r < 0) {
		r = lr_error_set(err, -r, "seccomp_export_bpf");
		goto out;
	}
	size = lseek(memfd, 0, SEEK_END);
	filter = malloc(size);
	if (!filter || pread(memfd, filter, size, 0) != size) {
		free(filter);
		r = lr_error_set(err, filter ? errno : ENOMEM, "read compiled seccomp filter");
		goto out;
	}
	prog->filter = filter;
	prog->len = size / sizeof(struct sock_filter);
	r = 0;
out:
	seccomp_release(ctx);
	return r;
}

void syscall_filter_free(struct sock_fprog *prog)
{
	free(prog->filter);
	prog->filter = NULL;
	prog->len = 0;
}

int syscall_filter_install(const struct sock_fprog *prog)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
		return -errno;
	return 0;
}
