/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_WORKER_H
#define LAMINA_WORKER_H

/*
 * Child processes laminad forks for work its event loop must not wait on: storing a
 * client's code or an OCI image, deleting unused images. Each reports on a pipe or a
 * socket and dies with the daemon; what it leaves half-done is finished or cleaned up at
 * the daemon's next start.
 */

#include <sys/types.h>

/*
 * fork() for a worker talking over fds (a pipe or a socket pair): fds[0] is the daemon's
 * end, fds[1] the worker's. In the daemon: the worker's pid, fds[1] closed; -1 with errno
 * if it could not start (both ends closed). In the worker: 0, fds[0] closed, set up to die
 * with the daemon, default SIGTERM, SIGPIPE ignored; it ends with _exit().
 */
pid_t worker_fork(int fds[2]);

#endif
