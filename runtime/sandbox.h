/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_RUNTIME_SANDBOX_H
#define LAMINA_RUNTIME_SANDBOX_H

/*
 * The micro-container runtime: spawns one process tree in fresh namespaces, a new root
 * file system, a cgroup with limits, a seccomp allowlist and no privileges, and reports
 * how it ended. It knows sandboxes, not functions.
 *
 * Ownership: an lr_runtime owns the cgroup parent, the compiled seccomp program and a
 * pool of reusable cgroups; each lr_sandbox owns its process and its cgroup until
 * lr_sandbox_free().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define LR_DEFAULT_CGROUP_PARENT "lamina"
#define LR_MEMORY_MIN_BYTES (16ull << 20)
#define LR_NOFILE_LIMIT 1024
#define LR_OPT_LAYERS_MAX 8

struct lr_runtime;
struct lr_sandbox;

struct lr_runtime_config {
	/* Parent cgroup, relative to each hierarchy's root; NULL: "lamina", which the
	 * runtime creates and removes when empty. A parent given here is never removed. */
	const char *cgroup_parent;
	/* Where the cgroup hierarchies are mounted; NULL: /sys/fs/cgroup. */
	const char *cgroup_root;
	/* Emptied cgroups kept for reuse by later sandboxes (mkdir/rmdir is ~0.3 ms). */
	unsigned cgroup_pool_max;
};

enum lr_net_mode {
	LR_NET_NONE,	/* a new network namespace with only lo, up */
	LR_NET_HOST,	/* the caller's network namespace */
	LR_NET_JOIN,	/* join netns_fd (for example one lr_netns_create() per function) */
};

struct lr_fd_map {
	int source;	/* fd in the caller */
	int target;	/* fd number inside the sandbox (>= 3) */
};

/* A further read-only bind; target must lie under /var/ (not /var/task), e.g. the
 * language runtime at /var/runtime. */
struct lr_bind {
	const char *source;
	const char *target;
};

struct lr_spec {
	const char *const *argv;	/* argv[0] is looked up in PATH inside the sandbox */
	const char *const *envp;	/* the whole environment: nothing is inherited */
	const char *code_dir;		/* bound read-only at /var/task; NULL: empty dir */
	const char *opt_dir;		/* bound read-only at /opt; NULL: empty dir */
	/* Instead of opt_dir: up to LR_OPT_LAYERS_MAX directories merged read-only at /opt
	 * (an overlay), a later one's files hiding an earlier one's, as Lambda's layers. */
	const char *const *opt_layers;
	size_t n_opt_layers;
	/* A read-only tree used as the whole root file system instead of the host's base
	 * (a container image); NULL: the base. It must hold the directories /dev, /proc
	 * and /tmp (and /etc/lamina to get the sandbox's accounts, /var/task for code_dir,
	 * /opt for layers); the sandbox gets the base's /dev, its own /tmp and /proc. */
	const char *root_dir;
	const struct lr_bind *binds;	/* up to 8 */
	size_t n_binds;
	const char *cwd;		/* NULL: /var/task */
	const char *hostname;		/* NULL: "lamina" */
	uid_t uid;			/* never 0 */
	gid_t gid;			/* never 0 */
	uint64_t memory_bytes;		/* memory limit, no swap; >= LR_MEMORY_MIN_BYTES */
	uint32_t pids_max;		/* 0: 1024 */
	uint32_t cpu_millis;		/* CPU bandwidth in 1/1000 CPU; 0: unlimited */
	uint64_t tmp_bytes;		/* size of the private /tmp; 0: 512 MiB */
	uint64_t fsize_bytes;		/* RLIMIT_FSIZE; 0: tmp_bytes + 1 MiB */
	uint32_t timeout_ms;		/* wall-clock limit enforced by lr_sandbox_wait; 0: none */
	enum lr_net_mode net;
	int netns_fd;			/* for LR_NET_JOIN */
	int stdio[3];			/* fds for 0, 1, 2 inside; -1: /dev/null */
	const struct lr_fd_map *fds;	/* further fds to pass; all others are closed */
	size_t n_fds;
	bool survive_parent;		/* keep running if the caller dies (default: killed) */
};

enum lr_end_reason {
	LR_END_EXIT,
	LR_END_SIGNAL,
	LR_END_TIMEOUT,
	LR_END_OOM,
};

struct lr_result {
	enum lr_end_reason reason;
	int exit_code;			/* valid for LR_END_EXIT */
	int signal;			/* the signal that ended it, or 0 */
	uint64_t wall_ns;		/* from spawn to reap */
	uint64_t peak_memory_bytes;	/* from the cgroup */
	uint64_t oom_kills;		/* OOM kills inside the cgroup during this run */
};

int lr_runtime_new(const struct lr_runtime_config *config, struct lr_runtime **out,
		   struct lr_error *err);
/* Frees the pool and removes the default parent cgroup if nothing else uses it. */
void lr_runtime_free(struct lr_runtime *rt);
/* Kills and removes what runtimes that died (kill -9) left under the parent cgroup:
 * their sandboxes' processes and cgroups. Their mounts died with their namespaces. */
int lr_runtime_sweep(struct lr_runtime *rt, unsigned *removed, struct lr_error *err);
/* "v2" or "v1-hybrid" */
const char *lr_runtime_cgroup_backend(const struct lr_runtime *rt);

/* A new, empty network namespace with lo up, as an fd for LR_NET_JOIN. */
int lr_netns_create(struct lr_error *err);

int lr_sandbox_spawn(struct lr_runtime *rt, const struct lr_spec *spec, struct lr_sandbox **out,
		     struct lr_error *err);
pid_t lr_sandbox_pid(const struct lr_sandbox *sb);
/* Readable when the sandbox's first process has exited: for the caller's event loop. */
int lr_sandbox_pidfd(const struct lr_sandbox *sb);
/* Kills the whole tree. as_timeout marks the result as a timeout. */
int lr_sandbox_kill(struct lr_sandbox *sb, bool as_timeout, struct lr_error *err);
/* Blocks until the sandbox ends, killing it at its timeout. */
int lr_sandbox_wait(struct lr_sandbox *sb, struct lr_result *result, struct lr_error *err);
/* Non-blocking: 0 with *result once ended, -EAGAIN while running. */
int lr_sandbox_reap(struct lr_sandbox *sb, struct lr_result *result, struct lr_error *err);
/* Kills if still running, reaps, and releases the cgroup. Accepts NULL. */
void lr_sandbox_free(struct lr_sandbox *sb);

/* What a running sandbox has used so far, from its cgroup (two reads of open files). */
struct lr_usage {
	uint64_t cpu_usec;		/* CPU time of all its tasks since spawn */
	uint64_t peak_memory_bytes;	/* since spawn or the last lr_sandbox_reset_peak */
};
int lr_sandbox_usage(struct lr_sandbox *sb, struct lr_usage *usage, struct lr_error *err);
/* CPU time alone (one read): what an invocation's start needs. */
int lr_sandbox_cpu_time(struct lr_sandbox *sb, uint64_t *cpu_usec, struct lr_error *err);
/* Restarts the memory peak from the current usage: per-invocation peaks. */
int lr_sandbox_reset_peak(struct lr_sandbox *sb, struct lr_error *err);
/* Only the memory peak since the last reset (no CPU counter read). */
int lr_sandbox_peak_memory(struct lr_sandbox *sb, uint64_t *peak_bytes, struct lr_error *err);

/* Changes the CPU bandwidth (1/1000 CPU; 0: unlimited), e.g. after an init phase run
 * at full speed. */
int lr_sandbox_set_cpu(struct lr_sandbox *sb, uint32_t cpu_millis, struct lr_error *err);

/* The id of the sandbox's cgroup in the unified (v2) tree: what
 * bpf_get_current_cgroup_id() returns for its tasks. 0 when there is none (a v1-only
 * host). */
uint64_t lr_sandbox_cgroup_id(const struct lr_sandbox *sb);

const char *lr_end_reason_name(enum lr_end_reason reason);

#endif
