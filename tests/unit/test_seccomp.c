/* SPDX-License-Identifier: MIT */
/*
 * The compiled syscall policy, installed in a forked child: allowed calls work, the
 * dangerous ones fail with EPERM, the unknown ones with ENOSYS.
 */
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../runtime/seccomp.h"

static struct sock_fprog prog;

static int compile(void **state)
{
	struct lr_error err = { 0 };

	(void)state;
	if (syscall_filter_compile(&prog, &err) < 0) {
		print_error("%s\n", err.message);
		return -1;
	}
	return 0;
}

static int release(void **state)
{
	(void)state;
	syscall_filter_free(&prog);
	return 0;
}

/* Runs the raw syscall under the filter in a child; returns its errno, or 0. */
static int errno_under_filter(long nr, long a0, long a1, long a2)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (syscall_filter_install(&prog) < 0)
			_exit(255);
		long r = syscall(nr, a0, a1, a2, 0, 0);
		_exit(r < 0 ? errno : 0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 255);
	return WEXITSTATUS(status);
}

static void ordinary_calls_are_allowed(void **state)
{
	(void)state;
	assert_int_equal(errno_under_filter(SYS_getpid, 0, 0, 0), 0);
	assert_int_equal(errno_under_filter(SYS_getppid, 0, 0, 0), 0);
	assert_int_equal(errno_under_filter(SYS_personality, 0xffffffff, 0, 0), 0);
}

static void escapes_fail_with_eperm(void **state)
{
	static const long calls[] = { SYS_mount, SYS_umount2, SYS_pivot_root, SYS_unshare,
				      SYS_setns, SYS_ptrace, SYS_process_vm_readv, SYS_bpf,
				      SYS_perf_event_open, SYS_keyctl, SYS_add_key, SYS_kexec_load,
				      SYS_init_module, SYS_finit_module, SYS_delete_module,
				      SYS_reboot, SYS_swapon, SYS_userfaultfd,
				      SYS_open_by_handle_at, SYS_io_uring_setup, SYS_chroot };

	(void)state;
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int e = errno_under_filter(calls[i], 0, 0, 0);
		if (e != EPERM)
			fail_msg("syscall %ld: errno %d, expected EPERM", calls[i], e);
	}
}

static void clone_with_namespace_flags_fails(void **state)
{
	static const long flags[] = { CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID,
				      CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP,
				      CLONE_NEWUSER | CLONE_NEWNS };

	(void)state;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		assert_int_equal(errno_under_filter(SYS_clone, flags[i] | SIGCHLD, 0, 0), EPERM);
}

static void clone3_is_unavailable_so_libc_falls_back_to_clone(void **state)
{
	struct clone_args args = { .exit_signal = SIGCHLD };

	(void)state;
	assert_int_equal(errno_under_filter(SYS_clone3, (long)&args, sizeof(args), 0), ENOSYS);
}

static void fork_still_works(void **state)
{
	int status;
	pid_t pid = fork();

	(void)state;
	if (pid == 0) {
		if (syscall_filter_install(&prog) < 0)
			_exit(2);
		pid_t child = fork();	/* glibc: clone3, then clone without ns flags */
		if (child == 0)
			_exit(0);
		if (child < 0 || waitpid(child, &status, 0) != child)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void unlisted_calls_fail_with_enosys(void **state)
{
	(void)state;
	assert_int_equal(errno_under_filter(SYS_sysfs, 3, 0, 0), ENOSYS);
	assert_int_equal(errno_under_filter(SYS_personality, READ_IMPLIES_EXEC, 0, 0), ENOSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ordinary_calls_are_allowed),
		cmocka_unit_test(escapes_fail_with_eperm),
		cmocka_unit_test(clone_with_namespace_flags_fails),
		cmocka_unit_test(clone3_is_unavailable_so_libc_falls_back_to_clone),
		cmocka_unit_test(fork_still_works),
		cmocka_unit_test(unlisted_calls_fail_with_enosys),
	};
	return cmocka_run_group_tests(tests, compile, release);
}
