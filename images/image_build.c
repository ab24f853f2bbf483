/* SPDX-License-Identifier: MIT */
/* Deterministic archives of an image directory: same content, same bytes. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_internal.h"

#define BLOCK (64u << 10)
/* 1980-01-01T00:00:00Z: the earliest time a zip (DOS) timestamp holds. */
#define FIXED_MTIME 315532800

static int write_failed(struct archive *a, const char *what, struct image_error *err)
{
	const char *why = archive_error_string(a);

	return image_error_set(err, archive_errno(a) > 0 ? archive_errno(a) : EIO,
			       "cannot write the archive (%s): %s", what, why ? why : "failed");
}

static int set_format(struct archive *a, enum image_format format, struct image_error *err)
{
	int r;

	switch (format) {
	case IMAGE_FORMAT_ZIP:
		r = archive_write_set_format_zip(a);
		if (r == ARCHIVE_OK)
			r = archive_write_set_options(a, "zip:compression=deflate,zip:hdrcharset=UTF-8");
		break;
	case IMAGE_FORMAT_TAR_GZ:
		r = archive_write_set_format_pax_restricted(a);
		if (r == ARCHIVE_OK)
			r = archive_write_add_filter_gzip(a);
		/* No time in the gzip header: it would make every build differ. */
		if (r == ARCHIVE_OK)
			r = archive_write_set_options(a, "gzip:!timestamp,gzip:compression-level=9");
		break;
	case IMAGE_FORMAT_TAR:
		r = archive_write_set_format_pax_restricted(a);
		break;
	default:
		return image_error_set(err, EINVAL, "unknown archive format");
	}
	return r == ARCHIVE_OK ? 0 : write_failed(a, "format", err);
}

static int write_data(struct archive *a, const struct image_source *src,
		      const struct image_entry *e, char *buf, struct image_error *err)
{
	unsigned char digest[32];
	unsigned len;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ssize_t n;
	int fd, r = 0;

	if (!md)
		return image_error_set(err, ENOMEM, "cannot hash '%s'", e->path);
	fd = openat(src->dir_fd, e->path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		EVP_MD_CTX_free(md);
		return image_error_set(err, errno, "cannot read '%s'", e->path);
	}
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = read(fd, buf, BLOCK)) > 0) {
		EVP_DigestUpdate(md, buf, n);
		if (archive_write_data(a, buf, n) != n) {
			r = write_failed(a, e->path, err);
			break;
		}
	}
	if (r == 0 && n < 0)
		r = image_error_set(err, errno, "cannot read '%s'", e->path);
	EVP_DigestFinal_ex(md, digest, &len);
	EVP_MD_CTX_free(md);
	close(fd);
	if (r == 0 && memcmp(digest, e->sha256, sizeof(digest)))
		r = image_error_set(err, EAGAIN, "'%s' changed while the archive was written", e->path);
	return r;
}

int image_build(const struct image_source *src, int out_fd, enum image_format format,
		const struct image_limits *limits, struct image_listing *listing,
		struct image_error *err)
{
	struct image_listing local = { 0 };
	struct image_listing *l = listing ? listing : &local;
	struct archive_entry *entry = NULL;
	struct archive *a = NULL;
	locale_t loc, old = (locale_t)0;
	char *buf = NULL;
	int r;

	if (src->dir_fd < 0)
		return image_error_set(err, EINVAL, "only a directory can be built into an image");
	r = image_unpack(src, -1, limits, NULL, l, err);
	if (r < 0)
		return r;
	/* Names are UTF-8 (checked above): the writer must take them as such. */
	loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (loc)
		old = uselocale(loc);
	a = archive_write_new();
	entry = archive_entry_new();
	buf = malloc(BLOCK);
	if (!a || !entry || !buf) {
		r = image_error_set(err, ENOMEM, "cannot write the archive");
		goto out;
	}
	if ((r = set_format(a, format, err)) < 0)
		goto out;
	if (archive_write_open_fd(a, out_fd) != ARCHIVE_OK) {
		r = write_failed(a, "open", err);
		goto out;
	}
	for (size_t i = 0; i < l->n && r == 0; i++) {
		const struct image_entry *e = &l->entries[i];

		archive_entry_clear(entry);
		archive_entry_set_pathname(entry, e->path);
		archive_entry_set_mtime(entry, FIXED_MTIME, 0);
		archive_entry_set_uid(entry, 0);
		archive_entry_set_gid(entry, 0);
		switch (e->type) {
		case IMAGE_DIR:
			archive_entry_set_filetype(entry, AE_IFDIR);
			archive_entry_set_perm(entry, 0755);
			archive_entry_set_size(entry, 0);
			break;
		case IMAGE_LINK:
			archive_entry_set_filetype(entry, AE_IFLNK);
			archive_entry_set_perm(entry, 0777);
			archive_entry_set_symlink(entry, e->target);
			archive_entry_set_size(entry, 0);
			break;
		case IMAGE_FILE:
			archive_entry_set_filetype(entry, AE_IFREG);
			archive_entry_set_perm(entry, e->exec ? 0755 : 0644);
			archive_entry_set_size(entry, e->size);
			break;
		}
		if (archive_write_header(a, entry) != ARCHIVE_OK) {
			r = write_failed(a, e->path, err);
			break;
		}
		if (e->type == IMAGE_FILE)
			r = write_data(a, src, e, buf, err);
	}
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = write_failed(a, "close", err);
out:
	if (a)
		archive_write_free(a);
	archive_entry_free(entry);
	free(buf);
	if (loc) {
		uselocale(old);
		freelocale(loc);
	}
	image_listing_free(&local);
	if (r < 0 && listing)
		image_listing_free(listing);
	return r;
}
