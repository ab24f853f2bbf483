/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BUSY_POLL_NS 50000

struct loop_watch {
	loop_fd_cb cb;
	void *data;
	unsigned events;
	bool active;
};

struct loop_timer {
	uint64_t deadline_ms;
	uint64_t seq;		/* ties fire in order of creation */
	size_t heap_index;
	loop_timer_cb cb;
	void *data;
};

struct loop {
	int epoll_fd;
	bool stop;
	struct loop_watch *watches;	/* indexed by fd */
	size_t n_watches;
	struct loop_timer **heap;	/* min-heap on (deadline, seq) */
	size_t heap_len, heap_cap;
	uint64_t next_seq;
	loop_hook_cb before_sleep;
	void *before_sleep_data;
};

uint64_t loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t loop_now_ms(void)
{
	return loop_now_ns() / 1000000ull;
}

int loop_new(struct loop **out)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0) {
		int r = -errno;
		free(loop);
		return r;
	}
	*out = loop;
	return 0;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	for (size_t i = 0; i < loop->heap_len; i++)
		free(loop->heap[i]);
	free(loop->heap);
	free(loop->watches);
	close(loop->epoll_fd);
	free(loop);
}

int loop_watch(struct loop *loop, int fd, unsigned events, loop_fd_cb cb, void *data)
{
	struct epoll_event ev = { .data.fd = fd };
	bool existing;

	if (fd < 0)
		return -EBADF;
	if ((size_t)fd >= loop->n_watches) {
		size_t n = loop->n_watches ? loop->n_watches : 64;
		struct loop_watch *w;

		while (n <= (size_t)fd)
			n *= 2;
		w = realloc(loop->watches, n * sizeof(*w));
		if (!w)
			return -ENOMEM;
		memset(w + loop->n_watches, 0, (n - loop->n_watches) * sizeof(*w));
		loop->watches = w;
		loop->n_watches = n;
	}
	existing = loop->watches[fd].active;
	if (events & LOOP_READ)
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (events & LOOP_WRITE)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(loop->epoll_fd, existing ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	loop->watches[fd] = (struct loop_watch){ .cb = cb, .data = data, .events = events,
						 .active = true };
	return 0;
}

void loop_unwatch(struct loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->n_watches || !loop->watches[fd].active)
		return;
	epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
	loop->watches[fd].active = false;
}

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->deadline_ms < b->deadline_ms ||
	       (a->deadline_ms == b->deadline_ms && a->seq < b->seq);
}

static void heap_set(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void heap_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= loop->heap_len)
			break;
		if (child + 1 < loop->heap_len && timer_before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!timer_before(loop->heap[child], t))
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, t);
}

static void heap_remove(struct loop *loop, struct loop_timer *t)
{
	size_t i = t->heap_index;
	struct loop_timer *last = loop->heap[--loop->heap_len];

	if (last == t)
		return;
	heap_set(loop, i, last);
	heap_up(loop, i);
	heap_down(loop, last->heap_index);
}

static int heap_push(struct loop *loop, struct loop_timer *t)
{
	if (loop->heap_len == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		struct loop_timer **h = realloc(loop->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		loop->heap = h;
		loop->heap_cap = cap;
	}
	loop->heap[loop->heap_len] = t;
	t->heap_index = loop->heap_len++;
	heap_up(loop, t->heap_index);
	return 0;
}

struct loop_timer *loop_timer_add(struct loop *loop, int64_t delay_ms, loop_timer_cb cb, void *data)
{
	struct loop_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->deadline_ms = loop_now_ms() + (delay_ms > 0 ? (uint64_t)delay_ms : 0);
	t->seq = loop->next_seq++;
	t->cb = cb;
	t->data = data;
	if (heap_push(loop, t) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *timer)
{
	if (!timer)
		return;
	heap_remove(loop, timer);
	free(timer);
}

void loop_set_before_sleep(struct loop *loop, loop_hook_cb cb, void *data)
{
	loop->before_sleep = cb;
	loop->before_sleep_data = data;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}

static void run_due_timers(struct loop *loop)
{
	uint64_t now = loop_now_ms();

	while (loop->heap_len && loop->heap[0]->deadline_ms <= now && !loop->stop) {
		struct loop_timer *t = loop->heap[0];
		int64_t next;

		heap_remove(loop, t);
		next = t->cb(loop, t, t->data);
		if (next == LOOP_TIMER_DONE) {
			free(t);
			continue;
		}
		t->deadline_ms = now + (next > 0 ? (uint64_t)next : 0);
		t->seq = loop->next_seq++;
		if (heap_push(loop, t) < 0)
			free(t);
	}
}

int loop_run(struct loop *loop)
{
	struct epoll_event events[256];
	uint64_t busy_until = 0;

	loop->stop = false;
	while (!loop->stop) {
		int timeout = -1, n;

		if (loop->before_sleep)
			loop->before_sleep(loop, loop->before_sleep_data);
		if (loop->stop)
			break;
		if (loop->heap_len) {
			uint64_t now = loop_now_ms(), due = loop->heap[0]->deadline_ms;

			timeout = due <= now ? 0 : (int)(due - now);
		}
		/* Right after work, poll for a short while before sleeping: the answer to
		 * what we just sent usually comes within microseconds, and waking a halted
		 * (virtual) CPU costs more than that. */
		n = 0;
		while (busy_until && loop_now_ns() < busy_until) {
			n = epoll_wait(loop->epoll_fd, events, 256, 0);
			if (n != 0)
				break;
		}
		if (n == 0)
			n = epoll_wait(loop->epoll_fd, events, 256, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		busy_until = n > 0 ? loop_now_ns() + LOOP_BUSY_POLL_NS : 0;
		for (int i = 0; i < n && !loop->stop; i++) {
			int fd = events[i].data.fd;
			unsigned ev = 0;
			struct loop_watch *w;

			/* An earlier callback in this batch may have closed or re-watched fd. */
			if ((size_t)fd >= loop->n_watches || !loop->watches[fd].active)
				continue;
			w = &loop->watches[fd];
			if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				ev |= LOOP_READ;
			if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				ev |= LOOP_WRITE;
			ev &= w->events | (events[i].events & (EPOLLHUP | EPOLLERR) ? LOOP_READ : 0);
			if (ev)
				w->cb(loop, fd, ev, w->data);
		}
		run_due_timers(loop);
	}
	return 0;
}
