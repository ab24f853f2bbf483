/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void error_vformat(struct lr_error *err, int code, int with_strerror,
			  const char *fmt, va_list ap)
{
	int n;

	err->code = code;
	n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
	if (with_strerror && n >= 0 && (size_t)n < sizeof(err->message))
		snprintf(err->message + n, sizeof(err->message) - n, ": %s", strerror(code));
}

int lr_error_set(struct lr_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -code;
	va_start(ap, fmt);
	error_vformat(err, code, 1, fmt, ap);
	va_end(ap);
	return -code;
}

int lr_error_invalid(struct lr_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -code;
	va_start(ap, fmt);
	error_vformat(err, code, 0, fmt, ap);
	va_end(ap);
	return -code;
}

int lr_error_wrap(struct lr_error *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err->message)];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->message, sizeof(old));
	/* Truncation keeps the start, which names the outermost context. */
	size_t n = strnlen(prefix, sizeof(prefix));
	memcpy(err->message, prefix, n);
	if (n + 2 < sizeof(err->message)) {
		memcpy(err->message + n, ": ", 2);
		n += 2;
	}
	size_t rest = sizeof(err->message) - n - 1;
	size_t old_len = strnlen(old, rest);
	memcpy(err->message + n, old, old_len);
	err->message[n + old_len] = '\0';
	return -err->code;
}
