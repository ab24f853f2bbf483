/* SPDX-License-Identifier: MIT */
/* The v2 backend: one cgroup in the unified hierarchy holds every limit. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"

#define CPU_PERIOD_US 100000

static int v2_reset_peak(struct cgroup *cg, struct lr_error *err)
{
	(void)err;
	/* memory.peak resets per open file (6.12+): keep the fd that wrote the reset. */
	if (cg->peak_fd < 0)
		cg->peak_fd = openat(cg->dir_fd[CGROUP_DIR_UNIFIED], "memory.peak", O_RDWR | O_CLOEXEC);
	if (cg->peak_fd >= 0 && pwrite(cg->peak_fd, "reset", 5, 0) < 0) {
		/* Older kernels: the peak is since creation, still a true upper bound. */
	}
	return 0;
}

static int v2_set_cpu(struct cgroup *cg, uint32_t cpu_millis, struct lr_error *err)
{
	char value[48];

	if (cpu_millis)
		snprintf(value, sizeof(value), "%" PRIu64 " %d",
			 (uint64_t)cpu_millis * CPU_PERIOD_US / 1000, CPU_PERIOD_US);
	else
		snprintf(value, sizeof(value), "max %d", CPU_PERIOD_US);
	return cgroup_write(cg->dir_fd[CGROUP_DIR_UNIFIED], "cpu.max", value, err);
}

static int v2_begin(struct cgroup *cg, struct lr_error *err)
{
	int r = cgroup_read_key(cg->dir_fd[CGROUP_DIR_UNIFIED], "memory.events", "oom_kill",
				&cg->oom_kills_base, err);

	if (r < 0)
		return r;
	return v2_reset_peak(cg, err);
}

static int v2_set_limits(struct cgroup *cg, const struct cgroup_limits *limits, struct lr_error *err)
{
	int fd = cg->dir_fd[CGROUP_DIR_UNIFIED];
	char value[48];
	int r;

	snprintf(value, sizeof(value), "%" PRIu64, limits->memory_bytes);
	r = cgroup_write(fd, "memory.max", value, err);
	if (r < 0)
		return r;
	/* Absent when the kernel has no swap accounting: then there is no swap to use. */
	r = cgroup_write(fd, "memory.swap.max", "0", err);
	if (r < 0 && r != -ENOENT)
		return r;
	snprintf(value, sizeof(value), "%u", limits->pids_max);
	r = cgroup_write(fd, "pids.max", value, err);
	if (r < 0)
		return r;
	return v2_set_cpu(cg, limits->cpu_millis, err);
}

static int v2_kill(struct cgroup *cg, struct lr_error *err)
{
	return cgroup_write(cg->dir_fd[CGROUP_DIR_UNIFIED], "cgroup.kill", "1", err);
}

static int v2_read_peak(struct cgroup *cg, uint64_t *peak, struct lr_error *err)
{
	char buf[32];
	ssize_t n;

	if (cg->peak_fd < 0)
		return cgroup_read_u64(cg->dir_fd[CGROUP_DIR_UNIFIED], "memory.peak", peak, err);
	n = pread(cg->peak_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return lr_error_set(err, errno, "read memory.peak");
	buf[n] = '\0';
	*peak = strtoull(buf, NULL, 10);
	return 0;
}

static int v2_stats(struct cgroup *cg, struct cgroup_stats *stats, struct lr_error *err)
{
	int fd = cg->dir_fd[CGROUP_DIR_UNIFIED];
	uint64_t kills;
	int r;

	r = v2_read_peak(cg, &stats->peak_memory_bytes, err);
	if (r < 0)
		return r;
	r = cgroup_read_key(fd, "memory.events", "oom_kill", &kills, err);
	if (r < 0)
		return r;
	stats->oom_kills = kills - cg->oom_kills_base;
	return 0;
}

const struct cgroup_backend cgroup_backend_v2 = {
	.name = "v2",
	.dir_path = { [CGROUP_DIR_UNIFIED] = "" },
	.set_limits = v2_set_limits,
	.begin = v2_begin,
	.kill = v2_kill,
	.stats = v2_stats,
	.reset_peak = v2_reset_peak,
	.read_peak = v2_read_peak,
	.set_cpu = v2_set_cpu,
};
