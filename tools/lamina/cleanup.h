/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_CLI_CLEANUP_H
#define LAMINA_CLI_CLEANUP_H

/* The runtime's scope-bound clean-up (runtime/cleanup.h), plus the CLI's own kinds: stdio
 * streams and jansson values. */

#include <jansson.h>
#include <stdio.h>

#include "../../runtime/cleanup.h"

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cleanup_json_decrefp(json_t **j)
{
	json_decref(*j);
}

#define _cleanup_fclose_ __attribute__((cleanup(cleanup_fclosep)))
#define _cleanup_json_ __attribute__((cleanup(cleanup_json_decrefp)))

#endif
