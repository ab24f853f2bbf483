/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_METERING_H
#define LAMINA_SCHEDULER_METERING_H

/*
 * What each invocation used, for the REPORT line, the ledger and the scheduler. With the
 * eBPF probes (bpf/meter.h) the kernel measures duration (from the instance receiving
 * its event to it starting to send the answer), CPU time of every task of the instance,
 * page faults, context switches, births, exits and OOM kills; the peak memory is the
 * instance cgroup's peak, reset when the event is sent (exact to the page: see
 * bpf/meter.h for why not rss_stat). Without BPF (no BTF, no privilege, or
 * `--metering cgroup`) the daemon's clock and the cgroup's CPU counter stand in, and
 * every figure is marked approximate.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct lr_sandbox;
struct metering;

enum metering_mode { METERING_AUTO, METERING_BPF, METERING_CGROUP };

struct metering_probe {		/* one instance's handle */
	int slot;			/* in the BPF meter; -1: none */
	uint64_t cpu_usec_start;	/* fallback: the cgroup's CPU counter at dispatch */
	uint64_t sent_ns;		/* the daemon's clock at dispatch */
};

struct metered {
	uint64_t duration_ns, cpu_ns, peak_bytes;
	uint64_t page_faults, ctx_switches;
	uint32_t forks, exits, oom_kills;
	bool exact;			/* all of it measured by the kernel probes */
};

/* METERING_BPF fails when the probes cannot load; AUTO falls back (and says so once). */
int metering_open(enum metering_mode mode, struct metering **out, char *why, size_t why_len);
void metering_close(struct metering *m);
/* "bpf" or "cgroup". */
const char *metering_name(const struct metering *m);
bool metering_exact(const struct metering *m);

/* A new instance: its Runtime API endpoints are the Unix socket whose instance end has
 * inode socket_ino, and TCP port on its loopback. */
void metering_track(struct metering *m, struct lr_sandbox *sb, uint64_t socket_ino, uint16_t port,
		    const char *label, struct metering_probe *p);
/* Logs the births and exits of instances' tasks (debug) and OOM kills (info) as the
 * probes report them, from the loop. */
void metering_watch(struct metering *m, struct loop *loop);
void metering_untrack(struct metering *m, struct metering_probe *p);

/* Right before the event goes out. */
void metering_begin(struct metering *m, struct lr_sandbox *sb, struct metering_probe *p, uint64_t now_ns);
/* Right after the event went out. */
void metering_event_sent(struct metering *m, struct lr_sandbox *sb, struct metering_probe *p);
/* Once the answer (or the failure) is in. */
void metering_end(struct metering *m, struct lr_sandbox *sb, struct metering_probe *p, uint64_t now_ns,
		  struct metered *out);

#endif
