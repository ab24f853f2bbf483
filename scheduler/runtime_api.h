/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_RUNTIME_API_H
#define LAMINA_SCHEDULER_RUNTIME_API_H

/*
 * The Lambda Runtime API, server side: HTTP/1.1 on a connection from an instance (the
 * socket it inherits, or a TCP connection to its AWS_LAMBDA_RUNTIME_API address).
 * Requests are parsed with http-parser and handed to the instance; GET .../next is held
 * open until an event is sent on it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct instance;
struct loop;
struct rapi_conn;

struct rapi_handlers {
	void (*next)(struct instance *inst, struct rapi_conn *c);
	void (*response)(struct instance *inst, const char *request_id, const char *body,
			 size_t len, bool too_large);
	void (*error)(struct instance *inst, const char *request_id, const char *body, size_t len,
		      bool handled);
	void (*init_error)(struct instance *inst, const char *body, size_t len);
	void (*closed)(struct instance *inst, struct rapi_conn *c);
};

/* Serves fd (non-blocking, owned) for inst. */
struct rapi_conn *rapi_conn_new(struct loop *loop, struct instance *inst, int fd,
				const struct rapi_handlers *handlers);
/* Closes without calling handlers->closed. Accepts NULL. */
void rapi_conn_free(struct rapi_conn *c);
/* Sends the acknowledgements of the responses received in this loop iteration: after
 * the invokers' replies (server_flush), so an instance's wake-up never delays them. */
void rapi_flush_acks(void);

/* Answers the GET .../next held on c with an event. */
int rapi_send_event(struct rapi_conn *c, const char *request_id, uint64_t deadline_epoch_ms,
		    const char *function_arn, const char *body, size_t len);

#endif
