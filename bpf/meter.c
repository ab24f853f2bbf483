/* SPDX-License-Identifier: MIT */
/*
 * The user-space side of the meter: loads and attaches meter.bpf.c (through its
 * skeleton, the only file that includes it), maps the per-slot records and hands out
 * slots. Arming and reading are plain memory accesses to the mapped records.
 */
#include "meter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "meter.skel.h"

struct lm_meter {
	struct meter_bpf *skel;
	struct lm_slot *slots;		/* the mmapped array */
	size_t slots_len;
	struct ring_buffer *events;
	void (*cb)(void *ctx, const struct lm_event *ev);	/* during lm_meter_consume */
	void *cb_ctx;
	uint32_t n_free;
	uint32_t free_slots[LM_MAX_SLOTS];	/* a stack */
	uint64_t cgroup_id[LM_MAX_SLOTS];	/* 0: free */
	bool armed[LM_MAX_SLOTS];		/* since tracked */
};

#define READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

/* libbpf's last warning during lm_meter_open, for the one-line reason. */
static char libbpf_last[256];

static int capture_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[sizeof(libbpf_last)];
	size_t n;

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	if (n)
		memcpy(libbpf_last, line, n + 1);
	return 0;
}

static int fail(int r, char *why, size_t why_len, const char *step)
{
	int code = r < 0 ? -r : r;

	if (code == EPERM || code == EACCES)
		snprintf(why, why_len,
			 "%s: permission denied (the eBPF probes need root, or CAP_BPF and CAP_PERFMON)",
			 step);
	else if (libbpf_last[0])
		snprintf(why, why_len, "%s: %s (libbpf: %s)", step, strerror(code), libbpf_last);
	else
		snprintf(why, why_len, "%s: %s", step, strerror(code));
	return -code;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct lm_meter *m = ctx;

	if (size >= sizeof(struct lm_event) && m->cb)
		m->cb(m->cb_ctx, data);
	return 0;
}

static int meter_load(struct lm_meter *m, char *why, size_t why_len)
{
	int ncpus = libbpf_num_possible_cpus();
	int r;

	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		return fail(errno, why, why_len, "no kernel BTF (/sys/kernel/btf/vmlinux)");
	if (ncpus <= 0)
		return fail(ncpus ? ncpus : -EINVAL, why, why_len, "count the possible CPUs");
	if (ncpus > LM_MAX_CPUS)
		ncpus = LM_MAX_CPUS;
	m->skel = meter_bpf__open();
	if (!m->skel)
		return fail(errno, why, why_len, "open the eBPF probes");
	m->skel->rodata->nr_cpus = (uint32_t)ncpus;
	r = meter_bpf__load(m->skel);
	if (r < 0)
		return fail(r, why, why_len, "load the eBPF probes");
	r = meter_bpf__attach(m->skel);
	if (r < 0)
		return fail(r, why, why_len, "attach the eBPF probes to their tracepoints");

	m->slots_len = sizeof(struct lm_slot) * LM_MAX_SLOTS;
	m->slots_len = (m->slots_len + (size_t)getpagesize() - 1) & ~((size_t)getpagesize() - 1);
	m->slots = mmap(NULL, m->slots_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(m->skel->maps.slots), 0);
	if (m->slots == MAP_FAILED) {
		m->slots = NULL;
		return fail(errno, why, why_len, "map the per-instance records");
	}
	m->events = ring_buffer__new(bpf_map__fd(m->skel->maps.events), on_event, m, NULL);
	if (!m->events)
		return fail(errno, why, why_len, "open the events ring buffer");
	return 0;
}

int lm_meter_open(struct lm_meter **out, char *why, size_t why_len)
{
	libbpf_print_fn_t old_print = libbpf_set_print(capture_libbpf);
	struct lm_meter *m = calloc(1, sizeof(*m));
	int r;

	*out = NULL;
	libbpf_last[0] = '\0';
	if (!m) {
		r = fail(ENOMEM, why, why_len, "allocate the meter");
		goto out;
	}
	r = meter_load(m, why, why_len);
	if (r < 0) {
		lm_meter_close(m);
		goto out;
	}
	/* Slot 0 first. */
	for (uint32_t i = 0; i < LM_MAX_SLOTS; i++)
		m->free_slots[i] = LM_MAX_SLOTS - 1 - i;
	m->n_free = LM_MAX_SLOTS;
	*out = m;
out:
	libbpf_set_print(old_print);
	return r;
}

void lm_meter_close(struct lm_meter *m)
{
	if (!m)
		return;
	ring_buffer__free(m->events);
	if (m->slots)
		munmap(m->slots, m->slots_len);
	/* Detaches and unloads: nothing is pinned, so nothing outlives this. */
	meter_bpf__destroy(m->skel);
	free(m);
}

static bool slot_valid(const struct lm_meter *m, uint32_t slot)
{
	return slot < LM_MAX_SLOTS && m->cgroup_id[slot] != 0;
}

int lm_meter_track(struct lm_meter *m, uint64_t cgroup_id, uint32_t *slot)
{
	struct lm_slot *s;
	uint32_t i;
	int r;

	if (!cgroup_id)
		return -EINVAL;
	if (!m->n_free)
		return -ENOSPC;
	i = m->free_slots[m->n_free - 1];
	s = &m->slots[i];
	/* Not armed: arm equals the invocation the record last answered. */
	WRITE_ONCE(s->unix_ino, 0);
	WRITE_ONCE(s->tcp_port, 0);
	WRITE_ONCE(s->arm, READ_ONCE(s->state) >> 2);
	r = bpf_map_update_elem(bpf_map__fd(m->skel->maps.instances), &cgroup_id, &i, BPF_NOEXIST);
	if (r < 0)
		return -errno;
	m->n_free--;
	m->cgroup_id[i] = cgroup_id;
	m->armed[i] = false;
	*slot = i;
	return 0;
}

int lm_meter_watch_unix(struct lm_meter *m, uint32_t slot, uint64_t socket_ino)
{
	if (!slot_valid(m, slot))
		return -EINVAL;
	WRITE_ONCE(m->slots[slot].unix_ino, socket_ino);
	return 0;
}

int lm_meter_watch_tcp(struct lm_meter *m, uint32_t slot, uint16_t port)
{
	if (!slot_valid(m, slot))
		return -EINVAL;
	WRITE_ONCE(m->slots[slot].tcp_port, port);
	return 0;
}

void lm_meter_untrack(struct lm_meter *m, uint32_t slot)
{
	if (!slot_valid(m, slot))
		return;
	bpf_map_delete_elem(bpf_map__fd(m->skel->maps.instances), &m->cgroup_id[slot]);
	WRITE_ONCE(m->slots[slot].unix_ino, 0);
	WRITE_ONCE(m->slots[slot].tcp_port, 0);
	m->cgroup_id[slot] = 0;
	m->armed[slot] = false;
	m->free_slots[m->n_free++] = slot;
}

void lm_meter_arm(struct lm_meter *m, uint32_t slot)
{
	struct lm_slot *s;

	if (!slot_valid(m, slot))
		return;
	s = &m->slots[slot];
	/* Before the event is sent (a syscall, so a full barrier follows). */
	__atomic_store_n(&s->arm, (s->arm + 1) & LM_INV_MASK, __ATOMIC_RELEASE);
	m->armed[slot] = true;
}

bool lm_meter_read(struct lm_meter *m, uint32_t slot, struct lm_figures *out)
{
	const struct lm_slot *s;
	uint32_t seq, state, phase;
	bool mine;

	memset(out, 0, sizeof(*out));
	if (!slot_valid(m, slot))
		return false;
	s = &m->slots[slot];
	/* A seqcount: the probes make it odd while they start or end an invocation. */
	for (int tries = 0; tries < 1000; tries++) {
		seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		state = READ_ONCE(s->state);
		out->start_ns = READ_ONCE(s->start_ns);
		out->end_ns = READ_ONCE(s->end_ns);
		out->cpu_ns = READ_ONCE(s->cpu_ns);
		out->page_faults = READ_ONCE(s->page_faults);
		out->ctx_switches = READ_ONCE(s->ctx_switches);
		out->forks = READ_ONCE(s->forks);
		out->exits = READ_ONCE(s->exits);
		out->oom_kills = READ_ONCE(s->oom_kills);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != seq)
			continue;
		phase = state & LM_PHASE_MASK;
		mine = m->armed[slot] && (state >> 2) == (READ_ONCE(s->arm) & LM_INV_MASK);
		out->started = mine && (phase == LM_PHASE_STARTED || phase == LM_PHASE_COMPLETE);
		out->complete = mine && phase == LM_PHASE_COMPLETE;
		if (!out->started)
			memset(out, 0, sizeof(*out));
		return true;
	}
	memset(out, 0, sizeof(*out));	/* a writer stuck mid-way: report nothing */
	return true;
}

int lm_meter_events_fd(struct lm_meter *m)
{
	return ring_buffer__epoll_fd(m->events);
}

int lm_meter_consume(struct lm_meter *m, void (*cb)(void *ctx, const struct lm_event *ev), void *ctx)
{
	int r;

	m->cb = cb;
	m->cb_ctx = ctx;
	r = ring_buffer__consume(m->events);
	m->cb = NULL;
	m->cb_ctx = NULL;
	return r;
}
