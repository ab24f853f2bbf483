/* SPDX-License-Identifier: MIT */
/* Archives as image sources: zip, tar and gzip-compressed tar, read with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_internal.h"

#define BLOCK (64u << 10)

/*
 * libarchive converts entry names between the archive's charset and the current
 * locale's. In a UTF-8 locale the names come through as bytes, for our own UTF-8 check,
 * whatever locale the program runs in.
 */
struct utf8_locale {
	locale_t loc, old;
};

static void utf8_enter(struct utf8_locale *l)
{
	l->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	l->old = l->loc ? uselocale(l->loc) : (locale_t)0;
}

static void utf8_leave(struct utf8_locale *l)
{
	if (l->loc) {
		uselocale(l->old);
		freelocale(l->loc);
	}
}

uint64_t image_archive_size(const struct image_source *src)
{
	struct stat st;

	if (src->archive_fd < 0)
		return src->len;
	if (fstat(src->archive_fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return st.st_size;
}

static struct archive *archive_open(const struct image_source *src, struct image_error *err)
{
	struct archive *a = archive_read_new();
	int r;

	if (!a) {
		image_error_set(err, ENOMEM, "cannot read '%s'", src->name);
		return NULL;
	}
	/* Only what images are made of: fewer parsers, less to attack. */
	archive_read_support_format_zip(a);
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	if (src->archive_fd >= 0) {
		if (lseek(src->archive_fd, 0, SEEK_SET) < 0 && errno != ESPIPE) {
			image_error_set(err, errno, "cannot read '%s'", src->name);
			archive_read_free(a);
			return NULL;
		}
		r = archive_read_open_fd(a, src->archive_fd, BLOCK);
	} else {
		r = archive_read_open_memory(a, src->data, src->len);
	}
	if (r != ARCHIVE_OK) {
		image_error_refuse(err, "'%s' is not a .zip, .tar or .tar.gz archive: %s", src->name,
				   archive_error_string(a) ? archive_error_string(a) : "unreadable");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int archive_failed(struct archive *a, const struct image_source *src, const char *entry,
			  struct image_error *err)
{
	char q[300];
	const char *why = archive_error_string(a);

	if (!entry)
		return image_error_refuse(err, "'%s' is not a valid .zip, .tar or .tar.gz archive: %s",
					  src->name, why ? why : "unreadable");
	image_quote(entry, q, sizeof(q));
	return image_error_refuse(err, "'%s': cannot read entry %s: %s", src->name, q,
				  why ? why : "unreadable");
}

static void report(const struct image_progress *p, struct archive *a, uint64_t total)
{
	if (p && p->report)
		p->report(p->ctx, archive_filter_bytes(a, -1), total);
}

static int read_file(struct archive *a, const struct image_source *src, struct unpacker *u,
		     struct archive_entry *entry, const char *name, const struct image_progress *p,
		     uint64_t total, struct image_error *err)
{
	struct unpacker_file f;
	char *buf = malloc(BLOCK);
	la_ssize_t n;
	int r;

	if (!buf)
		return image_error_set(err, ENOMEM, "cannot read '%s'", src->name);
	r = unpacker_file_begin(u, name, (archive_entry_perm(entry) & 0111) != 0, &f);
	if (r < 0) {
		free(buf);
		return r;
	}
	while ((n = archive_read_data(a, buf, BLOCK)) > 0) {
		if ((r = unpacker_file_write(u, &f, buf, n)) < 0)
			break;
		report(p, a, total);
	}
	if (r == 0 && n < 0)
		r = archive_failed(a, src, name, err);
	free(buf);
	if (r < 0) {
		unpacker_file_end(u, &f, false);
		return r;
	}
	return unpacker_file_end(u, &f, true);
}

int image_archive_walk(const struct image_source *src, struct unpacker *u,
		       const struct image_progress *progress, struct image_error *err)
{
	struct utf8_locale loc;
	struct archive_entry *entry;
	struct archive *a;
	uint64_t total = image_archive_size(src);
	int r = 0, ar;

	utf8_enter(&loc);
	a = archive_open(src, err);
	if (!a) {
		utf8_leave(&loc);
		return -EINVAL;
	}
	while ((ar = archive_read_next_header(a, &entry)) != ARCHIVE_EOF) {
		const char *name, *hardlink;

		if (ar < ARCHIVE_WARN) {
			r = archive_failed(a, src, NULL, err);
			break;
		}
		name = archive_entry_pathname(entry);
		if (!name) {
			r = image_error_refuse(err, "'%s' holds an entry without a name (or one not in "
						    "UTF-8)", src->name);
			break;
		}
		hardlink = archive_entry_hardlink(entry);
		if (hardlink) {
			r = unpacker_hardlink(u, name, hardlink);
		} else {
			switch (archive_entry_filetype(entry)) {
			case AE_IFREG:
				r = read_file(a, src, u, entry, name, progress, total, err);
				break;
			case AE_IFDIR:
				r = unpacker_dir(u, name);
				break;
			case AE_IFLNK:
				r = unpacker_symlink(u, name, archive_entry_symlink(entry));
				break;
			case AE_IFCHR:
			case AE_IFBLK:
				r = unpacker_refuse_type(u, name, "a device node");
				break;
			case AE_IFIFO:
				r = unpacker_refuse_type(u, name, "a FIFO");
				break;
			case AE_IFSOCK:
				r = unpacker_refuse_type(u, name, "a socket");
				break;
			default:
				r = unpacker_refuse_type(u, name, "of an unknown type");
			}
		}
		if (r < 0)
			break;
		report(progress, a, total);
	}
	archive_read_free(a);
	utf8_leave(&loc);
	return r;
}

bool image_is_archive(int fd)
{
	struct image_source src = { .name = "", .dir_fd = -1, .archive_fd = fd };
	struct archive_entry *entry;
	struct utf8_locale loc;
	struct archive *a;
	bool yes;

	utf8_enter(&loc);
	a = archive_open(&src, NULL);
	yes = a && archive_read_next_header(a, &entry) >= ARCHIVE_WARN;
	if (a)
		archive_read_free(a);
	utf8_leave(&loc);
	return yes;
}

/* ---- one file out of an image ---- */

static int read_bounded(struct image_error *err, const char *what, size_t max, char **out,
			size_t *out_len, la_ssize_t (*next)(void *ctx, char *buf, size_t n), void *ctx)
{
	size_t len = 0, cap = max + 1;
	char *buf = malloc(cap + 1);
	la_ssize_t n;

	if (!buf)
		return image_error_set(err, ENOMEM, "cannot read %s", what);
	while ((n = next(ctx, buf + len, cap - len)) > 0) {
		len += n;
		if (len > max) {
			free(buf);
			return image_error_refuse(err, "%s is larger than %zu bytes", what, max);
		}
	}
	if (n < 0) {
		free(buf);
		return image_error_set(err, EIO, "cannot read %s", what);
	}
	buf[len] = '\0';
	*out = buf;
	if (out_len)
		*out_len = len;
	return 0;
}

static la_ssize_t next_archive(void *ctx, char *buf, size_t n)
{
	return archive_read_data(ctx, buf, n);
}

static la_ssize_t next_fd(void *ctx, char *buf, size_t n)
{
	ssize_t r;

	do
		r = read(*(int *)ctx, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

int image_read_file(const struct image_source *src, const char *path, size_t max, char **out,
		    size_t *len, struct image_error *err)
{
	struct archive_entry *entry;
	struct utf8_locale loc;
	struct archive *a;
	char what[300];
	int r = -ENOENT, ar;

	snprintf(what, sizeof(what), "'%s' in '%s'", path, src->name);
	if (src->dir_fd >= 0) {
		int fd;

		if (src->access && src->access->enter)
			src->access->enter(src->access->ctx);
		fd = openat(src->dir_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (src->access && src->access->leave)
			src->access->leave(src->access->ctx);
		if (fd < 0)
			return errno == ENOENT ? -ENOENT : image_error_set(err, errno, "cannot read %s", what);
		r = read_bounded(err, what, max, out, len, next_fd, &fd);
		close(fd);
		return r;
	}
	utf8_enter(&loc);
	a = archive_open(src, err);
	if (!a) {
		utf8_leave(&loc);
		return -EINVAL;
	}
	while ((ar = archive_read_next_header(a, &entry)) != ARCHIVE_EOF) {
		const char *name;

		if (ar < ARCHIVE_WARN) {
			r = archive_failed(a, src, NULL, err);
			break;
		}
		name = archive_entry_pathname(entry);
		while (name && name[0] == '.' && name[1] == '/')
			name += 2;
		if (name && !strcmp(name, path) && archive_entry_filetype(entry) == AE_IFREG &&
		    !archive_entry_hardlink(entry)) {
			r = read_bounded(err, what, max, out, len, next_archive, a);
			break;
		}
	}
	archive_read_free(a);
	utf8_leave(&loc);
	return r;
}
