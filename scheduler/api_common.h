/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_API_COMMON_H
#define LAMINA_SCHEDULER_API_COMMON_H

/* What the api_*.c handlers share: reading a function reference and configuration
 * from a request, and Lambda's shapes for replies. */

#include "names.h"
#include "registry.h"
#include "server.h"

/* FunctionName (+ Qualifier) as any accepted form. allow_qualifier false refuses one. */
int api_function_ref(struct request *req, bool allow_qualifier, struct function_ref *ref,
		     struct api_error *err);

/* Reads Runtime, Handler, Description, MemorySize, Timeout, Environment.Variables and
 * EphemeralStorage.Size where present. Strings point into req->params. */
int api_function_config(struct request *req, struct function_config *config,
			struct api_error *err);

/* Replies with v as Lambda's FunctionConfiguration. */
void api_reply_version(struct request *req, const struct function_version *v);

#endif
