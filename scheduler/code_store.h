/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_CODE_STORE_H
#define LAMINA_SCHEDULER_CODE_STORE_H

/*
 * Function code, content-addressed under <state>/images/sha256/<hex>: a read-only copy
 * of the deployed directory, named by the SHA-256 of its canonical content (paths in
 * sorted order, file types, executable bits and bytes: not timestamps or owners).
 * Identical content is stored once. The copy runs in a child process that reads the
 * source with the client's own credentials, so a client can deploy only what it could
 * read itself, and the daemon's loop never waits on a disk.
 */

#include <stdint.h>
#include <sys/types.h>

#include "api_error.h"

#define CODE_MAX_BYTES (250ull << 20)	/* Lambda's unzipped limit */
#define CODE_MAX_FILES 20000

struct code_ref {
	char hex[65];
	char sha256_b64[48];
	int64_t size;
};

struct daemon;
typedef void (*code_store_cb)(void *ctx, const struct code_ref *ref, const struct api_error *err);

/* Snapshots dir as uid/gid (the client); calls cb from the loop when done. */
int code_store_snapshot(struct daemon *d, const char *dir, uid_t uid, gid_t gid, code_store_cb cb,
			void *ctx, struct api_error *err);

/* The directory holding the code for hex. */
void code_store_path(const struct daemon *d, const char *hex, char *buf, size_t size);

#endif
