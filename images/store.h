/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_IMAGES_STORE_H
#define LAMINA_IMAGES_STORE_H

/*
 * The content-addressed image store under a root directory:
 *
 *     sha256/<hex>          unpacked images, read-only, named by their canonical digest
 *     tmp/stage-XXXXXX      images being unpacked (private to the unpacking process)
 *     trash/<hex>.<n>       images garbage collection took out of sha256/
 *     trash/<name>.del      what is being deleted
 *
 * Every step is one rename, so a crash leaves each image in one of these places, whole:
 * an image moves sha256/ → trash/<hex>.<n> (found unreferenced) → .del (found
 * unreferenced again) → deleted. On start, leftovers of unpacking are deleted and every
 * trash/<hex>.<n> is checked again: restored to sha256/ if something uses it, else
 * deleted. A staged image is never in sha256/ until complete, so the collector cannot
 * take it; the caller must not collect while an unpacking may be about to reuse an image
 * already in sha256/ (the daemon collects only when none is in flight).
 *
 * The library never logs; the blocking deletion (image_store_purge) is for a child process.
 */

#include <stdbool.h>
#include <stddef.h>

#include "image.h"

struct image_store;

/* hex is in use by a version (or anything else the caller knows of). */
typedef bool (*image_in_use_fn)(void *ctx, const char *hex);

int image_store_open(const char *root, struct image_store **out, struct image_error *err);
void image_store_free(struct image_store *s);

/* <root>/sha256/<hex> */
void image_store_path(const struct image_store *s, const char *hex, char *buf, size_t size);
bool image_store_has(const struct image_store *s, const char *hex);

/* A new private, empty staging directory: its path and an fd of it. */
int image_store_stage(struct image_store *s, char *path, size_t size, int *fd,
		      struct image_error *err);
/*
 * Seals the staged image (read-only) and moves it to sha256/<hex>; if that exists already
 * (the same content), the staged copy is deleted instead. *existed says which.
 */
int image_store_commit(struct image_store *s, const char *staging, const char *hex, bool *existed,
		       struct image_error *err);
/* Deletes a staging directory (after a failure). */
void image_store_discard(struct image_store *s, const char *staging);

/*
 * Moves every image in sha256/ that in_use does not claim to trash/ and marks it for
 * deletion (see the top). *moved counts them.
 */
int image_store_collect(struct image_store *s, image_in_use_fn in_use, void *ctx, unsigned *moved,
			struct image_error *err);
/*
 * After a crash: moves what tmp/ holds to the trash and settles every trash entry not
 * yet marked (restore if in use and missing, else mark). *restored counts restorations.
 */
int image_store_recover(struct image_store *s, image_in_use_fn in_use, void *ctx,
			unsigned *restored, struct image_error *err);
/* Whether anything is marked for deletion. */
bool image_store_has_garbage(const struct image_store *s);
/* Deletes everything marked (blocking: large trees). */
int image_store_purge(struct image_store *s, struct image_error *err);

/* Deletes name under dir_fd recursively, never following links. */
int image_remove_tree(int dir_fd, const char *name, struct image_error *err);

#endif
