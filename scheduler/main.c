/* SPDX-License-Identifier: MIT */
/* laminad: the scheduler daemon. Serves the socket API from one event loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runtime/sandbox.h"
#include "code_store.h"
#include "daemon.h"
#include "instance.h"
#include "ledger.h"
#include "metering.h"
#include "metrics_http.h"
#include "stats.h"
#include "log.h"
#include "logs.h"
#include "loop.h"
#include "registry.h"
#include "resolve.h"
#include "runtime_api.h"
#include "server.h"

/* Functions' sandbox uids start here: far above any host account (and lamina-run's). */
#define FIRST_FUNCTION_UID 300000
#define DRAIN_POLL_MS 50

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: laminad [OPTIONS]\n"
		"The lamina scheduler: keeps functions, runs their instances in micro-containers\n"
		"and serves the socket API. Runs in the foreground; SIGTERM drains and stops.\n\n"
		"  --state-dir DIR      registry, code and logs (env LAMINA_STATE_DIR;\n"
		"                       default /var/lib/lamina)\n"
		"  --socket PATH        API socket (env LAMINA_SOCKET; default /run/lamina/lamina.sock)\n"
		"  --cgroup-parent P    parent cgroup of the instances (default: lamina)\n"
		"  --config FILE        JSON configuration (Region, Account, AccountConcurrency,\n"
		"                       BillingGranularityMs, PricePerRequest, PricePerGbSecond,\n"
		"                       FreeRequests, FreeGbSeconds, AsyncRetryDelaysMs,\n"
		"                       MaxEventAgeSeconds, KeepAliveSeconds, CpuProportionalToMemory,\n"
		"                       HostMemoryMB, MinAvailableMB, PrewarmHeadroom)\n"
		"  --runtimes-dir DIR   language runtimes' bootstraps (env LAMINA_RUNTIMES_DIR)\n"
		"  --log-level LEVEL    error, warn, info (default) or debug\n"
		"  --metering MODE      how invocations are measured: auto (default: the eBPF\n"
		"                       probes, else cgroup accounting, marked approximate),\n"
		"                       bpf (fail if the probes cannot load) or cgroup\n"
		"  --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
		"  -h, --help           show this help\n");
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void default_runtimes_dir(char *buf, size_t size)
{
	char exe[PATH_MAX], candidate[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv("LAMINA_RUNTIMES_DIR");

	if (env) {
		snprintf(buf, size, "%s", env);
		return;
	}
	if (n > 0) {
		exe[n] = '\0';
		/* In the source tree: build/bin/laminad → images/runtimes. */
		snprintf(candidate, sizeof(candidate), "%s/../../images/runtimes", dirname(exe));
		if (access(candidate, F_OK) == 0 && realpath(candidate, buf))
			return;
		snprintf(candidate, sizeof(candidate), "%s/../share/lamina/runtimes", exe);
		if (realpath(candidate, buf))
			return;
	}
	snprintf(buf, size, "/usr/local/share/lamina/runtimes");
}

struct signals {
	struct daemon *d;
	int fd;
};

/* Log lines reach their files within this long: a write per batch, not per line or
 * per loop iteration (GetLogs flushes first, so readers never miss a line). */
#define LOGS_FLUSH_MS 20

static struct loop_timer *logs_timer;

static int64_t logs_flush_due(struct loop *loop, struct loop_timer *timer, void *data)
{
	struct daemon *d = data;

	(void)loop;
	(void)timer;
	logs_timer = NULL;
	logs_flush(d->logs);
	return LOOP_TIMER_DONE;
}

static void before_sleep(struct loop *loop, void *data)
{
	struct daemon *d = data;

	server_flush(d->server);
	rapi_flush_acks();
	functions_write_reports(d->functions);
	if (!logs_timer && logs_pending(d->logs))
		logs_timer = loop_timer_add(loop, LOGS_FLUSH_MS, logs_flush_due, d);
}

static int64_t drain_check(struct loop *loop, struct loop_timer *timer, void *data)
{
	struct daemon *d = data;

	(void)timer;
	if (functions_inflight_count(d->functions) == 0) {
		loop_stop(loop);
		return LOOP_TIMER_DONE;
	}
	return DRAIN_POLL_MS;
}

static void on_signal(struct loop *loop, int fd, unsigned events, void *data)
{
	struct signals *s = data;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (s->d->draining) {
		log_warn("second stop signal: stopping now");
		loop_stop(loop);
		return;
	}
	log_info("%s: draining %u in-flight invocation(s), then stopping",
		 strsignal((int)si.ssi_signo), functions_inflight_count(s->d->functions));
	s->d->draining = true;
	loop_timer_add(loop, 0, drain_check, s->d);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "state-dir", required_argument, NULL, 's' },	{ "socket", required_argument, NULL, 'S' },
		{ "cgroup-parent", required_argument, NULL, 'c' }, { "config", required_argument, NULL, 'C' },
		{ "runtimes-dir", required_argument, NULL, 'r' }, { "log-level", required_argument, NULL, 'l' },
		{ "metering", required_argument, NULL, 'm' },	{ "metrics", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },		{ 0 },
	};
	struct daemon d = { .first_uid = FIRST_FUNCTION_UID };
	struct lr_runtime_config rt_config = { .cgroup_pool_max = 64 };
	const char *socket_path = getenv("LAMINA_SOCKET"), *state = getenv("LAMINA_STATE_DIR");
	const char *config_path = NULL, *metrics_address = NULL;
	enum metering_mode metering_mode = METERING_AUTO;
	char errbuf[512], db[PATH_MAX + 16], socket_dir[PATH_MAX];
	struct lr_error lerr = { 0 };
	struct api_error aerr = { 0 };
	struct signals sig = { .d = &d };
	struct rlimit nofile;
	sigset_t mask;
	unsigned swept = 0;
	int opt, status = 1;

	config_defaults(&d.config);
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			state = optarg;
			break;
		case 'S':
			socket_path = optarg;
			break;
		case 'c':
			rt_config.cgroup_parent = optarg;
			break;
		case 'C':
			config_path = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "auto")) {
				metering_mode = METERING_AUTO;
			} else if (!strcmp(optarg, "bpf")) {
				metering_mode = METERING_BPF;
			} else if (!strcmp(optarg, "cgroup")) {
				metering_mode = METERING_CGROUP;
			} else {
				fprintf(stderr, "laminad: --metering '%s': expected auto, bpf or cgroup\n", optarg);
				return 2;
			}
			break;
		case 'M':
			metrics_address = optarg;
			break;
		case 'r': {
			char abs[PATH_MAX];

			if (!realpath(optarg, abs)) {
				fprintf(stderr, "laminad: --runtimes-dir '%s': %s\n", optarg, strerror(errno));
				return 2;
			}
			setenv("LAMINA_RUNTIMES_DIR", abs, 1);
			break;
		}
		case 'l':
			if (log_parse_level(optarg, &log_max_level) < 0) {
				fprintf(stderr, "laminad: --log-level '%s': expected error, warn, info or debug\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "laminad: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!state)
		state = "/var/lib/lamina";
	if (!socket_path)
		socket_path = "/run/lamina/lamina.sock";
	if (config_path && config_load(&d.config, config_path, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "laminad: %s\n", errbuf);
		return 2;
	}
	/* Before anything is created: `--metering bpf` without the probes leaves nothing. */
	if (metering_open(metering_mode, &d.metering, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "laminad: --metering bpf: the eBPF probes cannot load: %s\n", errbuf);
		return 1;
	}
	if (!realpath(state, d.state_dir) && (mkdir_p(state, 0700) < 0 || !realpath(state, d.state_dir))) {
		fprintf(stderr, "laminad: state directory '%s': %s\n", state, strerror(errno));
		return 1;
	}
	snprintf(d.images_dir, sizeof(d.images_dir), "%s/images", d.state_dir);
	snprintf(d.logs_dir, sizeof(d.logs_dir), "%s/logs", d.state_dir);
	snprintf(db, sizeof(db), "%s/lamina.db", d.state_dir);
	snprintf(errbuf, sizeof(errbuf), "%s/sha256", d.images_dir);
	if (mkdir_p(errbuf, 0755) < 0 || (snprintf(errbuf, sizeof(errbuf), "%s/tmp", d.images_dir),
					   mkdir_p(errbuf, 0700)) < 0) {
		fprintf(stderr, "laminad: cannot create '%s': %s\n", errbuf, strerror(errno));
		return 1;
	}
	/* The code store must be readable by every function's uid. */
	chmod(d.state_dir, 0711);
	chmod(d.images_dir, 0711);
	default_runtimes_dir(d.runtimes_dir, sizeof(d.runtimes_dir));
	snprintf(socket_dir, sizeof(socket_dir), "%s", socket_path);
	mkdir_p(dirname(socket_dir), 0755);

	/* Thousands of instances hold a handful of fds each. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sig.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	if (lr_runtime_new(&rt_config, &d.runtime, &lerr) < 0) {
		fprintf(stderr, "laminad: %s\n", lerr.message);
		return 1;
	}
	/* What a daemon killed with -9 left: its instances died with it (parent-death
	 * signal); their cgroups are removed here, before serving. */
	if (lr_runtime_sweep(d.runtime, &swept, &lerr) < 0)
		log_warn("cleaning up after an earlier run: %s", lerr.message);
	else if (swept)
		log_info("removed %u cgroup(s) left by an earlier run", swept);
	if (registry_open(db, d.first_uid, &d.registry, &aerr) < 0) {
		fprintf(stderr, "laminad: registry '%s': %s\n", db, aerr.message);
		goto out;
	}
	registry_set_arn_prefix(d.registry, d.config.region, d.config.account);
	d.started_ns = loop_now_ns();
	if (loop_new(&d.loop) < 0 || logs_open(d.logs_dir, &d.logs) < 0 || stats_new(&d.stats) < 0 ||
	    functions_new(&d, &d.functions) < 0) {
		fprintf(stderr, "laminad: start-up failed: %s\n", strerror(errno));
		goto out;
	}
	metering_watch(d.metering, d.loop);
	if (ledger_open(db, d.loop, &d.ledger, &aerr) < 0) {
		fprintf(stderr, "laminad: %s\n", aerr.message);
		goto out;
	}
	if (code_store_open(&d, &aerr) < 0) {
		fprintf(stderr, "laminad: image store: %s\n", aerr.message);
		goto out;
	}
	if (metrics_address && metrics_http_open(&d, metrics_address, &d.metrics_http, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "laminad: %s\n", errbuf);
		goto out;
	}
	if (server_open(&d, socket_path, &d.server, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "laminad: %s\n", errbuf);
		goto out;
	}
	loop_watch(d.loop, sig.fd, LOOP_READ, on_signal, &sig);
	loop_set_before_sleep(d.loop, before_sleep, &d);
	log_info("ready: socket %s, state %s, cgroups %s, runtimes %s, metering %s%s%s", socket_path,
		 d.state_dir, lr_runtime_cgroup_backend(d.runtime), d.runtimes_dir, metering_name(d.metering),
		 metrics_address ? ", metrics http://" : "", metrics_address ? metrics_address : "");
	if (loop_run(d.loop) < 0)
		log_error("event loop failed: %s", strerror(errno));
	else
		status = 0;
	log_info("stopping: %u instance(s)", functions_instance_count(d.functions));
out:
	metrics_http_close(d.metrics_http);
	server_close(d.server);
	functions_free(d.functions);
	code_store_close(&d);
	ledger_close(d.ledger);
	stats_free(d.stats);
	metering_close(d.metering);
	logs_close(d.logs);
	resolve_cache_free();
	registry_close(d.registry);
	loop_free(d.loop);
	lr_runtime_free(d.runtime);
	if (sig.fd >= 0)
		close(sig.fd);
	return status;
}
