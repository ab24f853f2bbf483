/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "actions.h"
#include "daemon.h"
#include "log.h"
#include "loop.h"

/* A client that does not read its replies is cut off past this much unsent output. */
#define CONN_MAX_OUTPUT (64u << 20)
/* Stop reading a client's requests while this much output waits for it. */
#define CONN_PAUSE_OUTPUT (8u << 20)
/* Requests in flight per connection before we stop reading from it. */
#define CONN_MAX_PENDING 1024
#define MAX_CONNECTIONS 4096

struct conn {
	struct server *server;
	int fd;
	unsigned refs;		/* the server's, plus one per request in flight */
	bool closed;
	bool read_eof;		/* the client half-closed: reply, then close */
	bool skipping;		/* discarding the rest of an oversized line */
	bool reading;
	bool writing;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	unsigned pending;
	struct ucred peer;
	struct conn *prev, *next;
	struct conn *next_dirty;	/* has output to flush before the loop sleeps */
	bool dirty;
};

struct server {
	struct daemon *daemon;
	int fd;
	char path[108];
	struct conn *conns;
	unsigned n_conns;
	struct conn *dirty;
};

static void conn_update_watch(struct conn *c);

static void conn_unref(struct conn *c)
{
	if (--c->refs)
		return;
	free(c->in);
	free(c->out);
	free(c);
}

static void conn_close(struct conn *c)
{
	struct server *s = c->server;

	if (c->closed)
		return;
	c->closed = true;
	loop_unwatch(s->daemon->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	conn_unref(c);
}

static void conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				conn_close(c);
			return;
		}
		c->out_off += n;
	}
	c->out_len = c->out_off = 0;
	if (c->read_eof && c->pending == 0)
		conn_close(c);
}

static void conn_send(struct conn *c, const char *data, size_t len)
{
	if (c->closed)
		return;
	if (c->out_len - c->out_off + len > CONN_MAX_OUTPUT) {
		log_warn("client pid %d reads none of its replies: disconnected", (int)c->peer.pid);
		conn_close(c);
		return;
	}
	if (c->out_off && c->out_len + len > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + len)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p) {
			conn_close(c);
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	/* Replies ready in one loop iteration leave in one write (server_flush). */
	if (!c->dirty) {
		c->dirty = true;
		c->refs++;
		c->next_dirty = c->server->dirty;
		c->server->dirty = c;
	}
}

void server_flush(struct server *s)
{
	while (s->dirty) {
		struct conn *c = s->dirty;

		s->dirty = c->next_dirty;
		c->next_dirty = NULL;
		c->dirty = false;
		if (!c->closed) {
			conn_flush(c);
			if (!c->closed)
				conn_update_watch(c);
		}
		conn_unref(c);
	}
}

static void send_json(struct conn *c, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	size_t len;

	if (!s)
		return;
	len = strlen(s);
	s[len] = '\n';	/* json_dumps leaves room for the NUL we overwrite */
	conn_send(c, s, len + 1);
	free(s);
}

static void request_free(struct request *req)
{
	struct conn *c = req->conn;

	json_decref(req->id);
	json_decref(req->params);
	free(req);
	c->pending--;
	if (!c->closed) {
		if (c->read_eof && c->pending == 0 && c->out_len == c->out_off)
			conn_close(c);
		else
			conn_update_watch(c);
	}
	conn_unref(c);
}

void request_reply(struct request *req, json_t *result)
{
	json_t *obj = result ? result : json_object();

	json_object_set(obj, "id", req->id ? req->id : json_null());
	json_object_set_new(obj, "ok", json_true());
	send_json(req->conn, obj);
	json_decref(obj);
	request_free(req);
}

void request_reply_rawv(struct request *req, const struct iovec *members, int n)
{
	struct conn *c = req->conn;
	char *id = json_dumps(req->id ? req->id : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
	size_t id_len = id ? strlen(id) : 4, len = 0;
	char tail[] = ",\"ok\":true}\n";

	conn_send(c, "{", 1);
	for (int i = 0; i < n; i++) {
		conn_send(c, members[i].iov_base, members[i].iov_len);
		len += members[i].iov_len;
	}
	conn_send(c, len ? ",\"id\":" : "\"id\":", len ? 6 : 5);
	conn_send(c, id ? id : "null", id_len);
	conn_send(c, tail, sizeof(tail) - 1);
	free(id);
	request_free(req);
}

static void reply_error(struct conn *c, json_t *id, const char *type, const char *message)
{
	json_t *obj = json_pack("{s:O, s:b, s:{s:s, s:s}}", "id", id ? id : json_null(), "ok", 0,
				"error", "type", type, "message", message);

	if (obj)
		send_json(c, obj);
	json_decref(obj);
}

void request_fail(struct request *req, const struct api_error *err)
{
	reply_error(req->conn, req->id, err->type ? err->type : API_ERR_SERVICE, err->message);
	request_free(req);
}

void request_failf(struct request *req, const char *type, const char *fmt, ...)
{
	struct api_error err = { .type = type };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	request_fail(req, &err);
}

int request_string(struct request *req, const char *key, bool required, const char **out,
		   struct api_error *err)
{
	json_t *v = json_object_get(req->params, key);

	if (!v || json_is_null(v)) {
		if (required)
			return api_error_set(err, API_ERR_INVALID, "%s is required", key);
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return api_error_set(err, API_ERR_INVALID, "%s must be a string", key);
	*out = json_string_value(v);
	return 1;
}

int request_uint(struct request *req, const char *key, uint64_t min, uint64_t max, bool required,
		 uint64_t *out, struct api_error *err)
{
	json_t *v = json_object_get(req->params, key);

	if (!v || json_is_null(v)) {
		if (required)
			return api_error_set(err, API_ERR_INVALID, "%s is required", key);
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < min || (uint64_t)json_integer_value(v) > max)
		return api_error_set(err, API_ERR_INVALID,
				     "%s must be a whole number between %llu and %llu", key,
				     (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

/* Whether a string in v holds a NUL (JSON's \u0000). */
static bool has_nul(json_t *v)
{
	const char *key;
	json_t *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strlen(json_string_value(v)) != json_string_length(v);
	case JSON_OBJECT:
		json_object_foreach(v, key, x)
			if (has_nul(x))
				return true;
		return false;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			if (has_nul(x))
				return true;
		return false;
	default:
		return false;
	}
}

/*
 * A NUL in a string is valid JSON, and an event may hold one: Payload goes through as
 * written. Everywhere else the daemon reads C strings, which a NUL would silently cut
 * short ("name\u0000x" taken as "name"): refused. The parser's depth limit bounds the
 * recursion.
 */
static const char *member_with_nul(json_t *params)
{
	const char *key;
	json_t *v;

	json_object_foreach(params, key, v)
		if (strcmp(key, "Payload") && has_nul(v))
			return key;
	return NULL;
}

static void dispatch_line(struct conn *c, const char *line, size_t len)
{
	struct daemon *d = c->server->daemon;
	json_error_t jerr;
	json_t *params, *action;
	struct request *req;
	const struct action *a;
	const char *nul;

	params = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
	if (!params) {
		char msg[300];

		snprintf(msg, sizeof(msg), "malformed JSON at column %d: %s", jerr.column, jerr.text);
		reply_error(c, NULL, API_ERR_INVALID, msg);
		return;
	}
	if (!json_is_object(params)) {
		reply_error(c, NULL, API_ERR_INVALID, "a request must be a JSON object");
		json_decref(params);
		return;
	}
	nul = member_with_nul(params);
	if (nul) {
		char msg[300];

		snprintf(msg, sizeof(msg),
			 "%.200s must not contain a NUL character (\\u0000): only Payload may", nul);
		reply_error(c, json_object_get(params, "id"), API_ERR_INVALID, msg);
		json_decref(params);
		return;
	}
	req = calloc(1, sizeof(*req));
	if (!req) {
		reply_error(c, json_object_get(params, "id"), API_ERR_SERVICE, "out of memory");
		json_decref(params);
		return;
	}
	req->daemon = d;
	req->conn = c;
	req->params = params;
	req->id = json_incref(json_object_get(params, "id"));
	req->line = line;
	req->line_len = len;
	req->peer_uid = c->peer.uid;
	req->peer_gid = c->peer.gid;
	req->peer_pid = c->peer.pid;
	req->received_ns = loop_now_ns();
	c->refs++;
	c->pending++;
	action = json_object_get(params, "action");
	if (!json_is_string(action)) {
		request_failf(req, API_ERR_INVALID, "\"action\" must be a string naming the operation");
		return;
	}
	req->action = json_string_value(action);
	a = action_find(req->action);
	if (!a) {
		request_failf(req, API_ERR_INVALID, "unknown action '%s'", req->action);
		return;
	}
	a->handle(req);
	/* Synchronous changes are done by now; deploys bump again when their code is in. */
	if (a->mutates)
		d->registry_generation++;
}

static void conn_read(struct conn *c)
{
	for (int rounds = 0; rounds < 16 && !c->closed; rounds++) {
		ssize_t n;
		size_t start = 0, avail;

		if (c->pending >= CONN_MAX_PENDING || c->out_len - c->out_off > CONN_PAUSE_OUTPUT)
			break;
		if (c->in_cap - c->in_len < 65536) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 65536;
			char *p;

			if (cap > REQUEST_MAX_LINE + 65536)
				cap = REQUEST_MAX_LINE + 65536;
			if (cap > c->in_cap) {
				p = realloc(c->in, cap);
				if (!p) {
					conn_close(c);
					return;
				}
				c->in = p;
				c->in_cap = cap;
			}
		}
		avail = c->in_cap - c->in_len;
		n = recv(c->fd, c->in + c->in_len, avail, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				conn_close(c);
			break;
		}
		if (n == 0) {
			c->read_eof = true;
			if (c->pending == 0 && c->out_len == c->out_off)
				conn_close(c);
			else
				conn_update_watch(c);
			break;
		}
		c->in_len += n;
		for (;;) {
			char *nl = memchr(c->in + start, '\n', c->in_len - start);
			size_t len;

			if (!nl)
				break;
			len = nl - (c->in + start);
			if (c->skipping)
				c->skipping = false;
			else if (len > 0 && !(len == 1 && c->in[start] == '\r'))
				dispatch_line(c, c->in + start, len);
			start += len + 1;
			if (c->closed)
				return;
		}
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
		if (c->in_len > REQUEST_MAX_LINE) {
			/* Cannot parse it, cannot find its id: say so, drop to the next line. */
			if (!c->skipping)
				reply_error(c, NULL, API_ERR_TOO_LARGE,
					    "request line exceeds the maximum of 7340032 bytes");
			c->skipping = true;
			c->in_len = 0;
		}
		/* A short read emptied the socket: no need for a read that says EAGAIN (the
		 * watch is level-triggered, anything newer wakes the loop again). */
		if ((size_t)n < avail)
			break;
	}
	if (!c->closed)
		conn_update_watch(c);
}

static void conn_event(struct loop *loop, int fd, unsigned events, void *data)
{
	struct conn *c = data;

	(void)loop;
	(void)fd;
	c->refs++;
	if (events & LOOP_WRITE)
		conn_flush(c);
	if (!c->closed && (events & LOOP_READ))
		conn_read(c);
	conn_unref(c);
}

static void conn_update_watch(struct conn *c)
{
	bool want_read = !c->read_eof && c->pending < CONN_MAX_PENDING &&
			 c->out_len - c->out_off <= CONN_PAUSE_OUTPUT;
	/* Replies waiting for server_flush need no POLLOUT: it writes them before the loop
	 * sleeps. Only what a flush could not write waits for the socket to drain. */
	bool want_write = c->out_len > c->out_off && !c->dirty;
	unsigned ev = (want_read ? LOOP_READ : 0) | (want_write ? LOOP_WRITE : 0);

	if (want_read == c->reading && want_write == c->writing)
		return;
	c->reading = want_read;
	c->writing = want_write;
	if (ev)
		loop_watch(c->server->daemon->loop, c->fd, ev, conn_event, c);
	else
		loop_unwatch(c->server->daemon->loop, c->fd);
}

static void server_accept(struct loop *loop, int fd, unsigned events, void *data)
{
	struct server *s = data;

	(void)events;
	for (int i = 0; i < 64; i++) {
		socklen_t len = sizeof(struct ucred);
		struct conn *c;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept on the API socket: %s", strerror(errno));
			return;
		}
		if (s->n_conns >= MAX_CONNECTIONS) {
			log_warn("API connection refused: %u clients connected", s->n_conns);
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->server = s;
		c->fd = cfd;
		c->refs = 1;
		getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
		c->reading = true;
		if (loop_watch(loop, cfd, LOOP_READ, conn_event, c) < 0)
			conn_close(c);
	}
}

int server_open(struct daemon *d, const char *path, struct server **out, char *errbuf, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct server *s;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(errbuf, errlen, "socket path '%s' is too long", path);
		return -1;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(errbuf, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* A stale socket of a dead daemon is replaced; a live one is not. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		snprintf(errbuf, errlen, "another laminad is serving '%s'", path);
		close(fd);
		return -1;
	}
	unlink(path);
	/* 0660: root and the socket's group may use the API. */
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r < 0 || listen(fd, 1024) < 0) {
		snprintf(errbuf, errlen, "listen on '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	s->daemon = d;
	s->fd = fd;
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (loop_watch(d->loop, fd, LOOP_READ, server_accept, s) < 0) {
		snprintf(errbuf, errlen, "watch API socket failed");
		close(fd);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void server_close(struct server *s)
{
	if (!s)
		return;
	server_flush(s);
	while (s->conns)
		conn_close(s->conns);
	loop_unwatch(s->daemon->loop, s->fd);
	close(s->fd);
	unlink(s->path);
	free(s);
}

unsigned server_connection_count(const struct server *s)
{
	return s->n_conns;
}
