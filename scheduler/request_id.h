/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_REQUEST_ID_H
#define LAMINA_SCHEDULER_REQUEST_ID_H

/* Request ids: random UUIDs (version 4) as Lambda's, drawn from a buffered getrandom()
 * pool (libuuid spends five syscalls on each, on the invoke path). */
void request_id_new(char out[37]);

#endif
