/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_CLI_OUTPUT_H
#define LAMINA_CLI_OUTPUT_H

/* Printing results: JSON documents, aligned tables, "key: value" blocks. */

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* One compact JSON document and a newline on stdout (--json). */
void output_json(const json_t *value);

/* JSON text as it is, and a newline, on stdout. */
void output_raw(const char *text, size_t len);

/*
 * A value for people: strings as they are, numbers without trailing noise, null as "-",
 * arrays and objects as compact JSON. The caller frees it.
 */
char *output_format(const json_t *value);

/* obj[key] and a unit ("128 MB"), or "-" when absent. The caller frees it. */
char *output_unit(const json_t *obj, const char *key, const char *unit);

/* obj[key] as a string, or NULL when absent or not a string. */
const char *output_str(const json_t *obj, const char *key);

/* Members of obj as aligned "Key: value" lines, nested objects indented below their key. */
void output_fields(FILE *out, const json_t *obj);

/* A table with a header row; columns are left-aligned and two spaces apart. */
struct table;
/* headers: NULL-terminated. */
struct table *table_new(const char *const *headers);
/* One cell per column; a NULL cell prints as "-". Cells are copied. */
void table_add(struct table *t, ...);
/* Takes ownership of cells (malloc'd strings, one per column). */
void table_add_owned(struct table *t, char **cells);
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);

#endif
