/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_CLI_PROGRESS_H
#define LAMINA_CLI_PROGRESS_H

/*
 * A progress bar on stderr while the daemon unpacks an image. The daemon's unpacking
 * child (which runs with our credentials) writes "done total" lines into a FIFO we make
 * in a private directory and name in Code.ProgressFifo; a thread of ours draws them.
 * Only on a terminal, and only for images of PROGRESS_MIN_BYTES or more.
 */

#include <stdbool.h>
#include <stdint.h>

#define PROGRESS_MIN_BYTES (8ull << 20)

struct progress;

/* NULL (no bar) if stderr is not a terminal, total is small or the FIFO cannot be made. */
struct progress *progress_start(const char *label, uint64_t total);
/* The FIFO's path, for Code.ProgressFifo. */
const char *progress_fifo(const struct progress *p);
/* Stops drawing: a full bar and a newline if ok, else the line is cleared. Frees p. */
void progress_finish(struct progress *p, bool ok);

#endif
