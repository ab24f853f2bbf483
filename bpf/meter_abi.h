/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_BPF_METER_ABI_H
#define LAMINA_BPF_METER_ABI_H

/*
 * What the probes (meter.bpf.c) and their loader (meter.c) share: fixed-width types
 * only, the same layout on both sides of the mmap.
 */

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Instances followed at once; the loader may lower it. */
#define LM_MAX_SLOTS 8192
/* CPUs whose running stint is settled when an invocation ends. */
#define LM_MAX_CPUS 512

/* lm_slot.state: the invocation number (the value of `arm` it answers) << 2 | phase. */
#define LM_PHASE_MASK 3u
#define LM_PHASE_IDLE 0u	/* never started since tracked */
#define LM_PHASE_STARTING 1u	/* fields being reset by the task that received the event */
#define LM_PHASE_STARTED 2u
#define LM_PHASE_COMPLETE 3u
#define LM_INV_MASK 0x3fffffffu

/*
 * One instance, in a BPF_F_MMAPABLE array both sides map. User space writes the first
 * line (arm and the Runtime API connection); the probes write the rest, bracketing each
 * start and end with `seq` (odd while they write) so that a reader copies a consistent
 * record without a syscall. The counters between start and end grow by atomic adds
 * from every CPU.
 */
struct lm_slot {
	__u32 arm;		/* user space: +1 arms the next invocation */
	__u16 tcp_port;		/* user space: Runtime API on 127.0.0.1:tcp_port; 0: none */
	__u16 pad0;
	__u64 unix_ino;		/* user space: inode of the instance's socket end; 0: none */
	__u64 pad1[6];
	/* Written by the probes. */
	__u32 seq;
	__u32 state;
	__u64 start_ns;
	__u64 end_ns;
	__u64 cpu_ns;
	__u64 page_faults;
	__u64 ctx_switches;
	__u32 forks;
	__u32 exits;
	__u32 oom_kills;
	__u32 pad2;
	__u64 pad3[2];
} __attribute__((aligned(64)));

enum lm_event_type {
	LM_EVENT_FORK = 1,	/* a task (process or thread) was born in an instance */
	LM_EVENT_EXIT = 2,	/* a task of an instance exited */
	LM_EVENT_OOM = 3,	/* the OOM killer chose a task of an instance */
};

/* Through the ring buffer: an instance's process tree changing. */
struct lm_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u32 slot;
	__u32 type;		/* enum lm_event_type */
	__u32 pid;		/* the task (thread id, host pid namespace) */
	__u32 tgid;		/* its process */
	__u32 parent_pid;	/* LM_EVENT_FORK: the task that forked it */
	__s32 exit_code;	/* LM_EVENT_EXIT: as wait(2) encodes it */
	char comm[16];
};

#endif
