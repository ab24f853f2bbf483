/* SPDX-License-Identifier: MIT */
/*
 * A sandbox's identity in the unified (v2) cgroup tree, for the eBPF meter: the cgroup
 * id that bpf_get_current_cgroup_id() returns for its tasks is the kernfs node id of
 * the cgroup directory, which kernfs also reports as the directory's inode number.
 */
#include <sys/stat.h>

#include "runtime_internal.h"

uint64_t lr_sandbox_cgroup_id(const struct lr_sandbox *sb)
{
	struct stat st;
	int fd = sb->cgroup->dir_fd[CGROUP_DIR_UNIFIED];

	if (fd < 0 || fstat(fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}
