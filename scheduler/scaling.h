/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_SCALING_H
#define LAMINA_SCHEDULER_SCALING_H

/*
 * The scale-out policy, from measurements (stats.h):
 *
 * - Pre-warming. By Little's law a version receiving λ invocations per second that each
 *   take W seconds keeps L = λ·W instances busy on average. The scheduler keeps
 *   ceil(L × PrewarmHeadroom) instances started (idle ones wait for events), so a steady
 *   or rising load finds warm instances instead of paying cold starts; a burst beyond
 *   that still scales out on demand. Below SCALING_QUIET_RATE, or after SCALING_QUIET_NS
 *   without an arrival, the target is 0, and idle instances then stop after the
 *   keep-alive: a quiet period scales in.
 *
 * - Admission. Each instance is charged to a host memory budget (HostMemoryMB) at its
 *   version's measured peak (+ SCALING_PEAK_MARGIN), not at its configured MemorySize,
 *   which functions rarely approach — so many more instances fit, safely: the cgroup
 *   limit still stops an instance at MemorySize, and an instance whose real peak exceeds
 *   its charge is re-charged at once. A version never measured is charged MemorySize.
 *
 * - Pressure. When the host's MemAvailable drops under MinAvailableMB, or the budget is
 *   full, no instance starts: idle instances are stopped first (the longest idle
 *   anywhere), and if that frees nothing the invocation is refused with
 *   TooManyRequestsException, before anything is started.
 */

#include <stdbool.h>
#include <stdint.h>

struct version_stats;

#define SCALING_QUIET_RATE 0.2			/* arrivals/s below which a version is quiet */
#define SCALING_PEAK_MARGIN (4ull << 20)	/* + 1/8 of the peak */
#define SCALING_TICK_MS 250

/* No arrival for this long is a quiet period too, whatever the decaying rate says. */
#define SCALING_QUIET_NS (5ull * 1000000000ull)

/* Instances to keep started for a version (before concurrency limits). */
unsigned scaling_prewarm_target(double rate, double mean_duration_ms, double headroom);

/* The memory one more instance of a version is charged. */
uint64_t scaling_instance_bytes(const struct version_stats *vs, uint32_t memory_mb);

/* The host's MemAvailable in bytes (cached for SCALING_TICK_MS); 0 if unknown. */
uint64_t scaling_mem_available(uint64_t now_ns);
/* MemTotal in bytes; 0 if unknown. */
uint64_t scaling_mem_total(void);

struct host_memory {
	uint64_t budget_bytes;		/* HostMemoryMB */
	uint64_t min_available_bytes;	/* MinAvailableMB */
	uint64_t committed_bytes;	/* charged to live instances */
	uint64_t available_bytes;	/* MemAvailable now */
};

/* May an instance charged `bytes` start now? */
bool scaling_admit(const struct host_memory *h, uint64_t bytes);

#endif
