/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_RESOLVE_H
#define LAMINA_SCHEDULER_RESOLVE_H

/*
 * FunctionName (+ Qualifier) as a client wrote it → the version it names, cached: the
 * invoke path must not query SQLite per request. Entries are keyed by the raw strings
 * and dropped whenever the registry changes (daemon->registry_generation).
 */

#include <stdbool.h>

#include "api_error.h"
#include "registry.h"

struct daemon;

struct resolved {
	struct function_version v;	/* for an alias: its primary version */
	struct alias alias;
	bool has_alias;
	char invoked_arn[256];		/* the ARN as the caller qualified it (or not) */
};

/* The result is borrowed: valid until the next resolve or registry change. */
const struct resolved *resolve_function(struct daemon *d, const char *function_name,
					const char *qualifier, struct api_error *err);
void resolve_cache_free(void);

#endif
