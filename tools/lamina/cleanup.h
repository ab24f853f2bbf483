/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_CLI_CLEANUP_H
#define LAMINA_CLI_CLEANUP_H

/*
 * Scope-bound clean-up for the CLI, in the manner of systemd and bubblewrap. The CLI only
 * talks to the socket, so it keeps its own copy rather than reaching into runtime/.
 */

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cleanup_json_decrefp(json_t **j)
{
	json_decref(*j);
}

#define _cleanup_free_ __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_ __attribute__((cleanup(cleanup_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(cleanup_fclosep)))
#define _cleanup_json_ __attribute__((cleanup(cleanup_json_decrefp)))

/* Hands ownership out of a _cleanup_ variable. */
#define steal_pointer(pp)                                                      \
	({                                                                     \
		__typeof__(*(pp)) _tmp = *(pp);                                \
		*(pp) = NULL;                                                  \
		_tmp;                                                          \
	})

static inline int take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

#endif
