/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_RUNTIME_ROOTFS_H
#define LAMINA_RUNTIME_ROOTFS_H

/*
 * The sandbox's root file system as a list of operation records (as bubblewrap does),
 * built in the parent and executed by the child in its new mount namespace by one loop
 * that allocates nothing. Targets are relative to the new root.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "sandbox.h"

enum rootfs_op_kind {
	ROOTFS_MKDIR,		/* target, mode */
	ROOTFS_SYMLINK,		/* source (link text) -> target */
	ROOTFS_FILE,		/* target with data (possibly empty: a bind mount point) */
	ROOTFS_BIND,		/* host source -> target, recursive */
	ROOTFS_TMPFS,		/* target, data = mount options, flags */
	ROOTFS_DEVNODE,		/* target, dev, mode */
	ROOTFS_READONLY,	/* target: read-only, nosuid, nodev (recursive if flags) */
};

struct rootfs_op {
	enum rootfs_op_kind kind;
	const char *source;
	const char *target;
	const char *data;
	size_t data_len;
	mode_t mode;
	dev_t dev;
	unsigned long flags;
};

#define ROOTFS_MAX_OPS 96
#define ROOTFS_ARENA 8192

struct rootfs_plan {
	struct rootfs_op ops[ROOTFS_MAX_OPS];
	size_t n_ops;
	char arena[ROOTFS_ARENA];	/* strings the ops point to */
	size_t arena_used;
};

/* The part shared by every sandbox: base dirs, /usr, /lib*, curated /etc, /dev. */
int rootfs_plan_base(struct rootfs_plan *plan, struct lr_error *err);

/*
 * Builds the base tree once, in a mount namespace of its own (a helper process runs the
 * plan and pivots into it), and returns an fd of that namespace. Every sandbox starts
 * from a copy of it: a handful of mounts instead of the plan's dozens, and no host tree
 * to detach.
 */
int rootfs_template_create(const struct rootfs_plan *base, struct lr_error *err);

struct rootfs_sandbox {
	const char *code_dir;
	const char *opt_dir;
	const char *const *opt_layers;	/* overlay at /opt when 2 or more */
	size_t n_opt_layers;
	const char *root_dir;		/* NULL: the template's base tree */
	const struct lr_bind *binds;	/* targets: /var/runtime */
	size_t n_binds;
	uint64_t tmp_bytes;
	uid_t uid;
	gid_t gid;
};

#define ROOTFS_MAX_ATTACH 8
#define ROOTFS_FAILED_TMP (-2)
#define ROOTFS_FAILED_PROC (-3)
#define ROOTFS_FAILED_ROOT (-4)
#define ROOTFS_FAILED_DEV (-5)

/* One sandbox's own mounts, made in the caller as detached trees (open_tree, fsmount)
 * while it still sees the host, and attached by the child in its copy of the template. */
struct rootfs_mounts {
	struct {
		int fd;
		char target[64];
	} attach[ROOTFS_MAX_ATTACH];
	size_t n;
	char tmp_options[64];
	/* A custom root (rootfs_sandbox.root_dir): a detached read-only tree that replaces
	 * the template's root, keeping only its /dev. */
	bool custom_root;
	int root_fd;
};

/* Detached /etc/lamina mounts by uid and gid, made once and cloned for each sandbox:
 * an instance of a function costs no tmpfs of its own. */
#define ROOTFS_ACCOUNTS_CACHE 32
struct rootfs_accounts_cache {
	struct {
		int fd;		/* -1: empty slot */
		uid_t uid;
		gid_t gid;
	} slot[ROOTFS_ACCOUNTS_CACHE];
	unsigned next;		/* slot to replace when full */
};

void rootfs_accounts_cache_init(struct rootfs_accounts_cache *c);
void rootfs_accounts_cache_fini(struct rootfs_accounts_cache *c);

int rootfs_prepare(const struct rootfs_sandbox *sb, struct rootfs_accounts_cache *cache,
		   struct rootfs_mounts *m, struct lr_error *err);
void rootfs_release(struct rootfs_mounts *m);

/*
 * Runs in the child, in its new pid namespace: enters a copy of the template, attaches
 * the sandbox's mounts, mounts /tmp and /proc. Returns 0 or -errno with *failed set to
 * the attach index, ROOTFS_FAILED_TMP/PROC, or -1 for entering the template.
 */
int rootfs_enter(int template_ns, const struct rootfs_mounts *m, int *failed);

#endif
