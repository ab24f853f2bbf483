/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_LOOP_H
#define LAMINA_SCHEDULER_LOOP_H

/*
 * The daemon's one event loop (epoll), in the manner of redis' ae.c: fd callbacks,
 * timers whose callback returns the next delay (or LOOP_TIMER_DONE), and a hook run
 * before each sleep. Single-threaded: callbacks never block.
 */

#include <stdbool.h>
#include <stdint.h>

#define LOOP_READ 1u
#define LOOP_WRITE 2u
#define LOOP_TIMER_DONE (-1)

struct loop;
struct loop_timer;
typedef void (*loop_fd_cb)(struct loop *loop, int fd, unsigned events, void *data);
/* Returns the delay in ms until the next call, or LOOP_TIMER_DONE (the timer is then
 * freed and its handle invalid). */
typedef int64_t (*loop_timer_cb)(struct loop *loop, struct loop_timer *timer, void *data);
typedef void (*loop_hook_cb)(struct loop *loop, void *data);

int loop_new(struct loop **out);
void loop_free(struct loop *loop);

/* Watches fd for events (LOOP_READ | LOOP_WRITE); calling again changes them. */
int loop_watch(struct loop *loop, int fd, unsigned events, loop_fd_cb cb, void *data);
void loop_unwatch(struct loop *loop, int fd);

/* A timer firing after delay_ms; NULL when out of memory. */
struct loop_timer *loop_timer_add(struct loop *loop, int64_t delay_ms, loop_timer_cb cb, void *data);
/* Cancels a pending timer (not from within its own callback: return DONE there). */
void loop_timer_cancel(struct loop *loop, struct loop_timer *timer);

void loop_set_before_sleep(struct loop *loop, loop_hook_cb cb, void *data);

/* Runs until loop_stop(). */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

/* CLOCK_MONOTONIC in ms / ns. */
uint64_t loop_now_ms(void);
uint64_t loop_now_ns(void);

#endif
