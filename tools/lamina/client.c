/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "client.h"
#include "rawjson.h"

/*
 * A synchronous payload is at most 6 MB each way, and a function response that is not
 * JSON comes back as a JSON string, where escaping can make each byte six ("\u001f").
 * A response line longer than this is a daemon bug, not something to buffer forever.
 */
#define RESPONSE_MAX ((size_t)64 << 20)
#define READ_MIN 65536

/* A response that arrived while the client was waiting for another. */
struct stashed {
	json_int_t id;
	json_t *response;
	char *line;
	size_t line_len;
	struct stashed *next;
};

struct client {
	char *path;
	int fd;
	json_int_t next_id;
	int write_errno;	/* a request could not be written; see client_send */
	char *buf;		/* bytes read but not yet consumed */
	size_t len, cap;
	size_t scanned;		/* buf[0, scanned) holds no newline */
	struct stashed *stash;
	char error[512];
};

__attribute__((format(printf, 3, 4)))
static int fail(struct client *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return -code;
}

struct client *client_new(const char *socket_path)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->path = strdup(socket_path);
	if (!c->path) {
		free(c);
		return NULL;
	}
	c->fd = -1;
	c->next_id = 1;
	return c;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	while (c->stash) {
		struct stashed *s = c->stash;

		c->stash = s->next;
		json_decref(s->response);
		free(s->line);
		free(s);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c->path);
	free(c);
}

const char *client_socket_path(const struct client *c)
{
	return c->path;
}

const char *client_error(const struct client *c)
{
	return c->error;
}

static int client_connect(struct client *c)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(c->path) >= sizeof(addr.sun_path))
		return fail(c, ENAMETOOLONG, "cannot connect to laminad at %s: %s", c->path,
			    strerror(ENAMETOOLONG));
	strcpy(addr.sun_path, c->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(c, errno, "cannot connect to laminad at %s: socket: %s", c->path,
			    strerror(errno));
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		if (errno != EINTR)
			return fail(c, errno, "cannot connect to laminad at %s: %s", c->path,
				    strerror(errno));
	c->fd = take_fd(&fd);
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		/* MSG_NOSIGNAL: a daemon gone away is an EPIPE to report, not a SIGPIPE. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

json_int_t client_send(struct client *c, json_t *req, const char *raw_key, const char *raw,
		       size_t raw_len)
{
	_cleanup_free_ char *head = NULL, *line = NULL;
	json_int_t id;
	size_t head_len, len = 0;
	int r;

	if (c->fd < 0) {
		r = client_connect(c);
		if (r < 0)
			return r;
	}
	if (c->write_errno)
		return fail(c, c->write_errno, "lost connection to laminad at %s: %s", c->path,
			    strerror(c->write_errno));

	id = c->next_id++;
	if (json_object_set_new(req, "id", json_integer(id)) < 0)
		return fail(c, ENOMEM, "out of memory");
	head = json_dumps(req, JSON_COMPACT);
	if (!head)
		return fail(c, ENOMEM, "out of memory");
	head_len = strlen(head);

	/* The request is an object: drop its '}' and append the raw member and the newline. */
	line = malloc(head_len + (raw_key ? strlen(raw_key) + raw_len + 8 : 0) + 2);
	if (!line)
		return fail(c, ENOMEM, "out of memory");
	memcpy(line, head, head_len - 1);
	len = head_len - 1;
	if (raw_key) {
		len += (size_t)sprintf(line + len, "%s\"%s\":", head_len > 2 ? "," : "", raw_key);
		memcpy(line + len, raw, raw_len);
		len += raw_len;
	}
	line[len++] = '}';
	line[len++] = '\n';

	r = write_all(c->fd, line, len);
	if (r == -EPIPE || r == -ECONNRESET) {
		/*
		 * The daemon may have answered and closed before reading it all (a request
		 * over its size limit): the answer can still be read, so the caller waits,
		 * and this error is reported only if no answer comes.
		 */
		c->write_errno = -r;
		return id;
	}
	if (r < 0)
		return fail(c, -r, "cannot send to laminad at %s: %s", c->path, strerror(-r));
	return id;
}

/* Reads until buf holds a whole line; returns its length (without the newline). */
static ssize_t read_line(struct client *c)
{
	for (;;) {
		char *nl = c->len > c->scanned ? memchr(c->buf + c->scanned, '\n',
							c->len - c->scanned)
					       : NULL;
		ssize_t n;

		if (nl)
			return nl - c->buf;
		c->scanned = c->len;
		if (c->len >= RESPONSE_MAX)
			return fail(c, EMSGSIZE, "laminad at %s sent a response over %zu MB",
				    c->path, RESPONSE_MAX >> 20);
		if (c->cap - c->len < READ_MIN) {
			size_t cap = c->cap ? c->cap * 2 : 4 * READ_MIN;
			char *buf = realloc(c->buf, cap);

			if (!buf)
				return fail(c, ENOMEM, "out of memory");
			c->buf = buf;
			c->cap = cap;
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(c, errno, "lost connection to laminad at %s: %s", c->path,
				    strerror(errno));
		if (n == 0) {
			if (c->write_errno)
				return fail(c, c->write_errno, "lost connection to laminad at %s: %s",
					    c->path, strerror(c->write_errno));
			return fail(c, ECONNRESET, "laminad at %s closed the connection", c->path);
		}
		c->len += (size_t)n;
	}
}

/* Takes the next line out of the buffer and decodes it. */
static int next_response(struct client *c, json_t **response, char **line, size_t *line_len)
{
	json_error_t jerr;
	ssize_t n = read_line(c);
	json_t *o;

	if (n < 0)
		return (int)n;
	o = json_loadb(c->buf, (size_t)n, JSON_ALLOW_NUL, &jerr);
	if (!o && strstr(jerr.text, "too big"))
		o = json_loadb(c->buf, (size_t)n, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return fail(c, EPROTO, "laminad at %s sent a malformed response: %s", c->path,
			    o ? "not an object" : jerr.text);
	}
	*line = malloc((size_t)n + 1);
	if (!*line) {
		json_decref(o);
		return fail(c, ENOMEM, "out of memory");
	}
	memcpy(*line, c->buf, (size_t)n);
	*line_len = rawjson_minify(*line, (size_t)n);
	(*line)[*line_len] = '\0';

	c->len -= (size_t)n + 1;
	memmove(c->buf, c->buf + n + 1, c->len);
	c->scanned = 0;
	*response = o;
	return 0;
}

static void give(json_t *response, char *line, size_t len, json_t **out_response,
		 char **out_line, size_t *out_len)
{
	*out_response = response;
	if (out_line) {
		*out_line = line;
		*out_len = len;
	} else {
		free(line);
	}
}

int client_wait(struct client *c, json_int_t id, json_t **response, char **line,
		size_t *line_len)
{
	for (struct stashed **p = &c->stash; *p; p = &(*p)->next) {
		struct stashed *s = *p;

		if (s->id == id) {
			*p = s->next;
			give(s->response, s->line, s->line_len, response, line, line_len);
			free(s);
			return 0;
		}
	}

	if (c->fd < 0)
		return fail(c, ENOTCONN, "not connected to laminad at %s", c->path);
	for (;;) {
		json_t *o, *rid;
		char *text;
		size_t len;
		json_int_t got;
		struct stashed *s;
		int r = next_response(c, &o, &text, &len);

		if (r < 0)
			return r;
		rid = json_object_get(o, "id");
		/*
		 * A response without a usable id answers a request the daemon could not
		 * read (too large, not JSON): it is about the one this caller waits for.
		 */
		got = json_is_integer(rid) ? json_integer_value(rid) : id;
		if (got == id) {
			give(o, text, len, response, line, line_len);
			return 0;
		}
		if (got <= 0 || got >= c->next_id) {
			/* Not an answer to anything this client asked: ignore it. */
			json_decref(o);
			free(text);
			continue;
		}
		s = calloc(1, sizeof(*s));
		if (!s) {
			json_decref(o);
			free(text);
			return fail(c, ENOMEM, "out of memory");
		}
		*s = (struct stashed){ .id = got, .response = o, .line = text, .line_len = len,
				       .next = c->stash };
		c->stash = s;
	}
}
