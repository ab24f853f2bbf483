/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_IMAGES_IMAGE_INTERNAL_H
#define LAMINA_IMAGES_IMAGE_INTERNAL_H

/*
 * Between the image sources (image_dir.c, image_archive.c) and the unpacker (image.c):
 * a source walks its entries and hands each to the unpacker, which checks it, records it
 * for the canonical listing and, unless this is a dry run, writes it under the staging
 * directory. Entries arrive in any order.
 */

#include <openssl/evp.h>

#include "image.h"

struct unpacker;

/* A regular file being written. */
struct unpacker_file {
	size_t index;		/* its entry */
	int fd;			/* -1 in a dry run */
	EVP_MD_CTX *md;
	const char *path;	/* the entry's normalized path */
};

int unpacker_new(int staging_fd, const struct image_limits *limits, uint64_t packed_size,
		 struct image_error *err, struct unpacker **out);
void unpacker_free(struct unpacker *u);

/* raw: the entry's name as the source gives it. */
int unpacker_dir(struct unpacker *u, const char *raw);
int unpacker_symlink(struct unpacker *u, const char *raw, const char *target);
int unpacker_hardlink(struct unpacker *u, const char *raw, const char *raw_target);
int unpacker_file_begin(struct unpacker *u, const char *raw, bool exec, struct unpacker_file *f);
int unpacker_file_write(struct unpacker *u, struct unpacker_file *f, const void *buf, size_t n);
/* ok false: abandon the file (the source failed). */
int unpacker_file_end(struct unpacker *u, struct unpacker_file *f, bool ok);
/* The entry is refused for its type ("a FIFO", "a device node"…). */
int unpacker_refuse_type(struct unpacker *u, const char *raw, const char *what);

/* Checks links, sorts, hashes; fills listing (may be NULL) and sets the staged modes. */
int unpacker_finish(struct unpacker *u, struct image_listing *listing);

/* For messages: name with bytes that are not printable UTF-8 as \xNN, quoted. */
void image_quote(const char *name, char *buf, size_t size);

/* Sources. */
int image_dir_walk(const struct image_source *src, struct unpacker *u,
		   const struct image_progress *progress, struct image_error *err);
int image_archive_walk(const struct image_source *src, struct unpacker *u,
		       const struct image_progress *progress, struct image_error *err);
/* The archive's size in bytes (for the ratio check); 0 if unknown. */
uint64_t image_archive_size(const struct image_source *src);

#endif
