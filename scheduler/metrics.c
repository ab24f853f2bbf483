/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "instance.h"
#include "loop.h"
#include "metering.h"
#include "scaling.h"
#include "stats.h"

/* Host CPU busy share since the previous call (since boot on the first one). */
static double host_cpu_percent(void)
{
	static unsigned long long prev_busy, prev_total;
	unsigned long long v[10] = { 0 }, busy, total = 0;
	double pct = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) < 8) {
		fclose(f);
		return 0;
	}
	fclose(f);
	/* guest and guest_nice are already inside user and nice. */
	for (int i = 0; i < 8; i++)
		total += v[i];
	busy = total - v[3] - v[4];	/* minus idle and iowait */
	if (total > prev_total)
		pct = 100.0 * (double)(busy - prev_busy) / (double)(total - prev_total);
	prev_busy = busy;
	prev_total = total;
	return pct < 0 ? 0 : pct > 100 ? 100 : pct;
}

json_t *metrics_snapshot(struct daemon *d)
{
	uint64_t now = loop_now_ns();
	struct pool_counts all;
	json_t *fns = json_array();

	functions_counts(d->functions, NULL, NULL, &all);
	for (struct version_stats *vs = stats_first(d->stats); vs; vs = vs->next) {
		struct pool_counts c;

		functions_counts(d->functions, vs->function, vs->version, &c);
		json_array_append_new(
			fns, json_pack("{s:s, s:s, s:I, s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:I}",
				       "FunctionName", vs->function, "Version", vs->version, "Invocations",
				       (json_int_t)vs->invocations, "InvocationsPerSecond", stats_rate(vs, now),
				       "Concurrency", (json_int_t)c.busy, "WarmInstances", (json_int_t)c.idle,
				       "BusyInstances", (json_int_t)c.busy, "StartingInstances",
				       (json_int_t)c.starting, "DurationP50Ms",
				       stats_duration_quantile(vs, 0.50, now), "DurationP99Ms",
				       stats_duration_quantile(vs, 0.99, now), "MaxMemoryUsedMB",
				       vs->peak_bytes_ever / 1048576.0, "Errors", (json_int_t)vs->errors,
				       "Throttles", (json_int_t)vs->throttles, "ColdStarts",
				       (json_int_t)vs->cold_starts));
	}
	return json_pack("{s:f, s:{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:s}, s:o}", "UptimeSeconds",
			 (now - d->started_ns) / 1e9, "Host", "Cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
			 "CpuPercent", host_cpu_percent(), "MemTotalMB", (json_int_t)(scaling_mem_total() >> 20),
			 "MemAvailableMB", (json_int_t)(scaling_mem_available(now) >> 20), "MemCommittedMB",
			 (json_int_t)(functions_committed_bytes(d->functions) >> 20), "MemBudgetMB",
			 (json_int_t)(functions_budget_bytes(d->functions) >> 20), "Instances",
			 (json_int_t)all.instances, "BusyInstances", (json_int_t)all.busy, "Metering",
			 metering_name(d->metering), "Functions", fns);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Function names and versions are [A-Za-z0-9_$-]: nothing in them needs escaping. */
#define LABELS "function=\"%s\",version=\"%s\""

static void per_version_u64(FILE *out, struct daemon *d, const char *name, const char *type,
			    const char *help, size_t offset)
{
	family(out, name, type, help);
	for (struct version_stats *vs = stats_first(d->stats); vs; vs = vs->next)
		fprintf(out, "%s{" LABELS "} %llu\n", name, vs->function, vs->version,
			(unsigned long long)*(const uint64_t *)((const char *)vs + offset));
}

char *metrics_prometheus(struct daemon *d, size_t *len)
{
	uint64_t now = loop_now_ns();
	struct pool_counts all;
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (!out)
		return NULL;
	per_version_u64(out, d, "lamina_invocations_total", "counter", "Invocations that ran to an answer.",
			offsetof(struct version_stats, invocations));
	per_version_u64(out, d, "lamina_errors_total", "counter",
			"Invocations that ended with a function error (Handled or Unhandled).",
			offsetof(struct version_stats, errors));
	per_version_u64(out, d, "lamina_throttles_total", "counter",
			"Invocations refused with TooManyRequestsException.",
			offsetof(struct version_stats, throttles));
	per_version_u64(out, d, "lamina_cold_starts_total", "counter",
			"Invocations that waited for a new instance's init.",
			offsetof(struct version_stats, cold_starts));

	family(out, "lamina_invocation_duration_seconds", "histogram",
	       "Invocation duration as the kernel measured it (event received to answer started).");
	for (struct version_stats *vs = stats_first(d->stats); vs; vs = vs->next) {
		uint64_t cumulative = 0;

		for (int b = 0; b < STATS_HIST_BUCKETS; b++) {
			cumulative += vs->hist[b];
			fprintf(out, "lamina_invocation_duration_seconds_bucket{" LABELS ",le=\"%g\"} %llu\n",
				vs->function, vs->version, stats_hist_bounds[b], (unsigned long long)cumulative);
		}
		cumulative += vs->hist[STATS_HIST_BUCKETS];
		fprintf(out, "lamina_invocation_duration_seconds_bucket{" LABELS ",le=\"+Inf\"} %llu\n",
			vs->function, vs->version, (unsigned long long)cumulative);
		fprintf(out, "lamina_invocation_duration_seconds_sum{" LABELS "} %.9f\n", vs->function,
			vs->version, vs->duration_ns_sum / 1e9);
		fprintf(out, "lamina_invocation_duration_seconds_count{" LABELS "} %llu\n", vs->function,
			vs->version, (unsigned long long)cumulative);
	}
	family(out, "lamina_cpu_seconds_total", "counter", "CPU time of the function's tasks during invocations.");
	for (struct version_stats *vs = stats_first(d->stats); vs; vs = vs->next)
		fprintf(out, "lamina_cpu_seconds_total{" LABELS "} %.9f\n", vs->function, vs->version,
			vs->cpu_ns_sum / 1e9);
	family(out, "lamina_billed_gb_seconds_total", "counter", "Billed duration times memory size, in GB-seconds.");
	for (struct version_stats *vs = stats_first(d->stats); vs; vs = vs->next)
		fprintf(out, "lamina_billed_gb_seconds_total{" LABELS "} %.9f\n", vs->function, vs->version,
			vs->billed_mb_ms / 1024.0 / 1000.0);
	family(out, "lamina_max_memory_used_bytes", "gauge", "Highest memory peak of one invocation.");
	for (struct version_stats *vs = stats_first(d->stats); vs; vs = vs->next)
		fprintf(out, "lamina_max_memory_used_bytes{" LABELS "} %llu\n", vs->function, vs->version,
			(unsigned long long)vs->peak_bytes_ever);
	family(out, "lamina_arrival_rate", "gauge", "Recent invocations per second (5 s time constant).");
	for (struct version_stats *vs = stats_first(d->stats); vs; vs = vs->next)
		fprintf(out, "lamina_arrival_rate{" LABELS "} %.6f\n", vs->function, vs->version,
			stats_rate(vs, now));
	family(out, "lamina_instances", "gauge", "Instances of the version by state.");
	for (struct version_stats *vs = stats_first(d->stats); vs; vs = vs->next) {
		struct pool_counts c;

		functions_counts(d->functions, vs->function, vs->version, &c);
		fprintf(out, "lamina_instances{" LABELS ",state=\"idle\"} %u\n", vs->function, vs->version, c.idle);
		fprintf(out, "lamina_instances{" LABELS ",state=\"busy\"} %u\n", vs->function, vs->version, c.busy);
		fprintf(out, "lamina_instances{" LABELS ",state=\"starting\"} %u\n", vs->function, vs->version,
			c.starting);
	}

	functions_counts(d->functions, NULL, NULL, &all);
	family(out, "lamina_host_instances", "gauge", "Instances on the host.");
	fprintf(out, "lamina_host_instances %u\n", all.instances);
	family(out, "lamina_host_memory_available_bytes", "gauge", "The host's MemAvailable.");
	fprintf(out, "lamina_host_memory_available_bytes %llu\n",
		(unsigned long long)scaling_mem_available(now));
	family(out, "lamina_host_memory_committed_bytes", "gauge",
	       "Host memory charged to live instances at their measured peaks.");
	fprintf(out, "lamina_host_memory_committed_bytes %llu\n",
		(unsigned long long)functions_committed_bytes(d->functions));
	family(out, "lamina_host_memory_budget_bytes", "gauge", "Host memory instances may be charged (HostMemoryMB).");
	fprintf(out, "lamina_host_memory_budget_bytes %llu\n",
		(unsigned long long)functions_budget_bytes(d->functions));
	family(out, "lamina_metering_exact", "gauge", "1 when the eBPF probes measure invocations, 0 on cgroup accounting.");
	fprintf(out, "lamina_metering_exact %d\n", metering_exact(d->metering));
	family(out, "lamina_uptime_seconds", "gauge", "Seconds since laminad started.");
	fprintf(out, "lamina_uptime_seconds %.3f\n", (now - d->started_ns) / 1e9);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
