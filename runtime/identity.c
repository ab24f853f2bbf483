/* SPDX-License-Identifier: MIT */
#include "identity.h"

#include <errno.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int identity_drop(uid_t uid, gid_t gid, cap_t empty)
{
	/* Needs CAP_SETPCAP, so before the uid changes. */
	for (cap_value_t cap = 0; cap < (cap_value_t)cap_max_bits(); cap++) {
		if (cap_drop_bound(cap) < 0 && errno != EINVAL)
			return -errno;
	}
	if (cap_set_secbits(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
			    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			    SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
		return -errno;
	/* One call; libcap's cap_reset_ambient() probes every capability first. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	/* Raw syscalls: the child shares the caller's memory (CLONE_VM), and glibc's
	 * wrappers would try to apply the change to the caller's other threads. */
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		return -errno;
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		return -errno;
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		return -errno;
	/* setresuid away from 0 already cleared the sets; make it explicit. */
	if (cap_set_proc(empty) < 0)
		return -errno;
	return 0;
}
