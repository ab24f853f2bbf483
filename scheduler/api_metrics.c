/* SPDX-License-Identifier: MIT */
/* GetMetrics and GetBill: lamina's own actions behind `lamina top`, `metrics` and `bill`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "api_common.h"
#include "daemon.h"
#include "ledger.h"
#include "metrics.h"

void api_get_metrics(struct request *req)
{
	struct api_error err = { 0 };
	const char *format = NULL;

	if (request_string(req, "Format", false, &format, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	if (!format || !strcmp(format, "json")) {
		request_reply(req, metrics_snapshot(req->daemon));
	} else if (!strcmp(format, "prometheus")) {
		size_t len;
		char *text = metrics_prometheus(req->daemon, &len);

		if (!text) {
			request_failf(req, API_ERR_SERVICE, "out of memory");
			return;
		}
		request_reply(req, json_pack("{s:s, s:s%}", "ContentType", METRICS_CONTENT_TYPE, "Text", text, len));
		free(text);
	} else {
		request_failf(req, API_ERR_INVALID, "Format '%s' must be json or prometheus", format);
	}
}

void api_get_bill(struct request *req)
{
	struct api_error err = { 0 };
	struct function_ref ref;
	json_t *since = json_object_get(req->params, "Since"), *bill = NULL;
	const char *function = NULL;
	int64_t since_ms = -1;

	if (json_object_get(req->params, "FunctionName")) {
		struct function_version v = { 0 };

		if (api_function_ref(req, false, &ref, &err) < 0) {
			request_fail(req, &err);
			return;
		}
		function = ref.name;
		/* A deleted function's invocations stay billed: its name is enough then. */
		if (registry_get(req->daemon->registry, ref.name, "", &v, NULL, &err) == 0)
			function_version_clear(&v);
		else if (ledger_bill(req->daemon->ledger, function, -1, &req->daemon->config, &bill, NULL) == 0 &&
			 json_array_size(json_object_get(bill, "Functions")) == 0) {
			json_decref(bill);
			request_fail(req, &err);
			return;
		}
		json_decref(bill);
		bill = NULL;
	}
	if (since && !json_is_null(since)) {
		double s = json_number_value(since);

		if (!json_is_number(since) || !isfinite(s) || s < 0 || s > 1e11) {
			request_failf(req, API_ERR_INVALID, "Since must be a time in Unix seconds");
			return;
		}
		since_ms = (int64_t)(s * 1000);
	}
	if (ledger_bill(req->daemon->ledger, function, since_ms, &req->daemon->config, &bill, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	request_reply(req, bill);
}
