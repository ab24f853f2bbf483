/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_JSON_RAW_H
#define LAMINA_SCHEDULER_JSON_RAW_H

/*
 * Payloads pass through lamina as the bytes the client or the function wrote: decoding
 * and re-encoding them would change numbers (0.1 → 0.10000000000000001) and cost time on
 * the invoke path. These helpers work on text that jansson has already validated.
 */

#include <stdbool.h>
#include <stddef.h>

/* The value of top-level member key in the JSON object text obj. */
bool json_raw_member(const char *obj, size_t len, const char *key, const char **value,
		     size_t *value_len);

/* Copies src without the whitespace between tokens (so it holds no newline); dst needs
 * len bytes. Returns the new length. */
size_t json_raw_minify(char *dst, const char *src, size_t len);

#endif
