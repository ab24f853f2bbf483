/* SPDX-License-Identifier: MIT */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How fast the recent view forgets: the rate's time constant and the quantile
 * histogram's half-life. */
#define RATE_TAU_S 5.0
#define QHIST_HALF_LIFE_NS (10ull * 1000000000ull)
#define QBUCKET_BASE_US 10.0
#define QBUCKETS_PER_DOUBLING 8

const double stats_hist_bounds[STATS_HIST_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};

struct stats {
	struct version_stats *head;
};

int stats_new(struct stats **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void stats_free(struct stats *s)
{
	if (!s)
		return;
	for (struct version_stats *vs = s->head, *next; vs; vs = next) {
		next = vs->next;
		free(vs);
	}
	free(s);
}

struct version_stats *stats_get(struct stats *s, const char *function, const char *version)
{
	struct version_stats *vs;

	for (vs = s->head; vs; vs = vs->next)
		if (!strcmp(vs->function, function) && !strcmp(vs->version, version))
			return vs;
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return NULL;
	snprintf(vs->function, sizeof(vs->function), "%s", function);
	snprintf(vs->version, sizeof(vs->version), "%s", version);
	vs->next = s->head;
	s->head = vs;
	return vs;
}

void stats_forget(struct stats *s, const char *function)
{
	for (struct version_stats **pp = &s->head; *pp;) {
		struct version_stats *vs = *pp;

		if (!strcmp(vs->function, function)) {
			*pp = vs->next;
			free(vs);
		} else {
			pp = &vs->next;
		}
	}
}

struct version_stats *stats_first(struct stats *s)
{
	return s->head;
}

/* An exponentially weighted rate: each arrival adds 1/τ, and the sum decays with τ,
 * so a steady λ arrivals per second converges to λ. */
double stats_rate(const struct version_stats *vs, uint64_t now_ns)
{
	double dt;

	if (!vs->rate_at_ns || now_ns <= vs->rate_at_ns)
		return vs->rate;
	dt = (now_ns - vs->rate_at_ns) / 1e9;
	return vs->rate * exp(-dt / RATE_TAU_S);
}

void stats_arrival(struct version_stats *vs, uint64_t now_ns)
{
	vs->rate = stats_rate(vs, now_ns) + 1.0 / RATE_TAU_S;
	vs->rate_at_ns = now_ns;
}

void stats_throttled(struct version_stats *vs)
{
	vs->throttles++;
}

static void qhist_decay(struct version_stats *vs, uint64_t now_ns)
{
	uint64_t halvings;

	if (!vs->qhist_decayed_ns) {
		vs->qhist_decayed_ns = now_ns;
		return;
	}
	if (now_ns < vs->qhist_decayed_ns + QHIST_HALF_LIFE_NS)
		return;
	halvings = (now_ns - vs->qhist_decayed_ns) / QHIST_HALF_LIFE_NS;
	for (int i = 0; i < STATS_QBUCKETS; i++)
		vs->qhist[i] = halvings >= 64 ? 0 : ldexp(vs->qhist[i], -(int)halvings);
	vs->qhist_decayed_ns += halvings * QHIST_HALF_LIFE_NS;
}

static int qbucket(double ms)
{
	double us = ms * 1000;
	int i;

	if (us <= QBUCKET_BASE_US)
		return 0;
	i = (int)(log2(us / QBUCKET_BASE_US) * QBUCKETS_PER_DOUBLING);
	return i >= STATS_QBUCKETS ? STATS_QBUCKETS - 1 : i;
}

void stats_completed(struct version_stats *vs, const struct invocation_figures *fig)
{
	double ms = fig->duration_ns / 1e6, cpu_ms = fig->cpu_ns / 1e6;
	struct timespec ts;
	uint64_t now_ns;
	int b;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	vs->invocations++;
	if (fig->error)
		vs->errors++;
	if (fig->cold)
		vs->cold_starts++;
	vs->duration_ns_sum += fig->duration_ns;
	vs->cpu_ns_sum += fig->cpu_ns;
	vs->billed_mb_ms += (uint64_t)fig->billed_ms * fig->memory_mb;
	for (b = 0; b < STATS_HIST_BUCKETS && fig->duration_ns / 1e9 > stats_hist_bounds[b]; b++)
		;
	vs->hist[b]++;
	qhist_decay(vs, now_ns);
	vs->qhist[qbucket(ms)] += 1;
	if (!vs->measured) {
		vs->mean_duration_ms = ms;
		vs->mean_cpu_ms = cpu_ms;
		vs->peak_bytes = fig->peak_bytes;
	} else {
		vs->mean_duration_ms += (ms - vs->mean_duration_ms) / 16;
		vs->mean_cpu_ms += (cpu_ms - vs->mean_cpu_ms) / 16;
		/* The peak follows a higher figure at once and a lower one slowly: admission
		 * must not forget a version's occasional big invocation too soon. */
		if (fig->peak_bytes >= vs->peak_bytes)
			vs->peak_bytes = fig->peak_bytes;
		else
			vs->peak_bytes -= (vs->peak_bytes - fig->peak_bytes) / 64;
	}
	if (fig->peak_bytes > vs->peak_bytes_ever)
		vs->peak_bytes_ever = fig->peak_bytes;
	vs->measured = true;
}

double stats_duration_quantile(struct version_stats *vs, double q, uint64_t now_ns)
{
	double total = 0, seen = 0;

	qhist_decay(vs, now_ns);
	for (int i = 0; i < STATS_QBUCKETS; i++)
		total += vs->qhist[i];
	if (total <= 0)
		return 0;
	for (int i = 0; i < STATS_QBUCKETS; i++) {
		seen += vs->qhist[i];
		if (seen >= q * total)
			/* The bucket's geometric middle: within 4.4% of any value in it. */
			return QBUCKET_BASE_US * exp2((i + 0.5) / QBUCKETS_PER_DOUBLING) / 1000;
	}
	return 0;
}
