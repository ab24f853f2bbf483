/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_METRICS_H
#define LAMINA_SCHEDULER_METRICS_H

/* The live figures of the host and of every function version: a JSON snapshot (for
 * `lamina top`) and the Prometheus text exposition (`lamina metrics`, GET /metrics). */

#include <jansson.h>
#include <stddef.h>

struct daemon;

json_t *metrics_snapshot(struct daemon *d);
/* malloc'd text in Prometheus' format 0.0.4; NULL when out of memory. */
char *metrics_prometheus(struct daemon *d, size_t *len);

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
