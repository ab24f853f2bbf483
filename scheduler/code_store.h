/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_CODE_STORE_H
#define LAMINA_SCHEDULER_CODE_STORE_H

/*
 * Function code in the content-addressed image store (images/store.h) under
 * <state>/images: each image unpacked read-only in sha256/<hex>, named by the SHA-256 of
 * its canonical content (images/image.h), so a directory, a zip and a tarball of the
 * same files are stored once. Unpacking runs in a child process that reads the source
 * with the client's own credentials (a client deploys only what it could read itself),
 * so the loop never waits on a disk.
 *
 * Garbage collection: an image goes when no version or $LATEST refers to it and no
 * instance runs it (holds). It runs in the loop, only while no unpacking is in flight:
 * an unpacking child that finds its image already stored must be able to count on it
 * until its caller has recorded the reference. Deleting the trees is a child's work.
 */

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "api_error.h"

/* Limits: images/image.h's defaults, or the ImageMax* keys of the daemon's config. */

struct code_ref {
	char hex[65];
	char sha256_b64[48];
	int64_t size;
};

enum code_kind {
	CODE_DIRECTORY,		/* Code.Directory: an absolute path */
	CODE_IMAGE_FILE,	/* Code.ImageFile: an absolute path to a .zip/.tar/.tar.gz */
	CODE_ZIP_FILE,		/* Code.ZipFile: the archive itself, base64 (Lambda's) */
};

struct code_source {
	enum code_kind kind;
	const char *path;		/* Directory, ImageFile */
	const char *zip_base64;		/* ZipFile */
	const char *progress_fifo;	/* Code.ProgressFifo: optional, the client's FIFO */
};

struct daemon;
struct code_store;
typedef void (*code_store_cb)(void *ctx, const struct code_ref *ref, const struct api_error *err);

/* Opens the store at d->images_dir and finishes what a crashed daemon left (needs
 * d->registry). Sets d->code_store. */
int code_store_open(struct daemon *d, struct api_error *err);
void code_store_close(struct daemon *d);

/* Parses a request's Code object (borrowed strings). */
int code_store_parse(json_t *code, struct code_source *out, struct api_error *err);

/* Stores src as uid/gid (the client); calls cb from the loop when done. The image's
 * reference must be recorded in the registry within cb (it may be collected after). */
int code_store_put(struct daemon *d, const struct code_source *src, uid_t uid, gid_t gid,
		   code_store_cb cb, void *ctx, struct api_error *err);
/* The same for Code.Directory. */
int code_store_snapshot(struct daemon *d, const char *dir, uid_t uid, gid_t gid, code_store_cb cb,
			void *ctx, struct api_error *err);

/* The directory holding the code for hex. */
void code_store_path(const struct daemon *d, const char *hex, char *buf, size_t size);

/* Instances run the image hex: it stays until released, referenced or not. */
void code_store_hold(struct daemon *d, const char *hex);
void code_store_release(struct daemon *d, const char *hex);

/* A reference may have gone (UpdateFunctionCode, DeleteFunction): collect soon. */
void code_store_collect(struct daemon *d);

#endif
