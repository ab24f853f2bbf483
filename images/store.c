/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TRASH_MARK ".del"

struct image_store {
	char root[PATH_MAX - 32];
	int sha_fd, tmp_fd, trash_fd;
};

static int open_sub(const char *root, const char *name, mode_t mode, int *fd, struct image_error *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return image_error_set(err, errno, "cannot create '%s'", path);
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return image_error_set(err, errno, "cannot open '%s'", path);
	return 0;
}

int image_store_open(const char *root, struct image_store **out, struct image_error *err)
{
	struct image_store *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return image_error_set(err, ENOMEM, "cannot open the image store");
	s->sha_fd = s->tmp_fd = s->trash_fd = -1;
	if (strlen(root) >= sizeof(s->root)) {
		free(s);
		return image_error_set(err, ENAMETOOLONG, "image store '%s'", root);
	}
	strcpy(s->root, root);
	if (mkdir(root, 0711) < 0 && errno != EEXIST) {
		r = image_error_set(err, errno, "cannot create '%s'", root);
		free(s);
		return r;
	}
	/* sha256/ is read by every function's uid; the rest is the daemon's alone. */
	if ((r = open_sub(root, "sha256", 0755, &s->sha_fd, err)) < 0 ||
	    (r = open_sub(root, "tmp", 0700, &s->tmp_fd, err)) < 0 ||
	    (r = open_sub(root, "trash", 0700, &s->trash_fd, err)) < 0) {
		image_store_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void image_store_free(struct image_store *s)
{
	if (!s)
		return;
	if (s->sha_fd >= 0)
		close(s->sha_fd);
	if (s->tmp_fd >= 0)
		close(s->tmp_fd);
	if (s->trash_fd >= 0)
		close(s->trash_fd);
	free(s);
}

void image_store_path(const struct image_store *s, const char *hex, char *buf, size_t size)
{
	snprintf(buf, size, "%s/sha256/%s", s->root, hex);
}

static bool is_hex64(const char *name, size_t len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

bool image_store_has(const struct image_store *s, const char *hex)
{
	struct stat st;

	return is_hex64(hex, strlen(hex)) && fstatat(s->sha_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

/* ---- removal ---- */

static int remove_at(int dir_fd, const char *name, int depth, struct image_error *err)
{
	struct dirent *e;
	DIR *dir;
	int fd, r = 0;

	if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return image_error_set(err, errno, "cannot delete '%s'", name);
	if (depth > 256)
		return image_error_set(err, ELOOP, "cannot delete '%s'", name);
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return image_error_set(err, errno, "cannot open '%s'", name);
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return image_error_set(err, errno, "cannot read '%s'", name);
	}
	while (r == 0 && (e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		r = remove_at(fd, e->d_name, depth + 1, err);
	}
	closedir(dir);
	if (r == 0 && unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = image_error_set(err, errno, "cannot delete directory '%s'", name);
	return r;
}

int image_remove_tree(int dir_fd, const char *name, struct image_error *err)
{
	return remove_at(dir_fd, name, 0, err);
}

/* ---- staging ---- */

int image_store_stage(struct image_store *s, char *path, size_t size, int *fd,
		      struct image_error *err)
{
	char tmpl[PATH_MAX];

	snprintf(tmpl, sizeof(tmpl), "%s/tmp/stage-XXXXXX", s->root);
	if (!mkdtemp(tmpl))
		return image_error_set(err, errno, "cannot create a staging directory in '%s/tmp'",
				       s->root);
	*fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0) {
		int r = image_error_set(err, errno, "cannot open '%s'", tmpl);

		rmdir(tmpl);
		return r;
	}
	snprintf(path, size, "%s", tmpl);
	return 0;
}

void image_store_discard(struct image_store *s, const char *staging)
{
	const char *name = strrchr(staging, '/');

	image_remove_tree(s->tmp_fd, name ? name + 1 : staging, NULL);
}

int image_store_commit(struct image_store *s, const char *staging, const char *hex, bool *existed,
		       struct image_error *err)
{
	const char *name = strrchr(staging, '/');

	name = name ? name + 1 : staging;
	*existed = false;
	if (!is_hex64(hex, strlen(hex)))
		return image_error_set(err, EINVAL, "bad image digest '%s'", hex);
	if (fchmodat(s->tmp_fd, name, 0555, 0) < 0)
		return image_error_set(err, errno, "cannot seal '%s'", staging);
	/* Same content already stored: keep the one there (instances may be using it). */
	if (renameat2(s->tmp_fd, name, s->sha_fd, hex, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EEXIST)
		return image_error_set(err, errno, "cannot store image %s", hex);
	*existed = true;
	image_remove_tree(s->tmp_fd, name, NULL);
	return 0;
}

/* ---- collection ---- */

/* trash/<hex>.<n>, n chosen so that nothing is replaced. */
static int move_to_trash(struct image_store *s, int from_fd, const char *name, const char *suffix,
			 struct image_error *err)
{
	char trash[128];
	unsigned long long n = (unsigned long long)time(NULL) * 1000;

	for (int tries = 0; tries < 1000; tries++, n++) {
		snprintf(trash, sizeof(trash), "%.70s.%llu%s", name, n, suffix);
		if (renameat2(from_fd, name, s->trash_fd, trash, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return image_error_set(err, errno, "cannot move '%s' to the trash", name);
	}
	return image_error_set(err, EEXIST, "cannot move '%s' to the trash", name);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* A directory of the store opened for readdir (its own fd: the store keeps dir_fd). */
static DIR *open_listing(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

	if (!dir && fd >= 0) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return dir;
}

/* The trash entries not marked yet: restore if in use and missing, else mark. */
static int settle(struct image_store *s, image_in_use_fn in_use, void *ctx, unsigned *restored,
		  struct image_error *err)
{
	struct dirent *e;
	DIR *dir;
	int r = 0;

	dir = open_listing(s->trash_fd);
	if (!dir)
		return image_error_set(err, errno, "cannot read '%s/trash'", s->root);
	while ((e = readdir(dir))) {
		char hex[65], marked[300];
		const char *dot = strchr(e->d_name, '.');

		if (e->d_name[0] == '.' || ends_with(e->d_name, TRASH_MARK))
			continue;
		if (dot && is_hex64(e->d_name, dot - e->d_name)) {
			memcpy(hex, e->d_name, 64);
			hex[64] = '\0';
			/* Taken by mistake (or the registry was restored): put it back. */
			if (in_use(ctx, hex) && !image_store_has(s, hex)) {
				if (renameat2(s->trash_fd, e->d_name, s->sha_fd, hex, RENAME_NOREPLACE) == 0) {
					if (restored)
						(*restored)++;
					continue;
				}
			}
		}
		snprintf(marked, sizeof(marked), "%s%s", e->d_name, TRASH_MARK);
		if (renameat(s->trash_fd, e->d_name, s->trash_fd, marked) < 0 && errno != ENOENT) {
			r = image_error_set(err, errno, "cannot mark '%s' for deletion", e->d_name);
			break;
		}
	}
	closedir(dir);
	return r;
}

int image_store_collect(struct image_store *s, image_in_use_fn in_use, void *ctx, unsigned *moved,
			struct image_error *err)
{
	struct dirent *e;
	DIR *dir;
	int r = 0;

	if (moved)
		*moved = 0;
	dir = open_listing(s->sha_fd);
	if (!dir)
		return image_error_set(err, errno, "cannot read '%s/sha256'", s->root);
	while ((e = readdir(dir))) {
		/* Only what the store made: anything else there is left alone. */
		if (!is_hex64(e->d_name, strlen(e->d_name)) || in_use(ctx, e->d_name))
			continue;
		if ((r = move_to_trash(s, s->sha_fd, e->d_name, "", err)) < 0)
			break;
		if (moved)
			(*moved)++;
	}
	closedir(dir);
	if (r < 0)
		return r;
	/* Checked again after the move: nothing can have started using it in between
	 * unless the caller broke the rule above, and then it goes back. */
	return settle(s, in_use, ctx, NULL, err);
}

int image_store_recover(struct image_store *s, image_in_use_fn in_use, void *ctx,
			unsigned *restored, struct image_error *err)
{
	struct dirent *e;
	DIR *dir;
	int r = 0;

	if (restored)
		*restored = 0;
	dir = open_listing(s->tmp_fd);
	if (!dir)
		return image_error_set(err, errno, "cannot read '%s/tmp'", s->root);
	/* Unpacking that never finished: nothing refers to it. */
	while (r == 0 && (e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = move_to_trash(s, s->tmp_fd, e->d_name, TRASH_MARK, err);
	closedir(dir);
	if (r < 0)
		return r;
	return settle(s, in_use, ctx, restored, err);
}

bool image_store_has_garbage(const struct image_store *s)
{
	struct dirent *e;
	bool found = false;
	DIR *dir;

	dir = open_listing(s->trash_fd);
	if (!dir)
		return false;
	while (!found && (e = readdir(dir)))
		found = ends_with(e->d_name, TRASH_MARK);
	closedir(dir);
	return found;
}

int image_store_purge(struct image_store *s, struct image_error *err)
{
	struct dirent *e;
	DIR *dir;
	int r = 0;

	dir = open_listing(s->trash_fd);
	if (!dir)
		return image_error_set(err, errno, "cannot read '%s/trash'", s->root);
	while ((e = readdir(dir))) {
		if (!ends_with(e->d_name, TRASH_MARK))
			continue;
		if (image_remove_tree(s->trash_fd, e->d_name, err) < 0)
			r = -1;
	}
	closedir(dir);
	return r;
}
