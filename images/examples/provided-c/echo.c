/* SPDX-License-Identifier: MIT */
/*
 * echo — a `provided`-runtime bootstrap in C that returns every event unchanged, on
 * lamina's small Runtime API client (runtime_api.h):
 *
 *   loop: GET  /2018-06-01/runtime/invocation/next            -> event
 *         POST /2018-06-01/runtime/invocation/{id}/response    <- the same bytes
 *
 * Built for the warm-invoke benchmark, so the loop does the minimum: one write() for the
 * GET, one read() per response in the common case, one writev() (header + body, the body
 * straight from the receive buffer) for the POST. When the connection closes the process
 * exits with status 0: the daemon is done with the instance.
 *
 *   cc -static -O2 -o bootstrap echo.c runtime_api.c
 */
#include <unistd.h>

#include "runtime_api.h"

int main(void)
{
	struct rt_event ev;

	rt_init("echo");
	while (rt_next(&ev) == 0)
		if (rt_respond(&ev, ev.body, ev.body_len) < 0)
			break;
	_exit(0);
}
