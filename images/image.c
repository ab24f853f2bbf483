/* SPDX-License-Identifier: MIT */
/* The unpacker: every entry's checks, the staging writes and the canonical digest. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_internal.h"

#define LINK_HOPS_MAX 40	/* as the kernel's MAXSYMLINKS */
#define COMPONENT_MAX 255

struct unpacker {
	int staging_fd;		/* -1: dry run */
	struct image_limits limits;
	uint64_t packed_size;	/* 0: no ratio check */
	struct image_error *err;
	struct image_entry *entries;
	size_t n, cap;
	size_t *slots;		/* open-addressed index: entry index + 1, 0 = empty */
	size_t n_slots;
	uint64_t bytes;
};

/* ---- errors ---- */

static int error_vset(struct image_error *err, int code, bool refused, bool with_strerror,
		      const char *fmt, va_list ap)
{
	int n;

	if (!err)
		return -code;
	err->code = code;
	err->refused = refused;
	n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
	if (with_strerror && n >= 0 && (size_t)n < sizeof(err->message))
		snprintf(err->message + n, sizeof(err->message) - n, ": %s", strerror(code));
	return -code;
}

int image_error_set(struct image_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = error_vset(err, code, false, true, fmt, ap);
	va_end(ap);
	return r;
}

int image_error_refuse(struct image_error *err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = error_vset(err, EINVAL, true, false, fmt, ap);
	va_end(ap);
	return r;
}

void image_limits_default(struct image_limits *l)
{
	l->max_bytes = IMAGE_DEFAULT_MAX_BYTES;
	l->max_entries = IMAGE_DEFAULT_MAX_ENTRIES;
	l->max_ratio = IMAGE_DEFAULT_MAX_RATIO;
}

void image_listing_free(struct image_listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->entries[i].path);
		free(l->entries[i].target);
	}
	free(l->entries);
	l->entries = NULL;
	l->n = 0;
}

void image_digest_format(struct image_digest *d)
{
	for (int i = 0; i < 32; i++)
		sprintf(d->hex + 2 * i, "%02x", d->sha256[i]);
	EVP_EncodeBlock((unsigned char *)d->b64, d->sha256, 32);
}

bool image_digest_parse_hex(const char *hex, struct image_digest *d)
{
	if (strlen(hex) != 64 || strspn(hex, "0123456789abcdefABCDEF") != 64)
		return false;
	for (int i = 0; i < 32; i++)
		sscanf(hex + 2 * i, "%2hhx", &d->sha256[i]);
	image_digest_format(d);
	return true;
}

/* ---- names ---- */

/* Length of the UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or > U+10FFFF),
 * or 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

void image_quote(const char *name, char *buf, size_t size)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t o = 0;

	if (size < 8)
		return;
	buf[o++] = '\'';
	while (*s && o + 6 < size) {
		size_t len = utf8_len(s);

		if (len == 1 && *s >= 0x20 && *s != 0x7f && *s != '\\') {
			buf[o++] = (char)*s++;
		} else if (len > 1) {
			memcpy(buf + o, s, len);
			o += len;
			s += len;
		} else {
			o += snprintf(buf + o, size - o, "\\x%02x", *s++);
		}
	}
	if (*s && o + 4 < size)
		o += snprintf(buf + o, size - o, "...");
	buf[o++] = '\'';
	buf[o] = '\0';
}

/*
 * raw into out: relative, no "." or empty components. Returns 1 for the root itself
 * ("./"), 0 for a path, or a refusal.
 */
static int normalize(struct unpacker *u, const char *raw, const char *what, char *out, size_t size)
{
	char q[300];
	const unsigned char *s = (const unsigned char *)raw;
	size_t o = 0;

	image_quote(raw, q, sizeof(q));
	if (!*raw)
		return image_error_refuse(u->err, "%s has an empty name", what);
	for (const unsigned char *p = s; *p;) {
		size_t len = utf8_len(p);

		if (!len)
			return image_error_refuse(u->err, "%s %s: the name is not valid UTF-8", what, q);
		if (len == 1 && (*p < 0x20 || *p == 0x7f))
			return image_error_refuse(u->err, "%s %s: the name holds a control character",
						  what, q);
		p += len;
	}
	if (raw[0] == '/')
		return image_error_refuse(u->err, "%s %s: absolute paths are not allowed", what, q);
	while (*s) {
		const unsigned char *end = (const unsigned char *)strchrnul((const char *)s, '/');
		size_t len = end - s;

		if ((len == 1 && s[0] == '.') || len == 0) {
			/* skipped */
		} else if (len == 2 && s[0] == '.' && s[1] == '.') {
			return image_error_refuse(u->err, "%s %s: '..' is not allowed in paths", what, q);
		} else if (len > COMPONENT_MAX) {
			return image_error_refuse(u->err, "%s %s: a name is longer than %d bytes", what, q,
						  COMPONENT_MAX);
		} else {
			if (o + len + 2 > size || o + len + 1 > IMAGE_PATH_MAX)
				return image_error_refuse(u->err, "%s %s: the path is longer than %d bytes",
							  what, q, IMAGE_PATH_MAX);
			if (o)
				out[o++] = '/';
			memcpy(out + o, s, len);
			o += len;
		}
		s = *end ? end + 1 : end;
	}
	out[o] = '\0';
	return o ? 0 : 1;
}

/* ---- the entry index ---- */

static size_t hash_path(const char *p)
{
	size_t h = 1469598103934665603ull;

	while (*p)
		h = (h ^ (unsigned char)*p++) * 1099511628211ull;
	return h;
}

static struct image_entry *lookup(struct unpacker *u, const char *path)
{
	size_t mask = u->n_slots - 1;

	for (size_t i = hash_path(path) & mask; u->slots[i]; i = (i + 1) & mask)
		if (!strcmp(u->entries[u->slots[i] - 1].path, path))
			return &u->entries[u->slots[i] - 1];
	return NULL;
}

static int index_grow(struct unpacker *u)
{
	size_t n_slots = u->n_slots ? u->n_slots * 2 : 256, mask = n_slots - 1;
	size_t *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return image_error_set(u->err, ENOMEM, "cannot index the image");
	for (size_t e = 0; e < u->n; e++) {
		size_t i = hash_path(u->entries[e].path) & mask;

		while (slots[i])
			i = (i + 1) & mask;
		slots[i] = e + 1;
	}
	free(u->slots);
	u->slots = slots;
	u->n_slots = n_slots;
	return 0;
}

/* A new entry for path (not yet in the index). */
static struct image_entry *add_entry(struct unpacker *u, const char *path, enum image_entry_type type)
{
	struct image_entry *e;
	size_t mask, i;

	if (u->n >= u->limits.max_entries) {
		image_error_refuse(u->err, "the image has more than %u entries (files, directories "
					   "and links)", u->limits.max_entries);
		return NULL;
	}
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		struct image_entry *v = realloc(u->entries, cap * sizeof(*v));

		if (!v) {
			image_error_set(u->err, ENOMEM, "cannot list the image");
			return NULL;
		}
		u->entries = v;
		u->cap = cap;
	}
	if ((u->n + 1) * 2 > u->n_slots && index_grow(u) < 0)
		return NULL;
	e = &u->entries[u->n];
	memset(e, 0, sizeof(*e));
	e->path = strdup(path);
	if (!e->path) {
		image_error_set(u->err, ENOMEM, "cannot list the image");
		return NULL;
	}
	e->type = type;
	mask = u->n_slots - 1;
	for (i = hash_path(path) & mask; u->slots[i]; i = (i + 1) & mask)
		;
	u->slots[i] = ++u->n;
	return e;
}

int unpacker_new(int staging_fd, const struct image_limits *limits, uint64_t packed_size,
		 struct image_error *err, struct unpacker **out)
{
	struct unpacker *u = calloc(1, sizeof(*u));

	if (!u)
		return image_error_set(err, ENOMEM, "cannot start reading the image");
	u->staging_fd = staging_fd;
	if (limits)
		u->limits = *limits;
	else
		image_limits_default(&u->limits);
	u->packed_size = packed_size;
	u->err = err;
	if (index_grow(u) < 0) {
		free(u);
		return -ENOMEM;
	}
	*out = u;
	return 0;
}

void unpacker_free(struct unpacker *u)
{
	struct image_listing l;

	if (!u)
		return;
	l.entries = u->entries;
	l.n = u->n;
	image_listing_free(&l);
	free(u->slots);
	free(u);
}

/* ---- staging ---- */

/*
 * Makes sure every directory above path exists (recording the implied ones) and returns
 * in *parent_fd an fd of the parent in the staging tree: -1 for the staging root itself,
 * and always in a dry run. *leaf points at the last component.
 */
static int prepare_parent(struct unpacker *u, char *path, const char *what, const char **leaf,
			  int *parent_fd)
{
	char q[300];
	int fd = -1;

	*parent_fd = -1;
	for (char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
		struct image_entry *e;
		char *name;

		*slash = '\0';
		e = lookup(u, path);
		name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		if (e && e->type != IMAGE_DIR) {
			char whole[300];

			image_quote(path, q, sizeof(q));
			*slash = '/';
			image_quote(path, whole, sizeof(whole));
			if (fd >= 0)
				close(fd);
			return image_error_refuse(u->err, "%s %s is inside %s, which is a %s, not a directory",
						  what, whole, q, e->type == IMAGE_LINK ? "symbolic link" : "file");
		}
		if (!e) {
			if (!(e = add_entry(u, path, IMAGE_DIR))) {
				*slash = '/';
				if (fd >= 0)
					close(fd);
				return -EINVAL;
			}
			e->implied = true;
			if (u->staging_fd >= 0 && mkdirat(fd >= 0 ? fd : u->staging_fd, name, 0755) < 0) {
				int r = image_error_set(u->err, errno, "cannot create directory '%s'", path);

				*slash = '/';
				if (fd >= 0)
					close(fd);
				return r;
			}
		}
		if (u->staging_fd >= 0) {
			/* Only directories we made are on this path: O_NOFOLLOW all the same. */
			int next = openat(fd >= 0 ? fd : u->staging_fd, name,
					  O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (next < 0) {
				int r = image_error_set(u->err, errno, "cannot open directory '%s'", path);

				*slash = '/';
				if (fd >= 0)
					close(fd);
				return r;
			}
			if (fd >= 0)
				close(fd);
			fd = next;
		}
		*slash = '/';
	}
	*leaf = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	*parent_fd = fd;
	return 0;
}

static int staging_dir(const struct unpacker *u, int parent_fd)
{
	return parent_fd >= 0 ? parent_fd : u->staging_fd;
}

/* A new entry at raw, refused if something is there already. */
static int begin_entry(struct unpacker *u, const char *raw, const char *what, char *path,
		       size_t size, const char **leaf, int *parent_fd)
{
	char q[300];
	int r = normalize(u, raw, what, path, size);

	*parent_fd = -1;
	if (r)
		return r;
	if (lookup(u, path)) {
		image_quote(path, q, sizeof(q));
		return image_error_refuse(u->err, "duplicate entry %s", q);
	}
	return prepare_parent(u, path, what, leaf, parent_fd);
}

int unpacker_dir(struct unpacker *u, const char *raw)
{
	char path[IMAGE_PATH_MAX + 8], q[300];
	const char *leaf;
	struct image_entry *e;
	int parent = -1, r;

	r = normalize(u, raw, "directory", path, sizeof(path));
	if (r)
		return r > 0 ? 0 : r;	/* the root: nothing to make */
	e = lookup(u, path);
	if (e) {
		/* A directory implied by an earlier entry may be named afterwards, once. */
		if (e->type == IMAGE_DIR && e->implied) {
			e->implied = false;
			return 0;
		}
		image_quote(path, q, sizeof(q));
		return image_error_refuse(u->err, "duplicate entry %s", q);
	}
	if ((r = prepare_parent(u, path, "directory", &leaf, &parent)) < 0)
		return r;
	if (!(e = add_entry(u, path, IMAGE_DIR))) {
		r = -EINVAL;
	} else if (u->staging_fd >= 0 && mkdirat(staging_dir(u, parent), leaf, 0755) < 0) {
		r = image_error_set(u->err, errno, "cannot create directory '%s'", path);
	}
	if (parent >= 0)
		close(parent);
	return r;
}

int unpacker_symlink(struct unpacker *u, const char *raw, const char *target)
{
	char path[IMAGE_PATH_MAX + 8], q[300], qt[300];
	const char *leaf;
	struct image_entry *e;
	int parent = -1, r;

	r = begin_entry(u, raw, "symbolic link", path, sizeof(path), &leaf, &parent);
	if (r) {
		if (parent >= 0)
			close(parent);
		return r > 0 ? image_error_refuse(u->err, "symbolic link '%s' replaces the image's root",
						  raw)
			     : r;
	}
	image_quote(path, q, sizeof(q));
	image_quote(target ? target : "", qt, sizeof(qt));
	for (const unsigned char *p = (const unsigned char *)(target ? target : ""); *p;) {
		size_t len = utf8_len(p);

		if (!len || (len == 1 && (*p < 0x20 || *p == 0x7f))) {
			r = image_error_refuse(u->err, "symbolic link %s: its target %s is not valid UTF-8 "
						       "text", q, qt);
			goto out;
		}
		p += len;
	}
	if (!target || !*target) {
		r = image_error_refuse(u->err, "symbolic link %s has no target", q);
	} else if (target[0] == '/') {
		r = image_error_refuse(u->err, "symbolic link %s points outside the image (absolute "
					       "target %s)", q, qt);
	} else if (strlen(target) > IMAGE_PATH_MAX) {
		r = image_error_refuse(u->err, "symbolic link %s: its target is longer than %d bytes",
				       q, IMAGE_PATH_MAX);
	} else if (!(e = add_entry(u, path, IMAGE_LINK)) || !(e->target = strdup(target))) {
		r = -EINVAL;
	} else if (u->staging_fd >= 0 && symlinkat(target, staging_dir(u, parent), leaf) < 0) {
		r = image_error_set(u->err, errno, "cannot create symbolic link %s", q);
	}
out:
	if (parent >= 0)
		close(parent);
	return r;
}

int unpacker_hardlink(struct unpacker *u, const char *raw, const char *raw_target)
{
	char path[IMAGE_PATH_MAX + 8], target[IMAGE_PATH_MAX + 8], q[300], qt[300];
	const struct image_entry *t;
	struct image_entry *e;
	const char *leaf;
	int parent = -1, r;
	size_t ti;

	r = begin_entry(u, raw, "hard link", path, sizeof(path), &leaf, &parent);
	if (r) {
		if (parent >= 0)
			close(parent);
		return r > 0 ? image_error_refuse(u->err, "hard link '%s' replaces the image's root", raw)
			     : r;
	}
	image_quote(path, q, sizeof(q));
	image_quote(raw_target, qt, sizeof(qt));
	r = normalize(u, raw_target, "hard link target", target, sizeof(target));
	if (r) {
		if (r > 0 || u->err->refused)
			r = image_error_refuse(u->err, "hard link %s points outside the image (to %s)", q,
					       qt);
		goto out;
	}
	t = lookup(u, target);
	if (!t || t->type != IMAGE_FILE) {
		r = image_error_refuse(u->err, "hard link %s must point to a regular file earlier in "
					       "the archive, not to %s", q, qt);
		goto out;
	}
	ti = t - u->entries;
	if (u->bytes + t->size > u->limits.max_bytes) {
		r = image_error_refuse(u->err, "the image is larger than the maximum of %llu bytes "
					       "unpacked (at %s)", (unsigned long long)u->limits.max_bytes, q);
		goto out;
	}
	if (!(e = add_entry(u, path, IMAGE_FILE))) {
		r = -EINVAL;
		goto out;
	}
	t = &u->entries[ti];	/* add_entry may move the entries */
	e->exec = t->exec;
	e->size = t->size;
	memcpy(e->sha256, t->sha256, sizeof(e->sha256));
	u->bytes += t->size;
	if (u->staging_fd >= 0 && linkat(u->staging_fd, target, staging_dir(u, parent), leaf, 0) < 0)
		r = image_error_set(u->err, errno, "cannot create hard link %s", q);
out:
	if (parent >= 0)
		close(parent);
	return r;
}

int unpacker_refuse_type(struct unpacker *u, const char *raw, const char *what)
{
	char q[300];

	image_quote(raw, q, sizeof(q));
	return image_error_refuse(u->err, "entry %s is %s: only regular files, directories and "
					  "symbolic links are allowed", q, what);
}

int unpacker_file_begin(struct unpacker *u, const char *raw, bool exec, struct unpacker_file *f)
{
	char path[IMAGE_PATH_MAX + 8];
	const char *leaf;
	struct image_entry *e;
	int parent = -1, r;

	f->fd = -1;
	f->md = NULL;
	r = begin_entry(u, raw, "file", path, sizeof(path), &leaf, &parent);
	if (r) {
		if (parent >= 0)
			close(parent);
		return r > 0 ? image_error_refuse(u->err, "file '%s' replaces the image's root", raw) : r;
	}
	if (!(e = add_entry(u, path, IMAGE_FILE))) {
		r = -EINVAL;
		goto out;
	}
	e->exec = exec;
	f->index = e - u->entries;
	f->md = EVP_MD_CTX_new();
	if (!f->md || !EVP_DigestInit_ex(f->md, EVP_sha256(), NULL)) {
		r = image_error_set(u->err, ENOMEM, "cannot hash '%s'", path);
		goto out;
	}
	/* Never setuid or setgid, whatever the archive says. */
	if (u->staging_fd >= 0) {
		f->fd = openat(staging_dir(u, parent), leaf,
			       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, exec ? 0555 : 0444);
		if (f->fd < 0)
			r = image_error_set(u->err, errno, "cannot create '%s'", path);
	}
out:
	if (parent >= 0)
		close(parent);
	if (r < 0) {
		EVP_MD_CTX_free(f->md);
		f->md = NULL;
	}
	return r;
}

int unpacker_file_write(struct unpacker *u, struct unpacker_file *f, const void *buf, size_t n)
{
	struct image_entry *e = &u->entries[f->index];
	const char *p = buf;
	char q[300];

	u->bytes += n;
	e->size += n;
	if (u->bytes > u->limits.max_bytes) {
		image_quote(e->path, q, sizeof(q));
		return image_error_refuse(u->err, "the image is larger than the maximum of %llu bytes "
						  "unpacked (at %s)", (unsigned long long)u->limits.max_bytes, q);
	}
	if (u->packed_size && u->limits.max_ratio && u->bytes > IMAGE_RATIO_FLOOR &&
	    u->bytes / u->limits.max_ratio > u->packed_size) {
		image_quote(e->path, q, sizeof(q));
		return image_error_refuse(u->err, "the archive expands more than %u times its size of "
						  "%llu bytes (a zip bomb?) at %s", u->limits.max_ratio,
					  (unsigned long long)u->packed_size, q);
	}
	EVP_DigestUpdate(f->md, buf, n);
	while (f->fd >= 0 && n) {
		ssize_t w = write(f->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return image_error_set(u->err, errno, "cannot write '%s'", e->path);
		p += w;
		n -= w;
	}
	return 0;
}

int unpacker_file_end(struct unpacker *u, struct unpacker_file *f, bool ok)
{
	struct image_entry *e = &u->entries[f->index];
	unsigned len;
	int r = 0;

	if (ok)
		EVP_DigestFinal_ex(f->md, e->sha256, &len);
	EVP_MD_CTX_free(f->md);
	f->md = NULL;
	if (f->fd >= 0 && close(f->fd) < 0 && ok)
		r = image_error_set(u->err, errno, "cannot write '%s'", e->path);
	f->fd = -1;
	return r;
}

/* ---- finishing ---- */

/*
 * Resolves the link at index li as the kernel would inside the image, following the
 * image's other links: refused if it would leave the image. A target that does not exist
 * is allowed (as a dangling link is on disk).
 */
static int check_link(struct unpacker *u, size_t li)
{
	const struct image_entry *link = &u->entries[li];
	char stack[IMAGE_PATH_MAX * 2 + 8], queue[(IMAGE_PATH_MAX + 8) * (LINK_HOPS_MAX + 2)];
	char q[300], qt[300];
	size_t sl = 0, qlen;
	int hops = 0;
	const char *slash = strrchr(link->path, '/');

	image_quote(link->path, q, sizeof(q));
	image_quote(link->target, qt, sizeof(qt));
	/* The queue holds the components still to walk, '/'-separated. */
	qlen = snprintf(queue, sizeof(queue), "%s", link->target);
	if (slash) {
		sl = slash - link->path;
		memcpy(stack, link->path, sl);
	}
	stack[sl] = '\0';
	while (qlen) {
		char comp[COMPONENT_MAX + 2];
		char *end = strchrnul(queue, '/');
		size_t len = end - queue;
		const struct image_entry *e;

		if (len > COMPONENT_MAX)
			len = COMPONENT_MAX;
		memcpy(comp, queue, len);
		comp[len] = '\0';
		len = *end ? (size_t)(end - queue) + 1 : qlen;
		memmove(queue, queue + len, qlen - len + 1);
		qlen -= len;
		if (!comp[0] || !strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			char *up;

			if (!sl)
				return image_error_refuse(u->err, "symbolic link %s points outside the image "
								  "(target %s)", q, qt);
			up = strrchr(stack, '/');
			sl = up ? (size_t)(up - stack) : 0;
			stack[sl] = '\0';
			continue;
		}
		if (sl + 1 + strlen(comp) >= sizeof(stack))
			return image_error_refuse(u->err, "symbolic link %s: target %s is too long", q, qt);
		sl += sprintf(stack + sl, "%s%s", sl ? "/" : "", comp);
		e = lookup(u, stack);
		if (e && e->type == IMAGE_LINK) {
			size_t tl = strlen(e->target);

			if (++hops > LINK_HOPS_MAX || qlen + tl + 2 >= sizeof(queue))
				return image_error_refuse(u->err, "symbolic link %s: too many levels of "
								  "links in %s", q, qt);
			if (e->target[0] == '/')
				return image_error_refuse(u->err, "symbolic link %s points outside the image "
								  "(through %s)", q, e->path);
			/* Replace the component by the link's target, relative to its directory. */
			{
				char *up = strrchr(stack, '/');

				sl = up ? (size_t)(up - stack) : 0;
				stack[sl] = '\0';
			}
			memmove(queue + tl + (qlen ? 1 : 0), queue, qlen + 1);
			memcpy(queue, e->target, tl);
			if (qlen)
				queue[tl] = '/';
			qlen += tl + (qlen ? 1 : 0);
		}
	}
	return 0;
}

/* Component-wise order: '/' sorts before every other byte. */
static int path_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca == '/')
			ca = 1;
		if (cb == '/')
			cb = 1;
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (!ca)
			return 0;
	}
}

static int entry_cmp(const void *a, const void *b)
{
	return path_cmp(((const struct image_entry *)a)->path, ((const struct image_entry *)b)->path);
}

int unpacker_finish(struct unpacker *u, struct image_listing *listing)
{
	struct image_digest digest = { 0 };
	EVP_MD_CTX *md;
	unsigned len;
	uint32_t files = 0, dirs = 0, links = 0;

	for (size_t i = 0; i < u->n; i++)
		if (u->entries[i].type == IMAGE_LINK && check_link(u, i) < 0)
			return -EINVAL;
	/* The index is stale from here on. */
	qsort(u->entries, u->n, sizeof(*u->entries), entry_cmp);
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return image_error_set(u->err, ENOMEM, "cannot hash the image");
	}
	for (size_t i = 0; i < u->n; i++) {
		const struct image_entry *e = &u->entries[i];
		char type = e->type == IMAGE_FILE && e->exec ? 'x' : (char)e->type;

		EVP_DigestUpdate(md, &type, 1);
		EVP_DigestUpdate(md, e->path, strlen(e->path) + 1);
		if (e->type == IMAGE_FILE) {
			EVP_DigestUpdate(md, e->sha256, sizeof(e->sha256));
			files++;
		} else if (e->type == IMAGE_LINK) {
			EVP_DigestUpdate(md, e->target, strlen(e->target) + 1);
			links++;
		} else {
			dirs++;
			/* Instances must not change the shared copy: read-only for everyone. */
			if (u->staging_fd >= 0 && fchmodat(u->staging_fd, e->path, 0555, 0) < 0) {
				int r = image_error_set(u->err, errno, "cannot seal '%s'", e->path);

				EVP_MD_CTX_free(md);
				return r;
			}
		}
	}
	EVP_DigestFinal_ex(md, digest.sha256, &len);
	EVP_MD_CTX_free(md);
	image_digest_format(&digest);
	if (listing) {
		listing->entries = u->entries;
		listing->n = u->n;
		listing->digest = digest;
		listing->bytes = u->bytes;
		listing->files = files;
		listing->dirs = dirs;
		listing->links = links;
		u->entries = NULL;
		u->n = u->cap = 0;
	}
	return 0;
}

/* ---- the entry points ---- */

static bool is_dir_source(const struct image_source *src)
{
	return src->dir_fd >= 0;
}

int image_unpack(const struct image_source *src, int staging_fd, const struct image_limits *limits,
		 const struct image_progress *progress, struct image_listing *listing,
		 struct image_error *err)
{
	struct image_listing local = { 0 };
	struct unpacker *u = NULL;
	int r;

	if (listing)
		memset(listing, 0, sizeof(*listing));
	r = unpacker_new(staging_fd, limits, is_dir_source(src) ? 0 : image_archive_size(src), err, &u);
	if (r < 0)
		return r;
	if (is_dir_source(src))
		r = image_dir_walk(src, u, progress, err);
	else
		r = image_archive_walk(src, u, progress, err);
	if (r == 0)
		r = unpacker_finish(u, listing ? listing : &local);
	image_listing_free(&local);
	unpacker_free(u);
	return r < 0 ? r : 0;
}

int image_format_from_name(const char *name)
{
	size_t n = strlen(name);

#define ENDS(s) (n >= sizeof(s) - 1 && !strcasecmp(name + n - (sizeof(s) - 1), s))
	if (ENDS(".zip") || ENDS(".jar"))
		return IMAGE_FORMAT_ZIP;
	if (ENDS(".tar.gz") || ENDS(".tgz"))
		return IMAGE_FORMAT_TAR_GZ;
	if (ENDS(".tar"))
		return IMAGE_FORMAT_TAR;
#undef ENDS
	return -1;
}
