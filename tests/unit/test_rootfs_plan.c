/* SPDX-License-Identifier: MIT */
/* The sandbox's root file system plan: what is mounted, in which order, read-only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include <cmocka.h>

#include "../../runtime/rootfs.h"

static struct rootfs_plan plan;

static int build(void **state)
{
	const struct rootfs_sandbox sb = { .code_dir = "/srv/code", .opt_dir = "/srv/layers",
					   .tmp_bytes = 64ull << 20, .uid = 61000, .gid = 61001 };

	(void)state;
	assert_int_equal(rootfs_plan_base(&plan, NULL), 0);
	assert_int_equal(rootfs_plan_sandbox(&plan, &sb, NULL), 0);
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

static void host_usr_code_and_opt_are_bound(void **state)
{
	int usr = find(ROOTFS_BIND, "usr"), code = find(ROOTFS_BIND, "var/task"),
	    opt = find(ROOTFS_BIND, "opt");

	(void)state;
	assert_true(usr >= 0 && code >= 0 && opt >= 0);
	assert_string_equal(plan.ops[usr].source, "/usr");
	assert_string_equal(plan.ops[code].source, "/srv/code");
	assert_string_equal(plan.ops[opt].source, "/srv/layers");
}

static void everything_bound_is_made_read_only_before_the_writable_mounts(void **state)
{
	int ro = find(ROOTFS_READONLY, ".");

	(void)state;
	assert_true(ro >= 0);
	assert_true(plan.ops[ro].flags != 0);	/* recursive: binds and the root itself */
	for (size_t i = 0; i < plan.n_ops; i++) {
		if (plan.ops[i].kind == ROOTFS_BIND || plan.ops[i].kind == ROOTFS_FILE)
			assert_true((int)i < ro);
		if (plan.ops[i].kind == ROOTFS_TMPFS || plan.ops[i].kind == ROOTFS_PROC)
			assert_true((int)i > ro);
	}
}

static void tmp_is_a_sized_private_tmpfs(void **state)
{
	int tmp = find(ROOTFS_TMPFS, "tmp");

	(void)state;
	assert_true(tmp >= 0);
	assert_non_null(strstr(plan.ops[tmp].data, "size=67108864"));
	assert_true(plan.ops[tmp].flags & MS_NOSUID);
	assert_true(plan.ops[tmp].flags & MS_NODEV);
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

static void etc_is_curated_and_names_the_sandbox_user(void **state)
{
	int passwd = find(ROOTFS_FILE, "etc/passwd"), group = find(ROOTFS_FILE, "etc/group");

	(void)state;
	assert_true(passwd >= 0 && group >= 0);
	assert_non_null(strstr(plan.ops[passwd].data, "sbx_user:x:61000:61001:"));
	assert_non_null(strstr(plan.ops[group].data, "sbx_user:x:61001:"));
	/* Accounts and secrets of the host never enter. */
	assert_int_equal(find(ROOTFS_BIND, "etc/shadow"), -1);
	assert_int_equal(find(ROOTFS_BIND, "etc/passwd"), -1);
	assert_int_equal(find(ROOTFS_BIND, "etc/ssh"), -1);
	for (size_t i = 0; i < plan.n_ops; i++)
		if (plan.ops[i].kind == ROOTFS_BIND && plan.ops[i].source)
			assert_null(strstr(plan.ops[i].source, "shadow"));
}

static void proc_is_mounted_last(void **state)
{
	(void)state;
	assert_int_equal(find(ROOTFS_PROC, "proc"), (int)plan.n_ops - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(every_target_is_inside_the_new_root, build),
		cmocka_unit_test_setup(host_usr_code_and_opt_are_bound, build),
		cmocka_unit_test_setup(everything_bound_is_made_read_only_before_the_writable_mounts, build),
		cmocka_unit_test_setup(tmp_is_a_sized_private_tmpfs, build),
		cmocka_unit_test_setup(dev_holds_only_the_five_devices_and_ends_read_only, build),
		cmocka_unit_test_setup(etc_is_curated_and_names_the_sandbox_user, build),
		cmocka_unit_test_setup(proc_is_mounted_last, build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
