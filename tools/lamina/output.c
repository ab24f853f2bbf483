/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

void output_json(const json_t *value)
{
	/* 17 digits so that every double reads back as itself. */
	json_dumpf(value, stdout, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	fputc('\n', stdout);
}

void output_raw(const char *text, size_t len)
{
	fwrite(text, 1, len, stdout);
	fputc('\n', stdout);
}

/* The shortest of %.15g … %.17g that reads back as the same double. */
static void format_real(char *buf, size_t size, double v)
{
	for (int precision = 15; precision <= 17; precision++) {
		snprintf(buf, size, "%.*g", precision, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

char *output_format(const json_t *value)
{
	char buf[64], *s;

	/* An absent member (a container image's Runtime and Handler) shows as null does. */
	switch (value ? json_typeof(value) : JSON_NULL) {
	case JSON_STRING:
		s = strdup(json_string_value(value));
		break;
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
		s = strdup(buf);
		break;
	case JSON_REAL:
		format_real(buf, sizeof(buf), json_real_value(value));
		s = strdup(buf);
		break;
	case JSON_TRUE:
		s = strdup("true");
		break;
	case JSON_FALSE:
		s = strdup("false");
		break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		s = json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(17));
		break;
	case JSON_NULL:
	default:
		s = strdup("-");
		break;
	}
	if (!s)
		cli_oom();
	return s;
}

char *output_unit(const json_t *obj, const char *key, const char *unit)
{
	const json_t *value = json_object_get(obj, key);
	_cleanup_free_ char *s = NULL;
	char *out;

	if (!value || json_is_null(value)) {
		out = strdup("-");
	} else {
		s = output_format(value);
		if (asprintf(&out, "%s %s", s, unit) < 0)
			out = NULL;
	}
	if (!out)
		cli_oom();
	return out;
}

const char *output_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void fields_at(FILE *out, const json_t *obj, int indent)
{
	const char *key;
	json_t *value;
	int width = 0;

	json_object_foreach ((json_t *)obj, key, value)
		if ((int)strlen(key) > width)
			width = (int)strlen(key);
	json_object_foreach ((json_t *)obj, key, value) {
		if (json_is_object(value) && json_object_size(value) > 0) {
			fprintf(out, "%*s%s:\n", indent, "", key);
			fields_at(out, value, indent + 2);
		} else {
			/* Empty values show as "-", so that no line ends in a blank. */
			bool empty = json_is_object(value) ||
				     (json_is_string(value) && !*json_string_value(value));
			_cleanup_free_ char *s = empty ? strdup("-") : output_format(value);

			fprintf(out, "%*s%s:%*s %s\n", indent, "", key, width - (int)strlen(key), "",
				s ? s : "-");
		}
	}
}

void output_fields(FILE *out, const json_t *obj)
{
	fields_at(out, obj, 0);
}

struct table {
	size_t ncols, nrows, cap;
	char **cells;		/* row-major, nrows * ncols; row 0 is the header */
};

struct table *table_new(const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));
	char **row;

	if (!t)
		cli_oom();
	while (headers[t->ncols])
		t->ncols++;
	row = calloc(t->ncols, sizeof(*row));
	if (!row)
		cli_oom();
	for (size_t i = 0; i < t->ncols; i++)
		if (!(row[i] = strdup(headers[i])))
			cli_oom();
	table_add_owned(t, row);
	free(row);
	return t;
}

void table_add_owned(struct table *t, char **cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = realloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
		if (!t->cells)
			cli_oom();
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = cells[i];
	t->nrows++;
}

void table_add(struct table *t, ...)
{
	_cleanup_free_ char **row = calloc(t->ncols, sizeof(*row));
	va_list ap;

	if (!row)
		cli_oom();
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *cell = va_arg(ap, const char *);

		if (!(row[i] = strdup(cell ? cell : "-")))
			cli_oom();
	}
	va_end(ap);
	table_add_owned(t, row);
}

/* Columns are measured in characters, not bytes: descriptions may be UTF-8. */
static size_t display_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void table_print(const struct table *t, FILE *out)
{
	_cleanup_free_ size_t *width = calloc(t->ncols, sizeof(*width));

	if (!width)
		cli_oom();
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			size_t w = display_width(t->cells[r * t->ncols + i]);

			if (w > width[i])
				width[i] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *cell = t->cells[r * t->ncols + i];

			fputs(cell, out);
			if (i + 1 < t->ncols)
				fprintf(out, "%*s", (int)(width[i] - display_width(cell) + 2), "");
		}
		fputc('\n', out);
	}
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
