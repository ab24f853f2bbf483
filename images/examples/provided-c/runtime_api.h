/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_RUNTIME_API_CLIENT_H
#define LAMINA_RUNTIME_API_CLIENT_H

/*
 * A tiny client of the AWS Lambda Runtime API for `provided` bootstraps in C (lamina's
 * counterpart of the Go package): one persistent HTTP/1.1 connection, the socket
 * inherited as fd $LAMINA_RUNTIME_FD when set (lamina's fast path), else TCP to
 * $AWS_LAMBDA_RUNTIME_API. No stdio, no allocation once the receive buffer is big
 * enough; partial reads and writes, case-insensitive headers and chunked bodies are
 * handled. Errors of the API itself end the process with a message on stderr.
 *
 *   rt_init("name");
 *   for (struct rt_event ev; rt_next(&ev) == 0;)
 *           if (rt_respond(&ev, answer, answer_len) < 0)
 *                   break;
 *   _exit(0);     // the daemon is done with the instance
 */

#include <stddef.h>

struct rt_event {
	const char *request_id;		/* not NUL-terminated */
	size_t request_id_len;
	const char *body;		/* valid until rt_respond() */
	size_t body_len;
};

/* Connects; who prefixes the messages of a fatal error. */
void rt_init(const char *who);
/* Waits for the next event: 0, or -1 when the connection is gone. */
int rt_next(struct rt_event *ev);
/* Answers ev with body (which may be ev's own body) and already asks for the next
 * event (HTTP pipelining; the next rt_next() reads the acknowledgement first):
 * 0, or -1 when the connection is gone. */
int rt_respond(const struct rt_event *ev, const char *body, size_t len);

#endif
