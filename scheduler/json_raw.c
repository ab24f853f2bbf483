/* SPDX-License-Identifier: MIT */
#include "json_raw.h"

#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The end of the string starting at s (on its opening quote). */
static size_t skip_string(const char *s, size_t i, size_t len)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return len;
}

/* The end of the value starting at i. */
static size_t skip_value(const char *s, size_t i, size_t len)
{
	int depth = 0;

	while (i < len) {
		char c = s[i];

		if (c == '"') {
			i = skip_string(s, i, len);
			if (depth == 0)
				return i;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (c == ',' || is_space(c))) {
			return i;
		}
		i++;
	}
	return i;
}

bool json_raw_member(const char *obj, size_t len, const char *key, const char **value,
		     size_t *value_len)
{
	size_t key_len = strlen(key), i = 0;

	while (i < len && is_space(obj[i]))
		i++;
	if (i >= len || obj[i] != '{')
		return false;
	i++;
	while (i < len) {
		size_t name_start, name_end, v;

		while (i < len && (is_space(obj[i]) || obj[i] == ','))
			i++;
		if (i >= len || obj[i] != '"')
			return false;
		name_start = i + 1;
		i = skip_string(obj, i, len);
		name_end = i - 1;
		while (i < len && (is_space(obj[i]) || obj[i] == ':'))
			i++;
		v = i;
		i = skip_value(obj, i, len);
		/* Keys with escapes never equal a plain key: compare the raw bytes. */
		if (name_end - name_start == key_len && !memcmp(obj + name_start, key, key_len)) {
			*value = obj + v;
			*value_len = i - v;
			return true;
		}
	}
	return false;
}

size_t json_raw_minify(char *dst, const char *src, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len;) {
		if (src[i] == '"') {
			size_t end = skip_string(src, i, len);

			memcpy(dst + out, src + i, end - i);
			out += end - i;
			i = end;
		} else if (is_space(src[i])) {
			i++;
		} else {
			dst[out++] = src[i++];
		}
	}
	return out;
}
