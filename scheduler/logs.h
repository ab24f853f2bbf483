/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_LOGS_H
#define LAMINA_SCHEDULER_LOGS_H

/*
 * Per-function logs, as CloudWatch keeps them for Lambda: each line an event with a
 * timestamp and, when an invocation was running, its request id. Bounded: each function
 * keeps its current file and the one before, each at most LOGS_FILE_MAX bytes, so a
 * function that prints without end cannot fill the disk.
 *   <logs_dir>/<function>/<generation>.log, lines "<epoch_ms> <request-id|-> <message>"
 * A read position (token) is generation << 32 | offset.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGS_FILE_MAX (16u << 20)
#define LOGS_LINE_MAX (64u << 10)

struct logs;

int logs_open(const char *dir, struct logs **out);
void logs_close(struct logs *l);

/* Appends one event (msg holds no newline; longer than LOGS_LINE_MAX is cut). */
void logs_write(struct logs *l, const char *function, const char *request_id, const char *msg,
		size_t len);
void logs_writef(struct logs *l, const char *function, const char *request_id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Events from *token on (0: the oldest kept), at most limit, filtered by request id if
 * given; *token is advanced. Returns a JSON array of {Timestamp, Message, RequestId}. */
json_t *logs_read(struct logs *l, const char *function, const char *request_id, uint64_t *token,
		  size_t limit);

/* Writes out buffered lines: from the loop's before-sleep hook. */
void logs_flush(struct logs *l);
/* Lines wait in a buffer (logs_flush writes them). */
bool logs_pending(const struct logs *l);

/* Forgets a deleted function's logs. */
void logs_remove(struct logs *l, const char *function);

#endif
