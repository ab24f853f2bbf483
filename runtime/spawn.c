/* SPDX-License-Identifier: MIT */
/*
 * Spawning a sandbox. The child is cloned with CLONE_VM | CLONE_VFORK, as posix_spawn
 * does: no page tables are copied, the caller sleeps until the child has exec'd or
 * failed, and the child reports a failure by writing into the caller's memory. The
 * child therefore allocates nothing, uses raw syscalls where glibc would touch shared
 * state, and runs one flat checklist in security order:
 *   signals -> cgroups -> namespaces -> root file system -> fds -> limits
 *   -> identity and capabilities -> no_new_privs + seccomp -> exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "identity.h"
#include "runtime_internal.h"
#include "seccomp.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

enum child_step {
	STEP_NONE,
	STEP_SIGNALS,
	STEP_CGROUP,
	STEP_CGROUP_NS,
	STEP_NETNS,
	STEP_LOOPBACK,
	STEP_ROOTFS,
	STEP_HOSTNAME,
	STEP_FDS,
	STEP_RLIMITS,
	STEP_CWD,
	STEP_IDENTITY,
	STEP_PARENT_DEATH,
	STEP_SECCOMP,
	STEP_EXEC,
};

static const char *const step_names[] = {
	[STEP_NONE] = "spawn",
	[STEP_SIGNALS] = "reset signals and session",
	[STEP_CGROUP] = "join cgroup",
	[STEP_CGROUP_NS] = "create cgroup namespace",
	[STEP_NETNS] = "join network namespace",
	[STEP_LOOPBACK] = "bring up loopback",
	[STEP_ROOTFS] = "build root file system",
	[STEP_HOSTNAME] = "set hostname",
	[STEP_FDS] = "set up file descriptors",
	[STEP_RLIMITS] = "set resource limits",
	[STEP_CWD] = "change directory",
	[STEP_IDENTITY] = "drop identity and capabilities",
	[STEP_PARENT_DEATH] = "set parent-death signal",
	[STEP_SECCOMP] = "install seccomp filter",
	[STEP_EXEC] = "execute",
};

struct child_report {
	int step;
	int error;	/* positive errno */
	int op;		/* failing root file system op, or -1 */
};

struct child_args {
	const struct lr_spec *spec;
	const struct lr_runtime *rt;
	const struct rootfs_mounts *mounts;
	const struct cgroup *cgroup;
	const char *cwd;
	const char *hostname;
	const char *path;	/* PATH for the command lookup */
	uint64_t fsize_bytes;
	struct child_report *report;
};

uint64_t lr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- child side ---- */

static int loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		r = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

/*
 * Places the spec's fds at their numbers and closes everything else. Sources are first
 * copied above every target, so that a source equal to another entry's target is not
 * clobbered.
 */
static int setup_fds(const struct lr_spec *spec)
{
	int max_target = 2, copies[3 + 64], targets[3 + 64], n = 0, devnull = -1;

	if (spec->n_fds > 64)
		return -EMFILE;
	for (size_t i = 0; i < spec->n_fds; i++)
		if (spec->fds[i].target > max_target)
			max_target = spec->fds[i].target;
	for (int i = 0; i < 3 + (int)spec->n_fds; i++) {
		int source = i < 3 ? spec->stdio[i] : spec->fds[i - 3].source;

		targets[n] = i < 3 ? i : spec->fds[i - 3].target;
		if (source < 0) {
			if (devnull < 0) {
				devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
				if (devnull < 0)
					return -errno;
			}
			source = devnull;
		}
		copies[n] = fcntl(source, F_DUPFD_CLOEXEC, max_target + 1);
		if (copies[n] < 0)
			return -errno;
		n++;
	}
	for (int i = 0; i < n; i++) {
		if (dup2(copies[i], targets[i]) < 0)
			return -errno;
	}
	/* Close every fd that is not a target. */
	for (int fd = 3; fd <= max_target; fd++) {
		bool keep = false;

		for (int i = 0; i < n && !keep; i++)
			keep = targets[i] == fd;
		if (!keep)
			close(fd);
	}
	if (syscall(SYS_close_range, max_target + 1, ~0u, 0) < 0)
		return -errno;
	return 0;
}

static int set_rlimits(uint64_t fsize)
{
	const struct rlimit nofile = { LR_NOFILE_LIMIT, LR_NOFILE_LIMIT };
	const struct rlimit core = { 0, 0 };
	const struct rlimit fsz = { fsize, fsize };

	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_CORE, &core) < 0 ||
	    setrlimit(RLIMIT_FSIZE, &fsz) < 0)
		return -errno;
	return 0;
}

/* execvpe() would search the caller's PATH; the sandbox's own is wanted. */
static int exec_command(const char *const *argv, const char *const *envp, const char *path)
{
	const char *file = argv[0];
	size_t file_len = strlen(file);
	int saved = ENOENT;

	if (strchr(file, '/')) {
		execve(file, (char *const *)argv, (char *const *)envp);
		return -errno;
	}
	while (*path) {
		const char *end = strchrnul(path, ':');
		size_t dir_len = end - path;
		char candidate[PATH_MAX];

		if (dir_len + 1 + file_len + 1 <= sizeof(candidate)) {
			memcpy(candidate, path, dir_len);
			candidate[dir_len] = '/';
			memcpy(candidate + dir_len + 1, file, file_len + 1);
			execve(candidate, (char *const *)argv, (char *const *)envp);
			if (errno == EACCES)
				saved = EACCES;
			else if (errno != ENOENT && errno != ENOTDIR)
				return -errno;
		}
		path = *end ? end + 1 : end;
	}
	return -saved;
}

static int child_fail(struct child_args *a, int step, int r)
{
	a->report->step = step;
	a->report->error = -r;
	_exit(127);
}

static int child_main(void *arg)
{
	struct child_args *a = arg;
	const struct lr_spec *spec = a->spec;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int r;

	/* The caller's handlers live in memory we share: never run them here. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		return child_fail(a, STEP_SIGNALS, -errno);

	/* A session of its own: no controlling terminal to inject input into (TIOCSTI)
	 * and no process group shared with the caller. */
	if (setsid() < 0)
		return child_fail(a, STEP_SIGNALS, -errno);
	/* Limits apply before the sandbox allocates anything of its own. */
	r = cgroup_enter_self(a->cgroup);
	if (r < 0)
		return child_fail(a, STEP_CGROUP, r);
	/* After joining, so that the namespace's root is the sandbox's own cgroup. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		return child_fail(a, STEP_CGROUP_NS, -errno);
	if (spec->net == LR_NET_JOIN && setns(spec->netns_fd, CLONE_NEWNET) < 0)
		return child_fail(a, STEP_NETNS, -errno);
	if (spec->net == LR_NET_NONE) {
		r = loopback_up();
		if (r < 0)
			return child_fail(a, STEP_LOOPBACK, r);
	}
	r = rootfs_enter(a->rt->template_ns, a->mounts, &a->report->op);
	if (r < 0)
		return child_fail(a, STEP_ROOTFS, r);
	if (sethostname(a->hostname, strlen(a->hostname)) < 0)
		return child_fail(a, STEP_HOSTNAME, -errno);
	r = setup_fds(spec);
	if (r < 0)
		return child_fail(a, STEP_FDS, r);
	r = set_rlimits(a->fsize_bytes);
	if (r < 0)
		return child_fail(a, STEP_RLIMITS, r);
	if (chdir(a->cwd) < 0)
		return child_fail(a, STEP_CWD, -errno);
	r = identity_drop(spec->uid, spec->gid, a->rt->empty_caps);
	if (r < 0)
		return child_fail(a, STEP_IDENTITY, r);
	/* Cleared by the credential change above, so set here. The caller is suspended
	 * (CLONE_VFORK) and cannot have died unnoticed before this point. */
	if (!spec->survive_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return child_fail(a, STEP_PARENT_DEATH, -errno);
	r = syscall_filter_install(&a->rt->seccomp);
	if (r < 0)
		return child_fail(a, STEP_SECCOMP, r);
	r = exec_command(spec->argv, spec->envp, a->path);
	return child_fail(a, STEP_EXEC, r);
}

/* ---- caller side ---- */

static const char *spec_path(const struct lr_spec *spec)
{
	for (const char *const *e = spec->envp; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return *e + 5;
	return DEFAULT_PATH;
}

static int validate_spec(const struct lr_spec *spec, struct lr_error *err)
{
	struct stat st;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t host_memory = (uint64_t)pages * (uint64_t)page;

	if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
		return lr_error_invalid(err, EINVAL, "no command to run");
	if (spec->uid == 0 || spec->gid == 0)
		return lr_error_invalid(err, EINVAL, "uid and gid must not be 0 (root)");
	if (spec->uid == (uid_t)-1 || spec->gid == (gid_t)-1)
		return lr_error_invalid(err, EINVAL, "uid and gid must be valid ids");
	if (spec->memory_bytes < LR_MEMORY_MIN_BYTES)
		return lr_error_invalid(err, EINVAL, "memory limit %llu MiB is below the minimum of %llu MiB",
					(unsigned long long)(spec->memory_bytes >> 20),
					LR_MEMORY_MIN_BYTES >> 20);
	if (spec->memory_bytes > host_memory)
		return lr_error_invalid(err, EINVAL,
					"memory limit %llu MiB is above the host's %llu MiB",
					(unsigned long long)(spec->memory_bytes >> 20),
					(unsigned long long)(host_memory >> 20));
	for (int i = 0; i < 2; i++) {
		const char *dir = i ? spec->opt_dir : spec->code_dir;
		const char *what = i ? "opt directory" : "code directory";

		if (!dir)
			continue;
		if (dir[0] != '/')
			return lr_error_invalid(err, EINVAL, "%s '%s' must be an absolute path", what, dir);
		if (stat(dir, &st) < 0)
			return lr_error_set(err, errno, "%s '%s'", what, dir);
		if (!S_ISDIR(st.st_mode))
			return lr_error_invalid(err, ENOTDIR, "%s '%s' is not a directory", what, dir);
	}
	if (spec->opt_dir && spec->n_opt_layers)
		return lr_error_invalid(err, EINVAL, "give an opt directory or opt layers, not both");
	if (spec->n_opt_layers > LR_OPT_LAYERS_MAX)
		return lr_error_invalid(err, EINVAL, "too many opt layers (%zu, at most %d)",
					spec->n_opt_layers, LR_OPT_LAYERS_MAX);
	for (size_t i = 0; i < spec->n_opt_layers + (spec->root_dir ? 1 : 0); i++) {
		const char *dir = i < spec->n_opt_layers ? spec->opt_layers[i] : spec->root_dir;

		if (!dir || dir[0] != '/')
			return lr_error_invalid(err, EINVAL, "'%s' must be an absolute path",
						dir ? dir : "(null)");
		if (stat(dir, &st) < 0)
			return lr_error_set(err, errno, "'%s'", dir);
		if (!S_ISDIR(st.st_mode))
			return lr_error_invalid(err, ENOTDIR, "'%s' is not a directory", dir);
	}
	if (spec->n_binds > 8)
		return lr_error_invalid(err, EINVAL, "too many binds (%zu, at most 8)", spec->n_binds);
	for (size_t i = 0; i < spec->n_binds; i++) {
		if (!spec->binds[i].source || spec->binds[i].source[0] != '/' || !spec->binds[i].target)
			return lr_error_invalid(err, EINVAL, "bind %zu: source must be an absolute path", i);
		if (stat(spec->binds[i].source, &st) < 0)
			return lr_error_set(err, errno, "bind source '%s'", spec->binds[i].source);
	}
	if (spec->net == LR_NET_JOIN && spec->netns_fd < 0)
		return lr_error_invalid(err, EBADF, "network namespace fd to join is not open");
	for (int i = 0; i < 3; i++)
		if (spec->stdio[i] >= 0 && fcntl(spec->stdio[i], F_GETFD) < 0)
			return lr_error_set(err, errno, "stdio fd %d", spec->stdio[i]);
	if (spec->n_fds > 64)
		return lr_error_invalid(err, EINVAL, "too many fds to pass (%zu, at most 64)", spec->n_fds);
	for (size_t i = 0; i < spec->n_fds; i++) {
		if (spec->fds[i].target < 3 || spec->fds[i].target >= LR_NOFILE_LIMIT)
			return lr_error_invalid(err, EINVAL, "fd target %d out of range 3..%d",
						spec->fds[i].target, LR_NOFILE_LIMIT - 1);
		if (fcntl(spec->fds[i].source, F_GETFD) < 0)
			return lr_error_set(err, errno, "fd %d to pass", spec->fds[i].source);
	}
	return 0;
}

int lr_sandbox_spawn(struct lr_runtime *rt, const struct lr_spec *spec, struct lr_sandbox **out,
		     struct lr_error *err)
{
	struct lr_sandbox *sb = NULL;
	struct cgroup *cg = NULL;
	struct rootfs_mounts mounts = { 0 };
	struct child_report report = { .step = STEP_NONE, .op = -1 };
	struct cgroup_limits limits = {
		.memory_bytes = spec->memory_bytes,
		.pids_max = spec->pids_max ? spec->pids_max : 1024,
		.cpu_millis = spec->cpu_millis,
	};
	uint64_t tmp_bytes = spec->tmp_bytes ? spec->tmp_bytes : 512ull << 20;
	struct child_args args = {
		.spec = spec,
		.rt = rt,
		.cwd = spec->cwd ? spec->cwd : "/var/task",
		.hostname = spec->hostname ? spec->hostname : "lamina",
		.path = spec_path(spec),
		/* Above /tmp's size, so a file there fills the tmpfs (ENOSPC) rather than
		 * meeting SIGXFSZ; what it bounds is growth of files the caller passes in. */
		.fsize_bytes = spec->fsize_bytes ? spec->fsize_bytes : tmp_bytes + (1ull << 20),
		.report = &report,
	};
	int flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC |
		    CLONE_NEWUTS | SIGCHLD;
	int pidfd = -1, r;
	sigset_t all, old;
	pid_t pid;

	r = validate_spec(spec, err);
	if (r < 0)
		return r;
	if (spec->net == LR_NET_NONE)
		flags |= CLONE_NEWNET;

	sb = calloc(1, sizeof(*sb));
	if (!sb) {
		r = lr_error_set(err, ENOMEM, "allocate sandbox");
		goto fail;
	}
	r = rootfs_prepare(&(struct rootfs_sandbox){ .code_dir = spec->code_dir,
						     .opt_dir = spec->opt_dir,
						     .opt_layers = spec->opt_layers,
						     .n_opt_layers = spec->n_opt_layers,
						     .root_dir = spec->root_dir,
						     .binds = spec->binds,
						     .n_binds = spec->n_binds,
						     .tmp_bytes = tmp_bytes,
						     .uid = spec->uid,
						     .gid = spec->gid },
			   &rt->accounts, &mounts, err);
	if (r < 0)
		goto fail;
	r = runtime_cgroup_get(rt, &cg, err);
	if (r < 0)
		goto fail;
	r = cgroup_apply(cg, &limits, err);
	if (r < 0) {
		lr_error_wrap(err, "set cgroup limits");
		goto fail;
	}
	args.mounts = &mounts;
	args.cgroup = cg;
	/* A pooled cgroup's CPU counter runs on from its earlier sandboxes. */
	cgroup_usage(cg, NULL, &sb->cpu_usec_base, NULL);

	/* No signal handler may run in the child while it shares our memory. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	sb->start_ns = lr_now_ns();
	pid = clone(child_main, (char *)rt->child_stack + rt->child_stack_size, flags, &args, &pidfd);
	r = pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		lr_error_set(err, -r, "clone sandbox");
		goto fail;
	}
	if (report.step != STEP_NONE) {
		siginfo_t info;

		waitid(P_PIDFD, pidfd, &info, WEXITED);
		close(pidfd);
		if (report.step == STEP_ROOTFS && report.op != -1) {
			r = lr_error_set(err, report.error, "sandbox: %s: mount '%s'", step_names[report.step],
					 report.op == ROOTFS_FAILED_TMP    ? "/tmp"
					 : report.op == ROOTFS_FAILED_PROC ? "/proc"
					 : report.op == ROOTFS_FAILED_ROOT ? "/ (the custom root)"
					 : report.op == ROOTFS_FAILED_DEV  ? "/dev"
									   : mounts.attach[report.op].target);
		} else if (report.step == STEP_EXEC) {
			r = lr_error_set(err, report.error, "sandbox: execute '%s'", spec->argv[0]);
		} else {
			r = lr_error_set(err, report.error, "sandbox: %s", step_names[report.step]);
		}
		goto fail;
	}
	rootfs_release(&mounts);
	sb->rt = rt;
	sb->pid = pid;
	sb->pidfd = pidfd;
	sb->cgroup = cg;
	sb->timeout_ms = spec->timeout_ms;
	*out = sb;
	return 0;
fail:
	if (cg)
		runtime_cgroup_put(rt, cg);
	rootfs_release(&mounts);
	free(sb);
	return r;
}

pid_t lr_sandbox_pid(const struct lr_sandbox *sb)
{
	return sb->pid;
}

int lr_sandbox_pidfd(const struct lr_sandbox *sb)
{
	return sb->pidfd;
}

int lr_sandbox_kill(struct lr_sandbox *sb, bool as_timeout, struct lr_error *err)
{
	if (sb->reaped)
		return 0;
	if (as_timeout)
		sb->timed_out = true;
	/* The group kill reaches every task at once; killing the namespace's init is the
	 * fallback that also takes the rest of the namespace down. */
	cgroup_kill(sb->cgroup, NULL);
	if (syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
		return lr_error_set(err, errno, "kill sandbox %d", (int)sb->pid);
	return 0;
}

static void fill_result(struct lr_sandbox *sb, const siginfo_t *info)
{
	struct lr_result *res = &sb->result;
	struct cgroup_stats stats = { 0 };

	res->wall_ns = lr_now_ns() - sb->start_ns;
	cgroup_stats(sb->cgroup, &stats, NULL);
	res->peak_memory_bytes = stats.peak_memory_bytes;
	res->oom_kills = stats.oom_kills;
	if (info->si_code == CLD_EXITED) {
		res->reason = LR_END_EXIT;
		res->exit_code = info->si_status;
	} else {
		res->reason = LR_END_SIGNAL;
		res->signal = info->si_status;
	}
	if (sb->timed_out)
		res->reason = LR_END_TIMEOUT;
	else if (res->reason == LR_END_SIGNAL && res->signal == SIGKILL && res->oom_kills)
		res->reason = LR_END_OOM;
}

int lr_sandbox_reap(struct lr_sandbox *sb, struct lr_result *result, struct lr_error *err)
{
	siginfo_t info = { 0 };

	if (!sb->reaped) {
		if (waitid(P_PIDFD, sb->pidfd, &info, WEXITED | WNOHANG) < 0)
			return lr_error_set(err, errno, "wait for sandbox %d", (int)sb->pid);
		if (info.si_pid == 0)
			return -EAGAIN;
		sb->reaped = true;
		fill_result(sb, &info);
	}
	*result = sb->result;
	return 0;
}

int lr_sandbox_wait(struct lr_sandbox *sb, struct lr_result *result, struct lr_error *err)
{
	uint64_t deadline = sb->timeout_ms ? sb->start_ns + sb->timeout_ms * 1000000ull : 0;

	while (!sb->reaped) {
		struct pollfd pfd = { .fd = sb->pidfd, .events = POLLIN };
		int timeout = -1, r;

		if (deadline) {
			uint64_t now = lr_now_ns();

			if (now >= deadline) {
				r = lr_sandbox_kill(sb, true, err);
				if (r < 0)
					return r;
				deadline = 0;
				continue;
			}
			timeout = (int)((deadline - now + 999999) / 1000000);
		}
		r = poll(&pfd, 1, timeout);
		if (r < 0 && errno != EINTR)
			return lr_error_set(err, errno, "poll sandbox %d", (int)sb->pid);
		if (r > 0) {
			r = lr_sandbox_reap(sb, result, err);
			if (r < 0 && r != -EAGAIN)
				return r;
		}
	}
	*result = sb->result;
	return 0;
}

void lr_sandbox_free(struct lr_sandbox *sb)
{
	if (!sb)
		return;
	if (!sb->reaped) {
		siginfo_t info;

		lr_sandbox_kill(sb, false, NULL);
		waitid(P_PIDFD, sb->pidfd, &info, WEXITED);
	}
	close(sb->pidfd);
	runtime_cgroup_put(sb->rt, sb->cgroup);
	free(sb);
}

int lr_sandbox_usage(struct lr_sandbox *sb, struct lr_usage *usage, struct lr_error *err)
{
	uint64_t cpu = 0;
	int r = cgroup_usage(sb->cgroup, &usage->peak_memory_bytes, &cpu, err);

	if (r < 0)
		return r;
	usage->cpu_usec = cpu - sb->cpu_usec_base;
	return 0;
}

int lr_sandbox_peak_memory(struct lr_sandbox *sb, uint64_t *peak_bytes, struct lr_error *err)
{
	return cgroup_usage_peak(sb->cgroup, peak_bytes, err);
}

int lr_sandbox_cpu_time(struct lr_sandbox *sb, uint64_t *cpu_usec, struct lr_error *err)
{
	uint64_t cpu = 0;
	int r = cgroup_usage(sb->cgroup, NULL, &cpu, err);

	*cpu_usec = cpu - sb->cpu_usec_base;
	return r;
}

int lr_sandbox_reset_peak(struct lr_sandbox *sb, struct lr_error *err)
{
	return cgroup_reset_peak(sb->cgroup, err);
}

int lr_sandbox_set_cpu(struct lr_sandbox *sb, uint32_t cpu_millis, struct lr_error *err)
{
	if (cpu_millis && cpu_millis < 10)
		return lr_error_invalid(err, EINVAL, "CPU bandwidth %u/1000 is below the kernel's 10/1000",
					cpu_millis);
	return cgroup_set_cpu(sb->cgroup, cpu_millis, err);
}

const char *lr_end_reason_name(enum lr_end_reason reason)
{
	switch (reason) {
	case LR_END_EXIT:
		return "exit";
	case LR_END_SIGNAL:
		return "signal";
	case LR_END_TIMEOUT:
		return "timeout";
	case LR_END_OOM:
		return "oom";
	}
	return "unknown";
}
