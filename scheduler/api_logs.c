/* SPDX-License-Identifier: MIT */
/* GetLogs: lamina's stand-in for CloudWatch Logs' GetLogEvents on a function's log. */
#include <stdio.h>
#include <stdlib.h>

#include "actions.h"
#include "api_common.h"
#include "daemon.h"
#include "logs.h"

void api_get_logs(struct request *req)
{
	struct function_ref ref;
	struct function_version v = { 0 };
	struct api_error err = { 0 };
	const char *request_id = NULL, *token_s = NULL;
	uint64_t limit = 1000, token = 0;
	json_t *events;
	char next[32];

	if (api_function_ref(req, false, &ref, &err) < 0 ||
	    request_string(req, "RequestId", false, &request_id, &err) < 0 ||
	    request_string(req, "NextToken", false, &token_s, &err) < 0 ||
	    request_uint(req, "Limit", 1, 10000, false, &limit, &err) < 0 ||
	    registry_get(req->daemon->registry, ref.name, "", &v, NULL, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	function_version_clear(&v);
	if (token_s) {
		char *end;

		token = strtoull(token_s, &end, 10);
		if (*end) {
			request_failf(req, API_ERR_INVALID, "NextToken '%s' is not one GetLogs returned",
				      token_s);
			return;
		}
	}
	events = logs_read(req->daemon->logs, ref.name, request_id, &token, limit);
	snprintf(next, sizeof(next), "%llu", (unsigned long long)token);
	request_reply(req, json_pack("{s:o, s:s}", "Events", events, "NextToken", next));
}
