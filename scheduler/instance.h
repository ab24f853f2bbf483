/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_INSTANCE_H
#define LAMINA_SCHEDULER_INSTANCE_H

/*
 * Function instances and the invoke path. An instance is one sandbox running a
 * language runtime's bootstrap, speaking the Runtime API to us. Instances are grouped in
 * pools, one per function version (and $LATEST revision); an invocation goes to an idle
 * instance of its pool, or waits for one we start when concurrency allows, or is
 * throttled. Idle instances stop after the keep-alive.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api_error.h"
#include "registry.h"

#define PAYLOAD_MAX_SYNC (6u << 20)
#define PAYLOAD_MAX_ASYNC (1u << 20)

struct daemon;
struct functions;

struct invocation_result {
	const char *function_error;	/* NULL, "Handled" or "Unhandled" */
	const char *payload;		/* the response body as the function sent it (or ours) */
	size_t payload_len;
	const char *request_id;
	const char *executed_version;
	double duration_ms;
	uint64_t duration_ns;
	uint64_t billed_duration_ms;
	uint32_t memory_size_mb;
	uint64_t max_memory_used_bytes;
	double init_duration_ms;	/* < 0: warm start */
	double cpu_time_ms;
	uint64_t cpu_ns;
	uint64_t page_faults, ctx_switches;
	uint32_t forks, exits, oom_kills;
	bool measured;			/* it ran: the figures are its own */
	bool exact;			/* measured by the kernel probes */
};

typedef void (*invoke_done_cb)(void *ctx, const struct invocation_result *result);

int functions_new(struct daemon *d, struct functions **out);
/* Stops every instance; waits for their ends. */
void functions_free(struct functions *f);

/* Runs payload (JSON text, taken over: malloc'd) on version v, invoked as invoked_arn
 * (what the runtime sees as the function's ARN). cb is called exactly once unless this
 * returns an error (throttled, …). request_id receives the new id. */
int functions_invoke(struct functions *f, const struct function_version *v, const char *invoked_arn,
		     char *payload, size_t payload_len, invoke_done_cb cb, void *ctx,
		     char request_id[37], struct api_error *err);

/* The function's code or configuration changed (version NULL: all of it) or it was
 * deleted (forget): idle instances stop now, busy ones after their invocation. */
void functions_retire(struct functions *f, const char *function, const char *version);
void functions_forget(struct functions *f, const char *function);
void functions_set_reserved(struct functions *f, const char *function, int reserved);

struct pool_counts {
	unsigned instances, idle, busy, starting, queued;
};
/* Instances of a function's version (NULL: every function / version). */
void functions_counts(const struct functions *f, const char *function, const char *version,
		      struct pool_counts *out);
/* Host memory charged to live instances, and the budget (scaling.h). */
uint64_t functions_committed_bytes(const struct functions *f);
uint64_t functions_budget_bytes(const struct functions *f);

/* Writes the END and REPORT lines of the invocations finished since the last call
 * (called once the loop's replies have gone out). */
void functions_write_reports(struct functions *f);

unsigned functions_instance_count(const struct functions *f);
unsigned functions_inflight_count(const struct functions *f);

#endif
