/* SPDX-License-Identifier: MIT */
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define REDRAW_NS 100000000ll

struct progress {
	char dir[64];
	char fifo[96];
	char label[64];
	int fifo_fd;
	int stop[2];
	pthread_t thread;
	uint64_t total;
	uint64_t done;
	bool drawn;
};

static void draw(struct progress *p, uint64_t done)
{
	uint64_t total = p->total ? p->total : 1;
	unsigned pct, fill;
	char bar[BAR_WIDTH + 1];

	if (done > total)
		done = total;
	pct = (unsigned)(done * 100 / total);
	fill = (unsigned)(done * BAR_WIDTH / total);
	memset(bar, '#', fill);
	memset(bar + fill, '-', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r%s [%s] %3u%% %.1f/%.1f MB", p->label, bar, pct, done / 1048576.0,
		total / 1048576.0);
	fflush(stderr);
	p->drawn = true;
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void *progress_thread(void *arg)
{
	struct progress *p = arg;
	char buf[4096];
	size_t len = 0;
	int64_t last = 0;

	draw(p, 0);
	for (;;) {
		struct pollfd fds[2] = { { .fd = p->stop[0], .events = POLLIN },
					 { .fd = p->fifo_fd, .events = POLLIN } };
		ssize_t n;
		char *nl;

		/* A FIFO whose writer left keeps reporting POLLHUP: then wait for the stop. */
		if (poll(fds, p->fifo_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		if (!(fds[1].revents & (POLLIN | POLLHUP)))
			continue;
		n = read(p->fifo_fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(p->fifo_fd);
				p->fifo_fd = -1;
			}
			continue;
		}
		len += n;
		buf[len] = '\0';
		/* The last complete line is the news. */
		while ((nl = strchr(buf, '\n'))) {
			unsigned long long done, total;

			*nl = '\0';
			if (sscanf(buf, "%llu %llu", &done, &total) == 2) {
				if (total)
					p->total = total;
				p->done = done;
			}
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			len = 0;
		if (now_ns() - last >= REDRAW_NS) {
			last = now_ns();
			draw(p, p->done);
		}
	}
	return NULL;
}

struct progress *progress_start(const char *label, uint64_t total)
{
	struct progress *p;

	if (total < PROGRESS_MIN_BYTES || !isatty(STDERR_FILENO))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->total = total;
	p->fifo_fd = -1;
	p->stop[0] = p->stop[1] = -1;
	snprintf(p->label, sizeof(p->label), "%s", label);
	snprintf(p->dir, sizeof(p->dir), "/tmp/lamina-progress-XXXXXX");
	if (!mkdtemp(p->dir)) {
		free(p);
		return NULL;
	}
	snprintf(p->fifo, sizeof(p->fifo), "%s/fifo", p->dir);
	/* Opened for reading at once (non-blocking), so the writer's open finds a reader. */
	if (mkfifo(p->fifo, 0600) < 0 ||
	    (p->fifo_fd = open(p->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    pipe2(p->stop, O_CLOEXEC) < 0 || pthread_create(&p->thread, NULL, progress_thread, p)) {
		if (p->fifo_fd >= 0)
			close(p->fifo_fd);
		if (p->stop[0] >= 0) {
			close(p->stop[0]);
			close(p->stop[1]);
		}
		unlink(p->fifo);
		rmdir(p->dir);
		free(p);
		return NULL;
	}
	return p;
}

const char *progress_fifo(const struct progress *p)
{
	return p->fifo;
}

void progress_finish(struct progress *p, bool ok)
{
	if (!p)
		return;
	if (write(p->stop[1], "x", 1) < 0) {
		/* The thread cannot be told: it ends with the process. */
	}
	pthread_join(p->thread, NULL);
	if (ok) {
		draw(p, p->total);
		fputc('\n', stderr);
	} else if (p->drawn) {
		fputs("\r\033[K", stderr);
	}
	fflush(stderr);
	if (p->fifo_fd >= 0)
		close(p->fifo_fd);
	close(p->stop[0]);
	close(p->stop[1]);
	unlink(p->fifo);
	rmdir(p->dir);
	free(p);
}
