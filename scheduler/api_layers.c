/* SPDX-License-Identifier: MIT */
/*
 * Lambda layers: PublishLayerVersion, GetLayerVersion(ByArn),
 * ListLayerVersions, ListLayers, DeleteLayerVersion. A layer version's content
 * is an image in the store (code_store.h: a directory, a .zip or a tarball,
 * read with the client's credentials), mounted read-only at /opt in the
 * instances of the functions configured with it. Functions keep the digest of
 * every layer they use, so deleting a layer version never takes content from a
 * function version (Lambda keeps a copy for them too).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "api_common.h"
#include "code_store.h"
#include "daemon.h"

struct layer_publish {
	struct request *req;
	const char *name;
	const char *description;
	json_t *runtimes;
};

static void layer_reply(struct request *req, const struct layer_version *l)
{
	const struct daemon_config *c = &req->daemon->config;

	request_reply(req, layer_version_to_json(l, c->region, c->account));
}

static void publish_stored(void *ctx, const struct code_ref *code, const struct api_error *code_err)
{
	struct layer_publish *lp = ctx;
	struct request *req = lp->req;
	struct layer_version l;
	struct api_error err = {0};

	if (code_err) {
		request_fail(req, code_err);
	} else if (registry_publish_layer(req->daemon->registry, lp->name, lp->description,
					  lp->runtimes, code->hex, code->sha256_b64, code->size, &l,
					  &err) < 0) {
		request_fail(req, &err);
	} else {
		req->daemon->registry_generation++;
		layer_reply(req, &l);
	}
	free(lp);
}

void api_publish_layer_version(struct request *req)
{
	struct api_error err = {0};
	struct layer_publish *lp = calloc(1, sizeof(*lp));
	struct code_source source;

	if (!lp) {
		request_failf(req, API_ERR_SERVICE, "out of memory");
		return;
	}
	lp->req = req;
	lp->runtimes = json_object_get(req->params, "CompatibleRuntimes");
	if (request_string(req, "LayerName", true, &lp->name, &err) < 0 ||
	    request_string(req, "Description", false, &lp->description, &err) < 0)
		goto fail;
	if (!layer_name_is_valid(lp->name)) {
		api_error_set(
			&err, API_ERR_INVALID,
			"LayerName '%.160s' must match [a-zA-Z0-9-_]+ (at most %d characters)",
			lp->name, LAYER_NAME_MAX_LEN);
		goto fail;
	}
	if (lp->runtimes && !json_is_array(lp->runtimes)) {
		api_error_set(&err, API_ERR_INVALID,
			      "CompatibleRuntimes must be a list of runtimes");
		goto fail;
	}
	if (code_store_parse(json_object_get(req->params, "Content"), &source, &err) < 0)
		goto fail;
	if (code_store_put(req->daemon, &source, req->peer_uid, req->peer_gid, publish_stored, lp,
			   &err) < 0)
		goto fail;
	return;
fail:
	free(lp);
	request_fail(req, &err);
}

/*
 * LayerName as a name or a layer ARN (arn:aws:lambda:R:A:layer:NAME), and
 * VersionNumber; or Arn, a layer version ARN (GetLayerVersionByArn).
 */
static int layer_ref(struct request *req, bool by_arn, bool need_version, char *name, size_t size,
		     int64_t *version, struct api_error *err)
{
	const struct daemon_config *c = &req->daemon->config;
	const char *given, *p;
	char prefix[200];
	uint64_t v = 0;

	snprintf(prefix, sizeof(prefix), "arn:aws:lambda:%s:%s:layer:", c->region, c->account);
	if (by_arn) {
		const char *colon;
		char *end;

		if (request_string(req, "Arn", true, &given, err) < 0)
			return -1;
		colon = strrchr(given, ':');
		if (strncmp(given, prefix, strlen(prefix)) || !colon ||
		    colon < given + strlen(prefix) || !colon[1]) {
			return api_error_set(
				err, API_ERR_INVALID,
				"Arn '%.160s' is not a layer version ARN (%sNAME:VERSION)", given,
				prefix);
		}
		snprintf(name, size, "%.*s", (int)(colon - given - strlen(prefix)),
			 given + strlen(prefix));
		errno = 0;
		*version = strtoll(colon + 1, &end, 10);
		if (*end || errno || *version < 1)
			return api_error_set(err, API_ERR_INVALID,
					     "Arn '%.160s': bad version number", given);
		return 0;
	}
	if (request_string(req, "LayerName", true, &given, err) < 0)
		return -1;
	p = strncmp(given, prefix, strlen(prefix)) ? given : given + strlen(prefix);
	snprintf(name, size, "%s", p);
	if (need_version) {
		if (request_uint(req, "VersionNumber", 1, INT64_MAX, true, &v, err) < 0)
			return -1;
		*version = (int64_t)v;
	}
	return 0;
}

void api_get_layer_version(struct request *req)
{
	char name[LAYER_NAME_MAX_LEN + 64];
	struct layer_version l;
	struct api_error err = {0};
	int64_t version = 0;

	if (layer_ref(req, !strcmp(req->action, "GetLayerVersionByArn"), true, name, sizeof(name),
		      &version, &err) < 0 ||
	    registry_get_layer(req->daemon->registry, name, version, &l, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	layer_reply(req, &l);
}

static void reply_layer_list(struct request *req, const char *key, struct layer_version *ls,
			     size_t n, bool latest_matching)
{
	const struct daemon_config *c = &req->daemon->config;
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *j = layer_version_to_json(&ls[i], c->region, c->account);

		if (latest_matching) {
			/* ListLayers: {LayerName, LayerArn, LatestMatchingVersion}. */
			json_t *item = json_pack("{s:s, s:O}", "LayerName", ls[i].name, "LayerArn",
						 json_object_get(j, "LayerArn"));

			json_object_del(j, "LayerArn");
			json_object_set_new(item, "LatestMatchingVersion", j);
			j = item;
		}
		json_array_append_new(list, j);
	}
	free(ls);
	request_reply(req, json_pack("{s:o}", key, list));
}

void api_list_layer_versions(struct request *req)
{
	char name[LAYER_NAME_MAX_LEN + 64];
	struct layer_version *ls = NULL;
	struct api_error err = {0};
	int64_t version = 0;
	size_t n = 0;

	if (layer_ref(req, false, false, name, sizeof(name), &version, &err) < 0 ||
	    registry_list_layers(req->daemon->registry, name, &ls, &n, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	reply_layer_list(req, "LayerVersions", ls, n, false);
}

void api_list_layers(struct request *req)
{
	struct layer_version *ls = NULL;
	struct api_error err = {0};
	size_t n = 0;

	if (registry_list_layers(req->daemon->registry, NULL, &ls, &n, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	reply_layer_list(req, "Layers", ls, n, true);
}

void api_delete_layer_version(struct request *req)
{
	char name[LAYER_NAME_MAX_LEN + 64];
	struct api_error err = {0};
	int64_t version = 0;

	if (layer_ref(req, false, true, name, sizeof(name), &version, &err) < 0 ||
	    registry_delete_layer(req->daemon->registry, name, version, &err) < 0) {
		request_fail(req, &err);
		return;
	}
	req->daemon->registry_generation++;
	/* Its content stays while a function version was configured with it. */
	code_store_collect(req->daemon);
	request_reply(req, NULL);
}
