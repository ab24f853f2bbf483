/* SPDX-License-Identifier: MIT */
/*
 * groundtruth — a `provided` bootstrap whose every invocation does a known amount of
 * work, so that what the meter measures can be checked against it. The event says what:
 *
 *   {"work":"spin","ms":50}       burns exactly 50 ms of this thread's CPU time
 *   {"work":"sleep","ms":50}      sleeps 50 ms (no CPU)
 *   {"work":"touch","mb":64}      maps 64 MiB, writes every page once (one fault each:
 *                                 no transparent huge pages), unmaps
 *   {"work":"fork-spin","ms":50}  a child burns 50 ms of CPU; the parent waits for it
 *   {"work":"echo"}               nothing (also any event without "work")
 *
 * and the answer is {"done":"<work>","wall_ns":N,"cpu_ns":N}: the wall-clock time from
 * the event parsed to the answer about to be sent (CLOCK_MONOTONIC) and the CPU time of
 * the work (the process's, plus its children's). Each event also logs a line to stdout
 * before and after the work: log writes must not end a measured invocation.
 *
 * It speaks the Runtime API through lamina's C client (images/examples/provided-c/
 * runtime_api.h), as the echo example does. When the connection closes the process
 * exits with status 0.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime_api.h"

static void die(const char *msg)
{
	fprintf(stderr, "groundtruth: %s\n", msg);
	_exit(1);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Burns ms of the calling thread's CPU time, checking the clock every few µs. */
static void spin(uint64_t ms)
{
	uint64_t until = clock_ns(CLOCK_THREAD_CPUTIME_ID) + ms * 1000000ull;
	volatile uint64_t x = 0;

	while (clock_ns(CLOCK_THREAD_CPUTIME_ID) < until)
		for (int i = 0; i < 2000; i++)
			x += (uint64_t)i;
}

static void touch(uint64_t mb)
{
	size_t size = (size_t)mb << 20, page = (size_t)sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap for touch failed");
	/* One fault per page, whatever the host's THP policy. */
	(void)madvise(p, size, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < size; i += page)
		((volatile char *)p)[i] = 1;
	munmap(p, size);
}

/* Returns the child's CPU time in ns. */
static uint64_t fork_spin(uint64_t ms)
{
	struct rusage ru;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork failed");
	if (pid == 0) {
		spin(ms);
		_exit(0);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4 failed");
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

/* The string value of "key" in a flat JSON object (no escapes needed here). */
static size_t json_str(const char *s, size_t n, const char *key, char *out, size_t out_len)
{
	size_t kl = strlen(key), i = 0, k = 0;

	for (; i + kl + 2 <= n; i++)
		if (s[i] == '"' && memcmp(s + i + 1, key, kl) == 0 && s[i + 1 + kl] == '"')
			break;
	if (i + kl + 2 > n)
		return 0;
	for (i += kl + 2; i < n && (s[i] == ' ' || s[i] == ':' || s[i] == '\t'); i++)
		;
	if (i >= n || s[i] != '"')
		return 0;
	for (i++; i < n && s[i] != '"' && k + 1 < out_len; i++)
		out[k++] = s[i];
	out[k] = '\0';
	return k;
}

static uint64_t json_u64(const char *s, size_t n, const char *key, uint64_t dflt)
{
	size_t kl = strlen(key), i = 0;
	uint64_t v = 0;

	for (; i + kl + 2 <= n; i++)
		if (s[i] == '"' && memcmp(s + i + 1, key, kl) == 0 && s[i + 1 + kl] == '"')
			break;
	if (i + kl + 2 > n)
		return dflt;
	for (i += kl + 2; i < n && (s[i] == ' ' || s[i] == ':' || s[i] == '\t'); i++)
		;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return dflt;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

static void log_line(const char *what, const char *work, uint64_t arg)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "groundtruth: %s %s %llu\n", what, work,
			 (unsigned long long)arg);

	if (n > 0 && write(1, line, (size_t)n) < 0) {
		/* a log that cannot be written is not the work's concern */
	}
}

/* Does what the event says; writes the answer into out. */
static size_t run_work(const char *ev, size_t ev_len, char *out, size_t out_len)
{
	char work[32];
	uint64_t t0, cpu0, child_cpu = 0, arg = 0;
	int n;

	t0 = clock_ns(CLOCK_MONOTONIC);
	cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (!json_str(ev, ev_len, "work", work, sizeof(work)))
		strcpy(work, "echo");
	log_line("start", work, 0);
	if (strcmp(work, "spin") == 0) {
		spin(arg = json_u64(ev, ev_len, "ms", 50));
	} else if (strcmp(work, "sleep") == 0) {
		struct timespec ts;

		arg = json_u64(ev, ev_len, "ms", 50);
		ts.tv_sec = (time_t)(arg / 1000);
		ts.tv_nsec = (long)(arg % 1000) * 1000000L;
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
			;
	} else if (strcmp(work, "touch") == 0) {
		touch(arg = json_u64(ev, ev_len, "mb", 64));
	} else if (strcmp(work, "fork-spin") == 0) {
		child_cpu = fork_spin(arg = json_u64(ev, ev_len, "ms", 50));
	} else if (strcmp(work, "echo") != 0) {
		n = snprintf(out, out_len, "{\"error\":\"unknown work '%s'\"}", work);
		return n > 0 ? (size_t)n : 0;
	}
	log_line("done", work, arg);
	n = snprintf(out, out_len, "{\"done\":\"%s\",\"cpu_ns\":%llu,\"wall_ns\":%llu}", work,
		     (unsigned long long)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0 + child_cpu),
		     (unsigned long long)(clock_ns(CLOCK_MONOTONIC) - t0));
	return n > 0 ? (size_t)n : 0;
}

/* ---- main loop ---------------------------------------------------------------------- */

int main(void)
{
	static char answer[256];
	struct rt_event ev;

	rt_init("groundtruth");
	while (rt_next(&ev) == 0) {
		size_t n = run_work(ev.body, ev.body_len, answer, sizeof(answer));

		if (rt_respond(&ev, answer, n) < 0)
			break;
	}
	_exit(0);
}
