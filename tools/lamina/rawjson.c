/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "rawjson.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* pos is at an opening quote; returns the position after the closing one. */
static size_t skip_string(const char *t, size_t len, size_t pos)
{
	for (pos++; pos < len; pos++) {
		if (t[pos] == '\\')
			pos++;
		else if (t[pos] == '"')
			return pos + 1;
	}
	return len;
}

/* pos is at the start of a value in compact text; returns the position after it. */
static size_t skip_value(const char *t, size_t len, size_t pos)
{
	size_t depth = 0;

	while (pos < len) {
		char c = t[pos];

		if (c == '"') {
			pos = skip_string(t, len, pos);
		} else if (c == '{' || c == '[') {
			depth++;
			pos++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return pos;
			depth--;
			pos++;
		} else if (c == ',' && depth == 0) {
			return pos;
		} else {
			pos++;
		}
		if (depth == 0 && (c == '"' || c == '}' || c == ']'))
			return pos;
	}
	return pos;
}

size_t rawjson_minify(char *text, size_t len)
{
	size_t w = 0;

	for (size_t r = 0; r < len;) {
		if (text[r] == '"') {
			size_t end = skip_string(text, len, r);

			memmove(text + w, text + r, end - r);
			w += end - r;
			r = end;
		} else if (is_space(text[r])) {
			r++;
		} else {
			text[w++] = text[r++];
		}
	}
	return w;
}

struct member {
	size_t start;		/* of the key's opening quote */
	size_t key_len;		/* between the quotes */
	size_t value_start, value_end;
};

/* Reads the member at *pos (just after '{' or ','); false at the end of the object. */
static bool next_member(const char *t, size_t len, size_t *pos, struct member *m)
{
	size_t p = *pos, key_end;

	if (p >= len || t[p] != '"')
		return false;
	key_end = skip_string(t, len, p);
	if (key_end >= len || t[key_end] != ':')
		return false;
	m->start = p;
	m->key_len = key_end - p - 2;
	m->value_start = key_end + 1;
	m->value_end = skip_value(t, len, m->value_start);
	*pos = m->value_end < len && t[m->value_end] == ',' ? m->value_end + 1 : m->value_end;
	return true;
}

static bool member_is(const char *t, const struct member *m, const char *key)
{
	return strlen(key) == m->key_len && memcmp(t + m->start + 1, key, m->key_len) == 0;
}

bool rawjson_find(const char *text, size_t len, const char *key, size_t *start, size_t *end)
{
	size_t pos = 1;
	struct member m;

	if (len < 2 || text[0] != '{')
		return false;
	while (next_member(text, len, &pos, &m))
		if (member_is(text, &m, key)) {
			*start = m.value_start;
			*end = m.value_end;
			return true;
		}
	return false;
}

size_t rawjson_drop(char *text, size_t len, const char *const *keys)
{
	size_t pos = 1, w = 1;
	struct member m;

	if (len < 2 || text[0] != '{')
		return len;
	while (next_member(text, len, &pos, &m)) {
		bool drop = false;

		for (const char *const *k = keys; *k && !drop; k++)
			drop = member_is(text, &m, *k);
		if (drop)
			continue;
		if (w > 1)
			text[w++] = ',';
		/* The write position never passes the member being read. */
		memmove(text + w, text + m.start, m.value_end - m.start);
		w += m.value_end - m.start;
	}
	text[w++] = '}';
	return w;
}
