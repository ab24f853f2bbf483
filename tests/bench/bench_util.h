/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_TESTS_BENCH_UTIL_H
#define LAMINA_TESTS_BENCH_UTIL_H

/*
 * What spawn_bench and forkexec_bench share: the clock, the summary of a run of timings
 * and MemAvailable. Each bench is built from one object file (see the Makefile), so this
 * is a header of static inline functions. Results go to stdout as one line of key=value
 * pairs that tests/bench/run.sh reads; anything for humans goes to stderr.
 */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct bench_summary {
	double median_ms, p90_ms, min_ms, max_ms, mean_ms;
};

/* Sorts ns[] in place. p90 is the nearest-rank percentile. */
static inline struct bench_summary bench_summarize(uint64_t *ns, size_t n)
{
	struct bench_summary s = { 0 };
	double sum = 0;
	size_t rank;

	if (n == 0)
		return s;
	qsort(ns, n, sizeof(*ns), bench_cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)ns[i];
	s.median_ms = (n % 2 ? (double)ns[n / 2] : ((double)ns[n / 2 - 1] + (double)ns[n / 2]) / 2) / 1e6;
	rank = (n * 9 + 9) / 10;	/* ceil(0.9 n) */
	s.p90_ms = (double)ns[rank - 1] / 1e6;
	s.min_ms = (double)ns[0] / 1e6;
	s.max_ms = (double)ns[n - 1] / 1e6;
	s.mean_ms = sum / (double)n / 1e6;
	return s;
}

static inline void bench_print_summary(const char *prefix, size_t n, const struct bench_summary *s)
{
	printf("%sruns=%zu median_ms=%.3f p90_ms=%.3f min_ms=%.3f max_ms=%.3f mean_ms=%.3f\n",
	       prefix, n, s->median_ms, s->p90_ms, s->min_ms, s->max_ms, s->mean_ms);
}

/* The /proc/meminfo fields an idle sandbox can move: where its memory went. */
static const char *const bench_mem_fields[] = {
	"MemAvailable", "MemFree", "AnonPages", "Shmem", "Slab", "SUnreclaim", "KernelStack",
	"PageTables", "Percpu",
};
#define BENCH_MEM_FIELDS (sizeof(bench_mem_fields) / sizeof(bench_mem_fields[0]))

struct bench_meminfo {
	long long kib[BENCH_MEM_FIELDS];	/* -1: not in this kernel's meminfo */
};

/* 0, or -1 if MemAvailable cannot be read. */
static inline int bench_meminfo_read(struct bench_meminfo *m)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	for (size_t i = 0; i < BENCH_MEM_FIELDS; i++)
		m->kib[i] = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = '\0';
		for (size_t i = 0; i < BENCH_MEM_FIELDS; i++)
			if (!strcmp(line, bench_mem_fields[i]))
				m->kib[i] = strtoll(colon + 1, NULL, 10);
	}
	fclose(f);
	return m->kib[0] < 0 ? -1 : 0;
}

static inline void bench_sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 },
		  NULL);
}

/*
 * sync, wait settle_ms, then until MemAvailable holds still (within 1 MiB over 500 ms,
 * for at most 4 s more): after a teardown the kernel frees cgroups, namespaces and
 * RCU-deferred objects for a while, and a reading taken meanwhile is off by many MiB.
 */
static inline int bench_settled_meminfo(unsigned settle_ms, struct bench_meminfo *m)
{
	long long last;

	sync();
	bench_sleep_ms(settle_ms);
	if (bench_meminfo_read(m) < 0)
		return -1;
	for (int i = 0; i < 8; i++) {
		last = m->kib[0];
		bench_sleep_ms(500);
		if (bench_meminfo_read(m) < 0)
			return -1;
		if (llabs(m->kib[0] - last) < 1024)
			break;
	}
	return 0;
}

/*
 * One result line: how much each field fell (MemAvailable, MemFree) or grew (the rest)
 * from before to after, in total and per instance, plus the drift: how far MemAvailable
 * moved between before and a reading after everything was torn down (noise from the
 * rest of the host); the callers print that themselves.
 */
static inline void bench_print_meminfo(unsigned long n, const struct bench_meminfo *before,
				       const struct bench_meminfo *after)
{
	long long delta = before->kib[0] - after->kib[0];

	printf("idle=%lu before_kib=%lld after_kib=%lld delta_kib=%lld per_kib=%.1f", n,
	       before->kib[0], after->kib[0], delta, (double)delta / (double)n);
	for (size_t i = 1; i < BENCH_MEM_FIELDS; i++) {
		long long d;

		if (before->kib[i] < 0 || after->kib[i] < 0)
			continue;
		d = i == 1 ? before->kib[i] - after->kib[i] : after->kib[i] - before->kib[i];
		printf(" %s_per_kib=%.1f", bench_mem_fields[i], (double)d / (double)n);
	}
}

/* Kernel objects by slab cache (root only; caches of equal size may be merged). */
#define BENCH_SLAB_MAX 1024

struct bench_slabs {
	size_t n;
	struct {
		char name[64];
		long long objs, bytes;	/* active objects and their bytes */
	} cache[BENCH_SLAB_MAX];
};

static inline void bench_slabs_read(struct bench_slabs *s)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "re");

	s->n = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && s->n < BENCH_SLAB_MAX) {
		long long active, total, size;

		if (sscanf(line, "%63s %lld %lld %lld", s->cache[s->n].name, &active, &total, &size) != 4)
			continue;
		s->cache[s->n].objs = active;
		s->cache[s->n].bytes = active * size;
		s->n++;
	}
	fclose(f);
}

/* One line per cache among the top that grew most: "slab=NAME per_kib=K objs_per=O". */
static inline void bench_print_slab_growth(unsigned long n, const struct bench_slabs *before,
					   const struct bench_slabs *after, unsigned top)
{
	bool used[BENCH_SLAB_MAX] = { false };

	for (unsigned k = 0; k < top; k++) {
		long long best = 0, best_objs = 0;
		size_t best_i = BENCH_SLAB_MAX;

		for (size_t i = 0; i < after->n; i++) {
			long long b = 0, o = 0;

			if (used[i])
				continue;
			for (size_t j = 0; j < before->n; j++) {
				if (!strcmp(before->cache[j].name, after->cache[i].name)) {
					b = before->cache[j].bytes;
					o = before->cache[j].objs;
					break;
				}
			}
			if (after->cache[i].bytes - b > best) {
				best = after->cache[i].bytes - b;
				best_objs = after->cache[i].objs - o;
				best_i = i;
			}
		}
		if (best_i == BENCH_SLAB_MAX)
			break;
		used[best_i] = true;
		printf("slab=%s per_kib=%.1f objs_per=%.2f\n", after->cache[best_i].name,
		       (double)best / 1024.0 / (double)n, (double)best_objs / (double)n);
	}
}

static volatile sig_atomic_t bench_stop;

static inline void bench_on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

/* SIGINT/SIGTERM/SIGHUP only set bench_stop, without SA_RESTART, so that blocking calls
 * return and every path reaches the clean-up. */
static inline void bench_catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = bench_on_signal };
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static inline int bench_parse_uint(const char *opt, const char *value, unsigned long max,
				   unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v > max) {
		fprintf(stderr, "%s: invalid value '%s' (a whole number up to %lu)\n", opt, value,
			max);
		return -1;
	}
	*out = v;
	return 0;
}

#endif
