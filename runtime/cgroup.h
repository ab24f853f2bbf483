/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_RUNTIME_CGROUP_H
#define LAMINA_RUNTIME_CGROUP_H

/*
 * Per-sandbox cgroups with two backends behind one table of operations:
 *  - v2: one cgroup in the unified hierarchy (memory, pids, cpu, cgroup.kill);
 *  - v1-hybrid: memory, pids and cpu cgroups on v1, plus a cgroup in the unified
 *    tree (when mounted) that gives the sandbox an identity and a group kill.
 * The hierarchy root is injected so the logic is unit-tested against a fake tree.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct cgroup_limits {
	uint64_t memory_bytes;
	uint32_t pids_max;
	uint32_t cpu_millis;	/* 0: unlimited */
};

struct cgroup_stats {
	uint64_t peak_memory_bytes;	/* since the last apply or reset_peak */
	uint64_t oom_kills;		/* since the last cgroup_apply() */
	uint64_t cpu_usec;		/* total CPU time of the cgroup's tasks */
};

enum cgroup_dir {
	CGROUP_DIR_MEMORY,
	CGROUP_DIR_PIDS,
	CGROUP_DIR_CPU,
	CGROUP_DIR_UNIFIED,
	CGROUP_DIR_COUNT,
};

struct cgroup_manager;

/* One sandbox's cgroup (one directory per hierarchy in use). */
struct cgroup {
	struct cgroup_manager *manager;
	char name[64];
	int dir_fd[CGROUP_DIR_COUNT];	/* -1 where the backend has no such dir */
	int procs_fd[CGROUP_DIR_COUNT];	/* cgroup.procs, open for writing */
	int peak_fd;			/* the memory peak file, kept open for the hot path */
	struct cgroup_limits limits;	/* as last written: a reused cgroup skips equal writes */
	bool limits_valid;
	int cpu_stat_fd;		/* unified cpu.stat, kept open */
	uint64_t oom_kills_base;
};

struct cgroup_backend {
	const char *name;
	/* Which hierarchy directories the backend uses, relative to the root. */
	const char *dir_path[CGROUP_DIR_COUNT];
	int (*set_limits)(struct cgroup *cg, const struct cgroup_limits *limits, struct lr_error *err);
	/* A new sandbox's accounting starts: peak reset, OOM count noted. */
	int (*begin)(struct cgroup *cg, struct lr_error *err);
	int (*kill)(struct cgroup *cg, struct lr_error *err);
	int (*stats)(struct cgroup *cg, struct cgroup_stats *stats, struct lr_error *err);
	int (*reset_peak)(struct cgroup *cg, struct lr_error *err);
	int (*read_peak)(struct cgroup *cg, uint64_t *peak, struct lr_error *err);
	int (*set_cpu)(struct cgroup *cg, uint32_t cpu_millis, struct lr_error *err);
};

extern const struct cgroup_backend cgroup_backend_v1_hybrid;
extern const struct cgroup_backend cgroup_backend_v2;

struct cgroup_manager {
	const struct cgroup_backend *backend;
	char root[256];
	char parent[256];
	bool remove_parent;	/* the parent is lamina's own: removed once empty */
	int parent_fd[CGROUP_DIR_COUNT];
	unsigned long next_id;
};

/* Picks the backend from what is mounted under root. */
int cgroup_detect(const char *root, const struct cgroup_backend **out, struct lr_error *err);

int cgroup_manager_init(struct cgroup_manager *m, const char *root, const char *parent,
			bool remove_parent, struct lr_error *err);
void cgroup_manager_fini(struct cgroup_manager *m);

int cgroup_create(struct cgroup_manager *m, struct cgroup **out, struct lr_error *err);
int cgroup_apply(struct cgroup *cg, const struct cgroup_limits *limits, struct lr_error *err);
/* Moves pid into every hierarchy of cg. */
int cgroup_attach(struct cgroup *cg, pid_t pid, struct lr_error *err);
/* The same for the calling process, from a child after clone: no allocation. */
int cgroup_enter_self(const struct cgroup *cg);
int cgroup_kill(struct cgroup *cg, struct lr_error *err);
int cgroup_stats(struct cgroup *cg, struct cgroup_stats *stats, struct lr_error *err);
int cgroup_reset_peak(struct cgroup *cg, struct lr_error *err);
/* Changes the CPU bandwidth of a running sandbox (0: unlimited). */
int cgroup_set_cpu(struct cgroup *cg, uint32_t cpu_millis, struct lr_error *err);
/* Peak memory (skipped if peak is NULL) and CPU time through files kept open. */
int cgroup_usage(struct cgroup *cg, uint64_t *peak, uint64_t *cpu_usec, struct lr_error *err);
int cgroup_usage_peak(struct cgroup *cg, uint64_t *peak, struct lr_error *err);
/* Reads a flat-keyed file through an open fd from offset 0. */
int cgroup_pread_key(int fd, const char *key, uint64_t *value);
/* True when no process is left in any of its hierarchies. */
bool cgroup_is_empty(struct cgroup *cg);
/* Removes the directories (waiting briefly for dying tasks) and frees cg. Accepts NULL. */
int cgroup_destroy(struct cgroup *cg, struct lr_error *err);

/* Kills and removes the sandboxes left by runtimes that no longer run (their cgroup
 * names carry the creator's pid). Counts directories removed. */
int cgroup_sweep(struct cgroup_manager *m, unsigned *removed, struct lr_error *err);

/* Helpers shared by the backends. */
int cgroup_write(int dir_fd, const char *file, const char *value, struct lr_error *err);
int cgroup_read(int dir_fd, const char *file, char *buf, size_t size, struct lr_error *err);
/* Finds "key N" in a flat-keyed file (memory.events, memory.oom_control). */
int cgroup_read_key(int dir_fd, const char *file, const char *key, uint64_t *value,
		    struct lr_error *err);
int cgroup_read_u64(int dir_fd, const char *file, uint64_t *value, struct lr_error *err);

#endif
