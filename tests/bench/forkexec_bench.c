/* SPDX-License-Identifier: MIT */
/*
 * forkexec_bench: the baselines lamina's spawn is compared with.
 *
 *   forkexec_bench [--runs N] [--warmup N] [--posix-spawn] [-- CMD [ARGS...]]
 *     Runs CMD (default /bin/true) N times one after the other and prints the median and
 *     p90 of fork -> execve -> waitpid. With no CMD this is the floor: the cheapest way
 *     to run a program at all. With a CMD (bwrap, crun, lamina-run ...) it times that
 *     command end to end, measured the same way, so the lines are comparable. With
 *     `--vs CMD2 [ARGS...]` after CMD, the two alternate and the median of the paired
 *     differences CMD - CMD2 is printed too: an overhead measured under the same load.
 *
 *   forkexec_bench --idle N [--settle-ms MS] [--ready-comm NAME] -- CMD [ARGS...]
 *     Starts N copies of CMD (e.g. /bin/sleep 600), waits until N processes named NAME
 *     (default "sleep") run below us, and prints how much MemAvailable fell. Then kills
 *     and reaps every one of them, and whatever they started, on every path.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bench_util.h"

extern char **environ;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: forkexec_bench [--runs N] [--warmup N] [--posix-spawn] [-- CMD [ARGS...]\n"
		"                      [--vs CMD2 [ARGS...]]]\n"
		"       forkexec_bench --idle N [--settle-ms MS] [--ready-comm NAME] -- CMD [ARGS...]\n"
		"Times fork+exec+wait of CMD (default /bin/true), alternating with CMD2 if given,\n"
		"or the memory N idle copies of CMD take. Prints key=value results on stdout.\n");
}

/* The command's path looked up once, so that the timed loop has no PATH search. */
static int resolve_command(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		snprintf(out, size, "%s", name);
		return 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');

		snprintf(out, size, "%.*s/%s", (int)(end - path), path, name);
		if (access(out, X_OK) == 0)
			return 0;
		path = *end ? end + 1 : end;
	}
	fprintf(stderr, "forkexec_bench: '%s' not found in PATH\n", name);
	return -1;
}

/* In the child: stdin and stdout to /dev/null (stderr stays, to show failures). */
static void child_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
	}
}

static void child_default_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	sigemptyset(&dfl.sa_mask);
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
}

static pid_t start_fork(const char *path, char **argv, bool die_with_parent)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	child_default_signals();
	if (die_with_parent) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
	}
	child_stdio();
	execv(path, argv);
	fprintf(stderr, "forkexec_bench: execute '%s': %s\n", path, strerror(errno));
	_exit(127);
}

static pid_t start_posix_spawn(const char *path, char **argv)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		errno = r;
		return -1;
	}
	return pid;
}

static int wait_ok(pid_t pid, const char *path)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "forkexec_bench: waitpid: %s\n", strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		fprintf(stderr, "forkexec_bench: '%s' exited with %d\n", path, WEXITSTATUS(status));
	else
		fprintf(stderr, "forkexec_bench: '%s' killed by signal %d\n", path,
			WTERMSIG(status));
	return -1;
}

struct command {
	char path[4096];
	char **argv;
};

/* One fork -> exec -> wait of cmd, in ns; 0 on failure. */
static uint64_t time_once(const struct command *cmd, bool posix)
{
	uint64_t t0 = bench_now_ns();
	pid_t pid = posix ? start_posix_spawn(cmd->path, cmd->argv)
			  : start_fork(cmd->path, cmd->argv, false);

	if (pid < 0) {
		fprintf(stderr, "forkexec_bench: start '%s': %s\n", cmd->path, strerror(errno));
		return 0;
	}
	if (wait_ok(pid, cmd->path) < 0)
		return 0;
	return bench_now_ns() - t0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * With a second command (vs), the two run alternately, so that both see the same host:
 * the paired differences (a - vs) give an overhead to subtract that does not depend
 * on what else the host did between two separate runs.
 */
static int run_timed(const struct command *a, const struct command *vs, unsigned long runs,
		     unsigned long warmup, bool posix)
{
	uint64_t *ns_a = calloc(runs, sizeof(uint64_t)), *ns_vs = calloc(runs, sizeof(uint64_t));
	int64_t *diff = calloc(runs, sizeof(int64_t));
	struct bench_summary s;
	size_t done = 0;
	int rc = 1;

	if (!ns_a || !ns_vs || !diff) {
		fprintf(stderr, "forkexec_bench: out of memory\n");
		goto out;
	}
	for (unsigned long i = 0; i < warmup + runs && !bench_stop; i++) {
		uint64_t ta = time_once(a, posix), tv = 0;

		if (!ta)
			goto out;
		if (vs) {
			tv = time_once(vs, posix);
			if (!tv)
				goto out;
		}
		if (i < warmup)
			continue;
		ns_a[done] = ta;
		ns_vs[done] = tv;
		diff[done] = (int64_t)ta - (int64_t)tv;
		done++;
	}
	if (bench_stop) {
		fprintf(stderr, "forkexec_bench: interrupted\n");
		goto out;
	}
	s = bench_summarize(ns_a, done);
	bench_print_summary("", done, &s);
	if (vs) {
		s = bench_summarize(ns_vs, done);
		printf("vs_median_ms=%.3f vs_p90_ms=%.3f\n", s.median_ms, s.p90_ms);
		qsort(diff, done, sizeof(*diff), cmp_i64);
		printf("diff_median_ms=%.3f diff_p90_ms=%.3f\n",
		       (done % 2 ? (double)diff[done / 2]
				 : ((double)diff[done / 2 - 1] + (double)diff[done / 2]) / 2) / 1e6,
		       (double)diff[(done * 9 + 9) / 10 - 1] / 1e6);
	}
	rc = 0;
out:
	free(ns_a);
	free(ns_vs);
	free(diff);
	return rc;
}

/* ---- idle memory ---- */

/*
 * Counts the processes named comm that descend from us. /proc/PID/task/TID/children
 * needs CONFIG_PROC_CHILDREN, which not every kernel has, so this reads every
 * /proc/PID/stat and follows parent links.
 */
static long count_ready(const char *comm, pid_t *ppid_of, char *is_named, long pid_max)
{
	pid_t self = getpid();
	DIR *d = opendir("/proc");
	struct dirent *de;
	long count = 0;

	if (!d)
		return -1;
	memset(ppid_of, 0, sizeof(*ppid_of) * (size_t)(pid_max + 1));
	memset(is_named, 0, (size_t)(pid_max + 1));
	while ((de = readdir(d))) {
		char path[64], buf[512], *close_paren;
		long pid = strtol(de->d_name, NULL, 10);
		ssize_t n;
		int fd;

		if (pid <= 0 || pid > pid_max)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
		close_paren = strrchr(buf, ')');
		if (!close_paren || close_paren[1] != ' ')
			continue;
		ppid_of[pid] = (pid_t)strtol(close_paren + 4, NULL, 10);
		*close_paren = '\0';
		is_named[pid] = strchr(buf, '(') && !strcmp(strchr(buf, '(') + 1, comm);
	}
	closedir(d);
	for (long pid = 1; pid <= pid_max; pid++) {
		pid_t p = (pid_t)pid;

		if (!is_named[pid])
			continue;
		for (int depth = 0; depth < 64 && p > 1 && p <= pid_max; depth++) {
			p = ppid_of[p];
			if (p == self) {
				count++;
				break;
			}
		}
	}
	return count;
}

static long read_pid_max(void)
{
	long v = 32768;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 32768;
		fclose(f);
	}
	return v;
}

/* Kills what we started and reaps until no child is left: as a subreaper we also
 * inherit, and reap, anything they started (bwrap's init and its command). */
static void kill_and_reap_all(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (;;) {
		if (waitpid(-1, NULL, 0) < 0) {
			if (errno == EINTR)
				continue;
			break;	/* ECHILD: nothing left */
		}
	}
}

static int run_idle(const char *path, char **argv, unsigned long n, unsigned long settle_ms,
		    const char *ready_comm)
{
	long pid_max = read_pid_max();
	pid_t *pids = calloc(n, sizeof(*pids));
	pid_t *ppid_of = calloc((size_t)pid_max + 1, sizeof(*ppid_of));
	char *is_named = calloc((size_t)pid_max + 1, 1);
	struct bench_meminfo before, after, end;
	static struct bench_slabs slabs_before, slabs_after;
	size_t started = 0;
	long ready = 0;
	uint64_t t0, spawn_ns = 0, ready_ns = 0;
	int rc = 1;

	if (!pids || !ppid_of || !is_named) {
		fprintf(stderr, "forkexec_bench: out of memory\n");
		goto out;
	}
	/* Orphans of what we start (bwrap's inner processes) are re-parented to us. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		fprintf(stderr, "forkexec_bench: PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
		goto out;
	}
	if (bench_settled_meminfo((unsigned)settle_ms, &before) < 0) {
		fprintf(stderr, "forkexec_bench: cannot read MemAvailable\n");
		goto out;
	}
	bench_slabs_read(&slabs_before);
	t0 = bench_now_ns();
	for (; started < n && !bench_stop; started++) {
		pid_t pid = start_fork(path, argv, true);

		if (pid < 0) {
			fprintf(stderr, "forkexec_bench: fork: %s\n", strerror(errno));
			goto out;
		}
		pids[started] = pid;
	}
	spawn_ns = bench_now_ns() - t0;
	/* Up means the command itself runs, not just its launcher: 60 s at most. */
	for (int tries = 0; tries < 600 && !bench_stop; tries++) {
		ready = count_ready(ready_comm, ppid_of, is_named, pid_max);
		if (ready < 0 || ready >= (long)n)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	ready_ns = bench_now_ns() - t0;
	if (bench_stop || ready != (long)n) {
		fprintf(stderr, "forkexec_bench: %s: %ld of %lu '%s' processes up\n",
			bench_stop ? "interrupted" : "timed out", ready, n, ready_comm);
		goto out;
	}
	if (bench_settled_meminfo((unsigned)settle_ms, &after) < 0) {
		fprintf(stderr, "forkexec_bench: cannot read MemAvailable\n");
		goto out;
	}
	bench_slabs_read(&slabs_after);
	rc = 0;
out:
	kill_and_reap_all(pids, started);
	if (rc == 0) {
		bench_settled_meminfo((unsigned)settle_ms, &end);
		bench_print_meminfo(n, &before, &after);
		printf(" drift_kib=%lld start_all_ms=%.1f ready_ms=%.1f\n", before.kib[0] - end.kib[0],
		       (double)spawn_ns / 1e6, (double)ready_ns / 1e6);
		bench_print_slab_growth(n, &slabs_before, &slabs_after, 8);
	}
	free(is_named);
	free(ppid_of);
	free(pids);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "posix-spawn", no_argument, NULL, 'p' },
		{ "idle", required_argument, NULL, 'i' },
		{ "settle-ms", required_argument, NULL, 's' },
		{ "ready-comm", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static char *default_cmd[] = { "/bin/true", NULL };
	static struct command a, vs;
	unsigned long runs = 200, warmup = 10, idle = 0, settle_ms = 1000;
	const char *ready_comm = "sleep";
	char path[4096], **cmd;
	bool have_vs = false;
	bool posix = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (bench_parse_uint("--runs", optarg, 1000000, &runs) < 0 || runs == 0)
				return 2;
			break;
		case 'w':
			if (bench_parse_uint("--warmup", optarg, 1000000, &warmup) < 0)
				return 2;
			break;
		case 'p':
			posix = true;
			break;
		case 'i':
			if (bench_parse_uint("--idle", optarg, 20000, &idle) < 0 || idle == 0)
				return 2;
			break;
		case 's':
			if (bench_parse_uint("--settle-ms", optarg, 60000, &settle_ms) < 0)
				return 2;
			break;
		case 'c':
			ready_comm = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	cmd = optind < argc ? argv + optind : default_cmd;
	/* CMD... --vs CMD2...: argv is NULL-terminated, so cutting at --vs splits it. */
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--vs") == 0 && i + 1 < argc && !idle) {
			argv[i] = NULL;
			vs.argv = argv + i + 1;
			have_vs = true;
			break;
		}
	}
	if (!cmd[0] || resolve_command(cmd[0], path, sizeof(path)) < 0)
		return 1;
	bench_catch_stop_signals();
	if (idle)
		return run_idle(path, cmd, idle, settle_ms, ready_comm);
	snprintf(a.path, sizeof(a.path), "%s", path);
	a.argv = cmd;
	if (have_vs && resolve_command(vs.argv[0], vs.path, sizeof(vs.path)) < 0)
		return 1;
	return run_timed(&a, have_vs ? &vs : NULL, runs, warmup, posix);
}
