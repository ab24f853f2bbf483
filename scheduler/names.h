/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_NAMES_H
#define LAMINA_SCHEDULER_NAMES_H

/*
 * Function names, qualifiers and ARNs, as Lambda accepts them:
 *   my-function                       my-function:v1 / my-function:3 / my-function:$LATEST
 *   000000000000:function:my-function[:q]                      (partial ARN)
 *   arn:aws:lambda:local:000000000000:function:my-function[:q] (full ARN)
 */

#include <stdbool.h>
#include <stddef.h>

#include "api_error.h"

#define NAME_MAX_LEN 64
#define QUALIFIER_MAX_LEN 128

struct function_ref {
	char name[NAME_MAX_LEN + 1];
	char qualifier[QUALIFIER_MAX_LEN + 1];	/* "" when unqualified */
};

/* [A-Za-z0-9_-]{1,64} */
bool name_is_valid_function(const char *name);
/* "$LATEST", a version number, or an alias name. */
bool name_is_valid_qualifier(const char *qualifier);
/* An alias: [a-zA-Z0-9-_]{1,128}, not all digits. */
bool name_is_valid_alias(const char *alias);
/* A published version: 1..N without leading zeros. */
bool name_is_version_number(const char *s);

/*
 * Parses any accepted form. A separate qualifier (the API's Qualifier field, may be NULL
 * or "") must agree with one in the reference. Region and account of an ARN must be
 * this daemon's. Errors are InvalidParameterValueException with a specific message.
 */
int name_parse_ref(const char *ref, const char *qualifier, const char *region,
		   const char *account, struct function_ref *out, struct api_error *err);

/* arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>] into buf. */
void name_format_arn(char *buf, size_t size, const char *region, const char *account,
		     const char *name, const char *qualifier);

#endif
