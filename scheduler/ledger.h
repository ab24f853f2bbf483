/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_LEDGER_H
#define LAMINA_SCHEDULER_LEDGER_H

/*
 * The billing ledger: one row per finished invocation in the daemon's SQLite database
 * (its own connection and table). Each row is queued exactly once, when its invocation
 * completes, and a batch commits atomically: a row is never billed twice.
 *
 * Rows are committed in batches, at most LEDGER_FLUSH_MS after the invocation ended (or
 * sooner when many are waiting, and always before GetBill answers or the daemon stops),
 * with synchronous=NORMAL: a committed batch survives kill -9 of the daemon (it is in
 * the WAL, in the kernel's page cache), without an fsync on the invoke path. What a
 * kill -9 can lose is the invocations in flight and those of the last batch window.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api_error.h"

#define LEDGER_FLUSH_MS 50
#define LEDGER_BATCH_MAX 1024

struct loop;
struct daemon_config;

struct ledger_row {
	char request_id[37];
	char function[65];
	char version[16];
	char alias[129];		/* "" unless invoked through an alias */
	int64_t start_ms;		/* wall clock, Unix ms */
	uint64_t duration_ns;
	uint64_t billed_ms;
	uint32_t memory_mb;
	uint64_t max_memory_bytes;
	uint64_t cpu_ns;
	double init_ms;			/* < 0: warm start */
	char outcome[48];		/* Success, Handled, Unhandled, or the error type */
	bool exact;			/* measured by the kernel probes */
};

struct ledger;

int ledger_open(const char *db_path, struct loop *loop, struct ledger **out, struct api_error *err);
/* Flushes what is pending, then closes. */
void ledger_close(struct ledger *l);

/* Queues a row for the next batch; never blocks on the disk. */
void ledger_record(struct ledger *l, const struct ledger_row *row);
/* Commits the pending rows now. */
int ledger_flush(struct ledger *l);

/* GetBill's answer for one function (NULL: all) since since_ms (< 0: ever), with the
 * free tier and prices of c applied to the total. */
int ledger_bill(struct ledger *l, const char *function, int64_t since_ms,
		const struct daemon_config *c, json_t **out, struct api_error *err);

#endif
