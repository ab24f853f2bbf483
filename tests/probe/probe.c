/* SPDX-License-Identifier: MIT */
/*
 * probe: a multi-call helper that the integration tests place in a sandbox's code
 * directory and run as `/var/task/probe SUBCOMMAND ARGS...`. It does the attacking (as
 * crun's tests/init.c does): each subcommand tries one thing and prints one line saying
 * what happened, so that the tests assert on what a function would observe.
 *
 * Exit status: 0 when the subcommand did what it documents (the line says what the
 * kernel answered, success or an errno), 2 for a usage error, 1 when the probe itself
 * could not set up the attempt. memhog and spin are meant to be killed by the sandbox.
 *
 * Statically linked: it must run in a root file system that has only what the runtime
 * gives it, and it must not depend on a loader or NSS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/userfaultfd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_PATH_NONE "/nonexistent-lamina-probe"
/* An attempt that could not be set up (distinct from any syscall result). */
#define PROBE_SETUP_FAILED (-1000)

static const char *errno_name(int e)
{
	const char *name = strerrorname_np(e);
	static char buf[32];

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

static int usage(void);

/* For subcommands that take no arguments. */
#define NO_ARGS()                                                                          \
	do {                                                                               \
		if (argc != 0 || argv[0])                                                  \
			return usage();                                                    \
	} while (0)

static bool parse_long(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return !errno && end != s && !*end;
}

/* ---- try-syscall ---- */

/*
 * Each attempt is made with arguments that an unprivileged process outside a sandbox
 * would get through the kernel's own checks where that is possible (a user namespace, a
 * process keyring, tracing oneself...), so that a failure shows the sandbox at work; where
 * only privilege lets it through, the arguments are harmless even for root (bad magic
 * numbers, paths that do not exist), so that the probe may run on a host as a control.
 * Every attempt runs in a child process, whose side effects die with it.
 */

static long try_clone_flags(unsigned long flags)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);

	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static long try_clone3(void)
{
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	} args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
	long r = syscall(SYS_clone3, &args, sizeof(args));

	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static long try_setns(void)
{
	int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return PROBE_SETUP_FAILED;
	return syscall(SYS_setns, fd, CLONE_NEWUTS);
}

static long try_ptrace(void)
{
	return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
}

static long try_process_vm(bool write)
{
	static char src[16] = "lamina", dst[16];
	struct iovec local = { .iov_base = dst, .iov_len = sizeof(dst) };
	struct iovec remote = { .iov_base = src, .iov_len = sizeof(src) };

	return syscall(write ? SYS_process_vm_writev : SYS_process_vm_readv, getpid(), &local, 1,
		       &remote, 1, 0);
}

static long try_bpf(void)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	return syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
}

static long try_perf_event_open(void)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_TASK_CLOCK;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

static long try_open_by_handle_at(void)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	int mount_id, root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		return PROBE_SETUP_FAILED;
	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	/* A real handle where we may take one; otherwise a made-up one, which the kernel
	 * only looks at after the capability check. */
	if (syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &h.fh, &mount_id, 0) < 0) {
		h.fh.handle_bytes = 8;
		h.fh.handle_type = 1;
	}
	return syscall(SYS_open_by_handle_at, root, &h.fh, O_RDONLY);
}

static long try_name_to_handle_at(void)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	int mount_id;

	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	return syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &h.fh, &mount_id, 0);
}

static long try_io_uring_setup(void)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	return syscall(SYS_io_uring_setup, 1, &p);
}

static long try_init_module(void)
{
	static const char image[64];	/* not an ELF file: ENOEXEC after the checks */

	return syscall(SYS_init_module, image, sizeof(image), "");
}

static long try_pidfd_getfd(void)
{
	long pidfd = syscall(SYS_pidfd_open, getpid(), 0);

	if (pidfd < 0)
		return pidfd;
	return syscall(SYS_pidfd_getfd, (int)pidfd, 0, 0);
}

static long try_personality_noaslr(void)
{
	/* ADDR_NO_RANDOMIZE turns off ASLR for what this process executes next. */
	return syscall(SYS_personality, 0x0040000);
}

static long try_mount(void)
{
	/* /tmp is a writable directory in any sandbox: only the permission stops this. */
	return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, "size=64k");
}

static long try_socket_inet(void)
{
	return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static long try_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

/* The i386 ABI (int 0x80) from a 64-bit process: its numbers differ from the native ones,
 * so a filter that checked only native numbers could be bypassed through it. */
static long try_i386_getpid(void)
{
#if defined(__x86_64__)
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20 /* i386 getpid */) : "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
#else
	errno = ENOTSUP;
	return -1;
#endif
}

/* /tmp is a mount point in every sandbox; detaching it would only hurt the sandbox. */
static long try_umount(void)
{
	return syscall(SYS_umount2, "/tmp", MNT_DETACH);
}

static long try_pivot_root(void)
{
	return syscall(SYS_pivot_root, PROBE_PATH_NONE, PROBE_PATH_NONE);
}

static long try_chroot(void)
{
	return syscall(SYS_chroot, "/");
}

/* Unprivileged processes may make user namespaces; the others need privilege. */
static long try_unshare(void)
{
	return syscall(SYS_unshare, CLONE_NEWUSER);
}

static long try_unshare_newns(void)
{
	return syscall(SYS_unshare, CLONE_NEWNS);
}

static long try_unshare_newnet(void)
{
	return syscall(SYS_unshare, CLONE_NEWNET);
}

static long try_clone_newns(void)
{
	return try_clone_flags(CLONE_NEWNS);
}

static long try_clone_newuser(void)
{
	return try_clone_flags(CLONE_NEWUSER);
}

static long try_clone_newnet(void)
{
	return try_clone_flags(CLONE_NEWNET);
}

static long try_clone_newpid(void)
{
	return try_clone_flags(CLONE_NEWPID);
}

static long try_clone_newuts(void)
{
	return try_clone_flags(CLONE_NEWUTS);
}

static long try_clone_newipc(void)
{
	return try_clone_flags(CLONE_NEWIPC);
}

static long try_clone_newcgroup(void)
{
	return try_clone_flags(CLONE_NEWCGROUP);
}

static long try_clone_plain(void)
{
	return try_clone_flags(0);
}

static long try_process_vm_readv(void)
{
	return try_process_vm(false);
}

static long try_process_vm_writev(void)
{
	return try_process_vm(true);
}

/* The process keyring is created on demand and dies with the process. */
static long try_keyctl(void)
{
	return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1);
}

static long try_add_key(void)
{
	return syscall(SYS_add_key, "user", "lamina-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
}

/* No callout information: the kernel never starts /sbin/request-key for it. */
static long try_request_key(void)
{
	return syscall(SYS_request_key, "user", "lamina-probe-none", NULL,
		       KEY_SPEC_PROCESS_KEYRING);
}

static long try_finit_module(void)
{
	return syscall(SYS_finit_module, -1, "", 0);
}

static long try_delete_module(void)
{
	return syscall(SYS_delete_module, "lamina_probe_none", O_NONBLOCK);
}

/* Flags the kernel rejects (EINVAL) right after its permission check. */
static long try_kexec_load(void)
{
	return syscall(SYS_kexec_load, 0, 0, NULL, 0x80ul);
}

static long try_kexec_file_load(void)
{
	return syscall(SYS_kexec_file_load, -1, -1, 0, "", 0x1000ul);
}

/* Both magic numbers wrong: EINVAL after the permission check, never a reboot. */
static long try_reboot(void)
{
	return syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL);
}

static long try_swapon(void)
{
	return syscall(SYS_swapon, PROBE_PATH_NONE, 0);
}

static long try_swapoff(void)
{
	return syscall(SYS_swapoff, PROBE_PATH_NONE);
}

/* User-mode-only faults are what vm.unprivileged_userfaultfd=0 still allows. */
static long try_userfaultfd(void)
{
	return syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
}

static long try_fsopen(void)
{
	return syscall(SYS_fsopen, "tmpfs", 0);
}

static long try_open_tree(void)
{
	return syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */);
}

static long try_kcmp(void)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 0, 0);
}

static long try_sethostname(void)
{
	return syscall(SYS_sethostname, "probe", 5);
}

static long try_syslog(void)
{
	return syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
}

/* /dev/mem's numbers: only CAP_MKNOD may make such a node. Never run outside a sandbox:
 * it would succeed for root. */
static long try_mknod_char(void)
{
	return syscall(SYS_mknodat, AT_FDCWD, "/tmp/lamina-probe-mem", S_IFCHR | 0666,
		       makedev(1, 1));
}

static long try_getpid(void)
{
	return syscall(SYS_getpid);
}

struct syscall_attempt {
	const char *name;
	long (*attempt)(void);
};

static const struct syscall_attempt attempts[] = {
	{ "mount", try_mount },
	{ "umount", try_umount },
	{ "pivot_root", try_pivot_root },
	{ "chroot", try_chroot },
	{ "unshare", try_unshare },
	{ "unshare-newns", try_unshare_newns },
	{ "unshare-newnet", try_unshare_newnet },
	{ "setns", try_setns },
	{ "clone-newns", try_clone_newns },
	{ "clone-newuser", try_clone_newuser },
	{ "clone-newnet", try_clone_newnet },
	{ "clone-newpid", try_clone_newpid },
	{ "clone-newuts", try_clone_newuts },
	{ "clone-newipc", try_clone_newipc },
	{ "clone-newcgroup", try_clone_newcgroup },
	{ "clone3", try_clone3 },
	{ "ptrace", try_ptrace },
	{ "process_vm_readv", try_process_vm_readv },
	{ "process_vm_writev", try_process_vm_writev },
	{ "bpf", try_bpf },
	{ "perf_event_open", try_perf_event_open },
	{ "keyctl", try_keyctl },
	{ "add_key", try_add_key },
	{ "request_key", try_request_key },
	{ "init_module", try_init_module },
	{ "finit_module", try_finit_module },
	{ "delete_module", try_delete_module },
	{ "kexec_load", try_kexec_load },
	{ "kexec_file_load", try_kexec_file_load },
	{ "reboot", try_reboot },
	{ "swapon", try_swapon },
	{ "swapoff", try_swapoff },
	{ "userfaultfd", try_userfaultfd },
	{ "open_by_handle_at", try_open_by_handle_at },
	{ "name_to_handle_at", try_name_to_handle_at },
	{ "io_uring_setup", try_io_uring_setup },
	{ "fsopen", try_fsopen },
	{ "open_tree", try_open_tree },
	{ "kcmp", try_kcmp },
	{ "pidfd_getfd", try_pidfd_getfd },
	{ "sethostname", try_sethostname },
	{ "syslog", try_syslog },
	{ "personality-noaslr", try_personality_noaslr },
	{ "i386-getpid", try_i386_getpid },
	{ "mknod-char", try_mknod_char },
	/* Controls: what every function needs must keep working. */
	{ "getpid", try_getpid },
	{ "fork", try_fork },
	{ "clone-plain", try_clone_plain },
	{ "socket-inet", try_socket_inet },
};

/* Runs one attempt in a child; the result travels back through a pipe. */
static int try_one(const struct syscall_attempt *a)
{
	int pipefd[2], status;
	long result[2] = { 0, 0 };
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		printf("%s: probe-error pipe errno=%s\n", a->name, errno_name(errno));
		return 1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		printf("%s: probe-error fork errno=%s\n", a->name, errno_name(errno));
		return 1;
	}
	if (pid == 0) {
		long r;

		close(pipefd[0]);
		errno = 0;
		r = a->attempt();
		result[0] = r;
		result[1] = r < 0 ? errno : 0;
		if (write(pipefd[1], result, sizeof(result)) != sizeof(result))
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], result, sizeof(result)) != sizeof(result)) {
		waitpid(pid, &status, 0);
		close(pipefd[0]);
		if (WIFSIGNALED(status))
			printf("%s: killed signal=%d\n", a->name, WTERMSIG(status));
		else
			printf("%s: probe-error no result\n", a->name);
		return 1;
	}
	waitpid(pid, &status, 0);
	close(pipefd[0]);
	if (result[0] == PROBE_SETUP_FAILED)
		printf("%s: probe-error setup errno=%s\n", a->name, errno_name((int)result[1]));
	else if (result[0] < 0)
		printf("%s: errno=%s\n", a->name, errno_name((int)result[1]));
	else
		printf("%s: ok\n", a->name);
	return result[0] == PROBE_SETUP_FAILED;
}

static int cmd_try_syscall(int argc, char **argv)
{
	int failed = 0;

	if (argc < 1)
		return usage();
	if (argc == 1 && !strcmp(argv[0], "list")) {
		for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++)
			printf("%s\n", attempts[i].name);
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		const struct syscall_attempt *a = NULL;

		for (size_t j = 0; j < sizeof(attempts) / sizeof(attempts[0]) && !a; j++)
			if (!strcmp(attempts[j].name, argv[i]))
				a = &attempts[j];
		if (!a) {
			fprintf(stderr, "probe: try-syscall: unknown name '%s'\n", argv[i]);
			return 2;
		}
		failed |= try_one(a);
	}
	return failed;
}

/* ---- limits ---- */

static int cmd_memhog(int argc, char **argv)
{
	long mb, page = sysconf(_SC_PAGESIZE);
	char *p;

	if (argc != 1 || !parse_long(argv[0], &mb) || mb <= 0)
		return usage();
	p = mmap(NULL, (size_t)mb << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("memhog: mmap errno=%s\n", errno_name(errno));
		return 1;
	}
	/* Touching makes the pages real; the cgroup charges them one by one. */
	for (size_t off = 0; off < (size_t)mb << 20; off += (size_t)page)
		p[off] = 1;
	printf("memhog: touched %ld MiB\n", mb);
	return 0;
}

static int cmd_forkbomb(int argc, char **argv)
{
	static pid_t children[1 << 16];
	size_t n = 0;
	int err = 0;

	NO_ARGS();

	for (;;) {
		pid_t pid;

		if (n == sizeof(children) / sizeof(children[0])) {
			err = 0;
			break;
		}
		pid = fork();
		if (pid < 0) {
			err = errno;
			break;
		}
		if (pid == 0) {
			for (;;)
				pause();
		}
		children[n++] = pid;
	}
	printf("forkbomb: forked %zu errno=%s\n", n, err ? errno_name(err) : "none");
	fflush(stdout);
	for (size_t i = 0; i < n; i++)
		kill(children[i], SIGKILL);
	for (size_t i = 0; i < n; i++)
		waitpid(children[i], NULL, 0);
	printf("forkbomb: reaped %zu\n", n);
	return 0;
}

static void spin_forever(void)
{
	volatile unsigned long x = 0;

	for (;;)
		x++;
}

/* Children leave the process group and session, and their parent, as a process
 * escaping its invoker would; stop signals are ignored. Only the sandbox's own kill can
 * end them. */
static int cmd_spin(int argc, char **argv)
{
	long children = 0;

	if (argc > 1 || (argc == 1 && (!parse_long(argv[0], &children) || children < 0)))
		return usage();
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	for (long i = 0; i < children; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			printf("spin: fork errno=%s\n", errno_name(errno));
			return 1;
		}
		if (pid == 0) {
			setsid();
			if (fork() == 0)
				spin_forever();
			_exit(0);
		}
		waitpid(pid, NULL, 0);
	}
	printf("spin: pid=%d children=%ld\n", (int)getpid(), children);
	fflush(stdout);
	spin_forever();
	return 0;
}

static uint64_t clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int cmd_burn(int argc, char **argv)
{
	long seconds;
	uint64_t start, cpu_start;
	volatile unsigned long x = 0;

	if (argc != 1 || !parse_long(argv[0], &seconds) || seconds <= 0)
		return usage();
	start = clock_ms(CLOCK_MONOTONIC);
	cpu_start = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
	while (clock_ms(CLOCK_MONOTONIC) - start < (uint64_t)seconds * 1000)
		for (int i = 0; i < 100000; i++)
			x++;
	printf("burn: wall_ms=%llu cpu_ms=%llu\n",
	       (unsigned long long)(clock_ms(CLOCK_MONOTONIC) - start),
	       (unsigned long long)(clock_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu_start));
	return 0;
}

/* Writes the files in turn, 64 KiB at a time, until a write fails: with two or more
 * files none reaches the size of the file system on its own. */
static int cmd_fill(int argc, char **argv)
{
	static char chunk[1 << 16];
	unsigned long long total = 0;
	int fds[16], err = 0, i = 0;

	if (argc < 1 || argc > 16)
		return usage();
	memset(chunk, 'x', sizeof(chunk));
	for (int f = 0; f < argc; f++) {
		fds[f] = open(argv[f], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fds[f] < 0) {
			printf("fill: open %s errno=%s\n", argv[f], errno_name(errno));
			return 0;
		}
	}
	for (;; i = (i + 1) % argc) {
		ssize_t n = write(fds[i], chunk, sizeof(chunk));

		if (n < 0) {
			err = errno;
			break;
		}
		total += (unsigned long long)n;
		if (n < (ssize_t)sizeof(chunk)) {
			/* A short write: the next one says why. */
			n = write(fds[i], chunk, sizeof(chunk));
			err = n < 0 ? errno : 0;
			if (n > 0)
				total += (unsigned long long)n;
			break;
		}
	}
	printf("fill: wrote %llu bytes errno=%s file=%s\n", total, err ? errno_name(err) : "none",
	       argv[i]);
	for (int f = 0; f < argc; f++)
		close(fds[f]);
	return 0;
}

static int cmd_openmany(int argc, char **argv)
{
	int n = 0, err = 0;

	NO_ARGS();

	for (;;) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd < 0) {
			err = errno;
			break;
		}
		n++;
		if (n > 1 << 20)
			break;
	}
	printf("openmany: opened %d errno=%s\n", n, err ? errno_name(err) : "none");
	return 0;
}

static void print_rlimit(const char *name, int resource)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) < 0) {
		printf(" %s=errno:%s", name, errno_name(errno));
		return;
	}
	printf(" %s=", name);
	if (rl.rlim_cur == RLIM_INFINITY)
		printf("unlimited");
	else
		printf("%llu", (unsigned long long)rl.rlim_cur);
	if (rl.rlim_max == RLIM_INFINITY)
		printf("/unlimited");
	else
		printf("/%llu", (unsigned long long)rl.rlim_max);
}

static int cmd_rlimits(int argc, char **argv)
{
	NO_ARGS();
	printf("rlimits:");
	print_rlimit("NOFILE", RLIMIT_NOFILE);
	print_rlimit("CORE", RLIMIT_CORE);
	print_rlimit("FSIZE", RLIMIT_FSIZE);
	print_rlimit("NPROC", RLIMIT_NPROC);
	printf("\n");
	return 0;
}

/* ---- identity and privilege ---- */

static int cmd_fds(int argc, char **argv)
{
	struct dirent *e;
	DIR *d;

	NO_ARGS();
	d = opendir("/proc/self/fd");
	if (!d) {
		printf("fds: errno=%s\n", errno_name(errno));
		return 1;
	}
	printf("fds:");
	while ((e = readdir(d))) {
		char link[300], target[256];
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		printf(" %s=%s", e->d_name, target);
	}
	printf("\n");
	closedir(d);
	return 0;
}

static int cmd_caps(int argc, char **argv)
{
	static const char *const keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
					     "NoNewPrivs", "Seccomp" };
	char line[256];
	FILE *f;

	NO_ARGS();
	f = fopen("/proc/self/status", "re");
	if (!f) {
		printf("caps: errno=%s\n", errno_name(errno));
		return 1;
	}
	printf("caps:");
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = '\0';
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strcmp(line, keys[i]))
				continue;
			char *v = colon + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			printf(" %s=%s", line, v);
		}
	}
	printf("\n");
	fclose(f);
	return 0;
}

static void print_ids(const char *prefix)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[64];
	int n = getgroups(64, groups);

	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	printf("%s: uid=%u euid=%u suid=%u gid=%u egid=%u sgid=%u groups=", prefix, ru, eu, su, rg,
	       eg, sg);
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", groups[i]);
}

static int cmd_id(int argc, char **argv)
{
	NO_ARGS();
	print_ids("id");
	printf("\n");
	return 0;
}

static int cmd_setuid_check(int argc, char **argv)
{
	long r;

	NO_ARGS();

	print_ids("setuid-check");
	/* Raw: glibc's setuid would try to apply it to every thread. */
	r = syscall(SYS_setuid, 0);
	printf(" setuid0=%s", r == 0 ? "ok" : errno_name(errno));
	printf(" euid_after=%u\n", geteuid());
	return 0;
}

/* ---- files ---- */

static int cmd_write(int argc, char **argv)
{
	static const char data[] = "lamina-probe\n";
	int fd;

	if (argc != 1)
		return usage();
	fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		printf("write %s: errno=%s\n", argv[0], errno_name(errno));
		return 0;
	}
	if (write(fd, data, sizeof(data) - 1) != (ssize_t)sizeof(data) - 1) {
		printf("write %s: write errno=%s\n", argv[0], errno_name(errno));
		close(fd);
		return 0;
	}
	close(fd);
	printf("write %s: ok\n", argv[0]);
	return 0;
}

static int cmd_read(int argc, char **argv)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (argc != 1)
		return usage();
	fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("read %s: errno=%s\n", argv[0], errno_name(errno));
		return 0;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0)
		printf("read %s: errno=%s\n", argv[0], errno_name(errno));
	else
		printf("read %s: ok bytes=%zd\n", argv[0], n);
	close(fd);
	return 0;
}

static int cmd_cat(int argc, char **argv)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (argc != 1)
		return usage();
	/* "-" is the inherited fd 0: reopening it through /dev/stdin needs access to the
	 * pipe's inode, which belongs to whoever made the pipe. */
	fd = strcmp(argv[0], "-") ? open(argv[0], O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0) {
		fprintf(stderr, "cat %s: errno=%s\n", argv[0], errno_name(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (fd)
		close(fd);
	return n < 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_ls(int argc, char **argv)
{
	char *names[4096];
	size_t n = 0;
	struct dirent *e;
	DIR *d;

	if (argc != 1)
		return usage();
	d = opendir(argv[0]);
	if (!d) {
		printf("ls %s: errno=%s\n", argv[0], errno_name(errno));
		return 0;
	}
	while ((e = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), compare_names);
	printf("ls %s:", argv[0]);
	for (size_t i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
	return 0;
}

static int cmd_readlink(int argc, char **argv)
{
	char target[4096];
	ssize_t n;

	if (argc != 1)
		return usage();
	n = readlink(argv[0], target, sizeof(target) - 1);
	if (n < 0) {
		printf("readlink %s: errno=%s\n", argv[0], errno_name(errno));
		return 0;
	}
	target[n] = '\0';
	printf("readlink %s: %s\n", argv[0], target);
	return 0;
}

/* ---- network ---- */

static int cmd_ifaces(int argc, char **argv)
{
	char line[512];
	FILE *f;
	int sock;

	NO_ARGS();
	f = fopen("/proc/net/dev", "re");
	if (!f) {
		printf("ifaces: errno=%s\n", errno_name(errno));
		return 1;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	printf("ifaces:");
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *name = line;
		struct ifreq ifr;

		if (!colon)
			continue;	/* the two header lines */
		*colon = '\0';
		name += strspn(name, " ");
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		if (sock >= 0 && ioctl(sock, SIOCGIFFLAGS, &ifr) == 0)
			printf(" %s=%s", name, ifr.ifr_flags & IFF_UP ? "up" : "down");
		else
			printf(" %s=unknown", name);
	}
	printf("\n");
	fclose(f);
	if (sock >= 0)
		close(sock);
	return 0;
}

static int cmd_connect_tcp(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	long port;
	int fd;

	if (argc != 2 || inet_pton(AF_INET, argv[0], &sin.sin_addr) != 1 ||
	    !parse_long(argv[1], &port) || port <= 0 || port > 65535)
		return usage();
	sin.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		printf("connect-tcp %s:%ld: socket errno=%s\n", argv[0], port, errno_name(errno));
		return 0;
	}
	/* A short timeout: a black hole must not hold the test up. */
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		printf("connect-tcp %s:%ld: errno=%s\n", argv[0], port, errno_name(errno));
	else
		printf("connect-tcp %s:%ld: ok\n", argv[0], port);
	close(fd);
	return 0;
}

static int cmd_connect_unix_abstract(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t addr_len;
	size_t len;
	int fd;

	if (argc != 1 || (len = strlen(argv[0])) + 1 > sizeof(sun.sun_path))
		return usage();
	memcpy(sun.sun_path + 1, argv[0], len);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		printf("connect-unix-abstract %s: socket errno=%s\n", argv[0], errno_name(errno));
		return 0;
	}
	/* An abstract name: a leading NUL, and the length says where it ends. */
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
	if (connect(fd, (struct sockaddr *)&sun, addr_len) < 0)
		printf("connect-unix-abstract %s: errno=%s\n", argv[0], errno_name(errno));
	else
		printf("connect-unix-abstract %s: ok\n", argv[0]);
	close(fd);
	return 0;
}

/* ---- IPC ---- */

static int cmd_msgget(int argc, char **argv)
{
	long key;
	int id;

	if (argc != 1 || !parse_long(argv[0], &key))
		return usage();
	id = msgget((key_t)key, 0);
	if (id < 0)
		printf("msgget %ld: errno=%s\n", key, errno_name(errno));
	else
		printf("msgget %ld: ok id=%d\n", key, id);
	return 0;
}

/* ---- processes ---- */

static int cmd_kill(int argc, char **argv)
{
	long pid, sig;

	if (argc != 2 || !parse_long(argv[0], &pid) || !parse_long(argv[1], &sig))
		return usage();
	if (kill((pid_t)pid, (int)sig) < 0)
		printf("kill %ld %ld: errno=%s\n", pid, sig, errno_name(errno));
	else
		printf("kill %ld %ld: ok\n", pid, sig);
	return 0;
}

static int cmd_pid(int argc, char **argv)
{
	NO_ARGS();
	printf("pid: pid=%d ppid=%d\n", (int)getpid(), (int)getppid());
	return 0;
}

static int cmd_ps(int argc, char **argv)
{
	struct dirent *e;
	DIR *d;

	NO_ARGS();
	d = opendir("/proc");
	if (!d) {
		printf("ps: errno=%s\n", errno_name(errno));
		return 1;
	}
	printf("ps:");
	while ((e = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		printf(" %s=%s", e->d_name, comm);
	}
	printf("\n");
	closedir(d);
	return 0;
}

static int cmd_hostname(int argc, char **argv)
{
	struct utsname u;

	NO_ARGS();

	uname(&u);
	printf("hostname: %s\n", u.nodename);
	return 0;
}

static int cmd_env(int argc, char **argv)
{
	extern char **environ;

	NO_ARGS();

	for (char **e = environ; *e; e++)
		printf("env: %s\n", *e);
	return 0;
}

static int cmd_cgroup(int argc, char **argv)
{
	char *args[] = { "/proc/self/cgroup" };

	NO_ARGS();

	return cmd_cat(1, args);
}

/* Threads as language runtimes make them: glibc's pthread_create tries clone3 first,
 * which the sandbox answers with ENOSYS, and falls back to clone with CLONE_THREAD. */
static void *thread_main(void *arg)
{
	volatile unsigned long x = 0;

	for (int i = 0; i < 1000000; i++)
		x++;
	return arg;
}

static int cmd_threads(int argc, char **argv)
{
	pthread_t threads[64];
	long n;
	int started = 0, joined = 0, r = 0;

	if (argc != 1 || !parse_long(argv[0], &n) || n <= 0 || n > 64)
		return usage();
	for (long i = 0; i < n; i++) {
		r = pthread_create(&threads[i], NULL, thread_main, (void *)(intptr_t)(i + 1));
		if (r)
			break;
		started++;
	}
	for (int i = 0; i < started; i++) {
		void *ret;

		if (pthread_join(threads[i], &ret) == 0 && ret == (void *)(intptr_t)(i + 1))
			joined++;
	}
	printf("threads: started=%d joined=%d errno=%s\n", started, joined, r ? errno_name(r) : "none");
	return 0;
}

static int cmd_segv(int argc, char **argv)
{
	NO_ARGS();
	fflush(stdout);
	signal(SIGSEGV, SIG_DFL);
	/* A real fault, as a buggy function makes one: the compiler cannot see the NULL. */
	int *volatile p = NULL;
	*(volatile int *)p = 1;
	return 1;
}

static int cmd_abort(int argc, char **argv)
{
	NO_ARGS();
	fflush(stdout);
	abort();
}

static int cmd_exit(int argc, char **argv)
{
	long code;

	if (argc != 1 || !parse_long(argv[0], &code) || code < 0 || code > 255)
		return usage();
	fflush(stdout);
	_exit((int)code);
}

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *args;
	const char *help;
};

static const struct command commands[] = {
	{ "try-syscall", cmd_try_syscall, "NAME...|list",
	  "attempt each syscall in a child; NAME: ok|errno=E" },
	{ "memhog", cmd_memhog, "MB",
	  "allocate and touch MB MiB (an OOM kill ends it early)" },
	{ "forkbomb", cmd_forkbomb, "",
	  "fork until fork fails, report how many, kill and reap them" },
	{ "spin", cmd_spin, "[CHILDREN]",
	  "busy-loop forever, with CHILDREN escaped spinners" },
	{ "burn", cmd_burn, "SECONDS",
	  "busy-loop for SECONDS of wall time, report CPU time" },
	{ "fill", cmd_fill, "FILE...",
	  "write the FILEs in turn until a write fails" },
	{ "openmany", cmd_openmany, "",
	  "open fds until open fails" },
	{ "rlimits", cmd_rlimits, "",
	  "NOFILE, CORE, FSIZE and NPROC limits (soft/hard)" },
	{ "fds", cmd_fds, "",
	  "open fds and what they are" },
	{ "caps", cmd_caps, "",
	  "capability sets, no_new_privs, seccomp mode" },
	{ "id", cmd_id, "",
	  "real, effective and saved ids, groups" },
	{ "setuid-check", cmd_setuid_check, "",
	  "ids, then try setuid(0)" },
	{ "write", cmd_write, "PATH",
	  "create or truncate PATH and write a line" },
	{ "read", cmd_read, "PATH",
	  "open and read PATH" },
	{ "cat", cmd_cat, "PATH|-",
	  "copy PATH (or fd 0) to stdout" },
	{ "ls", cmd_ls, "PATH",
	  "list a directory, sorted" },
	{ "readlink", cmd_readlink, "PATH",
	  "where a symlink points" },
	{ "ifaces", cmd_ifaces, "",
	  "network interfaces and whether they are up" },
	{ "connect-tcp", cmd_connect_tcp, "IP PORT",
	  "connect to a TCP address" },
	{ "connect-unix-abstract", cmd_connect_unix_abstract, "NAME",
	  "connect to an abstract socket" },
	{ "msgget", cmd_msgget, "KEY",
	  "look up a System V message queue" },
	{ "kill", cmd_kill, "PID SIG",
	  "send a signal" },
	{ "pid", cmd_pid, "",
	  "own pid and parent pid" },
	{ "ps", cmd_ps, "",
	  "every visible process and its name" },
	{ "hostname", cmd_hostname, "",
	  "the UTS host name" },
	{ "env", cmd_env, "",
	  "the environment, one variable a line" },
	{ "cgroup", cmd_cgroup, "",
	  "/proc/self/cgroup" },
	{ "threads", cmd_threads, "N",
	  "start N pthreads and join them" },
	{ "exit", cmd_exit, "N",
	  "exit with status N" },
	{ "segv", cmd_segv, "",
	  "die of a real segmentation fault" },
	{ "abort", cmd_abort, "",
	  "call abort()" },
};

static int usage(void)
{
	fprintf(stderr, "usage: probe SUBCOMMAND [ARGS]\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  %-21s %-13s %s\n", commands[i].name, commands[i].args,
			commands[i].help);
	return 2;
}

int main(int argc, char **argv)
{
	/* Lines must reach the pipe before a kill can cut them off. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, argv[1]))
			return commands[i].run(argc - 2, argv + 2);
	fprintf(stderr, "probe: unknown subcommand '%s'\n", argv[1]);
	return usage();
}
