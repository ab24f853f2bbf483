/* SPDX-License-Identifier: MIT */
/* CreateAlias, UpdateAlias, GetAlias, ListAliases, DeleteAlias. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "api_common.h"
#include "daemon.h"

/* RoutingConfig {AdditionalVersionWeights: {"N": w}}: at most one entry. Returns 1 if the
 * request has one (possibly empty: clears), 0 if absent. */
static int read_routing(struct request *req, struct alias *a, struct api_error *err)
{
	json_t *routing = json_object_get(req->params, "RoutingConfig"), *weights, *w;
	const char *version;

	if (!routing || json_is_null(routing))
		return 0;
	weights = json_object_get(routing, "AdditionalVersionWeights");
	if (!json_is_object(routing) || (weights && !json_is_null(weights) && !json_is_object(weights)))
		return api_error_set(err, API_ERR_INVALID,
				     "RoutingConfig must be {\"AdditionalVersionWeights\": {\"VERSION\": WEIGHT}}");
	if (!weights || json_is_null(weights) || json_object_size(weights) == 0)
		return 1;
	if (json_object_size(weights) > 1)
		return api_error_set(err, API_ERR_INVALID,
				     "RoutingConfig may name only one additional version");
	json_object_foreach(weights, version, w) {
		if (!json_is_number(w) || json_number_value(w) < 0 || json_number_value(w) > 1)
			return api_error_set(err, API_ERR_INVALID,
					     "the weight of version '%s' must be a number between 0.0 and 1.0",
					     version);
		snprintf(a->additional_version, sizeof(a->additional_version), "%s", version);
		a->additional_weight = json_number_value(w);
	}
	return 1;
}

static int read_alias(struct request *req, bool need_version, struct alias *a, int *routing,
		      struct api_error *err)
{
	struct function_ref ref;
	const char *name, *version = NULL, *description = NULL;

	if (api_function_ref(req, false, &ref, err) < 0 ||
	    request_string(req, "Name", true, &name, err) < 0 ||
	    request_string(req, "FunctionVersion", need_version, &version, err) < 0 ||
	    request_string(req, "Description", false, &description, err) < 0)
		return -1;
	if (!name_is_valid_alias(name))
		return api_error_set(err, API_ERR_INVALID,
				     "alias name '%s' must be 1-128 letters, digits, '-' or '_', not only digits",
				     name);
	snprintf(a->function_name, sizeof(a->function_name), "%s", ref.name);
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (version)
		snprintf(a->version, sizeof(a->version), "%s", version);
	if (description)
		snprintf(a->description, sizeof(a->description), "%s", description);
	a->additional_weight = -1;
	*routing = read_routing(req, a, err);
	return *routing < 0 ? -1 : 0;
}

static void reply_alias(struct request *req, const struct alias *a)
{
	const struct daemon_config *c = &req->daemon->config;

	request_reply(req, alias_to_json(a, c->region, c->account));
}

void api_create_alias(struct request *req)
{
	struct alias a = { 0 }, out = { 0 };
	struct api_error err = { 0 };
	int routing;

	if (read_alias(req, true, &a, &routing, &err) < 0 ||
	    registry_create_alias(req->daemon->registry, &a, &out, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	reply_alias(req, &out);
}

void api_update_alias(struct request *req)
{
	struct alias a = { 0 }, out = { 0 };
	struct api_error err = { 0 };
	int routing;

	if (read_alias(req, false, &a, &routing, &err) < 0 ||
	    registry_update_alias(req->daemon->registry, &a, routing == 1 && !a.additional_version[0],
				  &out, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	reply_alias(req, &out);
}

static int alias_name(struct request *req, struct function_ref *ref, const char **name,
		      struct api_error *err)
{
	if (api_function_ref(req, false, ref, err) < 0)
		return -1;
	return request_string(req, "Name", true, name, err) < 0 ? -1 : 0;
}

void api_get_alias(struct request *req)
{
	struct function_ref ref;
	struct alias out = { 0 };
	struct api_error err = { 0 };
	const char *name;

	if (alias_name(req, &ref, &name, &err) < 0 ||
	    registry_get_alias(req->daemon->registry, ref.name, name, &out, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	reply_alias(req, &out);
}

void api_list_aliases(struct request *req)
{
	const struct daemon_config *c = &req->daemon->config;
	struct function_ref ref;
	struct alias *list = NULL;
	struct api_error err = { 0 };
	json_t *aliases;
	size_t n = 0;

	if (api_function_ref(req, false, &ref, &err) < 0 ||
	    registry_list_aliases(req->daemon->registry, ref.name, &list, &n, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	aliases = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(aliases, alias_to_json(&list[i], c->region, c->account));
	free(list);
	request_reply(req, json_pack("{s:o}", "Aliases", aliases));
}

void api_delete_alias(struct request *req)
{
	struct function_ref ref;
	struct api_error err = { 0 };
	const char *name;

	if (alias_name(req, &ref, &name, &err) < 0 ||
	    registry_delete_alias(req->daemon->registry, ref.name, name, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	request_reply(req, NULL);
}
