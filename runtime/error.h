/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_RUNTIME_ERROR_H
#define LAMINA_RUNTIME_ERROR_H

/*
 * One error type for the runtime library, filled where a call fails (errno plus a
 * message naming what failed) and passed up, optionally wrapped with context.
 * The library never logs; callers print err->message once.
 */

struct lr_error {
	int code;		/* positive errno */
	char message[512];
};

/* Sets *err to "<formatted>: strerror(code)" and returns -code. */
int lr_error_set(struct lr_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like lr_error_set, without the strerror suffix (for bad input, not failed calls). */
int lr_error_invalid(struct lr_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes context to an already-set error; returns -err->code. */
int lr_error_wrap(struct lr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
