/* SPDX-License-Identifier: MIT */
#include "api_error.h"

#include <stdarg.h>
#include <stdio.h>

int api_error_set(struct api_error *err, const char *type, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->type = type;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}
