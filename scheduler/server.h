/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_SERVER_H
#define LAMINA_SCHEDULER_SERVER_H

/*
 * The socket API: a Unix stream socket carrying newline-delimited JSON. Each request
 * line becomes a struct request handed to its action; the action replies exactly once,
 * at once or later (an invoke replies when the function answers). A connection may
 * pipeline; replies go out in the order they are ready. Every read and write is
 * non-blocking and every buffer is bounded: no client can stall the daemon.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "api_error.h"

#define REQUEST_MAX_LINE (7u << 20)	/* a 6 MB payload plus the envelope */

struct daemon;
struct conn;

struct request {
	struct daemon *daemon;
	struct conn *conn;
	json_t *id;		/* echoed back; owned */
	json_t *params;		/* the whole request object; owned */
	const char *action;	/* points into params */
	const char *line;	/* the raw request line: valid only during the handler call */
	size_t line_len;
	uid_t peer_uid;
	gid_t peer_gid;
	pid_t peer_pid;
	uint64_t received_ns;
};

struct server;

int server_open(struct daemon *d, const char *path, struct server **out, char *errbuf,
		size_t errlen);
/* Stops accepting, closes every connection and removes the socket file. */
void server_close(struct server *s);
unsigned server_connection_count(const struct server *s);
/* Writes out the replies gathered in this loop iteration: from the before-sleep hook. */
void server_flush(struct server *s);

/* Replies {"id", "ok": true, ...result}. Steals result (may be NULL: empty). Frees req. */
void request_reply(struct request *req, json_t *result);
/* Replies {<members>, "id", "ok": true} where the n members pieces, concatenated, are
 * raw JSON object content (without braces, no newline). Frees req. */
void request_reply_rawv(struct request *req, const struct iovec *members, int n);
/* Replies {"id", "ok": false, "error": {type, message}}. Frees req. */
void request_fail(struct request *req, const struct api_error *err);
void request_failf(struct request *req, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Typed parameter access with Lambda's error messages (InvalidParameterValueException).
 * Return 1 when present, 0 when absent and optional, -1 on error. */
int request_string(struct request *req, const char *key, bool required, const char **out,
		   struct api_error *err);
int request_uint(struct request *req, const char *key, uint64_t min, uint64_t max, bool required,
		 uint64_t *out, struct api_error *err);

#endif
