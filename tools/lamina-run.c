/* SPDX-License-Identifier: MIT */
/*
 * lamina-run: runs one command in one micro-container and exits with its status
 * (128+N for signal N, 124 for a timeout, 137 for an OOM kill). The tool's own
 * failures exit 125, a command that cannot be executed 126, one not found 127.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "../runtime/sandbox.h"

#define EXIT_TOOL 125
#define MAX_ENV 256

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: lamina-run [OPTIONS] -- CMD [ARGS...]\n"
		"Run CMD in a micro-container: new pid, mount, ipc, uts, net and cgroup namespaces,\n"
		"a read-only root, no capabilities, a seccomp allowlist and cgroup limits.\n\n"
		"  --memory MB        memory limit, no swap (default 128, minimum 16)\n"
		"  --pids N           process limit (default 1024)\n"
		"  --cpus N           CPU limit in CPUs, e.g. 0.5 (default: unlimited)\n"
		"  --timeout S        wall-clock limit in seconds; the whole tree is killed (exit 124)\n"
		"  --tmp-size MB      size of the private /tmp (default 512)\n"
		"  --code DIR         directory bound read-only at /var/task\n"
		"  --opt DIR          directory bound read-only at /opt\n"
		"  --uid U, --gid G   identity inside (default: an id no host account uses)\n"
		"  --env K=V          set an environment variable (repeatable; nothing is inherited)\n"
		"  --net none|host    network: only loopback (default) or the host's\n"
		"  --cgroup-parent P  parent cgroup (default: lamina)\n"
		"  --json             print how it ended as JSON on stderr\n"
		"  -h, --help         show this help\n\n"
		"Exit status: the command's; 128+N if killed by signal N; 124 on timeout;\n"
		"137 on an out-of-memory kill; 125 if lamina-run itself failed.\n");
}

static int parse_u64(const char *opt, const char *value, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v > max) {
		fprintf(stderr, "lamina-run: %s: invalid value '%s' (a whole number up to %llu)\n",
			opt, value, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_decimal(const char *opt, const char *value, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (errno || end == value || *end || !(v > 0) || v > max) {
		fprintf(stderr, "lamina-run: %s: invalid value '%s' (a positive number up to %g)\n",
			opt, value, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* An id that no host account or group has, from a range far above normal users. */
static unsigned pick_unused_id(void)
{
	for (unsigned id = 61000; id < 65000; id++)
		if (!getpwuid(id) && !getgrgid(id))
			return id;
	return 64999;
}

static int exit_status(const struct lr_result *res)
{
	switch (res->reason) {
	case LR_END_EXIT:
		return res->exit_code;
	case LR_END_TIMEOUT:
		return 124;
	case LR_END_OOM:
		return 137;
	case LR_END_SIGNAL:
		return 128 + res->signal;
	}
	return EXIT_TOOL;
}

static void print_json(const struct lr_result *res)
{
	json_t *o = json_pack("{s:o, s:o, s:s, s:f, s:I, s:I}",
			      "exit_code", res->reason == LR_END_EXIT ? json_integer(res->exit_code) : json_null(),
			      "signal", res->signal ? json_integer(res->signal) : json_null(),
			      "reason", lr_end_reason_name(res->reason),
			      "wall_ms", res->wall_ns / 1e6,
			      "peak_memory_bytes", (json_int_t)res->peak_memory_bytes,
			      "oom_kills", (json_int_t)res->oom_kills);
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));

	fflush(stdout);
	fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(o);
}

/* Waits for the sandbox, killing it at the timeout or when we are told to stop. */
static int wait_sandbox(struct lr_sandbox *sb, uint64_t timeout_ms, int sig_fd,
			struct lr_result *res, struct lr_error *err)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfds[2] = { { .fd = lr_sandbox_pidfd(sb), .events = POLLIN },
					  { .fd = sig_fd, .events = POLLIN } };
		int timeout = -1, r;

		if (timeout_ms) {
			struct timespec now;
			int64_t elapsed;

			clock_gettime(CLOCK_MONOTONIC, &now);
			elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
			if (elapsed >= (int64_t)timeout_ms) {
				r = lr_sandbox_kill(sb, true, err);
				if (r < 0)
					return r;
				timeout_ms = 0;
				continue;
			}
			timeout = (int)(timeout_ms - elapsed);
		}
		r = poll(pfds, 2, timeout);
		if (r < 0 && errno != EINTR)
			return lr_error_set(err, errno, "poll");
		if (r > 0 && (pfds[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				lr_sandbox_kill(sb, false, NULL);
		}
		if (r > 0 && (pfds[0].revents & POLLIN)) {
			r = lr_sandbox_reap(sb, res, err);
			if (r != -EAGAIN)
				return r;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "memory", required_argument, NULL, 'm' },	{ "pids", required_argument, NULL, 'p' },
		{ "cpus", required_argument, NULL, 'c' },	{ "timeout", required_argument, NULL, 't' },
		{ "tmp-size", required_argument, NULL, 's' },	{ "code", required_argument, NULL, 'C' },
		{ "opt", required_argument, NULL, 'O' },	{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },	{ "env", required_argument, NULL, 'e' },
		{ "net", required_argument, NULL, 'n' },	{ "json", no_argument, NULL, 'j' },
		{ "cgroup-parent", required_argument, NULL, 'P' }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *env[MAX_ENV + 8] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp",
					 "LANG=C.UTF-8", "TZ=:UTC" };
	size_t n_env = 4;
	uint64_t memory_mb = 128, pids = 1024, tmp_mb = 512, uid = 0, gid = 0, v;
	double timeout_s = 0, cpus = 0;
	bool json = false, uid_set = false, gid_set = false;
	struct lr_runtime_config config = { 0 };
	struct lr_spec spec = { .stdio = { 0, 1, 2 }, .net = LR_NET_NONE, .netns_fd = -1 };
	struct lr_runtime *rt = NULL;
	struct lr_sandbox *sb = NULL;
	struct lr_result res = { 0 };
	struct lr_error err = { 0 };
	char abs_code[PATH_MAX], abs_opt[PATH_MAX];
	sigset_t stop_signals;
	int opt, sig_fd, r, status = EXIT_TOOL;

	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (parse_u64("--memory", optarg, 1 << 30, &memory_mb) < 0)
				return EXIT_TOOL;
			break;
		case 'p':
			if (parse_u64("--pids", optarg, 4194304, &pids) < 0 || pids == 0) {
				if (pids == 0)
					fprintf(stderr, "lamina-run: --pids must be at least 1\n");
				return EXIT_TOOL;
			}
			break;
		case 'c':
			if (parse_decimal("--cpus", optarg, 1024, &cpus) < 0)
				return EXIT_TOOL;
			/* The kernel's smallest CFS quota is 1 ms per 100 ms period. */
			if (cpus < 0.01) {
				fprintf(stderr, "lamina-run: --cpus %s: the minimum is 0.01\n", optarg);
				return EXIT_TOOL;
			}
			break;
		case 't':
			if (parse_decimal("--timeout", optarg, 86400, &timeout_s) < 0)
				return EXIT_TOOL;
			break;
		case 's':
			if (parse_u64("--tmp-size", optarg, 1 << 20, &tmp_mb) < 0 || tmp_mb == 0) {
				if (tmp_mb == 0)
					fprintf(stderr, "lamina-run: --tmp-size must be at least 1\n");
				return EXIT_TOOL;
			}
			break;
		case 'C':
		case 'O':
			if (!realpath(optarg, opt == 'C' ? abs_code : abs_opt)) {
				fprintf(stderr, "lamina-run: %s '%s': %s\n", opt == 'C' ? "--code" : "--opt",
					optarg, strerror(errno));
				return EXIT_TOOL;
			}
			if (opt == 'C')
				spec.code_dir = abs_code;
			else
				spec.opt_dir = abs_opt;
			break;
		case 'u':
			if (parse_u64("--uid", optarg, 0xfffffffe, &uid) < 0)
				return EXIT_TOOL;
			uid_set = true;
			break;
		case 'g':
			if (parse_u64("--gid", optarg, 0xfffffffe, &gid) < 0)
				return EXIT_TOOL;
			gid_set = true;
			break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				fprintf(stderr, "lamina-run: --env '%s': expected KEY=VALUE\n", optarg);
				return EXIT_TOOL;
			}
			if (n_env == MAX_ENV) {
				fprintf(stderr, "lamina-run: too many --env (at most %d)\n", MAX_ENV);
				return EXIT_TOOL;
			}
			/* A later value for the same key replaces the earlier one. */
			v = strchr(optarg, '=') - optarg + 1;
			for (size_t i = 0; i < n_env; i++)
				if (strncmp(env[i], optarg, v) == 0) {
					env[i] = env[--n_env];
					break;
				}
			env[n_env++] = optarg;
			break;
		case 'n':
			if (!strcmp(optarg, "none")) {
				spec.net = LR_NET_NONE;
			} else if (!strcmp(optarg, "host")) {
				spec.net = LR_NET_HOST;
			} else {
				fprintf(stderr, "lamina-run: --net '%s': expected 'none' or 'host'\n", optarg);
				return EXIT_TOOL;
			}
			break;
		case 'P':
			config.cgroup_parent = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_TOOL;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "lamina-run: no command given (usage: lamina-run [OPTIONS] -- CMD [ARGS...])\n");
		return EXIT_TOOL;
	}
	env[n_env] = NULL;
	if (!uid_set || !gid_set) {
		unsigned id = pick_unused_id();
		if (!uid_set)
			uid = id;
		if (!gid_set)
			gid = id;
	}
	spec.argv = (const char *const *)argv + optind;
	spec.envp = env;
	spec.uid = (uid_t)uid;
	spec.gid = (gid_t)gid;
	spec.memory_bytes = memory_mb << 20;
	spec.pids_max = (uint32_t)pids;
	spec.cpu_millis = (uint32_t)(cpus * 1000);
	spec.tmp_bytes = tmp_mb << 20;
	/* Output redirected to a file may grow by as much as /tmp holds, from its current
	 * size: a long log is not cut off, a runaway writer cannot fill the disk. */
	spec.fsize_bytes = spec.tmp_bytes + (1ull << 20);
	for (int fd = 1; fd <= 2; fd++) {
		struct stat st;

		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size + spec.tmp_bytes + (1ull << 20) > spec.fsize_bytes)
			spec.fsize_bytes = (uint64_t)st.st_size + spec.tmp_bytes + (1ull << 20);
	}

	/* Stop requests become a kill of the whole sandbox, then the usual clean-up. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);
	sig_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0) {
		fprintf(stderr, "lamina-run: signalfd: %s\n", strerror(errno));
		return EXIT_TOOL;
	}

	r = lr_runtime_new(&config, &rt, &err);
	if (r == 0) {
		unsigned swept;
		/* What an earlier lamina-run killed with -9 left: its cgroups. */
		r = lr_runtime_sweep(rt, &swept, &err);
	}
	if (r == 0)
		r = lr_sandbox_spawn(rt, &spec, &sb, &err);
	if (r == 0)
		r = wait_sandbox(sb, (uint64_t)ceil(timeout_s * 1000), sig_fd, &res, &err);
	if (r == 0) {
		status = exit_status(&res);
		if (json)
			print_json(&res);
	} else {
		fprintf(stderr, "lamina-run: %s\n", err.message);
		if (r == -ENOENT && strstr(err.message, "execute"))
			status = 127;
		else if ((r == -EACCES || r == -ENOEXEC) && strstr(err.message, "execute"))
			status = 126;
	}
	lr_sandbox_free(sb);
	lr_runtime_free(rt);
	close(sig_fd);
	return status;
}
