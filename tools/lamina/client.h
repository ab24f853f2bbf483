/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_CLI_CLIENT_H
#define LAMINA_CLI_CLIENT_H

/*
 * A connection to laminad: newline-delimited JSON over a Unix stream socket. Requests
 * get increasing integer ids; responses may arrive in any order and are matched by id,
 * so several requests may be in flight at once. There is no timeout: a function may run
 * for 900 s and the client waits as long as the daemon takes.
 *
 * Functions that fail return a negative errno and leave a message for client_error().
 */

#include <jansson.h>
#include <stddef.h>

struct client;

/* Nothing is connected until the first request. */
struct client *client_new(const char *socket_path);
void client_free(struct client *c);

const char *client_socket_path(const struct client *c);

/*
 * Sets req's "id" and writes it as one line. raw_key, when not NULL, adds a member whose
 * value is raw[0, raw_len), compact JSON text sent as it is (the invocation payload).
 * Returns the id (> 0) or a negative errno.
 */
json_int_t client_send(struct client *c, json_t *req, const char *raw_key, const char *raw,
		       size_t raw_len);

/*
 * Waits for the response to id; *response is the whole decoded object. With line not
 * NULL, *line and *line_len give its text, minified (the caller frees it).
 */
int client_wait(struct client *c, json_int_t id, json_t **response, char **line,
		size_t *line_len);

/* What the last failure was, naming the socket: "cannot connect to laminad at …: …". */
const char *client_error(const struct client *c);

#endif
