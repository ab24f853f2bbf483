/* SPDX-License-Identifier: MIT */
/* The Runtime API client of runtime_api.h. */
#include "runtime_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *who = "bootstrap";

#define API_PREFIX "/2018-06-01/runtime"
#define MAX_BODY ((size_t)64 << 20) /* far above Lambda's 6 MB payload limit */
#define MAX_HEADER ((size_t)64 << 10)
#define MAX_RID 128

static int conn = -1;
static int use_tcp;
static struct sockaddr_storage api_addr;
static socklen_t api_addrlen;
static char host_hdr[256];
static size_t host_len;

/* Receive buffer: bytes [off, len) are unconsumed. */
static char *buf;
static size_t cap, len, off;

struct response {
	int status;
	int close;          /* "Connection: close" */
	size_t body;        /* offset of the body in buf */
	size_t body_len;
	size_t end;         /* offset just past this response */
	size_t rid;         /* offset of the request id value in buf */
	size_t rid_len;
};

/* ---- tiny helpers (no stdio) ------------------------------------------------------- */

static void say(const char *msg)
{
	size_t n = strlen(msg);
	while (n > 0) {
		ssize_t w = write(2, msg, n);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		msg += w;
		n -= (size_t)w;
	}
}

static void die(const char *msg)
{
	say(who);
	say(": ");
	say(msg);
	say("\n");
	_exit(1);
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Case-insensitive: does [s, s+n) equal the lower-case literal lit? */
static int name_is(const char *s, size_t n, const char *lit, size_t litlen)
{
	if (n != litlen)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != lit[i])
			return 0;
	return 1;
}

/* Case-insensitive substring search for a lower-case literal. */
static int contains_ci(const char *s, size_t n, const char *lit, size_t litlen)
{
	for (size_t i = 0; i + litlen <= n; i++) {
		size_t j = 0;
		while (j < litlen && lower(s[i + j]) == lit[j])
			j++;
		if (j == litlen)
			return 1;
	}
	return 0;
}

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static char *put_size(char *p, size_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return put(p, tmp + i, sizeof tmp - i);
}

/* ---- connection --------------------------------------------------------------------- */

static void parse_api_addr(const char *api)
{
	const char *colon = strrchr(api, ':');
	char host[200];
	size_t hl;
	long port = 80;

	if (colon) {
		char *endp;
		port = strtol(colon + 1, &endp, 10);
		if (*endp || port <= 0 || port > 65535)
			die("bad port in AWS_LAMBDA_RUNTIME_API");
		hl = (size_t)(colon - api);
	} else {
		hl = strlen(api);
	}
	if (hl >= sizeof host)
		die("AWS_LAMBDA_RUNTIME_API too long");
	memcpy(host, api, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if (strcmp(host, "localhost") == 0 || host[0] == '\0')
		strcpy(host, "127.0.0.1");

	memset(&api_addr, 0, sizeof api_addr);
	struct sockaddr_in *a4 = (struct sockaddr_in *)&api_addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&api_addr;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		api_addrlen = sizeof *a4;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		api_addrlen = sizeof *a6;
	} else {
		die("AWS_LAMBDA_RUNTIME_API must be a numeric address:port");
	}
}

static int tcp_connect(void)
{
	int fd = socket(api_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	while (connect(fd, (struct sockaddr *)&api_addr, api_addrlen) < 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		return -1;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void reconnect(void)
{
	if (!use_tcp)
		_exit(0); /* the inherited connection cannot be re-established */
	if (conn >= 0)
		close(conn);
	conn = tcp_connect();
	if (conn < 0)
		_exit(0);
	len = off = 0;
}

/* ---- I/O ---------------------------------------------------------------------------- */

/* Write all iovecs; partial writes resumed. Returns -1 if the peer is gone. */
static int send_all(struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(conn, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		size_t left = (size_t)w;
		while (n > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

static void reserve(size_t need)
{
	if (need <= cap)
		return;
	size_t ncap = cap ? cap : 65536;
	while (ncap < need)
		ncap *= 2;
	char *nb = realloc(buf, ncap);
	if (!nb)
		die("out of memory");
	buf = nb;
	cap = ncap;
}

/* Read more bytes into buf; at least `want` bytes of room. Returns -1 on EOF/error. */
static int fill(size_t want)
{
	if (cap - len < want || cap - len < 4096)
		reserve(len + (want > 65536 ? want : 65536));
	for (;;) {
		ssize_t r = read(conn, buf + len, cap - len);
		if (r > 0) {
			len += (size_t)r;
			return 0;
		}
		if (r < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

/*
 * Chunked body starting at offset `start`: returns 1 when complete (decoded in place:
 * data moved to `start`, *body_len set, *end set past the trailers), 0 if more bytes are
 * needed, -1 if malformed. *scan remembers how far whole chunks were already checked.
 */
static int dechunk(size_t start, size_t *scan, size_t *body_len, size_t *end)
{
	size_t p = *scan;
	for (;;) {
		char *eol = memmem(buf + p, len - p, "\r\n", 2);
		if (!eol)
			return 0;
		size_t size = 0, i = p;
		int digits = 0;
		for (; buf + i < eol; i++) {
			char c = lower(buf[i]);
			int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
			if (d < 0)
				break; /* chunk extension or whitespace */
			if (size > MAX_BODY)
				return -1;
			size = size * 16 + (size_t)d;
			digits++;
		}
		if (!digits)
			return -1;
		size_t data = (size_t)(eol - buf) + 2;
		if (size == 0) {
			/* trailers, up to an empty line */
			size_t t = data;
			for (;;) {
				char *e2 = memmem(buf + t, len - t, "\r\n", 2);
				if (!e2)
					return 0;
				if ((size_t)(e2 - buf) == t) {
					t += 2;
					break;
				}
				t = (size_t)(e2 - buf) + 2;
			}
			/* complete: second pass moves the data together */
			size_t q = start, w = start;
			for (;;) {
				char *e = memmem(buf + q, len - q, "\r\n", 2);
				size_t sz = strtoul(buf + q, NULL, 16);
				size_t d0 = (size_t)(e - buf) + 2;
				if (sz == 0)
					break;
				memmove(buf + w, buf + d0, sz);
				w += sz;
				q = d0 + sz + 2;
			}
			*body_len = w - start;
			*end = t;
			return 1;
		}
		if (size > MAX_BODY)
			return -1;
		if (data + size + 2 > len) {
			reserve(data + size + 2); /* so that the next read can take it all */
			*scan = p;
			return 0;
		}
		p = data + size + 2;
		*scan = p;
	}
}

/* Read one complete response. Returns -1 if the connection is gone. */
static int read_response(struct response *r)
{
	/* Compact: drop what the previous exchange consumed. */
	if (off == len) {
		off = len = 0;
	} else if (off > 0) {
		memmove(buf, buf + off, len - off);
		len -= off;
		off = 0;
	}
again:;
	size_t hdr_end;
	for (;;) {
		char *e = len > off ? memmem(buf + off, len - off, "\r\n\r\n", 4) : NULL;
		if (e) {
			hdr_end = (size_t)(e - buf) + 4;
			break;
		}
		if (len - off > MAX_HEADER)
			die("response header too large");
		if (fill(0) < 0)
			return -1;
	}

	const char *h = buf + off;
	if (hdr_end - off < 12 || memcmp(h, "HTTP/1.", 7) != 0)
		die("malformed response status line");
	if (h[9] < '0' || h[9] > '9' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9')
		die("malformed response status line");
	r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
	r->close = 0;
	r->rid = 0;
	r->rid_len = 0;

	size_t content_length = 0;
	int chunked = 0;
	size_t p = (size_t)((char *)memchr(h, '\n', hdr_end - off) - buf) + 1;
	while (p < hdr_end - 2) { /* up to the empty line */
		char *nl = memchr(buf + p, '\n', hdr_end - p);
		size_t line_end = (size_t)(nl - buf); /* at '\n' */
		size_t le = line_end;
		if (le > p && buf[le - 1] == '\r')
			le--;
		char *colon = memchr(buf + p, ':', le - p);
		if (colon) {
			size_t name_len = (size_t)(colon - (buf + p));
			size_t v = (size_t)(colon - buf) + 1;
			while (v < le && (buf[v] == ' ' || buf[v] == '\t'))
				v++;
			size_t ve = le;
			while (ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
				ve--;
			const char *name = buf + p;
			switch (lower(name[0])) {
			case 'c':
				if (name_is(name, name_len, "content-length", 14)) {
					content_length = 0;
					if (v == ve)
						die("empty Content-Length");
					for (size_t i = v; i < ve; i++) {
						if (buf[i] < '0' || buf[i] > '9' || content_length > MAX_BODY)
							die("bad Content-Length");
						content_length = content_length * 10 + (size_t)(buf[i] - '0');
					}
					if (content_length > MAX_BODY)
						die("response body too large");
				} else if (name_is(name, name_len, "connection", 10)) {
					r->close = contains_ci(buf + v, ve - v, "close", 5);
				}
				break;
			case 'l':
				if (name_is(name, name_len, "lambda-runtime-aws-request-id", 29)) {
					r->rid = v;
					r->rid_len = ve - v;
				}
				break;
			case 't':
				if (name_is(name, name_len, "transfer-encoding", 17))
					chunked = contains_ci(buf + v, ve - v, "chunked", 7);
				break;
			default:
				break;
			}
		}
		p = line_end + 1;
	}

	if (r->status >= 100 && r->status < 200) {
		/* interim response (100 Continue): skip it */
		off = hdr_end;
		goto again;
	}

	r->body = hdr_end;
	if (chunked) {
		size_t scan = hdr_end, body_len = 0, end = 0;
		for (;;) {
			int d = dechunk(hdr_end, &scan, &body_len, &end);
			if (d > 0)
				break;
			if (d < 0)
				die("malformed chunked response");
			if (fill(0) < 0)
				return -1;
		}
		r->body_len = body_len;
		r->end = end;
	} else {
		r->body_len = content_length;
		r->end = hdr_end + content_length;
		if (r->end > len)
			reserve(r->end);
		while (len < r->end)
			if (fill(r->end - len) < 0)
				return -1;
	}
	return 0;
}

/* ---- the API ------------------------------------------------------------------------ */

static char next_req[512];
static size_t next_len;
static struct response cur;
/* rt_respond() pipelines the next GET behind its POST: the server's answers to both
 * (202, then the next event) are read by rt_next(), so a warm instance wakes once per
 * invocation instead of twice. */
static int next_sent, ack_pending;

void rt_init(const char *name)
{
	const char *fd_env = getenv("LAMINA_RUNTIME_FD");
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	struct sigaction sa;
	char *q;

	who = name;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL); /* a vanished peer is EPIPE, then a clean exit */

	if (fd_env && *fd_env) {
		char *endp;
		long fd = strtol(fd_env, &endp, 10);
		if (*endp || fd < 0 || fd > 1 << 20)
			die("bad LAMINA_RUNTIME_FD");
		conn = (int)fd;
		/* Blocking I/O, whatever flags the daemon's end was created with. */
		int fl = fcntl(conn, F_GETFL);
		if (fl < 0)
			die("LAMINA_RUNTIME_FD is not an open file descriptor");
		if ((fl & O_NONBLOCK) && fcntl(conn, F_SETFL, fl & ~O_NONBLOCK) < 0)
			die("cannot make LAMINA_RUNTIME_FD blocking");
		(void)fcntl(conn, F_SETFD, FD_CLOEXEC);
		strcpy(host_hdr, "lamina");
	} else if (api && *api) {
		if (strlen(api) >= sizeof host_hdr)
			die("AWS_LAMBDA_RUNTIME_API too long");
		strcpy(host_hdr, api);
		parse_api_addr(api);
		use_tcp = 1;
		conn = tcp_connect();
		if (conn < 0)
			die("cannot connect to AWS_LAMBDA_RUNTIME_API");
	} else {
		die("neither LAMINA_RUNTIME_FD nor AWS_LAMBDA_RUNTIME_API is set");
	}
	host_len = strlen(host_hdr);
	reserve(65536);

	/* The GET is the same every time. */
	q = next_req;
	q = put(q, "GET " API_PREFIX "/invocation/next HTTP/1.1\r\nHost: ",
		sizeof("GET " API_PREFIX "/invocation/next HTTP/1.1\r\nHost: ") - 1);
	q = put(q, host_hdr, host_len);
	q = put(q, "\r\n\r\n", 4);
	next_len = (size_t)(q - next_req);
}

static int send_next(void)
{
	struct iovec iov[1] = { { next_req, next_len } };

	return send_all(iov, 1);
}

int rt_next(struct rt_event *ev)
{
	if (!next_sent && send_next() < 0)
		return -1;
	next_sent = 0;
	if (ack_pending) {
		/* The 202 (or an error status: nothing to do about it but go on). */
		struct response ack;

		ack_pending = 0;
		if (read_response(&ack) < 0)
			return -1;
		off = ack.end;
		if (ack.close) {
			/* The server closed after the acknowledgement: the pipelined GET is lost. */
			reconnect();
			if (send_next() < 0)
				return -1;
		}
	}
	if (read_response(&cur) < 0)
		return -1;
	if (cur.status != 200) {
		say(who);
		say(": /invocation/next did not return 200\n");
		_exit(1);
	}
	if (cur.rid_len == 0 || cur.rid_len > MAX_RID)
		die("missing or oversized Lambda-Runtime-Aws-Request-Id");
	for (size_t i = 0; i < cur.rid_len; i++) {
		unsigned char c = (unsigned char)buf[cur.rid + i];
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#')
			die("bad characters in Lambda-Runtime-Aws-Request-Id");
	}
	ev->request_id = buf + cur.rid;
	ev->request_id_len = cur.rid_len;
	ev->body = buf + cur.body;
	ev->body_len = cur.body_len;
	return 0;
}

int rt_respond(const struct rt_event *ev, const char *body, size_t body_len)
{
	static const char post1[] = "POST " API_PREFIX "/invocation/";
	static const char post2[] = "/response HTTP/1.1\r\nHost: ";
	static const char post3[] = "\r\nContent-Length: ";
	char post_hdr[sizeof post1 + MAX_RID + sizeof post2 + sizeof host_hdr + sizeof post3 + 32];
	struct iovec iov[3];
	char *h = post_hdr;

	h = put(h, post1, sizeof post1 - 1);
	h = put(h, ev->request_id, ev->request_id_len);
	h = put(h, post2, sizeof post2 - 1);
	h = put(h, host_hdr, host_len);
	h = put(h, post3, sizeof post3 - 1);
	h = put_size(h, body_len);
	h = put(h, "\r\n\r\n", 4);

	/* One writev: header, body (straight from the receive buffer, for an echo) and the
	 * next GET. */
	iov[0].iov_base = post_hdr;
	iov[0].iov_len = (size_t)(h - post_hdr);
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = body_len;
	iov[2].iov_base = next_req;
	iov[2].iov_len = next_len;
	if (cur.close)
		reconnect(); /* the server closed after the event; the body's bytes stay put */
	else
		off = cur.end;
	if (send_all(iov, 3) < 0)
		return -1;
	next_sent = 1;
	ack_pending = 1;
	return 0;
}
