/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_RUNTIME_INTERNAL_H
#define LAMINA_RUNTIME_INTERNAL_H

#include <linux/filter.h>
#include <sys/capability.h>

#include "cgroup.h"
#include "rootfs.h"
#include "sandbox.h"

struct lr_runtime {
	struct cgroup_manager cgroups;
	struct sock_fprog seccomp;
	int template_ns;	/* mount namespace holding the base tree (rootfs_template_create) */
	struct rootfs_accounts_cache accounts;
	cap_t empty_caps;
	void *child_stack;	/* shared by spawns: the caller is suspended while it is used */
	size_t child_stack_size;
	struct cgroup **pool;
	unsigned pool_len;
	unsigned pool_max;
};

struct lr_sandbox {
	struct lr_runtime *rt;
	pid_t pid;
	int pidfd;
	struct cgroup *cgroup;
	uint64_t start_ns;
	uint64_t cpu_usec_base;
	uint32_t timeout_ms;
	bool timed_out;
	bool reaped;
	struct lr_result result;
};

uint64_t lr_now_ns(void);

/* Takes a cgroup from the pool or creates one. */
int runtime_cgroup_get(struct lr_runtime *rt, struct cgroup **out, struct lr_error *err);
/* Returns an emptied cgroup to the pool, or destroys it. */
void runtime_cgroup_put(struct lr_runtime *rt, struct cgroup *cg);

#endif
