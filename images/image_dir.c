/* SPDX-License-Identifier: MIT */
/* A directory as an image source, walked without following links. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_internal.h"

#define BLOCK (64u << 10)
#define DEPTH_MAX 64

struct walk {
	const struct image_source *src;
	struct unpacker *u;
	const struct image_progress *progress;
	struct image_error *err;
	uint64_t done;
	char *buf;
};

static void enter(const struct walk *w)
{
	if (w->src->access && w->src->access->enter)
		w->src->access->enter(w->src->access->ctx);
}

static void leave(const struct walk *w)
{
	if (w->src->access && w->src->access->leave)
		w->src->access->leave(w->src->access->ctx);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int copy_file(struct walk *w, int dir_fd, const char *name, const char *rel, mode_t mode)
{
	struct unpacker_file f;
	ssize_t n;
	int fd, r;

	enter(w);
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	leave(w);
	if (fd < 0)
		return image_error_set(w->err, errno, "cannot read '%s'", rel);
	r = unpacker_file_begin(w->u, rel, (mode & 0111) != 0, &f);
	if (r < 0) {
		close(fd);
		return r;
	}
	for (;;) {
		enter(w);
		n = read(fd, w->buf, BLOCK);
		leave(w);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if ((r = unpacker_file_write(w->u, &f, w->buf, n)) < 0)
			break;
		w->done += n;
		if (w->progress && w->progress->report)
			w->progress->report(w->progress->ctx, w->done, 0);
	}
	if (r == 0 && n < 0)
		r = image_error_set(w->err, errno, "cannot read '%s'", rel);
	close(fd);
	if (r < 0) {
		unpacker_file_end(w->u, &f, false);
		return r;
	}
	return unpacker_file_end(w->u, &f, true);
}

static int walk_dir(struct walk *w, int dir_fd, const char *rel, int depth)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *dir;
	int fd, r = 0;

	if (depth > DEPTH_MAX)
		return image_error_refuse(w->err, "'%s' is nested more than %d directories deep", rel,
					  DEPTH_MAX);
	enter(w);
	fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (dir) {
		while ((e = readdir(dir))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (n == cap) {
				char **v = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(*names));

				if (!v)
					break;
				names = v;
			}
			if (!(names[n] = strdup(e->d_name)))
				break;
			n++;
		}
	}
	leave(w);
	if (!dir) {
		r = image_error_set(w->err, errno, "cannot read directory '%s'", rel[0] ? rel : w->src->name);
		if (fd >= 0)
			close(fd);
		return r;
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && r == 0; i++) {
		char path[PATH_MAX];
		struct stat st;

		snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
		enter(w);
		r = fstatat(dir_fd, names[i], &st, AT_SYMLINK_NOFOLLOW);
		leave(w);
		if (r < 0) {
			r = image_error_set(w->err, errno, "cannot read '%s'", path);
			break;
		}
		if (S_ISREG(st.st_mode)) {
			r = copy_file(w, dir_fd, names[i], path, st.st_mode);
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			if ((r = unpacker_dir(w->u, path)) < 0)
				break;
			enter(w);
			sub = openat(dir_fd, names[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			leave(w);
			if (sub < 0) {
				r = image_error_set(w->err, errno, "cannot read directory '%s'", path);
				break;
			}
			r = walk_dir(w, sub, path, depth + 1);
			close(sub);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len;

			enter(w);
			len = readlinkat(dir_fd, names[i], target, sizeof(target) - 1);
			leave(w);
			if (len < 0) {
				r = image_error_set(w->err, errno, "cannot read link '%s'", path);
				break;
			}
			target[len] = '\0';
			r = unpacker_symlink(w->u, path, target);
		} else {
			r = unpacker_refuse_type(w->u, path,
						 S_ISFIFO(st.st_mode) ? "a FIFO"
						 : S_ISSOCK(st.st_mode) ? "a socket"
									: "a device node");
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int image_dir_walk(const struct image_source *src, struct unpacker *u,
		   const struct image_progress *progress, struct image_error *err)
{
	struct walk w = { .src = src, .u = u, .progress = progress, .err = err };
	int r;

	w.buf = malloc(BLOCK);
	if (!w.buf)
		return image_error_set(err, ENOMEM, "cannot read '%s'", src->name);
	r = walk_dir(&w, src->dir_fd, "", 0);
	free(w.buf);
	return r;
}
