/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_BPF_METER_H
#define LAMINA_BPF_METER_H

/*
 * lamina's eBPF meter: what each invocation of each followed instance used, measured in
 * the kernel (meter.bpf.c). An instance is followed by its unified-tree cgroup id, so
 * every process and thread it forks counts. Per invocation:
 *  - duration: from a task of the instance returning with data from a read on its
 *    Runtime API connection (after lm_meter_arm) to a task of the instance entering a
 *    write on that connection; writes elsewhere (logs on stdout/stderr) do not end it;
 *  - CPU time of all its tasks in between (sched_switch), including the stints of tasks
 *    still running at either end;
 *  - user page faults, context switches (switch-outs), tasks born and exited, OOM kills.
 *
 * Peak memory is deliberately not measured here. The rss_stat tracepoint reports one
 * mm's counters, which the kernel keeps as per-CPU approximations (folded in batches,
 * so they lag by up to 64 pages per CPU) and which count a shared page once in every
 * process mapping it: summed over an instance's processes they drift and double-count,
 * and they miss what the instance keeps in its /tmp (tmpfs). The cgroup's own peak
 * (memory.max_usage_in_bytes on v1, memory.peak on v2), reset when the event is sent,
 * is kept by the page counter every charge goes through: each page once, shared,
 * anonymous, page cache and tmpfs alike, off only by the charge batch a CPU holds in
 * reserve (under 64 pages, 256 KiB). So the daemon reads that (lr_sandbox_reset_peak,
 * lr_sandbox_peak_memory).
 *
 * No syscall on the hot path: arming a slot and reading its figures are plain accesses
 * to an array the probes share with this process (mmap); only track/untrack update a
 * map. Births, exits and OOM kills also arrive through a ring buffer (events_fd).
 *
 * Functions return 0 or a negative errno; none of them logs.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meter_abi.h"

struct lm_meter;

struct lm_figures {		/* one invocation of one slot, all kernel-measured */
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	uint64_t cpu_ns, page_faults, ctx_switches;
	uint32_t forks, exits, oom_kills;	/* tasks: processes and threads */
	bool started, complete;		/* event received / response started */
};

/* Loads and attaches the probes. On failure, a one-line reason in why (no BTF,
 * missing privilege, a kernel without a tracepoint…) and nothing left behind. */
int lm_meter_open(struct lm_meter **out, char *why, size_t why_len);
/* Detaches and frees everything. Accepts NULL. */
void lm_meter_close(struct lm_meter *m);

/* Starts following the instance whose unified-tree cgroup id is cgroup_id (see
 * lr_sandbox_cgroup_id). -EEXIST if followed already, -ENOSPC with every slot taken. */
int lm_meter_track(struct lm_meter *m, uint64_t cgroup_id, uint32_t *slot);
/* The Runtime API connection: the instance's end of a Unix socket (its inode, as
 * fstat gives it to the daemon), and/or TCP connections to 127.0.0.1:port inside the
 * instance's network namespace. 0 turns either off. No syscall. */
int lm_meter_watch_unix(struct lm_meter *m, uint32_t slot, uint64_t socket_ino);
int lm_meter_watch_tcp(struct lm_meter *m, uint32_t slot, uint16_t port);
/* Stops following; the slot is free for another instance. */
void lm_meter_untrack(struct lm_meter *m, uint32_t slot);

/* No syscall: the next event receipt starts a new invocation. Call it before the
 * event is sent. */
void lm_meter_arm(struct lm_meter *m, uint32_t slot);
/* No syscall: the figures of the invocation armed last. False for a slot not
 * tracked; out->started / out->complete say how far that invocation got (its
 * figures are final once complete). */
bool lm_meter_read(struct lm_meter *m, uint32_t slot, struct lm_figures *out);

/* The ring buffer of struct lm_event (births, exits, OOM kills), for epoll. */
int lm_meter_events_fd(struct lm_meter *m);
/* Calls cb for every event waiting, without blocking; returns how many, or -errno. */
int lm_meter_consume(struct lm_meter *m, void (*cb)(void *ctx, const struct lm_event *ev), void *ctx);

#endif
