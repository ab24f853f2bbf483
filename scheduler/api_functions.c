/* SPDX-License-Identifier: MIT */
/* CreateFunction, UpdateFunctionCode/Configuration, Get/List/Delete, PublishVersion,
 * ListVersionsByFunction and the concurrency actions. */
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "api_common.h"
#include "code_store.h"
#include "daemon.h"
#include "instance.h"
#include "logs.h"
#include "oci_store.h"

/* A create or code update waits for its code to be stored. */
struct deploy {
	struct request *req;
	struct function_ref ref;
	struct function_config config;	/* strings point into req->params */
	bool create;
	bool publish;
	json_t *image_config;		/* ImageConfig of a container image, or NULL; owned */
};

static void deploy_stored(void *ctx, const struct code_ref *code, const struct api_error *code_err)
{
	struct deploy *dp = ctx;
	struct request *req = dp->req;
	struct registry *reg = req->daemon->registry;
	struct function_version v = { 0 }, published = { 0 };
	struct api_error err = { 0 };
	int r;

	if (code_err) {
		request_fail(req, code_err);
		free(dp);
		return;
	}
	dp->config.code_hex = code->hex;
	dp->config.code_sha256 = code->sha256_b64;
	dp->config.code_size = code->size;
	if (dp->create)
		r = registry_create_function(reg, dp->ref.name, &dp->config, &v, &err);
	else
		r = registry_update_latest(reg, dp->ref.name, &dp->config, &v, &err);
	if (r == 0 && !dp->create) {
		functions_retire(req->daemon->functions, dp->ref.name, VERSION_LATEST);
		/* The code $LATEST had may be used by nothing now. */
		code_store_collect(req->daemon);
	}
	if (r == 0 && dp->publish) {
		r = registry_publish(reg, dp->ref.name, NULL, &published, &err);
		if (r == 0) {
			function_version_clear(&v);
			v = published;
		}
	}
	req->daemon->registry_generation++;
	if (r < 0)
		request_fail(req, &err);
	else
		api_reply_version(req, &v);
	function_version_clear(&v);
	free(dp);
}

/* A container image (Code.ImageUri) is stored: the image's configuration goes with it. */
static void deploy_image_stored(void *ctx, const struct code_ref *code, json_t *image,
				const struct api_error *code_err)
{
	struct deploy *dp = ctx;

	/* Lambda's ImageConfig overrides the image's own ENTRYPOINT, CMD and WORKDIR; it
	 * stays across code updates that do not give one. */
	if (image && dp->image_config)
		json_object_set(image, "ImageConfigOverride", dp->image_config);
	json_decref(dp->image_config);
	dp->image_config = NULL;
	dp->config.image = image;
	if (!dp->config.runtime)
		dp->config.runtime = "provided";
	if (!dp->config.handler)
		dp->config.handler = "image";
	deploy_stored(dp, code, code_err);
}

static void start_deploy(struct request *req, bool create)
{
	struct api_error err = { 0 };
	struct deploy *dp = calloc(1, sizeof(*dp));
	json_t *code = json_object_get(req->params, "Code"), *publish;
	struct code_source source;
	const char *image_uri;

	if (!dp) {
		request_failf(req, API_ERR_SERVICE, "out of memory");
		return;
	}
	dp->req = req;
	dp->create = create;
	publish = json_object_get(req->params, "Publish");
	if (publish && !json_is_boolean(publish)) {
		api_error_set(&err, API_ERR_INVALID, "Publish must be true or false");
		goto fail;
	}
	dp->publish = json_is_true(publish);
	if (api_function_ref(req, false, &dp->ref, &err) < 0)
		goto fail;
	if (create && api_function_config(req, &dp->config, &err) < 0)
		goto fail;
	if (create && json_object_get(req->params, "Layers") &&
	    !json_is_null(json_object_get(req->params, "Layers")))
		dp->config.layers = json_object_get(req->params, "Layers");
	/* Lambda's UpdateFunctionCode takes ImageUri beside Code; CreateFunction inside it. */
	image_uri = json_string_value(json_object_get(code, "ImageUri"));
	if (!image_uri)
		image_uri = json_string_value(json_object_get(req->params, "ImageUri"));
	if (create && !image_uri && (!dp->config.runtime || !dp->config.handler)) {
		api_error_set(&err, API_ERR_INVALID, "Runtime and Handler are required to create a function");
		goto fail;
	}
	if (!image_uri && code_store_parse(code, &source, &err) < 0)
		goto fail;
	if (!create) {
		/* Refuse an unknown function before copying anything. */
		struct function_version v = { 0 };

		if (registry_get(req->daemon->registry, dp->ref.name, "", &v, NULL, &err) < 0)
			goto fail;
		function_version_clear(&v);
	}
	if (image_uri) {
		if (oci_image_config_param(json_object_get(req->params, "ImageConfig"),
					   &dp->image_config, &err) < 0)
			goto fail;
		if (oci_store_put(req->daemon, image_uri, req->peer_uid, req->peer_gid,
				  deploy_image_stored, dp, &err) < 0) {
			json_decref(dp->image_config);
			goto fail;
		}
		return;
	}
	if (code_store_put(req->daemon, &source, req->peer_uid, req->peer_gid, deploy_stored, dp,
			   &err) < 0)
		goto fail;
	return;
fail:
	free(dp);
	request_fail(req, &err);
}

void api_create_function(struct request *req)
{
	start_deploy(req, true);
}

void api_update_function_code(struct request *req)
{
	start_deploy(req, false);
}

void api_update_function_configuration(struct request *req)
{
	struct function_config config = { 0 };
	struct function_version v = { 0 };
	struct function_ref ref;
	struct api_error err = { 0 };

	json_t *image_config = NULL;

	if (json_object_get(req->params, "Layers") && !json_is_null(json_object_get(req->params, "Layers")))
		config.layers = json_object_get(req->params, "Layers");
	if (oci_image_config_param(json_object_get(req->params, "ImageConfig"), &image_config, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	if (image_config)
		config.image = json_pack("{s:o}", "ImageConfigOverride", image_config);
	if (api_function_ref(req, false, &ref, &err) < 0 || api_function_config(req, &config, &err) < 0 ||
	    registry_update_latest(req->daemon->registry, ref.name, &config, &v, &err) < 0) {
		json_decref(config.image);
		request_fail(req, &err);
		return;
	}
	json_decref(config.image);
	functions_retire(req->daemon->functions, ref.name, VERSION_LATEST);
	api_reply_version(req, &v);
	function_version_clear(&v);
}

static int get_version(struct request *req, struct function_version *v, struct api_error *err)
{
	struct function_ref ref;

	if (api_function_ref(req, true, &ref, err) < 0)
		return -1;
	return registry_get(req->daemon->registry, ref.name, ref.qualifier, v, NULL, err);
}

void api_get_function(struct request *req)
{
	const struct daemon_config *c = &req->daemon->config;
	struct function_version v = { 0 };
	struct api_error err = { 0 };
	char path[PATH_MAX];
	int reserved = -1;
	json_t *result;

	if (get_version(req, &v, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	code_store_path(req->daemon, v.code_hex, path, sizeof(path));
	result = json_pack("{s:o, s:{s:s, s:s}}", "Configuration",
			   function_version_to_json(&v, c->region, c->account), "Code",
			   "RepositoryType", "lamina", "Location", path);
	if (registry_get_concurrency(req->daemon->registry, v.name, &reserved, NULL) == 0 && reserved >= 0)
		json_object_set_new(result, "Concurrency",
				    json_pack("{s:i}", "ReservedConcurrentExecutions", reserved));
	function_version_clear(&v);
	request_reply(req, result);
}

void api_get_function_configuration(struct request *req)
{
	struct function_version v = { 0 };
	struct api_error err = { 0 };

	if (get_version(req, &v, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	api_reply_version(req, &v);
	function_version_clear(&v);
}

static void reply_versions(struct request *req, const char *key, struct function_version *vs, size_t n)
{
	const struct daemon_config *c = &req->daemon->config;
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, function_version_to_json(&vs[i], c->region, c->account));
	function_versions_free(vs, n);
	request_reply(req, json_pack("{s:o}", key, list));
}

void api_list_functions(struct request *req)
{
	struct function_version *vs = NULL;
	struct api_error err = { 0 };
	size_t n = 0;

	if (registry_list_functions(req->daemon->registry, &vs, &n, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	reply_versions(req, "Functions", vs, n);
}

void api_list_versions_by_function(struct request *req)
{
	struct function_version *vs = NULL;
	struct function_ref ref;
	struct api_error err = { 0 };
	size_t n = 0;

	if (api_function_ref(req, false, &ref, &err) < 0 ||
	    registry_list_versions(req->daemon->registry, ref.name, &vs, &n, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	reply_versions(req, "Versions", vs, n);
}

void api_delete_function(struct request *req)
{
	struct function_ref ref;
	struct api_error err = { 0 };

	if (api_function_ref(req, true, &ref, &err) < 0 ||
	    registry_delete(req->daemon->registry, ref.name, ref.qualifier, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	if (ref.qualifier[0]) {
		functions_retire(req->daemon->functions, ref.name, ref.qualifier);
	} else {
		functions_forget(req->daemon->functions, ref.name);
		logs_remove(req->daemon->logs, ref.name);
	}
	code_store_collect(req->daemon);
	request_reply(req, NULL);
}

void api_publish_version(struct request *req)
{
	struct function_version v = { 0 };
	struct function_ref ref;
	struct api_error err = { 0 };
	const char *description = NULL;

	if (api_function_ref(req, false, &ref, &err) < 0 ||
	    request_string(req, "Description", false, &description, &err) < 0 ||
	    registry_publish(req->daemon->registry, ref.name, description, &v, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	api_reply_version(req, &v);
	function_version_clear(&v);
}

void api_put_function_concurrency(struct request *req)
{
	struct function_ref ref;
	struct api_error err = { 0 };
	uint64_t reserved = 0;

	if (api_function_ref(req, false, &ref, &err) < 0 ||
	    request_uint(req, "ReservedConcurrentExecutions", 0, req->daemon->config.account_concurrency,
			 true, &reserved, &err) < 0 ||
	    registry_put_concurrency(req->daemon->registry, ref.name, (int)reserved, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	functions_set_reserved(req->daemon->functions, ref.name, (int)reserved);
	request_reply(req, json_pack("{s:I}", "ReservedConcurrentExecutions", (json_int_t)reserved));
}

void api_get_function_concurrency(struct request *req)
{
	struct function_ref ref;
	struct api_error err = { 0 };
	int reserved = -1;

	if (api_function_ref(req, false, &ref, &err) < 0 ||
	    registry_get_concurrency(req->daemon->registry, ref.name, &reserved, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	request_reply(req, reserved >= 0 ? json_pack("{s:i}", "ReservedConcurrentExecutions", reserved)
					 : NULL);
}

void api_delete_function_concurrency(struct request *req)
{
	struct function_ref ref;
	struct api_error err = { 0 };

	if (api_function_ref(req, false, &ref, &err) < 0 ||
	    registry_put_concurrency(req->daemon->registry, ref.name, -1, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	functions_set_reserved(req->daemon->functions, ref.name, -1);
	request_reply(req, NULL);
}
