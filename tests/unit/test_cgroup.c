/* SPDX-License-Identifier: MIT */
/*
 * The cgroup backends against fake hierarchies in a temp directory: what the kernel
 * would create on mkdir is laid out by the test, and the files are read back to check
 * what the backend wrote. The real v1-hybrid tree is exercised by the integration tests.
 */
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

#include "../../runtime/cgroup.h"

static char root[256];

static void put(const char *rel, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static char *get(const char *rel)
{
	static char buf[256];
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int make_root(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/lamina-fake-cgroup.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int remove_root(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd);
}

static void lay_out_v2_leaf(const char *leaf)
{
	static const char *const files[] = { "memory.max", "memory.swap.max", "pids.max", "cpu.max",
					     "cgroup.procs", "cgroup.kill", "memory.peak" };
	char rel[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(rel, sizeof(rel), "%s/%s", leaf, files[i]);
		put(rel, "");
	}
	snprintf(rel, sizeof(rel), "%s/memory.events", leaf);
	put(rel, "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n");
	snprintf(rel, sizeof(rel), "%s/cpu.stat", leaf);
	put(rel, "usage_usec 52000\nuser_usec 50000\nsystem_usec 2000\n");
}

static void detect_picks_v2_when_unified_has_the_controllers(void **state)
{
	const struct cgroup_backend *b = NULL;

	(void)state;
	put("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	assert_int_equal(cgroup_detect(root, &b, NULL), 0);
	assert_ptr_equal(b, &cgroup_backend_v2);
}

static void detect_picks_v1_hybrid_when_unified_is_empty(void **state)
{
	const struct cgroup_backend *b = NULL;

	(void)state;
	put("unified/cgroup.controllers", "hugetlb\n");
	put("unified/cgroup.procs", "");
	put("memory/memory.limit_in_bytes", "9223372036854771712\n");
	put("pids/cgroup.procs", "");
	put("cpu/cpu.cfs_quota_us", "-1\n");
	assert_int_equal(cgroup_detect(root, &b, NULL), 0);
	assert_ptr_equal(b, &cgroup_backend_v1_hybrid);
}

static void detect_refuses_a_tree_without_controllers(void **state)
{
	const struct cgroup_backend *b = NULL;
	struct lr_error err = { 0 };

	(void)state;
	put("cgroup.controllers", "cpuset io\n");
	assert_int_equal(cgroup_detect(root, &b, &err), -ENOTSUP);
	assert_non_null(strstr(err.message, "no usable cgroup hierarchy"));
}

static void v2_delegates_controllers_and_writes_limits(void **state)
{
	struct cgroup_manager m;
	struct cgroup_stats stats;
	struct cgroup *cg = NULL;
	struct lr_error err = { 0 };
	const struct cgroup_limits limits = { .memory_bytes = 128ull << 20, .pids_max = 1024,
					      .cpu_millis = 72 };
	char leaf[64];

	(void)state;
	put("cgroup.controllers", "cpu memory pids\n");
	put("cgroup.subtree_control", "");
	put("lamina/cgroup.subtree_control", "");
	snprintf(leaf, sizeof(leaf), "lamina/sbx-%d-0", (int)getpid());
	lay_out_v2_leaf(leaf);

	assert_int_equal(cgroup_manager_init(&m, root, "lamina", true, &err), 0);
	assert_ptr_equal(m.backend, &cgroup_backend_v2);
	assert_string_equal(get("cgroup.subtree_control"), "+memory +pids +cpu");
	assert_string_equal(get("lamina/cgroup.subtree_control"), "+memory +pids +cpu");

	assert_int_equal(cgroup_create(&m, &cg, &err), 0);
	assert_int_equal(cgroup_apply(cg, &limits, &err), 0);
	char rel[128];
	snprintf(rel, sizeof(rel), "%s/memory.max", leaf);
	assert_string_equal(get(rel), "134217728");
	snprintf(rel, sizeof(rel), "%s/memory.swap.max", leaf);
	assert_string_equal(get(rel), "0");
	snprintf(rel, sizeof(rel), "%s/pids.max", leaf);
	assert_string_equal(get(rel), "1024");
	/* 72 thousandths of a CPU over a 100 ms period. */
	snprintf(rel, sizeof(rel), "%s/cpu.max", leaf);
	assert_string_equal(get(rel), "7200 100000");

	/* OOM kills count from apply; the peak is what memory.peak says now. */
	snprintf(rel, sizeof(rel), "%s/memory.events", leaf);
	put(rel, "oom 5\noom_kill 5\n");
	snprintf(rel, sizeof(rel), "%s/memory.peak", leaf);
	put(rel, "7340032\n");
	assert_int_equal(cgroup_stats(cg, &stats, &err), 0);
	assert_int_equal(stats.oom_kills, 3);
	assert_int_equal(stats.peak_memory_bytes, 7340032);
	assert_int_equal(stats.cpu_usec, 52000);

	assert_int_equal(cgroup_kill(cg, &err), 0);
	snprintf(rel, sizeof(rel), "%s/cgroup.kill", leaf);
	assert_string_equal(get(rel), "1");
	assert_int_equal(cgroup_attach(cg, 4242, &err), 0);
	snprintf(rel, sizeof(rel), "%s/cgroup.procs", leaf);
	assert_string_equal(get(rel), "4242");

	cgroup_destroy(cg, NULL);
	cgroup_manager_fini(&m);
}

static void v2_unlimited_cpu_is_max(void **state)
{
	struct cgroup_manager m;
	struct cgroup *cg = NULL;
	const struct cgroup_limits limits = { .memory_bytes = 64ull << 20, .pids_max = 5 };
	char leaf[64], rel[128];

	(void)state;
	put("cgroup.controllers", "cpu memory pids\n");
	put("lamina/cgroup.subtree_control", "");
	snprintf(leaf, sizeof(leaf), "lamina/sbx-%d-0", (int)getpid());
	lay_out_v2_leaf(leaf);
	assert_int_equal(cgroup_manager_init(&m, root, "lamina", true, NULL), 0);
	assert_int_equal(cgroup_create(&m, &cg, NULL), 0);
	assert_int_equal(cgroup_apply(cg, &limits, NULL), 0);
	snprintf(rel, sizeof(rel), "%s/cpu.max", leaf);
	assert_string_equal(get(rel), "max 100000");
	cgroup_destroy(cg, NULL);
	cgroup_manager_fini(&m);
}

static void lay_out_v1(const char *leaf)
{
	char rel[256];

	put("unified/cgroup.procs", "");
	put("memory/memory.limit_in_bytes", "9223372036854771712\n");
	put("pids/cgroup.procs", "");
	put("cpu/cpu.cfs_quota_us", "-1\n");
	snprintf(rel, sizeof(rel), "memory/%s/memory.limit_in_bytes", leaf);
	put(rel, "9223372036854771712\n");
	snprintf(rel, sizeof(rel), "memory/%s/memory.memsw.limit_in_bytes", leaf);
	put(rel, "9223372036854771712\n");
	/* Empty: the runtime rewrites it in place, as cgroupfs files are. */
	snprintf(rel, sizeof(rel), "memory/%s/memory.max_usage_in_bytes", leaf);
	put(rel, "");
	snprintf(rel, sizeof(rel), "memory/%s/memory.oom_control", leaf);
	put(rel, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
	snprintf(rel, sizeof(rel), "pids/%s/pids.max", leaf);
	put(rel, "max\n");
	snprintf(rel, sizeof(rel), "cpu/%s/cpu.cfs_period_us", leaf);
	put(rel, "100000\n");
	snprintf(rel, sizeof(rel), "cpu/%s/cpu.cfs_quota_us", leaf);
	put(rel, "-1\n");
	for (const char *d = "memory\0pids\0cpu\0unified\0"; *d; d += strlen(d) + 1) {
		snprintf(rel, sizeof(rel), "%s/%s/cgroup.procs", d, leaf);
		put(rel, "");
	}
	snprintf(rel, sizeof(rel), "unified/%s/cgroup.kill", leaf);
	put(rel, "");
	/* The unified cgroup has cpu.stat even without controllers. */
	snprintf(rel, sizeof(rel), "unified/%s/cpu.stat", leaf);
	put(rel, "usage_usec 7\nuser_usec 5\nsystem_usec 2\n");
}

static void v1_hybrid_sets_limits_without_swap_and_kills_through_unified(void **state)
{
	struct cgroup_manager m;
	struct cgroup *cg = NULL;
	struct cgroup_stats stats;
	struct lr_error err = { 0 };
	const struct cgroup_limits limits = { .memory_bytes = 256ull << 20, .pids_max = 64,
					      .cpu_millis = 1000 };
	char leaf[64], rel[128];

	(void)state;
	snprintf(leaf, sizeof(leaf), "lamina/sbx-%d-0", (int)getpid());
	lay_out_v1(leaf);
	assert_int_equal(cgroup_manager_init(&m, root, "lamina", true, &err), 0);
	assert_ptr_equal(m.backend, &cgroup_backend_v1_hybrid);
	assert_int_equal(cgroup_create(&m, &cg, &err), 0);
	assert_int_equal(cgroup_apply(cg, &limits, &err), 0);

	snprintf(rel, sizeof(rel), "memory/%s/memory.limit_in_bytes", leaf);
	assert_string_equal(get(rel), "268435456");
	/* memory+swap equal to memory: no swap. */
	snprintf(rel, sizeof(rel), "memory/%s/memory.memsw.limit_in_bytes", leaf);
	assert_string_equal(get(rel), "268435456");
	/* The peak is reset for this sandbox. */
	snprintf(rel, sizeof(rel), "memory/%s/memory.max_usage_in_bytes", leaf);
	assert_string_equal(get(rel), "0");
	snprintf(rel, sizeof(rel), "pids/%s/pids.max", leaf);
	assert_string_equal(get(rel), "64");
	snprintf(rel, sizeof(rel), "cpu/%s/cpu.cfs_quota_us", leaf);
	assert_string_equal(get(rel), "100000");

	snprintf(rel, sizeof(rel), "memory/%s/memory.oom_control", leaf);
	put(rel, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
	snprintf(rel, sizeof(rel), "memory/%s/memory.max_usage_in_bytes", leaf);
	put(rel, "1048576\n");
	assert_int_equal(cgroup_stats(cg, &stats, &err), 0);
	assert_int_equal(stats.oom_kills, 1);
	assert_int_equal(stats.peak_memory_bytes, 1048576);
	assert_int_equal(stats.cpu_usec, 7);

	assert_int_equal(cgroup_kill(cg, &err), 0);
	snprintf(rel, sizeof(rel), "unified/%s/cgroup.kill", leaf);
	assert_string_equal(get(rel), "1");
	cgroup_destroy(cg, NULL);
	cgroup_manager_fini(&m);
}

static void v1_reused_cgroup_grows_memory_and_memsw_together(void **state)
{
	struct cgroup_manager m;
	struct cgroup *cg = NULL;
	struct lr_error err = { 0 };
	char leaf[64], rel[128];

	(void)state;
	snprintf(leaf, sizeof(leaf), "lamina/sbx-%d-0", (int)getpid());
	lay_out_v1(leaf);
	snprintf(rel, sizeof(rel), "memory/%s/memory.limit_in_bytes", leaf);
	put(rel, "16777216\n");
	assert_int_equal(cgroup_manager_init(&m, root, "lamina", true, &err), 0);
	assert_int_equal(cgroup_create(&m, &cg, &err), 0);
	assert_int_equal(cgroup_apply(cg, &(struct cgroup_limits){ .memory_bytes = 512ull << 20,
								  .pids_max = 1 },
				      &err),
			 0);
	snprintf(rel, sizeof(rel), "memory/%s/memory.memsw.limit_in_bytes", leaf);
	assert_string_equal(get(rel), "536870912");
	snprintf(rel, sizeof(rel), "memory/%s/memory.limit_in_bytes", leaf);
	assert_string_equal(get(rel), "536870912");
	cgroup_destroy(cg, NULL);
	cgroup_manager_fini(&m);
}

static void reused_cgroup_rewrites_only_changed_limits(void **state)
{
	struct cgroup_manager m;
	struct cgroup *cg = NULL;
	struct cgroup_limits limits = { .memory_bytes = 128ull << 20, .pids_max = 10 };
	char leaf[64], rel[128];

	(void)state;
	put("cgroup.controllers", "cpu memory pids\n");
	put("lamina/cgroup.subtree_control", "");
	snprintf(leaf, sizeof(leaf), "lamina/sbx-%d-0", (int)getpid());
	lay_out_v2_leaf(leaf);
	assert_int_equal(cgroup_manager_init(&m, root, "lamina", true, NULL), 0);
	assert_int_equal(cgroup_create(&m, &cg, NULL), 0);
	assert_int_equal(cgroup_apply(cg, &limits, NULL), 0);
	/* Same limits for the next sandbox: nothing rewritten (a marker survives). */
	snprintf(rel, sizeof(rel), "%s/pids.max", leaf);
	put(rel, "marker");
	assert_int_equal(cgroup_apply(cg, &limits, NULL), 0);
	assert_string_equal(get(rel), "marker");
	/* Different limits: written again. */
	limits.pids_max = 11;
	assert_int_equal(cgroup_apply(cg, &limits, NULL), 0);
	assert_string_equal(get(rel), "11");
	/* A CPU change in between is remembered, not mistaken for the old value. */
	assert_int_equal(cgroup_set_cpu(cg, 50, NULL), 0);
	snprintf(rel, sizeof(rel), "%s/cpu.max", leaf);
	assert_string_equal(get(rel), "5000 100000");
	assert_int_equal(cgroup_apply(cg, &limits, NULL), 0);
	assert_string_equal(get(rel), "max 100000");
	cgroup_destroy(cg, NULL);
	cgroup_manager_fini(&m);
}

static void parent_path_must_be_relative(void **state)
{
	struct cgroup_manager m;
	struct lr_error err = { 0 };

	(void)state;
	put("cgroup.controllers", "cpu memory pids\n");
	assert_int_equal(cgroup_manager_init(&m, root, "/etc", false, &err), -EINVAL);
	assert_non_null(strstr(err.message, "relative"));
	assert_int_equal(cgroup_manager_init(&m, root, "a/../../b", false, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(detect_picks_v2_when_unified_has_the_controllers, make_root, remove_root),
		cmocka_unit_test_setup_teardown(detect_picks_v1_hybrid_when_unified_is_empty, make_root, remove_root),
		cmocka_unit_test_setup_teardown(detect_refuses_a_tree_without_controllers, make_root, remove_root),
		cmocka_unit_test_setup_teardown(v2_delegates_controllers_and_writes_limits, make_root, remove_root),
		cmocka_unit_test_setup_teardown(v2_unlimited_cpu_is_max, make_root, remove_root),
		cmocka_unit_test_setup_teardown(v1_hybrid_sets_limits_without_swap_and_kills_through_unified, make_root, remove_root),
		cmocka_unit_test_setup_teardown(v1_reused_cgroup_grows_memory_and_memsw_together, make_root, remove_root),
		cmocka_unit_test_setup_teardown(reused_cgroup_rewrites_only_changed_limits, make_root, remove_root),
		cmocka_unit_test_setup_teardown(parent_path_must_be_relative, make_root, remove_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
