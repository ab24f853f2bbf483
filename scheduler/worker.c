/* SPDX-License-Identifier: MIT */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

pid_t worker_fork(int fds[2])
{
	pid_t parent = getpid(), pid = fork();
	int saved;

	if (pid < 0) {
		saved = errno;
		close(fds[0]);
		close(fds[1]);
		errno = saved;
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)	/* the daemon died before the line above */
		_exit(1);
	close(fds[0]);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}
