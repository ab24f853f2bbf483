/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_METRICS_HTTP_H
#define LAMINA_SCHEDULER_METRICS_HTTP_H

/* The Prometheus scrape endpoint, GET /metrics on ADDR:PORT (laminad --metrics). */

#include <stddef.h>

struct daemon;
struct metrics_http;

int metrics_http_open(struct daemon *d, const char *address, struct metrics_http **out, char *errbuf,
		      size_t errlen);
void metrics_http_close(struct metrics_http *srv);

#endif
