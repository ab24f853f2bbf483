/* SPDX-License-Identifier: MIT */
#include "runtime_api.h"

#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"
#include "loop.h"

#define PREFIX "/2018-06-01/runtime/"
#define BODY_MAX (PAYLOAD_MAX_SYNC + 1024)
#define URL_MAX 512

struct rapi_conn {
	struct loop *loop;
	struct instance *inst;
	const struct rapi_handlers *h;
	int fd;
	bool closed;
	bool in_callback;
	http_parser parser;
	char url[URL_MAX];
	size_t url_len;
	char header[64];
	size_t header_len;
	bool in_value;		/* the parser is inside a header value */
	char error_type[32];
	char *body;
	size_t body_len, body_cap;
	bool body_too_large;
	char *out;
	size_t out_len, out_off;
	/* The acknowledgement of a response or error, sent by rapi_flush_acks() once the
	 * invoker's reply has gone out (it wakes the instance, which is not urgent), or,
	 * if the runtime pipelined its next GET, together with the next event. */
	const char *ack_status, *ack_body;
	struct rapi_conn *next_ack;
	bool in_acks;		/* on the list rapi_flush_acks() goes through */
	bool awaiting_event;	/* a GET /invocation/next is unanswered */
};

static struct rapi_conn *acks_head;

/* Takes c off the flush list; the acknowledgement, if any, stays due. */
static void ack_unlist(struct rapi_conn *c)
{
	if (!c->in_acks)
		return;
	for (struct rapi_conn **pp = &acks_head; *pp; pp = &(*pp)->next_ack)
		if (*pp == c) {
			*pp = c->next_ack;
			break;
		}
	c->next_ack = NULL;
	c->in_acks = false;
}

/* The acknowledgement is sent (or will never be). */
static void ack_unlink(struct rapi_conn *c)
{
	ack_unlist(c);
	c->ack_status = NULL;
}

static void conn_shutdown(struct rapi_conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	loop_unwatch(c->loop, c->fd);
	close(c->fd);
	c->fd = -1;
}

void rapi_conn_free(struct rapi_conn *c)
{
	if (!c)
		return;
	if (c->ack_status)
		ack_unlink(c);
	conn_shutdown(c);
	free(c->body);
	free(c->out);
	free(c);
}

static void conn_closed(struct rapi_conn *c)
{
	struct instance *inst = c->inst;
	const struct rapi_handlers *h = c->h;

	conn_shutdown(c);
	/* The instance owns c and frees it from here. */
	h->closed(inst, c);
}

static void conn_event(struct loop *loop, int fd, unsigned events, void *data);

/* An HTTP answer's head; size is at least 256. */
static int format_status(char *head, size_t size, const char *status, const char *body)
{
	return snprintf(head, size, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			status, strlen(body));
}

#define ANSWER_IOV_MAX 2	/* an answer is a head and a body */

static int conn_write(struct rapi_conn *c, const struct iovec *answer, int n_answer)
{
	struct iovec iov[2 + ANSWER_IOV_MAX];
	char ack_head[256];
	size_t total = 0, written;
	ssize_t r;
	int n = 0;

	if (n_answer > ANSWER_IOV_MAX)
		return -EINVAL;
	/* HTTP answers go in order: a deferred acknowledgement first, in the same write,
	 * so that a pipelining runtime wakes once for both. */
	if (c->ack_status) {
		const char *body = c->ack_body;
		int len = format_status(ack_head, sizeof(ack_head), c->ack_status, body);

		ack_unlink(c);
		iov[n++] = (struct iovec){ ack_head, (size_t)len };
		iov[n++] = (struct iovec){ (void *)body, strlen(body) };
	}
	for (int i = 0; i < n_answer; i++)
		iov[n++] = answer[i];
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (c->out_len > c->out_off) {
		r = 0;	/* keep order behind what is already queued */
	} else {
		r = writev(c->fd, iov, n);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (r < 0)
			r = 0;
	}
	written = (size_t)r;
	if (written == total)
		return 0;
	/* Queue the rest: rare (a slow reader), so simple. */
	{
		size_t rest = total - written, skip = written;
		char *p = realloc(c->out, c->out_len + rest);

		if (!p)
			return -ENOMEM;
		c->out = p;
		for (int i = 0; i < n; i++) {
			size_t len = iov[i].iov_len;
			const char *base = iov[i].iov_base;

			if (skip >= len) {
				skip -= len;
				continue;
			}
			memcpy(c->out + c->out_len, base + skip, len - skip);
			c->out_len += len - skip;
			skip = 0;
		}
	}
	loop_watch(c->loop, c->fd, LOOP_READ | LOOP_WRITE, conn_event, c);
	return 0;
}

static void reply_status(struct rapi_conn *c, const char *status, const char *body)
{
	char head[256];
	int n = format_status(head, sizeof(head), status, body);
	struct iovec iov[2] = { { head, (size_t)n }, { (void *)body, strlen(body) } };

	if (conn_write(c, iov, 2) < 0)
		conn_shutdown(c);
}

static void defer_ack(struct rapi_conn *c, const char *status, const char *body)
{
	c->ack_status = status;
	c->ack_body = body;
	c->next_ack = acks_head;
	acks_head = c;
	c->in_acks = true;
}

void rapi_flush_acks(void)
{
	while (acks_head) {
		struct rapi_conn *c = acks_head;
		const char *status = c->ack_status, *body = c->ack_body;

		/* A runtime that pipelined its next GET behind the response reads the
		 * acknowledgement only on its way to the next event: it stays due and leaves
		 * with the event (conn_write), so the instance wakes once per invocation. */
		if (c->awaiting_event && !c->closed) {
			ack_unlist(c);
			continue;
		}
		ack_unlink(c);
		if (!c->closed)
			reply_status(c, status, body);
	}
}

int rapi_send_event(struct rapi_conn *c, const char *request_id, uint64_t deadline_epoch_ms,
		    const char *function_arn, const char *body, size_t len)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\n"
			 "Content-Type: application/json\r\n"
			 "Lambda-Runtime-Aws-Request-Id: %s\r\n"
			 "Lambda-Runtime-Deadline-Ms: %llu\r\n"
			 "Lambda-Runtime-Invoked-Function-Arn: %s\r\n"
			 "Lambda-Runtime-Trace-Id: Root=1-%08llx-%.24s;Parent=%.16s;Sampled=0\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 request_id, (unsigned long long)deadline_epoch_ms, function_arn,
			 (unsigned long long)(deadline_epoch_ms / 1000), request_id, request_id, len);
	struct iovec iov[2] = { { head, (size_t)n }, { (void *)body, len } };

	if (c->closed)
		return -EPIPE;
	c->awaiting_event = false;
	return conn_write(c, iov, 2);
}

/* ---- parsing ---- */

static int on_message_begin(http_parser *p)
{
	struct rapi_conn *c = p->data;

	c->url_len = 0;
	c->body_len = 0;
	c->body_too_large = false;
	c->error_type[0] = '\0';
	c->header_len = 0;
	c->in_value = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct rapi_conn *c = p->data;

	if (c->url_len + len >= URL_MAX)
		return -1;
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct rapi_conn *c = p->data;

	/* A field may arrive in pieces; a new one starts after a value. */
	if (c->in_value)
		c->header_len = 0;
	c->in_value = false;
	if (c->header_len + len < sizeof(c->header)) {
		memcpy(c->header + c->header_len, at, len);
		c->header_len += len;
	}
	c->header[c->header_len] = '\0';
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct rapi_conn *c = p->data;

	if (!strcasecmp(c->header, "Lambda-Runtime-Function-Error-Type")) {
		size_t cur = strlen(c->error_type);

		if (cur + len < sizeof(c->error_type)) {
			memcpy(c->error_type + cur, at, len);
			c->error_type[cur + len] = '\0';
		}
	}
	c->in_value = true;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct rapi_conn *c = p->data;

	if (c->body_too_large || c->body_len + len > BODY_MAX) {
		c->body_too_large = true;
		return 0;
	}
	if (c->body_len + len > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 4096;
		char *b;

		while (cap < c->body_len + len)
			cap *= 2;
		b = realloc(c->body, cap);
		if (!b)
			return -1;
		c->body = b;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

/* ".../invocation/<id>/<what>" → id and what. */
static bool split_invocation_path(char *path, char **id, char **what)
{
	char *slash;

	if (strncmp(path, "invocation/", 11))
		return false;
	*id = path + 11;
	slash = strchr(*id, '/');
	if (!slash || slash == *id)
		return false;
	*slash = '\0';
	*what = slash + 1;
	return true;
}

static int on_message_complete(http_parser *p)
{
	struct rapi_conn *c = p->data;
	bool get = p->method == HTTP_GET, post = p->method == HTTP_POST;
	char *path = c->url, *id, *what, *q;
	const char *body = c->body ? c->body : "";

	if ((q = strchr(path, '?')))
		*q = '\0';
	if (strncmp(path, PREFIX, strlen(PREFIX))) {
		reply_status(c, "404 Not Found", "{\"errorMessage\":\"unknown path\",\"errorType\":\"InvalidRequest\"}");
		return 0;
	}
	path += strlen(PREFIX);
	if (get && !strcmp(path, "invocation/next")) {
		c->awaiting_event = true;
		c->h->next(c->inst, c);
	} else if (post && !strcmp(path, "init/error")) {
		reply_status(c, "202 Accepted", "{\"status\":\"OK\"}");
		c->h->init_error(c->inst, body, c->body_len);
	} else if (post && split_invocation_path(path, &id, &what) &&
		   (!strcmp(what, "response") || !strcmp(what, "error"))) {
		if (c->body_too_large)
			defer_ack(c, "413 Request Entity Too Large",
				  "{\"errorMessage\":\"Exceeded maximum allowed payload size (6291556 bytes).\",\"errorType\":\"RequestEntityTooLarge\"}");
		else
			defer_ack(c, "202 Accepted", "{\"status\":\"OK\"}");
		if (what[0] == 'r')
			c->h->response(c->inst, id, body, c->body_len, c->body_too_large);
		else
			c->h->error(c->inst, id, body, c->body_too_large ? 0 : c->body_len,
				    !strcasecmp(c->error_type, "Handled"));
	} else {
		reply_status(c, "404 Not Found", "{\"errorMessage\":\"unknown path\",\"errorType\":\"InvalidRequest\"}");
	}
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void conn_event(struct loop *loop, int fd, unsigned events, void *data)
{
	struct rapi_conn *c = data;
	char buf[65536];

	(void)fd;
	if (events & LOOP_WRITE) {
		while (c->out_off < c->out_len) {
			ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

			if (n < 0) {
				if (errno == EAGAIN)
					break;
				conn_closed(c);
				return;
			}
			c->out_off += n;
		}
		if (c->out_off == c->out_len) {
			c->out_off = c->out_len = 0;
			loop_watch(loop, c->fd, LOOP_READ, conn_event, c);
		}
	}
	if (!(events & LOOP_READ))
		return;
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		size_t parsed;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			conn_closed(c);
			return;
		}
		if (n == 0) {
			conn_closed(c);
			return;
		}
		parsed = http_parser_execute(&c->parser, &settings, buf, (size_t)n);
		if (c->closed) {
			conn_closed(c);
			return;
		}
		if (parsed != (size_t)n || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
			log_debug("runtime API: bad HTTP from instance: %s",
				  http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
			reply_status(c, "400 Bad Request", "{\"errorMessage\":\"bad request\",\"errorType\":\"InvalidRequest\"}");
			conn_closed(c);
			return;
		}
		if ((size_t)n < sizeof(buf))
			return;
	}
}

struct rapi_conn *rapi_conn_new(struct loop *loop, struct instance *inst, int fd,
				const struct rapi_handlers *handlers)
{
	struct rapi_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->loop = loop;
	c->inst = inst;
	c->h = handlers;
	c->fd = fd;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	if (loop_watch(loop, fd, LOOP_READ, conn_event, c) < 0) {
		free(c);
		return NULL;
	}
	return c;
}
