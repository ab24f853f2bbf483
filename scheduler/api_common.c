/* SPDX-License-Identifier: MIT */
#include "api_common.h"

#include "daemon.h"
#include "runtimes.h"

int api_function_ref(struct request *req, bool allow_qualifier, struct function_ref *ref,
		     struct api_error *err)
{
	const struct daemon_config *c = &req->daemon->config;
	const char *name, *qualifier = NULL;

	if (request_string(req, "FunctionName", true, &name, err) < 0)
		return -1;
	if (allow_qualifier && request_string(req, "Qualifier", false, &qualifier, err) < 0)
		return -1;
	if (name_parse_ref(name, qualifier, c->region, c->account, ref, err) < 0)
		return -1;
	if (!allow_qualifier && ref->qualifier[0])
		return api_error_set(err, API_ERR_INVALID,
				     "FunctionName '%s' must not carry a qualifier for %s", name,
				     req->action);
	return 0;
}

int api_function_config(struct request *req, struct function_config *config, struct api_error *err)
{
	json_t *env = json_object_get(req->params, "Environment");
	json_t *eph = json_object_get(req->params, "EphemeralStorage");
	uint64_t v;
	int r;

	if (request_string(req, "Runtime", false, &config->runtime, err) < 0 ||
	    request_string(req, "Handler", false, &config->handler, err) < 0 ||
	    request_string(req, "Description", false, &config->description, err) < 0)
		return -1;
	if (config->runtime && !runtime_find(config->runtime))
		return api_error_set(err, API_ERR_INVALID,
				     "The runtime parameter of %s is not supported here (supported: %s)",
				     config->runtime, runtime_names());
	r = request_uint(req, "MemorySize", MEMORY_MIN_MB, MEMORY_MAX_MB, false, &v, err);
	if (r < 0)
		return -1;
	if (r)
		config->memory_mb = (uint32_t)v;
	r = request_uint(req, "Timeout", 1, TIMEOUT_MAX_S, false, &v, err);
	if (r < 0)
		return -1;
	if (r)
		config->timeout_s = (uint32_t)v;
	if (env && !json_is_null(env)) {
		json_t *vars = json_object_get(env, "Variables");

		if (!json_is_object(env) || (vars && !json_is_object(vars)))
			return api_error_set(err, API_ERR_INVALID,
					     "Environment must be {\"Variables\": {\"KEY\": \"value\"}}");
		if (!vars) {
			/* Environment {} clears the variables, as on Lambda. */
			vars = json_object();
			json_object_set_new(env, "Variables", vars);
		}
		config->environment = vars;
	}
	if (eph && !json_is_null(eph)) {
		json_t *size = json_object_get(eph, "Size");

		if (!json_is_integer(size) || json_integer_value(size) < EPHEMERAL_MIN_MB ||
		    json_integer_value(size) > EPHEMERAL_MAX_MB)
			return api_error_set(err, API_ERR_INVALID,
					     "EphemeralStorage.Size must be a whole number of MB between %d and %d",
					     EPHEMERAL_MIN_MB, EPHEMERAL_MAX_MB);
		config->ephemeral_mb = (uint32_t)json_integer_value(size);
	}
	return 0;
}

void api_reply_version(struct request *req, const struct function_version *v)
{
	const struct daemon_config *c = &req->daemon->config;

	request_reply(req, function_version_to_json(v, c->region, c->account));
}
