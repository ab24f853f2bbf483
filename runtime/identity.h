/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_RUNTIME_IDENTITY_H
#define LAMINA_RUNTIME_IDENTITY_H

#include <sys/capability.h>
#include <sys/types.h>

/*
 * Runs in the child, last before the seccomp filter: becomes uid/gid with no
 * supplementary groups, no capability in any set (bounding, effective, permitted,
 * inheritable, ambient) and securebits locked so that root-owned or setuid files
 * give nothing back. `empty` is cap_init() made by the parent. Returns 0 or -errno.
 */
int identity_drop(uid_t uid, gid_t gid, cap_t empty);

#endif
