/* SPDX-License-Identifier: MIT */
/*
 * The sandbox's root file system: the base plan (built once into the template mount
 * namespace) and the per-sandbox mounts prepared in the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../runtime/rootfs.h"

static struct rootfs_plan plan;

static int build(void **state)
{
	(void)state;
	assert_int_equal(rootfs_plan_base(&plan, NULL), 0);
	return 0;
}

static int find(enum rootfs_op_kind kind, const char *target)
{
	for (size_t i = 0; i < plan.n_ops; i++)
		if (plan.ops[i].kind == kind && !strcmp(plan.ops[i].target, target))
			return (int)i;
	return -1;
}

static void every_target_is_inside_the_new_root(void **state)
{
	(void)state;
	for (size_t i = 0; i < plan.n_ops; i++) {
		assert_true(plan.ops[i].target[0] != '/');
		assert_null(strstr(plan.ops[i].target, ".."));
	}
}

static void host_usr_is_bound_and_mount_points_exist(void **state)
{
	int usr = find(ROOTFS_BIND, "usr");

	(void)state;
	assert_true(usr >= 0);
	assert_string_equal(plan.ops[usr].source, "/usr");
	for (const char *d = "var/task\0var/runtime\0opt\0tmp\0proc\0etc/lamina\0"; *d; d += strlen(d) + 1)
		assert_true(find(ROOTFS_MKDIR, d) >= 0);
}

static void everything_bound_is_made_read_only_before_dev(void **state)
{
	int ro = find(ROOTFS_READONLY, ".");

	(void)state;
	assert_true(ro >= 0);
	assert_true(plan.ops[ro].flags != 0);	/* recursive: binds and the root itself */
	for (size_t i = 0; i < plan.n_ops; i++) {
		if (plan.ops[i].kind == ROOTFS_BIND || plan.ops[i].kind == ROOTFS_FILE)
			assert_true((int)i < ro);
		if (plan.ops[i].kind == ROOTFS_TMPFS || plan.ops[i].kind == ROOTFS_DEVNODE)
			assert_true((int)i > ro);
	}
}

static void dev_holds_only_the_five_devices_and_ends_read_only(void **state)
{
	int devnodes = 0, dev_ro = find(ROOTFS_READONLY, "dev");

	(void)state;
	for (size_t i = 0; i < plan.n_ops; i++)
		if (plan.ops[i].kind == ROOTFS_DEVNODE) {
			devnodes++;
			assert_true((int)i < dev_ro);
		}
	assert_int_equal(devnodes, 5);
	assert_true(find(ROOTFS_DEVNODE, "dev/null") >= 0);
	assert_true(find(ROOTFS_DEVNODE, "dev/urandom") >= 0);
	assert_true(find(ROOTFS_TMPFS, "dev") < dev_ro);
}

static void etc_is_curated_and_accounts_are_the_sandboxs_own(void **state)
{
	int passwd = find(ROOTFS_SYMLINK, "etc/passwd"), group = find(ROOTFS_SYMLINK, "etc/group");

	(void)state;
	assert_true(passwd >= 0 && group >= 0);
	assert_string_equal(plan.ops[passwd].source, "lamina/passwd");
	/* Accounts and secrets of the host never enter. */
	assert_int_equal(find(ROOTFS_BIND, "etc/shadow"), -1);
	assert_int_equal(find(ROOTFS_BIND, "etc/passwd"), -1);
	assert_int_equal(find(ROOTFS_BIND, "etc/ssh"), -1);
	for (size_t i = 0; i < plan.n_ops; i++)
		if (plan.ops[i].kind == ROOTFS_BIND && plan.ops[i].source)
			assert_null(strstr(plan.ops[i].source, "shadow"));
}

static void prepared_mounts_are_code_runtime_and_accounts(void **state)
{
	struct lr_bind bind = { .source = "/usr/share", .target = "/var/runtime" };
	struct rootfs_sandbox sb = { .code_dir = "/usr/lib", .binds = &bind, .n_binds = 1,
				     .tmp_bytes = 64ull << 20, .uid = 61000, .gid = 61001 };
	struct rootfs_accounts_cache cache;
	struct rootfs_mounts m;
	char buf[256] = "";
	int fd;

	(void)state;
	rootfs_accounts_cache_init(&cache);
	assert_int_equal(rootfs_prepare(&sb, &cache, &m, NULL), 0);
	assert_int_equal(m.n, 3);
	assert_string_equal(m.attach[0].target, "/var/task");
	assert_string_equal(m.attach[1].target, "/var/runtime");
	assert_string_equal(m.attach[2].target, "/etc/lamina");
	assert_non_null(strstr(m.tmp_options, "size=67108864"));
	/* The accounts name the sandbox's uid and gid. */
	fd = openat(m.attach[2].fd, "passwd", O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	assert_non_null(strstr(buf, "sbx_user:x:61000:61001:"));
	/* Read-only: the sandbox cannot change them. */
	assert_true(openat(m.attach[2].fd, "passwd", O_WRONLY) < 0);
	rootfs_release(&m);
	/* The same identity again: a clone of the cached tree, still naming it. */
	assert_int_equal(rootfs_prepare(&sb, &cache, &m, NULL), 0);
	fd = openat(m.attach[2].fd, "group", O_RDONLY);
	assert_true(fd >= 0);
	memset(buf, 0, sizeof(buf));
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	assert_non_null(strstr(buf, "sbx_user:x:61001:"));
	rootfs_release(&m);
	rootfs_accounts_cache_fini(&cache);
}

static void binds_outside_var_runtime_are_refused(void **state)
{
	struct lr_bind bind = { .source = "/usr", .target = "/usr/x" };
	struct rootfs_sandbox sb = { .binds = &bind, .n_binds = 1, .tmp_bytes = 1 << 20 };
	struct rootfs_accounts_cache cache;
	struct rootfs_mounts m;
	struct lr_error err = { 0 };

	(void)state;
	rootfs_accounts_cache_init(&cache);
	assert_int_equal(rootfs_prepare(&sb, &cache, &m, &err), -EINVAL);
	assert_non_null(strstr(err.message, "/usr/x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(every_target_is_inside_the_new_root, build),
		cmocka_unit_test_setup(host_usr_is_bound_and_mount_points_exist, build),
		cmocka_unit_test_setup(everything_bound_is_made_read_only_before_dev, build),
		cmocka_unit_test_setup(dev_holds_only_the_five_devices_and_ends_read_only, build),
		cmocka_unit_test_setup(etc_is_curated_and_accounts_are_the_sandboxs_own, build),
		cmocka_unit_test(prepared_mounts_are_code_runtime_and_accounts),
		cmocka_unit_test(binds_outside_var_runtime_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
