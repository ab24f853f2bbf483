/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_CLI_RAWJSON_H
#define LAMINA_CLI_RAWJSON_H

/*
 * Byte-level edits of JSON text that has already been validated (by jansson). They let
 * the CLI pass an invocation payload through exactly as written, and print a function's
 * response exactly as the daemon sent it: decoding and re-encoding with jansson would
 * rewrite numbers (0.1 becomes 0.10000000000000001, integers beyond 64 bits are refused).
 */

#include <stdbool.h>
#include <stddef.h>

/* Removes the white space outside strings, in place; returns the new length. */
size_t rawjson_minify(char *text, size_t len);

/*
 * In compact (minified) text of a JSON object, finds the top-level member named key:
 * its value is text[*start, *end). Keys are compared byte for byte, without unescaping.
 */
bool rawjson_find(const char *text, size_t len, const char *key, size_t *start, size_t *end);

/*
 * In compact text of a JSON object, removes the top-level members whose names are in
 * keys (a NULL-terminated list), in place; returns the new length.
 */
size_t rawjson_drop(char *text, size_t len, const char *const *keys);

#endif
