/* SPDX-License-Identifier: MIT */
/*
 * `laminad --metrics ADDR:PORT`: GET /metrics in Prometheus' text format, served from the
 * event loop. One request per connection (Connection: close), a bounded number of
 * connections, and a deadline for each, so a scraper that stalls costs one fd for a
 * few seconds and never blocks the loop.
 */
#include "metrics_http.h"

#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"

#define MAX_CONNS 32
#define CONN_DEADLINE_MS 5000
#define URL_MAX 256

struct http_conn {
	struct metrics_http *srv;
	int fd;
	http_parser parser;
	char url[URL_MAX];
	size_t url_len;
	bool head;			/* HEAD: headers only */
	bool complete;
	char *out;
	size_t out_len, out_off;
	struct loop_timer *deadline;
};

struct metrics_http {
	struct daemon *d;
	int fd;
	struct http_conn *conns[MAX_CONNS];
};

static void conn_close(struct http_conn *c)
{
	struct metrics_http *srv = c->srv;

	for (int i = 0; i < MAX_CONNS; i++)
		if (srv->conns[i] == c)
			srv->conns[i] = NULL;
	if (c->deadline)
		loop_timer_cancel(srv->d->loop, c->deadline);
	loop_unwatch(srv->d->loop, c->fd);
	close(c->fd);
	free(c->out);
	free(c);
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (c->url_len + len >= URL_MAX)
		return -1;
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int on_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->complete = true;
	c->head = p->method == HTTP_HEAD;
	/* One request per connection: stop parsing here. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_message_complete = on_complete,
};

static void respond(struct http_conn *c, int status, const char *reason, const char *type,
		    const char *body, size_t body_len)
{
	char *out = NULL;
	int n = asprintf(&out,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, reason, type, body_len);

	if (n < 0)
		return;
	if (!c->head && body_len) {
		char *all = realloc(out, (size_t)n + body_len);

		if (!all) {
			free(out);
			return;
		}
		memcpy(all + n, body, body_len);
		out = all;
		n += (int)body_len;
	}
	c->out = out;
	c->out_len = (size_t)n;
}

static void conn_write(struct http_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN)
			return;	/* watched for LOOP_WRITE: called again when it drains */
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	conn_close(c);
}

static void conn_event(struct loop *loop, int fd, unsigned events, void *data);

static void conn_handle(struct http_conn *c)
{
	const char *path_end = strpbrk(c->url, "?#");
	size_t path_len = path_end ? (size_t)(path_end - c->url) : strlen(c->url);

	if (c->parser.method != HTTP_GET && c->parser.method != HTTP_HEAD) {
		static const char msg[] = "only GET /metrics is served here\n";

		respond(c, 405, "Method Not Allowed", "text/plain", msg, sizeof(msg) - 1);
	} else if (path_len == 8 && !strncmp(c->url, "/metrics", 8)) {
		size_t len = 0;
		char *text = metrics_prometheus(c->srv->d, &len);

		if (text)
			respond(c, 200, "OK", METRICS_CONTENT_TYPE, text, len);
		else
			respond(c, 500, "Internal Server Error", "text/plain", "out of memory\n", 14);
		free(text);
	} else {
		static const char msg[] = "not found: the metrics are at /metrics\n";

		respond(c, 404, "Not Found", "text/plain", msg, sizeof(msg) - 1);
	}
	if (!c->out) {
		conn_close(c);
		return;
	}
	loop_watch(c->srv->d->loop, c->fd, LOOP_WRITE, conn_event, c);
	conn_write(c);
}

static void conn_event(struct loop *loop, int fd, unsigned events, void *data)
{
	struct http_conn *c = data;
	char buf[4096];
	ssize_t n;

	(void)loop;
	(void)fd;
	if (c->out) {
		if (events & LOOP_WRITE)
			conn_write(c);
		return;
	}
	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	http_parser_execute(&c->parser, &settings, buf, (size_t)n);
	if (c->complete) {
		conn_handle(c);
	} else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
		static const char msg[] = "malformed HTTP request\n";

		respond(c, 400, "Bad Request", "text/plain", msg, sizeof(msg) - 1);
		if (!c->out) {
			conn_close(c);
			return;
		}
		loop_watch(c->srv->d->loop, c->fd, LOOP_WRITE, conn_event, c);
		conn_write(c);
	}
}

static int64_t conn_expired(struct loop *loop, struct loop_timer *timer, void *data)
{
	struct http_conn *c = data;

	(void)loop;
	(void)timer;
	c->deadline = NULL;
	conn_close(c);
	return LOOP_TIMER_DONE;
}

static void on_accept(struct loop *loop, int fd, unsigned events, void *data)
{
	struct metrics_http *srv = data;

	(void)events;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct http_conn *c;
		int slot = -1;

		if (cfd < 0)
			return;
		for (int i = 0; i < MAX_CONNS && slot < 0; i++)
			if (!srv->conns[i])
				slot = i;
		c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(cfd);	/* full: scrapers retry */
			continue;
		}
		c->srv = srv;
		c->fd = cfd;
		http_parser_init(&c->parser, HTTP_REQUEST);
		c->parser.data = c;
		srv->conns[slot] = c;
		c->deadline = loop_timer_add(loop, CONN_DEADLINE_MS, conn_expired, c);
		if (!c->deadline || loop_watch(loop, cfd, LOOP_READ, conn_event, c) < 0)
			conn_close(c);
	}
}

int metrics_http_open(struct daemon *d, const char *address, struct metrics_http **out, char *errbuf,
		      size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	struct metrics_http *srv;
	char host[128];
	const char *colon = strrchr(address, ':');
	size_t host_len;
	int one = 1, r;

	if (!colon || !colon[1] || (size_t)(colon - address) >= sizeof(host)) {
		snprintf(errbuf, errlen, "--metrics '%s': expected ADDR:PORT, like 127.0.0.1:9464", address);
		return -1;
	}
	host_len = (size_t)(colon - address);
	if (host_len >= 2 && address[0] == '[' && address[host_len - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)host_len - 2, address + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)host_len, address);
	r = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (r != 0) {
		snprintf(errbuf, errlen, "--metrics '%s': %s", address, gai_strerror(r));
		return -1;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		freeaddrinfo(ai);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	srv->d = d;
	srv->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0 || setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(srv->fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(srv->fd, 64) < 0 ||
	    loop_watch(d->loop, srv->fd, LOOP_READ, on_accept, srv) < 0) {
		snprintf(errbuf, errlen, "--metrics '%s': %s", address, strerror(errno));
		if (srv->fd >= 0)
			close(srv->fd);
		free(srv);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	*out = srv;
	return 0;
}

void metrics_http_close(struct metrics_http *srv)
{
	if (!srv)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (srv->conns[i])
			conn_close(srv->conns[i]);
	loop_unwatch(srv->d->loop, srv->fd);
	close(srv->fd);
	free(srv);
}
