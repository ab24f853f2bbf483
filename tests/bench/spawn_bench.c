/* SPDX-License-Identifier: MIT */
/*
 * spawn_bench: what a lamina sandbox costs, through the runtime library.
 *
 *   spawn_bench [--runs N] [--warmup N] [--pool N] [--fresh-netns] [--floor] [-- CMD [ARGS...]]
 *     N sandboxes of CMD (default /bin/true) one after the other; each spawn + wait + free
 *     is timed. --pool N keeps up to N emptied cgroups for reuse (0: mkdir/rmdir each
 *     time); the sandboxes join one network namespace made once by lr_netns_create(),
 *     as the scheduler does for one function, unless --fresh-netns gives each its own.
 *     Prints the median and p90 of the whole, and of spawn, wait and free apart. --floor
 *     also runs CMD by plain fork+exec before each sandbox, so that the ratio to the floor
 *     comes from one loop under one load (CMD must then be an absolute path).
 *
 *   spawn_bench --idle N [--settle-ms MS]
 *     N sandboxes of `/bin/sleep 600` at once, sharing one network namespace, and how
 *     much MemAvailable fell; then every one is killed, reaped and its cgroup removed,
 *     on every path, Ctrl-C included.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "../../runtime/sandbox.h"
#include "bench_util.h"

#define BENCH_UID 61000
#define BENCH_MEMORY (64ull << 20)

static const char *const bench_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp",
					 "LANG=C.UTF-8", NULL };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: spawn_bench [--runs N] [--warmup N] [--pool N] [--fresh-netns] [--floor]\n"
		"                   [-- CMD [ARGS...]]\n"
		"       spawn_bench --idle N [--settle-ms MS]\n"
		"Times lamina sandboxes of CMD (default /bin/true) spawned, waited for and freed one\n"
		"after another, or the memory N idle sandboxes take. Prints key=value results.\n");
}

static struct lr_spec bench_spec(const char *const *argv, int netns_fd, uint64_t memory)
{
	return (struct lr_spec){
		.argv = argv,
		.envp = bench_env,
		.uid = BENCH_UID,
		.gid = BENCH_UID,
		.memory_bytes = memory,
		.net = netns_fd >= 0 ? LR_NET_JOIN : LR_NET_NONE,
		.netns_fd = netns_fd,
		.stdio = { -1, -1, 2 },
	};
}

/* The floor, fork -> execve -> waitpid of the same command, in ns; 0 on failure. */
static uint64_t time_fork_exec(const char *const *argv)
{
	uint64_t t0 = bench_now_ns();
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
		}
		execve(argv[0], (char *const *)argv, (char *const *)bench_env);
		_exit(127);
	}
	if (pid < 0)
		return 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "spawn_bench: floor: '%s' failed (status %#x)\n", argv[0], status);
		return 0;
	}
	return bench_now_ns() - t0;
}

static int run_timed(struct lr_runtime *rt, const char *const *argv, int netns_fd,
		     unsigned long runs, unsigned long warmup, bool floor)
{
	struct lr_spec spec = bench_spec(argv, netns_fd, BENCH_MEMORY);
	uint64_t *all = calloc(runs, sizeof(uint64_t)), *spawn = calloc(runs, sizeof(uint64_t));
	uint64_t *wait = calloc(runs, sizeof(uint64_t)), *release = calloc(runs, sizeof(uint64_t));
	uint64_t *floor_ns = calloc(runs, sizeof(uint64_t));
	struct bench_summary s;
	size_t done = 0;
	int rc = 1;

	if (!all || !spawn || !wait || !release || !floor_ns) {
		fprintf(stderr, "spawn_bench: out of memory\n");
		goto out;
	}
	for (unsigned long i = 0; i < warmup + runs && !bench_stop; i++) {
		struct lr_sandbox *sb = NULL;
		struct lr_result res = { 0 };
		struct lr_error err = { 0 };
		uint64_t t0, t1, t2, t3, tf = 0;
		int r;

		if (floor && !(tf = time_fork_exec(argv)))
			goto out;
		t0 = bench_now_ns();
		r = lr_sandbox_spawn(rt, &spec, &sb, &err);
		t1 = bench_now_ns();
		if (r < 0) {
			fprintf(stderr, "spawn_bench: spawn: %s\n", err.message);
			goto out;
		}
		r = lr_sandbox_wait(sb, &res, &err);
		t2 = bench_now_ns();
		lr_sandbox_free(sb);
		t3 = bench_now_ns();
		if (r < 0) {
			fprintf(stderr, "spawn_bench: wait: %s\n", err.message);
			goto out;
		}
		if (res.reason != LR_END_EXIT || res.exit_code != 0) {
			fprintf(stderr, "spawn_bench: '%s' ended by %s (exit %d, signal %d)\n", argv[0],
				lr_end_reason_name(res.reason), res.exit_code, res.signal);
			goto out;
		}
		if (i < warmup)
			continue;
		all[done] = t3 - t0;
		spawn[done] = t1 - t0;
		wait[done] = t2 - t1;
		release[done] = t3 - t2;
		floor_ns[done] = tf;
		done++;
	}
	if (bench_stop) {
		fprintf(stderr, "spawn_bench: interrupted\n");
		goto out;
	}
	s = bench_summarize(all, done);
	bench_print_summary("", done, &s);
	/* The phases apart (each its own median, so they need not add up exactly). */
	s = bench_summarize(spawn, done);
	printf("phase=spawn median_ms=%.3f p90_ms=%.3f\n", s.median_ms, s.p90_ms);
	s = bench_summarize(wait, done);
	printf("phase=wait median_ms=%.3f p90_ms=%.3f\n", s.median_ms, s.p90_ms);
	s = bench_summarize(release, done);
	printf("phase=free median_ms=%.3f p90_ms=%.3f\n", s.median_ms, s.p90_ms);
	if (floor) {
		s = bench_summarize(floor_ns, done);
		printf("floor_median_ms=%.3f floor_p90_ms=%.3f\n", s.median_ms, s.p90_ms);
	}
	rc = 0;
out:
	free(all);
	free(spawn);
	free(wait);
	free(release);
	free(floor_ns);
	return rc;
}

/* Each sandbox holds a pidfd and two fds per cgroup hierarchy. */
static int raise_nofile(unsigned long n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n * 12 + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max < want)
		rl.rlim_max = want;	/* root may raise the hard limit up to fs.nr_open */
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

static int run_idle(struct lr_runtime *rt, int netns_fd, unsigned long n, unsigned long settle_ms)
{
	static const char *const sleep_argv[] = { "/bin/sleep", "600", NULL };
	struct lr_spec spec = bench_spec(sleep_argv, netns_fd, LR_MEMORY_MIN_BYTES);
	struct lr_sandbox **sbs = calloc(n, sizeof(*sbs));
	struct bench_meminfo before, after, end;
	static struct bench_slabs slabs_before, slabs_after;
	uint64_t t0, spawn_ns = 0, free_ns;
	size_t started = 0;
	int rc = 1;

	if (!sbs) {
		fprintf(stderr, "spawn_bench: out of memory\n");
		return 1;
	}
	if (raise_nofile(n) < 0) {
		fprintf(stderr, "spawn_bench: raise RLIMIT_NOFILE: %s\n", strerror(errno));
		goto out;
	}
	if (bench_settled_meminfo((unsigned)settle_ms, &before) < 0) {
		fprintf(stderr, "spawn_bench: cannot read MemAvailable\n");
		goto out;
	}
	bench_slabs_read(&slabs_before);
	t0 = bench_now_ns();
	for (; started < n && !bench_stop; started++) {
		struct lr_error err = { 0 };

		if (lr_sandbox_spawn(rt, &spec, &sbs[started], &err) < 0) {
			fprintf(stderr, "spawn_bench: spawn sandbox %zu: %s\n", started + 1,
				err.message);
			goto out;
		}
	}
	spawn_ns = bench_now_ns() - t0;
	if (bench_stop) {
		fprintf(stderr, "spawn_bench: interrupted\n");
		goto out;
	}
	/* CLONE_VFORK: each spawn returned after its execve, so all are up already. */
	if (bench_settled_meminfo((unsigned)settle_ms, &after) < 0) {
		fprintf(stderr, "spawn_bench: cannot read MemAvailable\n");
		goto out;
	}
	bench_slabs_read(&slabs_after);
	rc = 0;
out:
	/* Kill all first, so that they die in parallel, then reap and release each. */
	t0 = bench_now_ns();
	for (size_t i = 0; i < started; i++)
		if (sbs[i])
			lr_sandbox_kill(sbs[i], false, NULL);
	for (size_t i = 0; i < started; i++)
		lr_sandbox_free(sbs[i]);
	free_ns = bench_now_ns() - t0;
	if (rc == 0) {
		/* Removed cgroups may linger until reclaimed: this shows how much did. */
		bench_settled_meminfo((unsigned)settle_ms, &end);
		bench_print_meminfo(n, &before, &after);
		printf(" drift_kib=%lld start_all_ms=%.1f teardown_ms=%.1f\n",
		       before.kib[0] - end.kib[0], (double)spawn_ns / 1e6, (double)free_ns / 1e6);
		bench_print_slab_growth(n, &slabs_before, &slabs_after, 8);
	}
	free(sbs);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "pool", required_argument, NULL, 'p' },
		{ "fresh-netns", no_argument, NULL, 'n' },
		{ "floor", no_argument, NULL, 'f' },
		{ "idle", required_argument, NULL, 'i' },
		{ "settle-ms", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const char *const default_cmd[] = { "/bin/true", NULL };
	unsigned long runs = 200, warmup = 10, pool = 8, idle = 0, settle_ms = 1000;
	bool fresh_netns = false, floor = false;
	struct lr_runtime_config config = { 0 };
	struct lr_runtime *rt = NULL;
	struct lr_error err = { 0 };
	const char *const *cmd;
	int opt, netns_fd = -1, rc = 1;

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
			if (bench_parse_uint("--pool", optarg, 100000, &pool) < 0)
				return 2;
			break;
		case 'n':
			fresh_netns = true;
			break;
		case 'f':
			floor = true;
			break;
		case 'i':
			if (bench_parse_uint("--idle", optarg, 20000, &idle) < 0 || idle == 0)
				return 2;
			break;
		case 's':
			if (bench_parse_uint("--settle-ms", optarg, 60000, &settle_ms) < 0)
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	cmd = optind < argc ? (const char *const *)argv + optind : default_cmd;
	bench_catch_stop_signals();

	/* The idle sandboxes never exit, so a pool would never be used. */
	config.cgroup_pool_max = idle ? 0 : (unsigned)pool;
	if (lr_runtime_new(&config, &rt, &err) < 0) {
		fprintf(stderr, "spawn_bench: %s\n", err.message);
		return 1;
	}
	if (idle || !fresh_netns) {
		netns_fd = lr_netns_create(&err);
		if (netns_fd < 0) {
			fprintf(stderr, "spawn_bench: %s\n", err.message);
			goto out;
		}
	}
	if (idle)
		rc = run_idle(rt, netns_fd, idle, settle_ms);
	else
		rc = run_timed(rt, cmd, netns_fd, runs, warmup, floor);
out:
	if (netns_fd >= 0)
		close(netns_fd);
	lr_runtime_free(rt);
	return rc;
}
