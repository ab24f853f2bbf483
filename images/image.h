/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_IMAGES_IMAGE_H
#define LAMINA_IMAGES_IMAGE_H

/*
 * Function images: a directory, a .zip, or a .tar / .tar.gz (read with libarchive),
 * checked entry by entry, hashed canonically and, optionally, unpacked into a staging
 * directory that the store (store.h) then moves into place.
 *
 * Canonical content (what CodeSha256 is the SHA-256 of): every entry — directories
 * (explicit, or implied by a path below them), regular files, symbolic links — sorted by
 * path compared component by component (bytewise, "a/b" before "a-b"), each as
 *
 *     'd' path '\0'                       a directory
 *     'f' path '\0' sha256(bytes)         a regular file ('x' when executable by anyone)
 *     'l' path '\0' target '\0'           a symbolic link
 *
 * Paths are relative, without "." or empty components. Timestamps, owners, permission
 * bits other than "executable", archive order and compression do not count: the same
 * files give the same digest as a directory, a zip or a tarball.
 *
 * What is refused, naming the entry: absolute paths and "..", names that are not UTF-8
 * or hold control characters, duplicate entries, device nodes, FIFOs and sockets, symbolic
 * links that are absolute or resolve (through the image's other links) outside it, hard
 * links to anything but a regular file earlier in the archive, more bytes or entries
 * than the limits, and archives that expand more than max_ratio times their size (zip
 * bombs). Setuid, setgid and sticky bits are stripped: stored files are 0444, or 0555
 * when executable, directories 0555.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_MANIFEST "lamina.json"

/* Lambda's 250 MB unzipped; a file count that real packages stay far below. */
#define IMAGE_DEFAULT_MAX_BYTES (250ull << 20)
#define IMAGE_DEFAULT_MAX_ENTRIES 20000u
/* Unpacked ÷ packed size allowed, once more than IMAGE_RATIO_FLOOR bytes are unpacked:
 * source code and binaries stay far below 100:1; zip bombs are at about 1000:1. */
#define IMAGE_DEFAULT_MAX_RATIO 100u
#define IMAGE_RATIO_FLOOR (1ull << 20)
#define IMAGE_PATH_MAX 1024

struct image_limits {
	uint64_t max_bytes;	/* unpacked bytes of regular files */
	uint32_t max_entries;	/* files, directories and links */
	uint32_t max_ratio;	/* 0: no ratio check */
};

void image_limits_default(struct image_limits *l);

/* The library's error: errno plus a message naming what failed. refused: the image's
 * content broke a rule (the client's fault), not a failed system call. */
struct image_error {
	int code;
	bool refused;
	char message[512];
};

struct image_digest {
	unsigned char sha256[32];
	char hex[65];
	char b64[45];	/* as Lambda's CodeSha256 */
};

enum image_entry_type {
	IMAGE_DIR = 'd',
	IMAGE_FILE = 'f',
	IMAGE_LINK = 'l',
};

struct image_entry {
	char *path;
	enum image_entry_type type;
	bool exec;
	bool implied;			/* a directory no entry named */
	uint64_t size;
	unsigned char sha256[32];	/* files */
	char *target;			/* links */
};

/* An image's entries in canonical order, with their totals. */
struct image_listing {
	struct image_entry *entries;
	size_t n;
	struct image_digest digest;
	uint64_t bytes;		/* regular files' bytes */
	uint32_t files, dirs, links;
};

void image_listing_free(struct image_listing *l);

/* Where the directory walk reads the source: around every open and read of it the
 * caller may switch credentials (the daemon reads as the client). */
struct image_access {
	void (*enter)(void *ctx);
	void (*leave)(void *ctx);
	void *ctx;
};

/* Reports bytes consumed from the source (packed bytes for archives) out of total (the
 * archive's size; 0 for directories). */
struct image_progress {
	void (*report)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
};

struct image_source {
	const char *name;		/* in messages */
	int dir_fd;			/* a directory (O_PATH is enough), or -1 */
	int archive_fd;			/* an archive file, or -1 */
	const void *data;		/* an archive in memory (when both fds are -1) */
	size_t len;
	const struct image_access *access;	/* NULL: no switching */
};

/*
 * Checks and hashes src; with staging_fd >= 0 (an empty directory) also unpacks it there.
 * On failure the staging directory holds a partial image: the caller removes it.
 * listing may be NULL.
 */
int image_unpack(const struct image_source *src, int staging_fd, const struct image_limits *limits,
		 const struct image_progress *progress, struct image_listing *listing,
		 struct image_error *err);

/*
 * Reads the regular file path (e.g. IMAGE_MANIFEST) from the root of src, at most max
 * bytes, into *out (NUL-terminated, caller frees). -ENOENT, without an error message,
 * if there is none.
 */
int image_read_file(const struct image_source *src, const char *path, size_t max, char **out,
		    size_t *len, struct image_error *err);

/* Whether the file at fd starts like an archive this library reads (zip, tar, gzip). */
bool image_is_archive(int fd);

enum image_format {
	IMAGE_FORMAT_ZIP,
	IMAGE_FORMAT_TAR_GZ,
	IMAGE_FORMAT_TAR,
};

/* .zip, .tar.gz/.tgz or .tar by the file name's suffix; -1 if none. */
int image_format_from_name(const char *name);

/*
 * Writes the directory src as a deterministic archive to out_fd: entries in canonical
 * order, mtime 1980-01-01, owner 0:0, modes 0644/0755, no gzip timestamp. The same
 * content always gives the same bytes. The directory is checked as image_unpack does.
 */
int image_build(const struct image_source *src, int out_fd, enum image_format format,
		const struct image_limits *limits, struct image_listing *listing,
		struct image_error *err);

/* Digest as hex and base64. */
void image_digest_format(struct image_digest *d);
/* Fills d from a SHA-256 in hex (64 digits, either case); false if hex is not one. */
bool image_digest_parse_hex(const char *hex, struct image_digest *d);

/* Fills *err; returns -code. */
int image_error_set(struct image_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int image_error_refuse(struct image_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
