/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_CLIENT_FS_H
#define LAMINA_CLIENT_FS_H

/*
 * Reading a client's files on its behalf (its code directory, archive, OCI layout), in
 * a child forked for the job: around each access the filesystem identity becomes the
 * client's, supplementary groups included, so the kernel checks the client's rights and
 * never the daemon's. Writes to lamina's own store happen between accesses, as root.
 */

#include <sys/types.h>

struct client_fs {
	uid_t uid;
	gid_t gid;
};

/* Takes the client's supplementary groups (they decide access too): once, in the child. */
void client_fs_adopt_groups(const struct client_fs *c);
/* Becomes the client for filesystem access; ctx is a struct client_fs. */
void client_fs_enter(void *ctx);
/* Back to the daemon's own identity. */
void client_fs_leave(void *ctx);

#endif
