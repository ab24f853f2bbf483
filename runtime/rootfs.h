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
	ROOTFS_PROC,		/* target */
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

struct rootfs_sandbox {
	const char *code_dir;
	const char *opt_dir;
	const struct lr_bind *binds;	/* targets absolute, under /var/ */
	size_t n_binds;
	uint64_t tmp_bytes;
	uid_t uid;
	gid_t gid;
};

/* Appends one sandbox's mounts to a copy of the base plan. */
int rootfs_plan_sandbox(struct rootfs_plan *plan, const struct rootfs_sandbox *sb,
			struct lr_error *err);

/*
 * Runs in the child: makes the mount tree private, builds the new root on a fresh tmpfs
 * stacked over '/', runs the plan, then pivot_root()s into it and detaches the host's
 * tree. Returns 0 or -errno with *failed_op set (-1 for the set-up steps).
 */
int rootfs_enter(const struct rootfs_plan *plan, int *failed_op);

#endif
