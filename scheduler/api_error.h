/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_API_ERROR_H
#define LAMINA_SCHEDULER_API_ERROR_H

/*
 * The scheduler's error: a Lambda exception name and a message for the client.
 * Functions that fail return a negative errno-like value and fill *err.
 */

#define API_ERR_NOT_FOUND "ResourceNotFoundException"
#define API_ERR_INVALID "InvalidParameterValueException"
#define API_ERR_CONFLICT "ResourceConflictException"
#define API_ERR_THROTTLED "TooManyRequestsException"
#define API_ERR_TOO_LARGE "RequestTooLargeException"
#define API_ERR_SERVICE "ServiceException"

struct api_error {
	const char *type;	/* one of API_ERR_*: static strings */
	char message[512];
};

/* Fills *err (which may be NULL) and returns -1. */
int api_error_set(struct api_error *err, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
