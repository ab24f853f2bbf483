/* SPDX-License-Identifier: MIT */
/* Invoke: resolve the version (alias routing by weight), check the payload, run it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "api_common.h"
#include "daemon.h"
#include "instance.h"
#include "log.h"
#include "json_raw.h"
#include "resolve.h"

/* ns as milliseconds with three decimals, rounded to the microsecond: integers only,
 * as glibc's floating-point printf costs a microsecond on the reply path. */
static const char *ms3(char buf[32], uint64_t ns)
{
	uint64_t us = (ns + 500) / 1000;

	snprintf(buf, 32, "%" PRIu64 ".%03u", us / 1000, (unsigned)(us % 1000));
	return buf;
}

static void invoke_replied(void *ctx, const struct invocation_result *res)
{
	struct request *req = ctx;
	json_t *check = json_loadb(res->payload, res->payload_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	char head[256], report[768], init[48] = "", duration[32], cpu[32];
	char *payload;
	size_t payload_len;
	int head_len, report_len;

	/* A JSON response goes through as written (minus whitespace, so no newline);
	 * anything else comes back as a JSON string. */
	if (check) {
		payload = malloc(res->payload_len + 1);
		payload_len = payload ? json_raw_minify(payload, res->payload, res->payload_len) : 0;
	} else {
		json_t *str = json_stringn_nocheck(res->payload, res->payload_len);

		payload = json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT);
		payload_len = payload ? strlen(payload) : 0;
		json_decref(str);
	}
	json_decref(check);
	if (!payload) {
		request_failf(req, API_ERR_SERVICE, "out of memory");
		return;
	}
	/* The version and request id are ours (short, no quotes); the error is one of
	 * two words. */
	head_len = snprintf(head, sizeof(head),
			    "\"StatusCode\":200,%s%s%s\"ExecutedVersion\":\"%s\",\"RequestId\":\"%s\",\"Payload\":",
			    res->function_error ? "\"FunctionError\":\"" : "",
			    res->function_error ? res->function_error : "",
			    res->function_error ? "\"," : "", res->executed_version, res->request_id);
	if (res->init_duration_ms >= 0)
		snprintf(init, sizeof(init), ",\"InitDurationMs\":%.3f", res->init_duration_ms);
	/* Lambda's fields, then lamina's own: the exact figures behind them. */
	report_len = snprintf(report, sizeof(report),
			      ",\"Report\":{\"DurationMs\":%s,\"BilledDurationMs\":%" PRIu64 ","
			      "\"MemorySizeMB\":%u,\"MaxMemoryUsedMB\":%" PRIu64 ",\"CpuTimeMs\":%s%s,"
			      "\"DurationNs\":%" PRIu64 ",\"CpuTimeNs\":%" PRIu64 ",\"MaxMemoryUsedBytes\":%" PRIu64 ","
			      "\"PageFaults\":%" PRIu64 ",\"ContextSwitches\":%" PRIu64 ",\"Forks\":%u,\"Exits\":%u,"
			      "\"OomKills\":%u,\"Approximate\":%s}",
			      ms3(duration, res->duration_ns), res->billed_duration_ms, res->memory_size_mb,
			      (res->max_memory_used_bytes + (1 << 20) - 1) >> 20, ms3(cpu, res->cpu_ns), init,
			      res->duration_ns, res->cpu_ns, res->max_memory_used_bytes, res->page_faults,
			      res->ctx_switches, res->forks, res->exits, res->oom_kills,
			      res->exact ? "false" : "true");
	if (head_len < 0 || (size_t)head_len >= sizeof(head) || report_len < 0 ||
	    (size_t)report_len >= sizeof(report)) {
		free(payload);
		request_failf(req, API_ERR_SERVICE, "reply too long");
		return;
	}
	request_reply_rawv(req, (const struct iovec[]){ { head, (size_t)head_len },
						       { payload, payload_len },
						       { report, (size_t)report_len } }, 3);
	free(payload);
}

static void event_done(void *ctx, const struct invocation_result *res)
{
	(void)ctx;
	if (res->function_error)
		log_debug("asynchronous invocation %s failed (%s)", res->request_id, res->function_error);
}

/* Picks the version an alias routes this invocation to. */
static const struct function_version *route(struct request *req, const struct resolved *r,
					    struct api_error *err)
{
	const struct alias *alias = &r->alias;
	const struct resolved *extra;

	if (!r->has_alias || !alias->additional_version[0] || alias->additional_weight <= 0 ||
	    (double)random() / ((double)RAND_MAX + 1.0) >= alias->additional_weight)
		return &r->v;
	extra = resolve_function(req->daemon, alias->function_name, alias->additional_version, err);
	return extra ? &extra->v : NULL;
}

void api_invoke(struct request *req)
{
	struct api_error err = { 0 };
	const char *type = "RequestResponse", *name, *qualifier = NULL;
	json_t *payload = json_object_get(req->params, "Payload");
	const struct resolved *r;
	const struct function_version *v;
	char request_id[37], invoked_arn[256], *text;
	const char *raw;
	size_t len, max, raw_len;
	bool async;

	if (request_string(req, "FunctionName", true, &name, &err) < 0 ||
	    request_string(req, "Qualifier", false, &qualifier, &err) < 0 ||
	    request_string(req, "InvocationType", false, &type, &err) < 0)
		goto fail;
	if (!type)
		type = "RequestResponse";
	if (strcmp(type, "RequestResponse") && strcmp(type, "Event") && strcmp(type, "DryRun")) {
		api_error_set(&err, API_ERR_INVALID,
			      "InvocationType '%s' must be RequestResponse, Event or DryRun", type);
		goto fail;
	}
	async = !strcmp(type, "Event");
	r = resolve_function(req->daemon, name, qualifier, &err);
	if (!r)
		goto fail;
	/* Routing may resolve another version, which can evict r: keep what is needed. */
	snprintf(invoked_arn, sizeof(invoked_arn), "%s", r->invoked_arn);
	v = route(req, r, &err);
	if (!v)
		goto fail;
	/* The payload's own bytes, found in the request line jansson has validated. */
	if (payload && json_raw_member(req->line, req->line_len, "Payload", &raw, &raw_len)) {
		text = malloc(raw_len + 1);
		len = text ? json_raw_minify(text, raw, raw_len) : 0;
	} else {
		text = strdup("{}");
		len = 2;
	}
	if (!text) {
		api_error_set(&err, API_ERR_SERVICE, "out of memory");
		goto fail;
	}
	max = async ? PAYLOAD_MAX_ASYNC : PAYLOAD_MAX_SYNC;
	if (len > max) {
		free(text);
		api_error_set(&err, API_ERR_TOO_LARGE,
			      "Request must be smaller than %zu bytes for the %s operation", max,
			      async ? "InvokeAsync" : "InvokeFunction");
		goto fail;
	}
	if (!strcmp(type, "DryRun")) {
		free(text);
		request_reply(req, json_pack("{s:i, s:s}", "StatusCode", 204, "ExecutedVersion", v->version));
		return;
	}
	if (functions_invoke(req->daemon->functions, v, invoked_arn, text, len, async ? event_done : invoke_replied,
			     async ? NULL : req, request_id, &err) < 0)
		goto fail;
	if (async)
		request_reply(req, json_pack("{s:i, s:s}", "StatusCode", 202, "RequestId", request_id));
	return;
fail:
	request_fail(req, &err);
}
