/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_REGISTRY_H
#define LAMINA_SCHEDULER_REGISTRY_H

/*
 * The function registry in SQLite (WAL, synchronous=FULL: every change is on disk
 * before the call returns, so an acknowledged change survives kill -9 and power loss).
 * It holds functions, their mutable $LATEST, immutable published versions, aliases with
 * routing weights, and reserved concurrency, and enforces Lambda's lifecycle rules.
 * It knows nothing of instances, sockets or sandboxes.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api_error.h"
#include "names.h"

#define VERSION_LATEST "$LATEST"

/* Lambda's bounds. */
#define MEMORY_MIN_MB 128
#define MEMORY_MAX_MB 10240
#define TIMEOUT_MAX_S 900
#define EPHEMERAL_MIN_MB 512
#define EPHEMERAL_MAX_MB 10240

/* One version of a function: $LATEST or a published number. Code and configuration. */
struct function_version {
	int64_t function_id;
	char name[NAME_MAX_LEN + 1];
	char version[16];		/* "$LATEST" or "1", "2", … */
	char runtime[32];		/* python3.11, nodejs20.x, provided, … */
	char handler[128];
	char description[256];
	uint32_t memory_mb;
	uint32_t timeout_s;
	uint32_t ephemeral_mb;
	json_t *environment;		/* object of string values; owned; never NULL once loaded */
	char code_sha256[48];		/* base64 of the SHA-256, as Lambda's CodeSha256 */
	char code_hex[65];		/* the same in hex: images/sha256/<hex> */
	int64_t code_size;
	char last_modified[40];		/* ISO 8601, e.g. 2026-11-27T17:25:22.000+0000 */
	char revision_id[40];		/* changes with every change of $LATEST */
	uint32_t uid;			/* the function's own sandbox uid (= gid): no two share one */
	/* lamina's part of the configuration as a JSON object's text ("" = {}): "Layers"
	 * [{Arn, CodeSize, CodeSha256, Hex}] resolved when set, and for container images
	 * "PackageType": "Image", "ImageUri", "ImageConfig" {EntryPoint, Command,
	 * WorkingDirectory, Env}. Snapshotted by publish like the rest (api_layers.c). */
	char extra[8192];
};

/* A new function's or an update's code and configuration; what is unset stays. */
struct function_config {
	const char *runtime;
	const char *handler;
	const char *description;
	uint32_t memory_mb;		/* 0: unset */
	uint32_t timeout_s;		/* 0: unset */
	uint32_t ephemeral_mb;		/* 0: unset */
	json_t *environment;		/* NULL: unset; borrowed */
	const char *code_sha256;	/* NULL: unset */
	const char *code_hex;
	int64_t code_size;
	json_t *layers;			/* NULL: unset; array of layer version ARNs; borrowed */
	json_t *image;			/* NULL: unset; {ImageUri, ImageConfig}: PackageType Image */
};

struct alias {
	char name[QUALIFIER_MAX_LEN + 1];
	char function_name[NAME_MAX_LEN + 1];
	char version[16];
	char additional_version[16];	/* "" when none */
	double additional_weight;	/* 0..1 */
	char description[256];
	char revision_id[40];
};

struct registry;

int registry_open(const char *db_path, uint32_t first_uid, struct registry **out,
		  struct api_error *err);
void registry_close(struct registry *reg);
/* Region and account for the ARNs in ResourceNotFound/Conflict messages (default "local",
 * "000000000000"); strings are copied. */
void registry_set_arn_prefix(struct registry *reg, const char *region, const char *account);

/* CreateFunction: new name; runtime, handler and code required. Defaults: 128 MB, 3 s,
 * 512 MB /tmp. Allocates the function's uid. Fills *out ($LATEST). */
int registry_create_function(struct registry *reg, const char *name,
			     const struct function_config *config, struct function_version *out,
			     struct api_error *err);
/* UpdateFunctionCode / UpdateFunctionConfiguration: changes $LATEST. */
int registry_update_latest(struct registry *reg, const char *name,
			   const struct function_config *changes, struct function_version *out,
			   struct api_error *err);
/* Resolves name + qualifier ("" or $LATEST, a version, an alias) to a version. For an
 * alias, *alias_out (if not NULL) is filled and *out is the alias' primary version. */
int registry_get(struct registry *reg, const char *name, const char *qualifier,
		 struct function_version *out, struct alias *alias_out, struct api_error *err);
/* Loads a specific version ("$LATEST" or a number) — used after alias routing. */
int registry_get_version(struct registry *reg, const char *name, const char *version,
			 struct function_version *out, struct api_error *err);
/* PublishVersion: snapshots $LATEST; returns the last version if nothing changed since. */
int registry_publish(struct registry *reg, const char *name, const char *description,
		     struct function_version *out, struct api_error *err);
/* DeleteFunction: qualifier "" deletes the function with all versions and aliases; a
 * version number deletes that version (refused while an alias routes to it); $LATEST
 * and aliases are refused as qualifiers. */
int registry_delete(struct registry *reg, const char *name, const char *qualifier,
		    struct api_error *err);

/* Lists, as arrays of versions/aliases; free with function_versions_free. */
int registry_list_functions(struct registry *reg, struct function_version **out, size_t *n,
			    struct api_error *err);	/* each function's $LATEST */
int registry_list_versions(struct registry *reg, const char *name,
			   struct function_version **out, size_t *n, struct api_error *err);
void function_versions_free(struct function_version *v, size_t n);
void function_version_clear(struct function_version *v);	/* frees environment */

/* Aliases. additional_version "" = no routing. */
int registry_create_alias(struct registry *reg, const struct alias *alias, struct alias *out,
			  struct api_error *err);
/* UpdateAlias: fields left "" / negative weight keep their value; an explicit empty
 * routing config is requested with clear_routing. */
int registry_update_alias(struct registry *reg, const struct alias *changes, bool clear_routing,
			  struct alias *out, struct api_error *err);
int registry_get_alias(struct registry *reg, const char *name, const char *alias,
		       struct alias *out, struct api_error *err);
int registry_list_aliases(struct registry *reg, const char *name, struct alias **out, size_t *n,
			  struct api_error *err);
int registry_delete_alias(struct registry *reg, const char *name, const char *alias,
			  struct api_error *err);

/* Reserved concurrency: -1 = none (the account pool). */
int registry_put_concurrency(struct registry *reg, const char *name, int reserved,
			     struct api_error *err);
int registry_get_concurrency(struct registry *reg, const char *name, int *reserved,
			     struct api_error *err);

/* Every code_hex any version or $LATEST still uses (for image garbage collection). */
int registry_code_in_use(struct registry *reg, const char *code_hex, bool *in_use,
			 struct api_error *err);

/* Lambda's FunctionConfiguration object for v (FunctionName, FunctionArn, Runtime, Role?,
 * Handler, CodeSize, Description, Timeout, MemorySize, LastModified, CodeSha256, Version,
 * Environment {Variables}, EphemeralStorage {Size}, RevisionId, State "Active",
 * LastUpdateStatus "Successful", PackageType "Zip", Architectures ["x86_64"]). */
json_t *function_version_to_json(const struct function_version *v, const char *region,
				 const char *account);
/* AliasConfiguration: AliasArn, Name, FunctionVersion, Description, RoutingConfig
 * {AdditionalVersionWeights {"N": w}} (omitted when none), RevisionId. */
json_t *alias_to_json(const struct alias *a, const char *region, const char *account);

/* ---- layers (Lambda's PublishLayerVersion and friends) ---- */

#define LAYER_NAME_MAX_LEN 140
#define LAYERS_PER_FUNCTION_MAX 5

struct layer_version {
	char name[LAYER_NAME_MAX_LEN + 1];
	int64_t version;
	char description[256];
	char code_sha256[48];
	char code_hex[65];
	int64_t code_size;
	char created[40];
	char runtimes[512];		/* CompatibleRuntimes as JSON array text */
};

bool layer_name_is_valid(const char *name);
/* A new version of layer name (numbers never reused, as Lambda's). runtimes: borrowed
 * array of strings or NULL. */
int registry_publish_layer(struct registry *reg, const char *name, const char *description,
			   json_t *runtimes, const char *code_hex, const char *code_sha256,
			   int64_t code_size, struct layer_version *out, struct api_error *err);
int registry_get_layer(struct registry *reg, const char *name, int64_t version,
		       struct layer_version *out, struct api_error *err);
/* Newest first; name NULL: the newest version of every layer (ListLayers). */
int registry_list_layers(struct registry *reg, const char *name, struct layer_version **out,
			 size_t *n, struct api_error *err);
/* Deleting a missing version succeeds, as on Lambda. Functions keep the content of the
 * layers they were configured with (the version rows hold its digest). */
int registry_delete_layer(struct registry *reg, const char *name, int64_t version,
			  struct api_error *err);
json_t *layer_version_to_json(const struct layer_version *l, const char *region,
			      const char *account);

#endif
