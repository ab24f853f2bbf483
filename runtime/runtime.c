/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "runtime_internal.h"
#include "seccomp.h"

#define CHILD_STACK_SIZE (256 * 1024)

int lr_runtime_new(const struct lr_runtime_config *config, struct lr_runtime **out,
		   struct lr_error *err)
{
	const struct lr_runtime_config defaults = { 0 };
	struct lr_runtime *rt;
	struct rootfs_plan *base;
	const char *parent;
	int r;

	if (!config)
		config = &defaults;
	if (geteuid() != 0)
		return lr_error_invalid(err, EPERM,
					"the sandbox runtime needs root (namespaces, mounts, cgroups)");
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return lr_error_set(err, ENOMEM, "allocate runtime");
	for (int d = 0; d < CGROUP_DIR_COUNT; d++)
		rt->cgroups.parent_fd[d] = -1;
	rt->template_ns = -1;
	rootfs_accounts_cache_init(&rt->accounts);
	parent = config->cgroup_parent ? config->cgroup_parent : LR_DEFAULT_CGROUP_PARENT;
	r = cgroup_manager_init(&rt->cgroups, config->cgroup_root ? config->cgroup_root : "/sys/fs/cgroup",
				parent, config->cgroup_parent == NULL, err);
	if (r < 0)
		goto fail;
	r = syscall_filter_compile(&rt->seccomp, err);
	if (r < 0)
		goto fail;
	/* The plan is needed only to build the template, once. */
	base = malloc(sizeof(*base));
	if (!base) {
		r = lr_error_set(err, ENOMEM, "allocate the root file system plan");
		goto fail;
	}
	r = rootfs_plan_base(base, err);
	if (r == 0)
		r = rootfs_template_create(base, err);
	free(base);
	if (r < 0)
		goto fail;
	rt->template_ns = r;
	rt->empty_caps = cap_init();
	if (!rt->empty_caps) {
		r = lr_error_set(err, errno, "cap_init");
		goto fail;
	}
	rt->child_stack_size = CHILD_STACK_SIZE;
	rt->child_stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (rt->child_stack == MAP_FAILED) {
		rt->child_stack = NULL;
		r = lr_error_set(err, errno, "allocate child stack");
		goto fail;
	}
	rt->pool_max = config->cgroup_pool_max;
	if (rt->pool_max) {
		rt->pool = calloc(rt->pool_max, sizeof(*rt->pool));
		if (!rt->pool) {
			r = lr_error_set(err, ENOMEM, "allocate cgroup pool");
			goto fail;
		}
	}
	*out = rt;
	return 0;
fail:
	lr_runtime_free(rt);
	return r;
}

void lr_runtime_free(struct lr_runtime *rt)
{
	if (!rt)
		return;
	for (unsigned i = 0; i < rt->pool_len; i++)
		cgroup_destroy(rt->pool[i], NULL);
	free(rt->pool);
	if (rt->child_stack)
		munmap(rt->child_stack, rt->child_stack_size);
	if (rt->empty_caps)
		cap_free(rt->empty_caps);
	if (rt->template_ns >= 0)
		close(rt->template_ns);
	rootfs_accounts_cache_fini(&rt->accounts);
	syscall_filter_free(&rt->seccomp);
	cgroup_manager_fini(&rt->cgroups);
	free(rt);
}

int lr_runtime_sweep(struct lr_runtime *rt, unsigned *removed, struct lr_error *err)
{
	return cgroup_sweep(&rt->cgroups, removed, err);
}

const char *lr_runtime_cgroup_backend(const struct lr_runtime *rt)
{
	return rt->cgroups.backend->name;
}

int runtime_cgroup_get(struct lr_runtime *rt, struct cgroup **out, struct lr_error *err)
{
	if (rt->pool_len) {
		*out = rt->pool[--rt->pool_len];
		return 0;
	}
	return cgroup_create(&rt->cgroups, out, err);
}

void runtime_cgroup_put(struct lr_runtime *rt, struct cgroup *cg)
{
	/* Only an empty cgroup may be handed to another sandbox. */
	if (rt->pool_len < rt->pool_max && cgroup_is_empty(cg)) {
		rt->pool[rt->pool_len++] = cg;
		return;
	}
	cgroup_destroy(cg, NULL);
}

int lr_netns_create(struct lr_error *err)
{
	_cleanup_close_ int original = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct ifreq ifr = { .ifr_name = "lo" };
	int created = -1, sock, r = 0;

	if (original < 0)
		return lr_error_set(err, errno, "open own network namespace");
	/* Affects only this thread, which returns to its namespace below. */
	if (unshare(CLONE_NEWNET) < 0)
		return lr_error_set(err, errno, "create network namespace");
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(sock, SIOCSIFFLAGS, &ifr) < 0))
		r = lr_error_set(err, errno, "bring up loopback in new network namespace");
	if (sock >= 0)
		close(sock);
	if (r == 0) {
		created = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (created < 0)
			r = lr_error_set(err, errno, "open new network namespace");
	}
	if (setns(original, CLONE_NEWNET) < 0) {
		/* Cannot happen with the privilege we just used; never continue elsewhere. */
		abort();
	}
	return r < 0 ? r : created;
}
