/* SPDX-License-Identifier: MIT */
/*
 * The v1/hybrid backend: limits on the v1 memory, pids and cpu hierarchies; the
 * sandbox's cgroup in the unified (v2) tree, when mounted, gives it an identity
 * (its cgroup id, which BPF programs key on) and an atomic group kill.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"

#define CPU_PERIOD_US 100000

static int v1_set_memory(struct cgroup *cg, uint64_t bytes, struct lr_error *err)
{
	int fd = cg->dir_fd[CGROUP_DIR_MEMORY];
	uint64_t current = 0;
	char value[32];
	bool has_memsw = faccessat(fd, "memory.memsw.limit_in_bytes", F_OK, 0) == 0;
	int r;

	snprintf(value, sizeof(value), "%" PRIu64, bytes);
	/* memsw (memory+swap) must stay >= the memory limit at every step: raise it
	 * first when growing, lower it last when shrinking. Equal values mean no swap. */
	if (has_memsw) {
		r = cgroup_read_u64(fd, "memory.limit_in_bytes", &current, err);
		if (r < 0)
			return r;
	}
	if (has_memsw && bytes > current) {
		r = cgroup_write(fd, "memory.memsw.limit_in_bytes", value, err);
		if (r < 0)
			return r;
	}
	r = cgroup_write(fd, "memory.limit_in_bytes", value, err);
	if (r < 0)
		return r;
	if (has_memsw && bytes <= current) {
		r = cgroup_write(fd, "memory.memsw.limit_in_bytes", value, err);
		if (r < 0)
			return r;
	}
	if (!has_memsw)
		return cgroup_write(fd, "memory.swappiness", "0", err);
	return 0;
}

static int v1_peak_fd(struct cgroup *cg, struct lr_error *err)
{
	if (cg->peak_fd < 0) {
		cg->peak_fd = openat(cg->dir_fd[CGROUP_DIR_MEMORY], "memory.max_usage_in_bytes",
				     O_RDWR | O_CLOEXEC);
		if (cg->peak_fd < 0)
			return lr_error_set(err, errno, "open cgroup file 'memory.max_usage_in_bytes'");
	}
	return cg->peak_fd;
}

static int v1_reset_peak(struct cgroup *cg, struct lr_error *err)
{
	int fd = v1_peak_fd(cg, err);

	if (fd < 0)
		return fd;
	/* Writing 0 restarts the maximum from the current usage. */
	if (pwrite(fd, "0", 1, 0) != 1)
		return lr_error_set(err, errno, "reset memory.max_usage_in_bytes");
	return 0;
}

static int v1_read_peak(struct cgroup *cg, uint64_t *peak, struct lr_error *err)
{
	char buf[32];
	int fd = v1_peak_fd(cg, err);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return lr_error_set(err, errno, "read memory.max_usage_in_bytes");
	buf[n] = '\0';
	*peak = strtoull(buf, NULL, 10);
	return 0;
}

static int v1_set_cpu(struct cgroup *cg, uint32_t cpu_millis, struct lr_error *err)
{
	char value[32];

	if (cpu_millis)
		snprintf(value, sizeof(value), "%" PRIu64, (uint64_t)cpu_millis * CPU_PERIOD_US / 1000);
	else
		snprintf(value, sizeof(value), "-1");
	return cgroup_write(cg->dir_fd[CGROUP_DIR_CPU], "cpu.cfs_quota_us", value, err);
}

static int v1_begin(struct cgroup *cg, struct lr_error *err)
{
	/* A reused cgroup starts its peak and OOM count from here. */
	int r = v1_reset_peak(cg, err);

	if (r < 0)
		return r;
	return cgroup_read_key(cg->dir_fd[CGROUP_DIR_MEMORY], "memory.oom_control", "oom_kill",
			       &cg->oom_kills_base, err);
}

static int v1_set_limits(struct cgroup *cg, const struct cgroup_limits *limits, struct lr_error *err)
{
	char value[32];
	int r;

	r = v1_set_memory(cg, limits->memory_bytes, err);
	if (r < 0)
		return r;
	snprintf(value, sizeof(value), "%u", limits->pids_max);
	r = cgroup_write(cg->dir_fd[CGROUP_DIR_PIDS], "pids.max", value, err);
	if (r < 0)
		return r;
	r = cgroup_write(cg->dir_fd[CGROUP_DIR_CPU], "cpu.cfs_period_us", "100000", err);
	if (r < 0)
		return r;
	return v1_set_cpu(cg, limits->cpu_millis, err);
}

static int v1_kill(struct cgroup *cg, struct lr_error *err)
{
	if (cg->dir_fd[CGROUP_DIR_UNIFIED] < 0)
		return lr_error_invalid(err, ENOTSUP, "no unified cgroup for a group kill");
	return cgroup_write(cg->dir_fd[CGROUP_DIR_UNIFIED], "cgroup.kill", "1", err);
}

static int v1_stats(struct cgroup *cg, struct cgroup_stats *stats, struct lr_error *err)
{
	int fd = cg->dir_fd[CGROUP_DIR_MEMORY];
	uint64_t kills;
	int r;

	r = v1_read_peak(cg, &stats->peak_memory_bytes, err);
	if (r < 0)
		return r;
	r = cgroup_read_key(fd, "memory.oom_control", "oom_kill", &kills, err);
	if (r < 0)
		return r;
	stats->oom_kills = kills - cg->oom_kills_base;
	return 0;
}

const struct cgroup_backend cgroup_backend_v1_hybrid = {
	.name = "v1-hybrid",
	.dir_path = {
		[CGROUP_DIR_MEMORY] = "memory",
		[CGROUP_DIR_PIDS] = "pids",
		[CGROUP_DIR_CPU] = "cpu",
		[CGROUP_DIR_UNIFIED] = "unified",
	},
	.set_limits = v1_set_limits,
	.begin = v1_begin,
	.kill = v1_kill,
	.stats = v1_stats,
	.reset_peak = v1_reset_peak,
	.read_peak = v1_read_peak,
	.set_cpu = v1_set_cpu,
};
