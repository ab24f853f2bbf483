// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel side of lamina's meter: per-invocation duration, CPU time, page faults,
 * context switches, births, exits and OOM kills of each followed instance, keyed by its
 * unified-tree cgroup id (children inherit the cgroup, so every process and thread a
 * function forks is followed). Tracepoints only (tp_btf): the target kernels have no
 * kprobes and refuse fentry.
 *
 * An invocation starts when, after user space armed the slot, a task of the instance
 * returns with data from a receive on its Runtime API connection (sock_recv_length),
 * and ends when its answer reaches the daemon: the first bytes queued on the daemon's
 * end of the connection (sk_data_ready, before the daemon is woken), else when the send
 * returns (sock_send_length). Writes elsewhere (stdout, stderr) do not end it. Socket
 * tracepoints only: raw_syscalls/sys_enter, which would see the write begin ~10-20 us
 * earlier, puts every syscall of every process on the host on the tracing slow path
 * for as long as a program is attached to it (+~100 ns each, +55%, measured here).
 *
 * CPU time: each CPU notes which instance task it runs since when; a switch-out credits
 * the stint, an invocation's end the stints still running, clipped to the invocation.
 * On 6.18 some switches reach no program under load (a task's runtime grows between a
 * seen switch-out and its next seen switch-in), so each task's own scheduler counter
 * (se.sum_exec_runtime) is kept per task and what it ran unseen is credited too.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "meter_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader: CPUs to settle at an invocation's end. */
const volatile __u32 nr_cpus = 1;

#define READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define barrier() asm volatile("" ::: "memory")

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LM_MAX_SLOTS);
	__type(key, __u64);	/* unified-tree cgroup id */
	__type(value, __u32);	/* slot */
} instances SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LM_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct lm_slot);
} slots SEC(".maps");

/*
 * Who runs on each CPU since when, if it belongs to an instance. Only the CPU itself
 * switches tasks in and out; an invocation's end, on any CPU, moves `since` forward
 * with a compare-and-swap after crediting the stint up to then, so each nanosecond is
 * credited once whichever side gets there first.
 */
struct oncpu {
	__u64 since;	/* stint start, or the last end that settled it; 0: none */
	__u64 runtime;	/* the task's sum_exec_runtime when switched in */
	__u32 slot1;	/* slot + 1; 0: not an instance's task */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct oncpu);
} oncpu SEC(".maps");

/*
 * What the scheduler had charged each instance task when last seen switching out. On
 * this kernel some switches reach no program (a busy host shows a task's runtime grow
 * between a switch-out and its next switch-in on the same CPU), so a task's CPU time is
 * taken from its own counter, not only from the stints seen.
 */
struct task_seen {
	__u64 runtime;	/* se.sum_exec_runtime */
	__u64 at;	/* when */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_seen);
} task_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline struct lm_slot *slot_of_cgroup(__u64 cgid, __u32 *idx)
{
	__u32 *s = bpf_map_lookup_elem(&instances, &cgid);

	if (!s)
		return NULL;
	*idx = *s;
	return bpf_map_lookup_elem(&slots, s);
}

/* The slot of the running task's instance, or NULL: the hot paths' only filter. */
static __always_inline struct lm_slot *current_slot(__u32 *idx)
{
	return slot_of_cgroup(bpf_get_current_cgroup_id(), idx);
}

/* Plain loads through BTF pointers (faulting loads the verifier guards), not
 * bpf_probe_read calls: this runs at every context switch on the host. */
static __always_inline __u64 task_cgroup_id(struct task_struct *t)
{
	return t->cgroups->dfl_cgrp->kn->id;
}

static __always_inline bool started(struct lm_slot *s)
{
	return (READ_ONCE(s->state) & LM_PHASE_MASK) == LM_PHASE_STARTED;
}

/*
 * Credits the part of a stint [from, to) that lies inside the slot's invocation, at
 * most ran ns. A whole stint is credited what the scheduler charged the task for it
 * (ran: its sum_exec_runtime delta), which leaves out the time a hypervisor stole and
 * interrupts took, as the task's own CPU clock does; a stint cut by the invocation's
 * start or end (ran unknown: ~0) is credited by the clock.
 */
static __always_inline void credit(struct lm_slot *s, __u64 from, __u64 to, __u64 ran)
{
	__u32 phase = READ_ONCE(s->state) & LM_PHASE_MASK;
	__u64 start, end;

	if (phase != LM_PHASE_STARTED && phase != LM_PHASE_COMPLETE)
		return;
	start = READ_ONCE(s->start_ns);
	end = READ_ONCE(s->end_ns);
	if (from < start)
		from = start;
	if (end && to > end)
		to = end;
	if (to <= from)
		return;
	if (to - from < ran)
		ran = to - from;
	__sync_fetch_and_add(&s->cpu_ns, ran);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(meter_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 zero = 0, idx;
	struct oncpu *rec = bpf_map_lookup_elem(&oncpu, &zero);
	struct lm_slot *s;
	__u64 now = 0, since;

	if (!rec)
		return 0;
	if (rec->slot1) {
		now = bpf_ktime_get_ns();
		idx = rec->slot1 - 1;
		since = __sync_lock_test_and_set(&rec->since, 0);
		s = bpf_map_lookup_elem(&slots, &idx);
		if (s) {
			__u64 rt = prev->se.sum_exec_runtime;
			struct task_seen *seen = bpf_task_storage_get(&task_seen, prev, 0,
								      BPF_LOCAL_STORAGE_GET_F_CREATE);

			if (since)
				credit(s, since, now, rt - rec->runtime);
			/* Run unseen since its last switch-out: credited over that gap. */
			if (seen && seen->at && since && rec->runtime > seen->runtime)
				credit(s, seen->at, since, rec->runtime - seen->runtime);
			if (seen) {
				seen->runtime = rt;
				seen->at = now;
			}
			if (started(s))
				__sync_fetch_and_add(&s->ctx_switches, 1);
		}
		rec->slot1 = 0;
	}
	s = slot_of_cgroup(task_cgroup_id(next), &idx);
	if (s) {
		if (!now)
			now = bpf_ktime_get_ns();
		/* slot1 before since: an end on another CPU reads them the other way. */
		WRITE_ONCE(rec->slot1, idx + 1);
		rec->runtime = next->se.sum_exec_runtime;
		barrier();
		WRITE_ONCE(rec->since, now);
	}
	return 0;
}

/* Is sk the instance's end of its Runtime API connection? */
static __always_inline bool is_api_sock(struct lm_slot *s, struct sock *sk)
{
	__u64 ino = READ_ONCE(s->unix_ino);
	__u16 port = READ_ONCE(s->tcp_port);
	__u16 family;

	if (!sk)
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_UNIX)
		return ino && BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino) == ino;
	return port && (family == AF_INET || family == AF_INET6) &&
	       BPF_CORE_READ(sk, __sk_common.skc_dport) == bpf_htons(port);
}

/*
 * Is sk, a socket data was just queued on, laminad's end of the instance's Runtime API
 * connection? A Unix socket's peer is the instance's end; over TCP, laminad's end is the
 * one with the API's port as its own (only laminad listens on it in the instance's
 * network namespace).
 */
static __always_inline bool is_api_peer(struct lm_slot *s, struct sock *sk)
{
	__u16 port = READ_ONCE(s->tcp_port);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_UNIX)
		return is_api_sock(s, BPF_CORE_READ((struct unix_sock *)sk, peer));
	return port && (family == AF_INET || family == AF_INET6) &&
	       BPF_CORE_READ(sk, __sk_common.skc_num) == port;
}

/* The event arrived: the first receipt after arming starts the invocation. */
static __always_inline void invocation_start(struct lm_slot *s)
{
	__u32 st = READ_ONCE(s->state);
	__u32 arm = READ_ONCE(s->arm) & LM_INV_MASK;

	if ((st >> 2) == arm || (st & LM_PHASE_MASK) == LM_PHASE_STARTING)
		return;	/* not armed, or another task got there first */
	if (__sync_val_compare_and_swap(&s->state, st, (arm << 2) | LM_PHASE_STARTING) != st)
		return;
	__sync_fetch_and_add(&s->seq, 1);
	s->end_ns = 0;
	s->cpu_ns = 0;
	s->page_faults = 0;
	s->ctx_switches = 0;
	s->forks = 0;
	s->exits = 0;
	s->oom_kills = 0;
	s->start_ns = bpf_ktime_get_ns();
	barrier();
	WRITE_ONCE(s->state, (arm << 2) | LM_PHASE_STARTED);
	__sync_fetch_and_add(&s->seq, 1);
}

/* The answer is sent: settle the stints still running on every CPU, then complete. */
static __always_inline void invocation_end(struct lm_slot *s, __u32 idx)
{
	__u32 st = READ_ONCE(s->state), zero = 0, cpu;
	__u64 now = bpf_ktime_get_ns();
	bool settled = false;

	if ((st & LM_PHASE_MASK) != LM_PHASE_STARTED)
		return;
	/* end_ns is the claim: one writer per invocation. */
	if (__sync_val_compare_and_swap(&s->end_ns, 0, now) != 0)
		return;
	__sync_fetch_and_add(&s->seq, 1);
	for (cpu = 0; cpu < LM_MAX_CPUS && cpu < nr_cpus; cpu++) {
		struct oncpu *rec = bpf_map_lookup_percpu_elem(&oncpu, &zero, cpu);
		__u64 since;

		if (!rec)
			break;
		since = READ_ONCE(rec->since);
		if (!since || READ_ONCE(rec->slot1) != idx + 1 || since >= now)
			continue;
		/* Lost to the CPU switching the task out: it credits the stint itself. */
		if (__sync_val_compare_and_swap(&rec->since, since, now) == since) {
			credit(s, since, now, ~0ull);
			if (cpu == bpf_get_smp_processor_id())
				settled = true;
		}
	}
	/* The answering task itself, switched in unseen: its own counter since it was
	 * last seen (the scheduler updates it at every tick: up to a tick short). */
	if (!settled) {
		struct task_struct *t = bpf_get_current_task_btf();
		struct task_seen *seen = bpf_task_storage_get(&task_seen, t, 0, 0);
		__u64 rt = t->se.sum_exec_runtime;

		if (seen && seen->at && rt > seen->runtime) {
			credit(s, seen->at, now, rt - seen->runtime);
			seen->runtime = rt;
			seen->at = now;
		}
	}
	WRITE_ONCE(s->state, (st & ~LM_PHASE_MASK) | LM_PHASE_COMPLETE);
	__sync_fetch_and_add(&s->seq, 1);
}

/*
 * A receive returned data (read, readv, recv*: every path goes through sock_recvmsg):
 * the event's receipt. A socket tracepoint rather than raw_syscalls/sys_exit, which
 * would run for every syscall on the host.
 */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(meter_recv, struct sock *sk, int ret, int flags)
{
	struct lm_slot *s;
	__u32 idx;

	if (ret <= 0)
		return 0;
	s = current_slot(&idx);
	if (!s || (READ_ONCE(s->state) >> 2) == (READ_ONCE(s->arm) & LM_INV_MASK))
		return 0;
	if (is_api_sock(s, sk))
		invocation_start(s);
	return 0;
}

/*
 * Data was queued on a socket by a task of the instance (over TCP, by the loopback's
 * receive softirq run on its way out of the send): on laminad's end of the Runtime API
 * connection, the answer arrives. This runs before laminad is woken, so the figures are
 * complete before laminad reads them.
 */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(meter_data_ready, struct sock *sk)
{
	struct lm_slot *s;
	__u32 idx;

	s = current_slot(&idx);
	if (!s || !started(s))
		return 0;
	if (is_api_peer(s, sk))
		invocation_end(s, idx);
	return 0;
}

/*
 * A send returned (write, writev, send*, sendfile: every path goes through
 * sock_sendmsg) on the Runtime API connection: the answer, if sk_data_ready did not see
 * it first (a receive softirq deferred to ksoftirqd). Only a send that moved data: one
 * that failed leaves the invocation to its timeout.
 */
SEC("tp_btf/sock_send_length")
int BPF_PROG(meter_send, struct sock *sk, int ret, int flags)
{
	struct lm_slot *s;
	__u32 idx;

	if (ret <= 0)
		return 0;
	s = current_slot(&idx);
	if (!s || !started(s))
		return 0;
	if (is_api_sock(s, sk))
		invocation_end(s, idx);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(meter_page_fault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	struct lm_slot *s;
	__u32 idx;

	s = current_slot(&idx);
	if (s && started(s))
		__sync_fetch_and_add(&s->page_faults, 1);
	return 0;
}

static __always_inline void emit(__u32 idx, __u32 type, struct task_struct *t, __u32 parent, int code)
{
	struct lm_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return;	/* nobody drains it: the counters still hold */
	e->ts_ns = bpf_ktime_get_ns();
	e->slot = idx;
	e->type = type;
	e->pid = BPF_CORE_READ(t, pid);
	e->tgid = BPF_CORE_READ(t, tgid);
	e->parent_pid = parent;
	e->exit_code = code;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	bpf_ringbuf_submit(e, 0);
}

/* The parent runs it, in the cgroup the child inherits. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(meter_fork, struct task_struct *parent, struct task_struct *child)
{
	struct lm_slot *s;
	__u32 idx;

	s = current_slot(&idx);
	if (!s)
		return 0;
	if (started(s))
		__sync_fetch_and_add(&s->forks, 1);
	emit(idx, LM_EVENT_FORK, child, BPF_CORE_READ(parent, pid), 0);
	return 0;
}

/* Early in do_exit(): the task is still in its cgroup. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(meter_exit, struct task_struct *t)
{
	struct lm_slot *s;
	__u32 idx;

	s = current_slot(&idx);
	if (!s)
		return 0;
	if (started(s))
		__sync_fetch_and_add(&s->exits, 1);
	emit(idx, LM_EVENT_EXIT, t, 0, BPF_CORE_READ(t, exit_code));
	return 0;
}

/* The OOM killer's victim: not the current task, so its own cgroup. */
SEC("tp_btf/mark_victim")
int BPF_PROG(meter_oom, struct task_struct *t)
{
	struct lm_slot *s;
	__u32 idx;

	s = slot_of_cgroup(task_cgroup_id(t), &idx);
	if (!s)
		return 0;
	if (started(s))
		__sync_fetch_and_add(&s->oom_kills, 1);
	emit(idx, LM_EVENT_OOM, t, 0, 0);
	return 0;
}
