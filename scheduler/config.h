/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_CONFIG_H
#define LAMINA_SCHEDULER_CONFIG_H

/* laminad's configuration: DESIGN.md "Defaults", overridable by `--config FILE`. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_RETRY_DELAYS 8

struct daemon_config {
	char region[64];
	char account[13];
	uint32_t account_concurrency;
	uint32_t billing_granularity_ms;
	double price_per_request;
	double price_per_gb_second;
	uint64_t free_requests;
	double free_gb_seconds;
	uint64_t async_retry_delays_ms[MAX_RETRY_DELAYS];
	unsigned n_async_retry_delays;
	uint32_t max_event_age_s;
	uint32_t keep_alive_s;
	bool cpu_proportional_to_memory;
	/* scaling (scaling.h) */
	uint64_t host_memory_mb;	/* budget for all instances; 0: 90% of MemTotal */
	uint64_t min_available_mb;	/* memory pressure below this MemAvailable */
	double prewarm_headroom;	/* × Little's-law concurrency; 0: no pre-warming */
	/* images (code_store.h): ImageMaxUnpackedMB, ImageMaxEntries, ImageMaxRatio */
	uint64_t image_max_bytes;	/* 0: 250 MB */
	uint32_t image_max_entries;	/* 0: 20000 */
	uint32_t image_max_ratio;	/* unpacked ÷ archive size; 0: unchecked */
};

void config_defaults(struct daemon_config *c);
/* Reads a JSON object; unknown keys and wrong types are errors (message in errbuf). */
int config_load(struct daemon_config *c, const char *path, char *errbuf, size_t errlen);

#endif
