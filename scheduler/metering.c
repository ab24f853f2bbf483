/* SPDX-License-Identifier: MIT */
#include "metering.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/meter.h"
#include "../runtime/sandbox.h"
#include "log.h"
#include "loop.h"

struct metering {
	struct lm_meter *bpf;	/* NULL: cgroup accounting */
	struct loop *loop;	/* watching the ring buffer of births, exits, OOM kills */
	char *labels[LM_MAX_SLOTS];	/* "function:version" of each followed instance */
};

int metering_open(enum metering_mode mode, struct metering **out, char *why, size_t why_len)
{
	struct metering *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	why[0] = '\0';
	if (mode != METERING_CGROUP && lm_meter_open(&m->bpf, why, why_len) < 0) {
		m->bpf = NULL;
		if (mode == METERING_BPF) {
			free(m);
			return -1;
		}
		/* Said once, here: every Report then carries "Approximate": true. */
		log_warn("eBPF metering unavailable (%s): falling back to cgroup accounting; "
			 "durations, CPU times and memory figures are approximate",
			 why);
	}
	*out = m;
	return 0;
}

static void on_task_event(void *ctx, const struct lm_event *ev)
{
	struct metering *m = ctx;
	const char *who = ev->slot < LM_MAX_SLOTS && m->labels[ev->slot] ? m->labels[ev->slot] : "?";

	switch (ev->type) {
	case LM_EVENT_FORK:
		log_debug("instance of %s: task %u (%.16s) born of %u", who, ev->pid, ev->comm, ev->parent_pid);
		break;
	case LM_EVENT_EXIT:
		log_debug("instance of %s: task %u (%.16s) exited (wait status %d)", who, ev->pid, ev->comm,
			  ev->exit_code);
		break;
	case LM_EVENT_OOM:
		log_info("instance of %s: the OOM killer chose task %u (%.16s)", who, ev->pid, ev->comm);
		break;
	}
}

static void on_ring(struct loop *loop, int fd, unsigned events, void *data)
{
	(void)loop;
	(void)fd;
	(void)events;
	lm_meter_consume(((struct metering *)data)->bpf, on_task_event, data);
}

void metering_watch(struct metering *m, struct loop *loop)
{
	int fd = m->bpf ? lm_meter_events_fd(m->bpf) : -1;

	if (fd >= 0 && loop_watch(loop, fd, LOOP_READ, on_ring, m) == 0)
		m->loop = loop;
}

void metering_close(struct metering *m)
{
	if (!m)
		return;
	if (m->loop)
		loop_unwatch(m->loop, lm_meter_events_fd(m->bpf));
	if (m->bpf)
		lm_meter_close(m->bpf);
	for (size_t i = 0; i < LM_MAX_SLOTS; i++)
		free(m->labels[i]);
	free(m);
}

const char *metering_name(const struct metering *m)
{
	return m->bpf ? "bpf" : "cgroup";
}

bool metering_exact(const struct metering *m)
{
	return m->bpf != NULL;
}

void metering_track(struct metering *m, struct lr_sandbox *sb, uint64_t socket_ino, uint16_t port,
		    const char *label, struct metering_probe *p)
{
	uint32_t slot;

	p->slot = -1;
	if (!m->bpf)
		return;
	if (lm_meter_track(m->bpf, lr_sandbox_cgroup_id(sb), &slot) < 0) {
		log_warn("eBPF metering: cannot follow another instance (pid %d): its figures are approximate",
			 (int)lr_sandbox_pid(sb));
		return;
	}
	lm_meter_watch_unix(m->bpf, slot, socket_ino);
	lm_meter_watch_tcp(m->bpf, slot, port);
	p->slot = (int)slot;
	free(m->labels[slot]);
	m->labels[slot] = strdup(label);
}

void metering_untrack(struct metering *m, struct metering_probe *p)
{
	if (m->bpf && p->slot >= 0)
		lm_meter_untrack(m->bpf, (uint32_t)p->slot);
	p->slot = -1;
}

void metering_begin(struct metering *m, struct lr_sandbox *sb, struct metering_probe *p, uint64_t now_ns)
{
	p->sent_ns = now_ns;
	if (m->bpf && p->slot >= 0)
		lm_meter_arm(m->bpf, (uint32_t)p->slot);
	else
		lr_sandbox_cpu_time(sb, &p->cpu_usec_start, NULL);
}

void metering_event_sent(struct metering *m, struct lr_sandbox *sb, struct metering_probe *p)
{
	(void)m;
	(void)p;
	/* The cgroup's peak restarts with each invocation. Right after the event is
	 * written rather than before: the instance sleeps until the event wakes it, and
	 * what it allocates before the reset is still charged at the reset, so counted;
	 * only memory both taken and given back within the microseconds of this write,
	 * while the instance is being woken, could escape. Off the event's path, the
	 * cgroupfs write no longer delays every invocation. */
	lr_sandbox_reset_peak(sb, NULL);
}

void metering_end(struct metering *m, struct lr_sandbox *sb, struct metering_probe *p, uint64_t now_ns,
		  struct metered *out)
{
	struct lm_figures fig;
	struct lr_usage usage = { 0 };

	*out = (struct metered){ .duration_ns = now_ns - p->sent_ns };
	if (m->bpf && p->slot >= 0)
		lr_sandbox_peak_memory(sb, &usage.peak_memory_bytes, NULL);
	else
		lr_sandbox_usage(sb, &usage, NULL);
	out->peak_bytes = usage.peak_memory_bytes;
	/* Complete: the instance received the event and began its answer. A crash, a
	 * timeout or an answer over another path leaves the daemon's view. */
	if (m->bpf && p->slot >= 0 && lm_meter_read(m->bpf, (uint32_t)p->slot, &fig) && fig.complete) {
		out->duration_ns = fig.end_ns - fig.start_ns;
		out->cpu_ns = fig.cpu_ns;
		out->page_faults = fig.page_faults;
		out->ctx_switches = fig.ctx_switches;
		out->forks = fig.forks;
		out->exits = fig.exits;
		out->oom_kills = fig.oom_kills;
		out->exact = true;
		return;
	}
	if (m->bpf && p->slot >= 0 && lm_meter_read(m->bpf, (uint32_t)p->slot, &fig) && fig.started) {
		out->cpu_ns = fig.cpu_ns;
		out->oom_kills = fig.oom_kills;
		return;
	}
	if (usage.cpu_usec >= p->cpu_usec_start && p->cpu_usec_start)
		out->cpu_ns = (usage.cpu_usec - p->cpu_usec_start) * 1000;
}
