/* SPDX-License-Identifier: MIT */
/*
 * The image library against a temporary directory: canonical digests of trees, the
 * unpacked copy, link checks, and the store's commit, collection and crash recovery.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../images/image.h"
#include "../../images/store.h"

struct fixture {
	char root[64];
};

static void write_file(const char *root, const char *rel, const char *text, mode_t mode)
{
	char path[512], *slash;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->root, sizeof(f->root), "/tmp/lamina-unit-img-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);

	image_remove_tree(fd, f->root + 5, NULL);
	close(fd);
	free(f);
	return 0;
}

static int digest_of(const char *dir, struct image_listing *l, struct image_error *err)
{
	struct image_source src = { .name = dir, .archive_fd = -1 };
	int r;

	src.dir_fd = open(dir, O_PATH | O_DIRECTORY);
	assert_true(src.dir_fd >= 0);
	r = image_unpack(&src, -1, NULL, NULL, l, err);
	close(src.dir_fd);
	return r;
}

static void make_tree(const char *root, bool reversed)
{
	char d[512];

	mkdir(root, 0755);
	if (reversed) {
		write_file(root, "z/b.txt", "b", 0600);
		write_file(root, "a-b", "dash", 0644);
		write_file(root, "a/x", "x", 0755);
	} else {
		write_file(root, "a/x", "x", 0700);
		write_file(root, "a-b", "dash", 0640);
		write_file(root, "z/b.txt", "b", 0644);
	}
	snprintf(d, sizeof(d), "%s/link", root);
	symlink("a/x", d);
}

static void test_same_tree_same_digest_in_canonical_order(void **state)
{
	struct fixture *f = *state;
	struct image_listing a = { 0 }, b = { 0 };
	struct image_error err = { 0 };
	char one[128], two[128];

	snprintf(one, sizeof(one), "%s/one", f->root);
	snprintf(two, sizeof(two), "%s/two", f->root);
	make_tree(one, false);
	make_tree(two, true);
	assert_int_equal(digest_of(one, &a, &err), 0);
	assert_int_equal(digest_of(two, &b, &err), 0);
	assert_string_equal(a.digest.hex, b.digest.hex);
	assert_int_equal(a.n, 6);
	/* Component order: "a/x" sorts before "a-b" ('/' below every other byte). */
	assert_string_equal(a.entries[0].path, "a");
	assert_string_equal(a.entries[1].path, "a/x");
	assert_string_equal(a.entries[2].path, "a-b");
	assert_true(a.entries[1].exec);
	assert_false(a.entries[2].exec);
	assert_int_equal(a.files, 3);
	assert_int_equal(a.links, 1);
	assert_int_equal(a.bytes, 1 + 4 + 1);
	image_listing_free(&a);
	image_listing_free(&b);
}

static void test_unpack_writes_a_sealed_copy(void **state)
{
	struct fixture *f = *state;
	struct image_source src = { .archive_fd = -1 };
	struct image_listing l = { 0 };
	struct image_error err = { 0 };
	char one[128], out[128], p[256], target[64];
	struct stat st;
	int out_fd;

	snprintf(one, sizeof(one), "%s/one", f->root);
	snprintf(out, sizeof(out), "%s/out", f->root);
	make_tree(one, false);
	write_file(one, "suid", "s", 04755);
	mkdir(out, 0700);
	out_fd = open(out, O_RDONLY | O_DIRECTORY);
	src.name = one;
	src.dir_fd = open(one, O_PATH | O_DIRECTORY);
	assert_int_equal(image_unpack(&src, out_fd, NULL, NULL, &l, &err), 0);
	snprintf(p, sizeof(p), "%s/a/x", out);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);
	snprintf(p, sizeof(p), "%s/a", out);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);
	snprintf(p, sizeof(p), "%s/suid", out);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);	/* setuid stripped */
	snprintf(p, sizeof(p), "%s/link", out);
	assert_int_equal(readlink(p, target, sizeof(target)), 3);
	close(src.dir_fd);
	close(out_fd);
	image_listing_free(&l);
}

static void test_links_leaving_the_tree_are_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "../x", "/etc/passwd", "a/../../x", "loop/../../x" };
	struct image_listing l = { 0 };
	struct image_error err = { 0 };
	char dir[128], p[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/bad%zu", f->root, i);
		mkdir(dir, 0755);
		write_file(dir, "a/x", "x", 0644);
		snprintf(p, sizeof(p), "%s/loop", dir);
		symlink(".", p);
		snprintf(p, sizeof(p), "%s/evil", dir);
		assert_int_equal(symlink(bad[i], p), 0);
		assert_int_equal(digest_of(dir, &l, &err), -EINVAL);
		assert_true(err.refused);
		assert_non_null(strstr(err.message, "'evil'"));
	}
	/* Inside, through another link: fine. */
	snprintf(dir, sizeof(dir), "%s/good", f->root);
	mkdir(dir, 0755);
	write_file(dir, "a/x", "x", 0644);
	snprintf(p, sizeof(p), "%s/loop", dir);
	symlink(".", p);
	snprintf(p, sizeof(p), "%s/ok", dir);
	symlink("loop/a/../a/x", p);
	assert_int_equal(digest_of(dir, &l, &err), 0);
	image_listing_free(&l);
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct image_limits lim = { .max_bytes = 10, .max_entries = 3, .max_ratio = 0 };
	struct image_source src = { .archive_fd = -1 };
	struct image_error err = { 0 };
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/big", f->root);
	mkdir(dir, 0755);
	write_file(dir, "f", "0123456789A", 0644);
	src.name = dir;
	src.dir_fd = open(dir, O_PATH | O_DIRECTORY);
	assert_int_equal(image_unpack(&src, -1, &lim, NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.message, "larger than"));
	lim.max_bytes = 100;
	write_file(dir, "g", "", 0644);
	write_file(dir, "h/i", "", 0644);
	assert_int_equal(image_unpack(&src, -1, &lim, NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.message, "more than 3 entries"));
	close(src.dir_fd);
}

static bool in_use_set(void *ctx, const char *hex)
{
	const char *const *used = ctx;

	for (; *used; used++)
		if (!strcmp(*used, hex))
			return true;
	return false;
}

static void stage_image(struct image_store *s, const char *name_text, char hex[65], bool *existed)
{
	struct image_source src = { .archive_fd = -1 };
	struct image_listing l = { 0 };
	struct image_error err = { 0 };
	char staging[512], dir[512];
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/lamina-unit-src-%d-%s", getpid(), name_text);
	mkdir(dir, 0755);
	write_file(dir, "f", name_text, 0644);
	src.name = dir;
	src.dir_fd = open(dir, O_PATH | O_DIRECTORY);
	assert_int_equal(image_store_stage(s, staging, sizeof(staging), &fd, &err), 0);
	assert_int_equal(image_unpack(&src, fd, NULL, NULL, &l, &err), 0);
	close(fd);
	close(src.dir_fd);
	assert_int_equal(image_store_commit(s, staging, l.digest.hex, existed, &err), 0);
	strcpy(hex, l.digest.hex);
	image_listing_free(&l);
	fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	image_remove_tree(fd, dir + 5, NULL);
	close(fd);
}

static int count_dir(const char *root, const char *sub)
{
	char p[256];
	int n = 0;
	struct dirent *e;
	DIR *d;

	snprintf(p, sizeof(p), "%s/%s", root, sub);
	d = opendir(p);
	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_store_commit_collect_recover(void **state)
{
	struct fixture *f = *state;
	struct image_store *s = NULL;
	struct image_error err = { 0 };
	char a[65], b[65], store[128], from[512], to[512];
	const char *used_a[] = { a, NULL }, *none[] = { NULL };
	unsigned moved = 0, restored = 0;
	bool existed;

	snprintf(store, sizeof(store), "%s/store", f->root);
	assert_int_equal(image_store_open(store, &s, &err), 0);
	stage_image(s, "alpha", a, &existed);
	assert_false(existed);
	stage_image(s, "alpha", a, &existed);
	assert_true(existed);			/* stored once */
	stage_image(s, "beta", b, &existed);
	assert_int_equal(count_dir(store, "sha256"), 2);
	assert_int_equal(count_dir(store, "tmp"), 0);

	/* b is unused: moved to the trash, marked; a stays. */
	assert_int_equal(image_store_collect(s, in_use_set, used_a, &moved, &err), 0);
	assert_int_equal(moved, 1);
	assert_true(image_store_has(s, a));
	assert_false(image_store_has(s, b));
	assert_true(image_store_has_garbage(s));
	assert_int_equal(image_store_purge(s, &err), 0);
	assert_int_equal(count_dir(store, "trash"), 0);

	/* A crash after the move of an image that is in use after all, a half-deleted
	 * one and a staging leftover: recovery restores, finishes and removes. */
	snprintf(from, sizeof(from), "%s/sha256/%s", store, a);
	snprintf(to, sizeof(to), "%s/trash/%s.9", store, a);
	assert_int_equal(rename(from, to), 0);
	snprintf(to, sizeof(to), "%s/trash/half.4.del", store);
	mkdir(to, 0755);
	write_file(to, "x/y", "y", 0644);
	snprintf(to, sizeof(to), "%s/tmp/stage-left", store);
	mkdir(to, 0755);
	write_file(to, "z", "z", 0644);
	assert_int_equal(image_store_recover(s, in_use_set, used_a, &restored, &err), 0);
	assert_int_equal(restored, 1);
	assert_true(image_store_has(s, a));
	assert_int_equal(image_store_purge(s, &err), 0);
	assert_int_equal(count_dir(store, "trash"), 0);
	assert_int_equal(count_dir(store, "tmp"), 0);

	/* Nothing in use: everything goes; names the store did not make stay. */
	snprintf(to, sizeof(to), "%s/sha256/not-an-image", store);
	mkdir(to, 0755);
	assert_int_equal(image_store_collect(s, in_use_set, none, &moved, &err), 0);
	assert_int_equal(moved, 1);
	assert_int_equal(image_store_purge(s, &err), 0);
	assert_int_equal(count_dir(store, "sha256"), 1);
	image_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_tree_same_digest_in_canonical_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unpack_writes_a_sealed_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_leaving_the_tree_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_commit_collect_recover, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
