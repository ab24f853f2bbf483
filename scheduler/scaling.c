/* SPDX-License-Identifier: MIT */
#include "scaling.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

unsigned scaling_prewarm_target(double rate, double mean_duration_ms, double headroom)
{
	double busy;

	if (rate < SCALING_QUIET_RATE || mean_duration_ms <= 0)
		return 0;
	busy = rate * (mean_duration_ms / 1000.0);
	return (unsigned)ceil(busy * headroom);
}

uint64_t scaling_instance_bytes(const struct version_stats *vs, uint32_t memory_mb)
{
	uint64_t configured = (uint64_t)memory_mb << 20, measured;

	if (!vs || !vs->measured)
		return configured;
	measured = vs->peak_bytes + vs->peak_bytes / 8 + SCALING_PEAK_MARGIN;
	return measured < configured ? measured : configured;
}

static uint64_t meminfo_field(const char *name)
{
	char line[128];
	size_t n = strlen(name);
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':') {
			sscanf(line + n + 1, "%llu", &kb);
			break;
		}
	fclose(f);
	return (uint64_t)kb << 10;
}

uint64_t scaling_mem_available(uint64_t now_ns)
{
	static uint64_t cached, cached_at;

	if (!cached_at || now_ns - cached_at >= SCALING_TICK_MS * 1000000ull) {
		cached = meminfo_field("MemAvailable");
		cached_at = now_ns;
	}
	return cached;
}

uint64_t scaling_mem_total(void)
{
	return meminfo_field("MemTotal");
}

bool scaling_admit(const struct host_memory *h, uint64_t bytes)
{
	if (h->available_bytes && h->available_bytes < h->min_available_bytes + bytes)
		return false;
	return h->committed_bytes + bytes <= h->budget_bytes;
}
