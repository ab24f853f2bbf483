/* SPDX-License-Identifier: MIT */
/*
 * invoke_bench: laminad's invoke path measured from a client already connected.
 *   floor       a raw Unix-socket ping-pong of the same size (the floor)
 *   warm        sequential invokes: p50/p99 round trip
 *   throughput  invokes with CONCURRENCY in flight: invokes per second
 *   cold        invokes with no warm instance (each preceded by a configuration change,
 *               which retires the instances): p50 round trip and p50 InitDurationMs
 * Prints one line "mode p50_us p99_us rate" per run. A lean client on purpose: it shares
 * the two cores with the daemon and the instances.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return (double)v[i] / 1000.0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "invoke_bench: connect %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Reads one line into buf (a per-connection buffer with leftovers). */
struct reader {
	int fd;
	char buf[1 << 20];
	size_t len;
};

static char *read_line(struct reader *r, size_t *line_len)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		ssize_t n;

		if (nl) {
			*line_len = nl - r->buf + 1;
			return r->buf;
		}
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n <= 0) {
			fprintf(stderr, "invoke_bench: daemon closed the connection\n");
			exit(1);
		}
		r->len += n;
	}
}

static void consume(struct reader *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("write");
			exit(1);
		}
		s += w;
		n -= w;
	}
}

static void check_ok(const char *line, size_t len, const char *what)
{
	if (!memmem(line, len, "\"ok\":true", 9) || memmem(line, len, "FunctionError", 13)) {
		fprintf(stderr, "invoke_bench: %s failed: %.*s\n", what, (int)(len > 400 ? 400 : len), line);
		exit(1);
	}
}

/* ~100-byte payload, as the floor's message. */
static const char payload[] = "{\"message\":\"ping ping ping ping ping ping ping ping ping ping ping pin\"}";

static int request(char *out, size_t size, unsigned id, const char *function)
{
	return snprintf(out, size, "{\"id\":%u,\"action\":\"Invoke\",\"FunctionName\":\"%s\",\"Payload\":%s}\n",
			id, function, payload);
}

static void run_warm(const char *sock, const char *function, size_t n)
{
	static struct reader r;
	uint64_t *lat = calloc(n, sizeof(uint64_t));
	char req[512];

	r.fd = connect_to(sock);
	for (size_t i = 0; i < n + 200; i++) {
		int len = request(req, sizeof(req), (unsigned)i, function);
		size_t line_len;
		uint64_t t0 = now_ns();
		char *line;

		write_all(r.fd, req, (size_t)len);
		line = read_line(&r, &line_len);
		if (i >= 200)	/* the first ones warm the instance and caches */
			lat[i - 200] = now_ns() - t0;
		check_ok(line, line_len, "invoke");
		consume(&r, line_len);
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("warm %.1f %.1f %.0f\n", pct(lat, n, 0.5), pct(lat, n, 0.99), 0.0);
	close(r.fd);
	free(lat);
}

static void run_throughput(const char *sock, const char *function, size_t n, unsigned concurrency)
{
	static struct reader r;
	char req[512];
	size_t sent = 0, done = 0;
	uint64_t t0;

	r.fd = connect_to(sock);
	t0 = now_ns();
	while (done < n) {
		while (sent < n && sent - done < concurrency) {
			int len = request(req, sizeof(req), (unsigned)sent, function);

			write_all(r.fd, req, (size_t)len);
			sent++;
		}
		size_t line_len;
		char *line = read_line(&r, &line_len);

		if (!memmem(line, line_len, "\"ok\":true", 9) &&
		    !memmem(line, line_len, "TooManyRequests", 15))
			check_ok(line, line_len, "invoke");
		consume(&r, line_len);
		done++;
	}
	printf("throughput 0 0 %.0f\n", (double)n / ((double)(now_ns() - t0) / 1e9));
	close(r.fd);
}

static void run_cold(const char *sock, const char *function, size_t n)
{
	static struct reader r;
	uint64_t *lat = calloc(n, sizeof(uint64_t)), *init = calloc(n, sizeof(uint64_t));
	char req[512];
	size_t line_len;
	char *line;

	r.fd = connect_to(sock);
	for (size_t i = 0; i < n; i++) {
		/* A configuration change retires the warm instances. */
		int len = snprintf(req, sizeof(req),
				   "{\"id\":1,\"action\":\"UpdateFunctionConfiguration\",\"FunctionName\":\"%s\",\"Description\":\"cold %zu\"}\n",
				   function, i);
		uint64_t t0;
		char *p;

		write_all(r.fd, req, (size_t)len);
		line = read_line(&r, &line_len);
		check_ok(line, line_len, "UpdateFunctionConfiguration");
		consume(&r, line_len);
		/* Let the retired instance's end be handled before timing. */
		usleep(20000);
		len = request(req, sizeof(req), 2, function);
		t0 = now_ns();
		write_all(r.fd, req, (size_t)len);
		line = read_line(&r, &line_len);
		lat[i] = now_ns() - t0;
		check_ok(line, line_len, "cold invoke");
		p = memmem(line, line_len, "\"InitDurationMs\":", 17);
		if (!p) {
			fprintf(stderr, "invoke_bench: a cold invoke without InitDurationMs\n");
			exit(1);
		}
		init[i] = (uint64_t)(strtod(p + 17, NULL) * 1000.0);
		consume(&r, line_len);
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	qsort(init, n, sizeof(*init), cmp_u64);
	printf("cold %.1f %.1f %.1f\n", pct(lat, n, 0.5), pct(lat, n, 0.99), pct(init, n, 0.5));
	close(r.fd);
	free(lat);
	free(init);
}

/* The floor: a 100-byte ping-pong over a Unix stream socket to another process. */
static void run_floor(size_t n)
{
	uint64_t *lat = calloc(n, sizeof(uint64_t));
	char buf[256];
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		ssize_t got;

		close(sv[0]);
		while ((got = read(sv[1], buf, sizeof(buf))) > 0)
			write_all(sv[1], buf, (size_t)got);
		_exit(0);
	}
	close(sv[1]);
	for (size_t i = 0; i < n + 1000; i++) {
		uint64_t t0 = now_ns();
		size_t got = 0;

		write_all(sv[0], payload, 100);
		while (got < 100) {
			ssize_t r = read(sv[0], buf + got, 100 - got);
			if (r <= 0)
				exit(1);
			got += r;
		}
		if (i >= 1000)
			lat[i - 1000] = now_ns() - t0;
	}
	close(sv[0]);
	waitpid(pid, NULL, 0);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("floor %.1f %.1f 0\n", pct(lat, n, 0.5), pct(lat, n, 0.99));
	free(lat);
}

int main(int argc, char **argv)
{
	const char *mode, *sock = NULL, *function = NULL;
	size_t n;
	unsigned concurrency = 64;

	if (argc < 3) {
		fprintf(stderr, "usage: invoke_bench floor N | warm|throughput|cold SOCKET FUNCTION N [CONCURRENCY]\n");
		return 2;
	}
	mode = argv[1];
	if (!strcmp(mode, "floor")) {
		n = strtoul(argv[2], NULL, 10);
		run_floor(n);
		return 0;
	}
	if (argc < 5) {
		fprintf(stderr, "invoke_bench: %s needs SOCKET FUNCTION N\n", mode);
		return 2;
	}
	sock = argv[2];
	function = argv[3];
	n = strtoul(argv[4], NULL, 10);
	if (argc > 5)
		concurrency = (unsigned)strtoul(argv[5], NULL, 10);
	if (!strcmp(mode, "warm"))
		run_warm(sock, function, n);
	else if (!strcmp(mode, "throughput"))
		run_throughput(sock, function, n, concurrency);
	else if (!strcmp(mode, "cold"))
		run_cold(sock, function, n);
	else
		return 2;
	return 0;
}
