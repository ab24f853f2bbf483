/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_STATS_H
#define LAMINA_SCHEDULER_STATS_H

/*
 * What the scheduler knows about each function version from its measurements: arrival
 * rate, the duration distribution, CPU and peak memory per invocation, and the counters
 * the metrics expose. Kept per (function, version), apart from the instance pools, so a
 * version's history survives its pools being retired and re-created.
 */

#include <stdbool.h>
#include <stdint.h>

/* Fixed buckets of the Prometheus duration histogram, in seconds. */
#define STATS_HIST_BUCKETS 16
extern const double stats_hist_bounds[STATS_HIST_BUCKETS];

/* Log-spaced buckets for quantiles: 10 µs to ~1,000 s, 8 per doubling. */
#define STATS_QBUCKETS 216

struct version_stats {
	char function[65];
	char version[16];
	/* counters, since the daemon started */
	uint64_t invocations, errors, throttles, cold_starts;
	uint64_t duration_ns_sum, cpu_ns_sum;
	uint64_t billed_mb_ms;			/* GB-seconds × 1,024,000 */
	uint64_t hist[STATS_HIST_BUCKETS + 1];	/* cumulative at exposition; last is +Inf */
	/* recent behaviour, decaying: what scaling decisions use */
	double rate;				/* arrivals per second (EWMA estimator) */
	uint64_t rate_at_ns;
	double qhist[STATS_QBUCKETS];		/* halved every STATS_DECAY_S */
	uint64_t qhist_decayed_ns;
	double mean_duration_ms;		/* EWMA */
	double mean_cpu_ms;			/* EWMA */
	uint64_t peak_bytes;			/* highest seen recently (decays slowly) */
	uint64_t peak_bytes_ever;
	bool measured;				/* at least one invocation finished */
	struct version_stats *next;
};

struct stats;

int stats_new(struct stats **out);
void stats_free(struct stats *s);

/* The entry of (function, version), created on first use; NULL if out of memory. */
struct version_stats *stats_get(struct stats *s, const char *function, const char *version);
/* Forgets every version of a deleted function. */
void stats_forget(struct stats *s, const char *function);

void stats_arrival(struct version_stats *vs, uint64_t now_ns);
void stats_throttled(struct version_stats *vs);
struct invocation_figures {
	uint64_t duration_ns, cpu_ns, peak_bytes, billed_ms;
	uint32_t memory_mb;
	bool error, cold;
};
void stats_completed(struct version_stats *vs, const struct invocation_figures *fig);

/* Arrivals per second now (decayed to now_ns). */
double stats_rate(const struct version_stats *vs, uint64_t now_ns);
/* The q-quantile (0..1) of recent durations in ms; 0 without data. */
double stats_duration_quantile(struct version_stats *vs, double q, uint64_t now_ns);

/* Iteration over every entry. */
struct version_stats *stats_first(struct stats *s);

#endif
