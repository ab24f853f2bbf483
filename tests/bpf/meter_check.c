/* SPDX-License-Identifier: MIT */
/*
 * meter_check — the eBPF meter (bpf/meter.h) proven standalone, without laminad.
 *
 *   meter_check [--tcp] [--instances K] [--bootstrap PATH] EVENT_JSON...
 *	Opens the meter, then K times in turn: spawns a sandbox running the ground-truth
 *	bootstrap (tests/functions/groundtruth.c), tracks its cgroup, and plays the daemon's
 *	side of the Runtime API on an inherited socket pair (fd 3), or with --tcp on
 *	127.0.0.1:9001 inside the sandbox's network namespace: GET next gets the next event
 *	(the slot armed right before it is sent), the POSTed answer gets a 202. Prints one
 *	JSON line per invocation with the meter's figures and the function's answer, then
 *	a summary line with the ring buffer's events and what the meter had loaded.
 *   meter_check --open-only
 *	Opens and closes the meter: exit 0, or 1 with the reason on stderr.
 *   meter_check --bench N
 *	What the probes cost the host: N iterations of a cheap syscall, of a pipe
 *	write+read (the filtered read/write path) and of a pipe ping-pong between two
 *	processes (context switches), with the probes detached and attached, alternated,
 *	best of three. One JSON line per loop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../bpf/meter.h"
#include "../../runtime/sandbox.h"

#define TCP_PORT 9001
#define SANDBOX_ID 61000

struct events_seen {
	unsigned forks, exits, ooms;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_event(void *ctx, const struct lm_event *ev)
{
	struct events_seen *seen = ctx;

	if (ev->type == LM_EVENT_FORK)
		seen->forks++;
	else if (ev->type == LM_EVENT_EXIT)
		seen->exits++;
	else if (ev->type == LM_EVENT_OOM)
		seen->ooms++;
}

/* ---- the daemon's side of the Runtime API, minimal ------------------------------------ */

struct conn {
	int fd;
	char buf[65536];
	size_t len;
};

/* Reads one HTTP request (headers and a Content-Length body). Returns its length in
 * c->buf, with *body at the body, or -1 when the peer closed. */
static ssize_t read_request(struct conn *c, size_t *body, size_t *body_len)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);

		if (end) {
			size_t hdr = (size_t)(end - c->buf) + 4, clen = 0;
			char *cl = memmem(c->buf, hdr, "Content-Length:", 15);

			if (cl)
				clen = strtoul(cl + 15, NULL, 10);
			if (c->len >= hdr + clen) {
				*body = hdr;
				*body_len = clen;
				return (ssize_t)(hdr + clen);
			}
		}
		if (c->len == sizeof(c->buf))
			return -1;
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void print_figures(unsigned inst, uint32_t slot, uint64_t cgroup_id, const char *event,
			  const struct lm_figures *f, const char *answer, size_t answer_len)
{
	printf("{\"instance\":%u,\"slot\":%u,\"cgroup_id\":%llu,\"event\":%s,\"started\":%s,\"complete\":%s,"
	       "\"duration_ns\":%llu,\"cpu_ns\":%llu,\"page_faults\":%llu,\"ctx_switches\":%llu,"
	       "\"forks\":%u,\"exits\":%u,\"oom_kills\":%u,\"answer\":%.*s}\n",
	       inst, slot, (unsigned long long)cgroup_id, event, f->started ? "true" : "false", f->complete ? "true" : "false",
	       (unsigned long long)(f->complete ? f->end_ns - f->start_ns : 0),
	       (unsigned long long)f->cpu_ns, (unsigned long long)f->page_faults,
	       (unsigned long long)f->ctx_switches, f->forks, f->exits, f->oom_kills,
	       (int)answer_len, answer_len ? answer : "null");
	fflush(stdout);
}

/* Serves the events one by one over c, then closes it (the bootstrap exits). */
static int serve(struct lm_meter *m, uint32_t slot, uint64_t cgroup_id, unsigned inst, struct conn *c,
		 char **events, int n_events, int listen_fd)
{
	static const char accepted[] = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
				       "Content-Length: 15\r\n\r\n{\"status\":\"OK\"}";
	char head[512];
	int one = 1;
	size_t body, body_len;
	ssize_t n;

	for (int i = 0; i < n_events; i++) {
		struct lm_figures fig;

		if (c->fd < 0) {	/* TCP: the bootstrap connects once, keeps it alive */
			c->fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c->fd < 0)
				return -errno;
			(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		n = read_request(c, &body, &body_len);
		if (n < 0 || strncmp(c->buf, "GET ", 4) != 0) {
			fprintf(stderr, "meter_check: expected GET next from the bootstrap\n");
			return -EPROTO;
		}
		consume(c, (size_t)n);
		int hl = snprintf(head, sizeof(head),
				  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				  "Lambda-Runtime-Aws-Request-Id: req-%u-%d\r\n"
				  "Lambda-Runtime-Deadline-Ms: 99999999999999\r\n"
				  "Content-Length: %zu\r\n\r\n",
				  inst, i, strlen(events[i]));
		/* Head and body in one write: the first byte received starts the invocation, so
		 * a body held back (Nagle waiting for a delayed ACK) would count as the work. */
		struct iovec iov[2] = { { head, (size_t)hl }, { events[i], strlen(events[i]) } };

		lm_meter_arm(m, slot);
		if (writev(c->fd, iov, 2) != (ssize_t)(iov[0].iov_len + iov[1].iov_len))
			return -EPIPE;
		n = read_request(c, &body, &body_len);
		if (n < 0 || strncmp(c->buf, "POST ", 5) != 0) {
			fprintf(stderr, "meter_check: expected the POSTed answer from the bootstrap\n");
			return -EPROTO;
		}
		lm_meter_read(m, slot, &fig);
		print_figures(inst, slot, cgroup_id, events[i], &fig, c->buf + body, body_len);
		consume(c, (size_t)n);
		if (write_all(c->fd, accepted, sizeof(accepted) - 1) < 0)
			return -EPIPE;
	}
	/* The next GET is refused by closing: the bootstrap exits 0. */
	close(c->fd);
	c->fd = -1;
	return 0;
}

/* A listening socket on 127.0.0.1:port inside the network namespace netns_fd. */
static int listen_in(int netns_fd, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd = -1, r;

	if (self < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		r = -errno;
		close(self);
		return r;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	r = fd < 0 ? -errno : 0;
	if (!r && (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0))
		r = -errno;
	if (setns(self, CLONE_NEWNET) < 0 && !r)
		r = -errno;
	close(self);
	if (r) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

static int run_instance(struct lr_runtime *rt, struct lm_meter *m, unsigned inst, const char *code_dir,
			bool tcp, char **events, int n_events)
{
	const char *argv[] = { "/var/task/bootstrap", NULL };
	char api_env[64];
	const char *envp[] = { "PATH=/usr/bin:/bin", "HOME=/tmp", api_env, NULL };
	struct lr_fd_map fdmap = { .source = -1, .target = 3 };
	struct lr_spec spec = {
		.argv = argv, .envp = envp, .code_dir = code_dir, .uid = SANDBOX_ID, .gid = SANDBOX_ID,
		.memory_bytes = 512ull << 20, .net = LR_NET_NONE, .netns_fd = -1,
		.stdio = { -1, 2, 2 },	/* its log lines go to our stderr */
		.timeout_ms = 60000,
	};
	struct conn *c = calloc(1, sizeof(*c));
	struct lr_sandbox *sb = NULL;
	struct lr_result res = { 0 };
	struct lr_error err = { 0 };
	int sv[2] = { -1, -1 }, listen_fd = -1, r;
	uint32_t slot = UINT32_MAX;
	struct stat st;

	if (!c)
		return -ENOMEM;
	c->fd = -1;
	if (tcp) {
		spec.netns_fd = lr_netns_create(&err);
		if (spec.netns_fd < 0) {
			fprintf(stderr, "meter_check: %s\n", err.message);
			r = spec.netns_fd;
			goto out;
		}
		spec.net = LR_NET_JOIN;
		listen_fd = listen_in(spec.netns_fd, TCP_PORT);
		if (listen_fd < 0) {
			r = listen_fd;
			fprintf(stderr, "meter_check: listen on 127.0.0.1:%d in the sandbox's netns: %s\n",
				TCP_PORT, strerror(-r));
			goto out;
		}
		snprintf(api_env, sizeof(api_env), "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", TCP_PORT);
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			r = -errno;
			goto out;
		}
		fdmap.source = sv[1];
		spec.fds = &fdmap;
		spec.n_fds = 1;
		c->fd = sv[0];
		snprintf(api_env, sizeof(api_env), "LAMINA_RUNTIME_FD=3");
	}
	r = lr_sandbox_spawn(rt, &spec, &sb, &err);
	if (r < 0) {
		fprintf(stderr, "meter_check: spawn: %s\n", err.message);
		goto out;
	}
	/* Tracked before the first event: what it does at start is not an invocation. */
	r = lm_meter_track(m, lr_sandbox_cgroup_id(sb), &slot);
	if (r < 0) {
		fprintf(stderr, "meter_check: track cgroup %llu: %s\n",
			(unsigned long long)lr_sandbox_cgroup_id(sb), strerror(-r));
		goto out;
	}
	if (tcp) {
		lm_meter_watch_tcp(m, slot, TCP_PORT);
	} else {
		/* The instance's end of the pair is the same socket inode inside. */
		if (fstat(sv[1], &st) < 0) {
			r = -errno;
			goto out;
		}
		lm_meter_watch_unix(m, slot, st.st_ino);
		close(sv[1]);
		sv[1] = -1;
	}
	r = serve(m, slot, lr_sandbox_cgroup_id(sb), inst, c, events, n_events, listen_fd);
	if (c->fd >= 0 && c->fd != sv[0])
		close(c->fd);
	if (sv[0] >= 0) {
		close(sv[0]);
		sv[0] = -1;
	}
	if (r == 0) {
		r = lr_sandbox_wait(sb, &res, &err);
		if (r == 0 && (res.reason != LR_END_EXIT || res.exit_code != 0)) {
			fprintf(stderr, "meter_check: the bootstrap ended with %s %d\n",
				lr_end_reason_name(res.reason), res.exit_code);
			r = -ECHILD;
		}
	}
out:
	if (slot != UINT32_MAX)
		lm_meter_untrack(m, slot);
	lr_sandbox_free(sb);
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	if (listen_fd >= 0)
		close(listen_fd);
	if (spec.netns_fd >= 0)
		close(spec.netns_fd);
	free(c);
	return r;
}

/* The ids of the BPF programs this process holds, for the "nothing left" check. */
static void print_prog_ids(void)
{
	DIR *d = opendir("/proc/self/fdinfo");
	struct dirent *e;
	bool first = true;

	printf("\"prog_ids\":[");
	while (d && (e = readdir(d))) {
		char path[PATH_MAX], link[64], line[128];
		ssize_t n;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, "anon_inode:bpf-prog") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", e->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "prog_id:", 8)) {
				printf("%s%lu", first ? "" : ",", strtoul(line + 8, NULL, 10));
				first = false;
			}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	printf("]");
}

/* ---- overhead ----------------------------------------------------------------------- */

enum loop { LOOP_SYSCALL, LOOP_PIPE, LOOP_SWITCH };

static double loop_ns(enum loop kind, long n)
{
	int a[2], b[2];
	char x = 0;
	uint64_t t0;
	pid_t pid = -1;

	if (pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC) < 0)
		return -1;
	if (kind == LOOP_SWITCH) {
		pid = fork();
		if (pid == 0) {
			for (long i = 0; i < n; i++)
				if (read(a[0], &x, 1) != 1 || write(b[1], &x, 1) != 1)
					_exit(1);
			_exit(0);
		}
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		switch (kind) {
		case LOOP_SYSCALL:
			(void)getppid();
			break;
		case LOOP_PIPE:
			if (write(a[1], &x, 1) != 1 || read(a[0], &x, 1) != 1)
				return -1;
			break;
		case LOOP_SWITCH:
			if (write(a[1], &x, 1) != 1 || read(b[0], &x, 1) != 1)
				return -1;
			break;
		}
	}
	t0 = now_ns() - t0;
	if (pid > 0)
		waitpid(pid, NULL, 0);
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
	return (double)t0 / (double)n;
}

static int bench(long n)
{
	static const char *const names[] = { "syscall", "pipe-rw", "ping-pong" };
	double best[3][2];
	char why[256];

	for (int k = 0; k < 3; k++)
		best[k][0] = best[k][1] = 1e18;
	for (int round = 0; round < 3; round++) {
		for (int on = 0; on < 2; on++) {
			struct lm_meter *m = NULL;

			if (on && lm_meter_open(&m, why, sizeof(why)) < 0) {
				fprintf(stderr, "meter_check: %s\n", why);
				return 1;
			}
			for (int k = 0; k < 3; k++) {
				double t = loop_ns((enum loop)k, k == LOOP_SYSCALL ? n * 10 : n);

				if (t > 0 && t < best[k][on])
					best[k][on] = t;
			}
			lm_meter_close(m);
		}
	}
	for (int k = 0; k < 3; k++)
		printf("{\"bench\":\"%s\",\"n\":%ld,\"detached_ns\":%.1f,\"attached_ns\":%.1f,"
		       "\"overhead_ns\":%.1f,\"overhead_pct\":%.1f}\n",
		       names[k], k == LOOP_SYSCALL ? n * 10 : n, best[k][0], best[k][1],
		       best[k][1] - best[k][0], 100.0 * (best[k][1] - best[k][0]) / best[k][0]);
	return 0;
}

int main(int argc, char **argv)
{
	char why[256], code_dir[PATH_MAX], self[PATH_MAX];
	const char *bootstrap = NULL;
	struct lr_runtime_config config = { 0 };
	struct lr_runtime *rt = NULL;
	struct lr_error err = { 0 };
	struct lm_meter *m = NULL;
	struct events_seen seen = { 0 };
	unsigned instances = 1;
	bool tcp = false;
	int i, r, status = 1;

	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--tcp")) {
			tcp = true;
		} else if (!strcmp(argv[i], "--instances") && i + 1 < argc) {
			instances = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--bootstrap") && i + 1 < argc) {
			bootstrap = argv[++i];
		} else if (!strcmp(argv[i], "--bench") && i + 1 < argc) {
			return bench(strtol(argv[i + 1], NULL, 10));
		} else if (!strcmp(argv[i], "--open-only")) {
			if (lm_meter_open(&m, why, sizeof(why)) < 0) {
				fprintf(stderr, "meter_check: %s\n", why);
				return 1;
			}
			lm_meter_close(m);
			return 0;
		} else {
			fprintf(stderr, "meter_check: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (i == argc) {
		fprintf(stderr, "usage: meter_check [--tcp] [--instances K] [--bootstrap PATH] EVENT_JSON...\n"
				"       meter_check --open-only | --bench N\n");
		return 2;
	}
	/* The bootstrap's directory becomes /var/task: by default the one built beside us. */
	if (!bootstrap) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 32);

		if (n <= 0)
			return 1;
		self[n] = '\0';
		strcpy(strrchr(self, '/'), "/groundtruth/bootstrap");
		bootstrap = self;
	}
	if (!realpath(bootstrap, code_dir)) {
		fprintf(stderr, "meter_check: bootstrap '%s': %s\n", bootstrap, strerror(errno));
		return 1;
	}
	*strrchr(code_dir, '/') = '\0';

	if (lm_meter_open(&m, why, sizeof(why)) < 0) {
		fprintf(stderr, "meter_check: %s\n", why);
		return 1;
	}
	r = lr_runtime_new(&config, &rt, &err);
	if (r < 0) {
		fprintf(stderr, "meter_check: %s\n", err.message);
		goto out;
	}
	for (unsigned k = 0; k < instances; k++) {
		r = run_instance(rt, m, k, code_dir, tcp, argv + i, argc - i);
		if (r < 0)
			goto out;
	}
	r = lm_meter_consume(m, on_event, &seen);
	if (r < 0) {
		fprintf(stderr, "meter_check: read the ring buffer: %s\n", strerror(-r));
		goto out;
	}
	printf("{\"summary\":true,\"instances\":%u,\"ring_forks\":%u,\"ring_exits\":%u,\"ring_ooms\":%u,",
	       instances, seen.forks, seen.exits, seen.ooms);
	print_prog_ids();
	printf("}\n");
	status = 0;
out:
	lr_runtime_free(rt);
	lm_meter_close(m);
	return status;
}
