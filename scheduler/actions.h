/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_ACTIONS_H
#define LAMINA_SCHEDULER_ACTIONS_H

/* The socket API's actions: one table, one handler each, grouped by file (api_*.c). */

#include "server.h"

struct action {
	const char *name;
	void (*handle)(struct request *req);	/* must reply exactly once, now or later */
	bool mutates;				/* changes the registry: resolved versions go stale */
};

const struct action *action_find(const char *name);

/* api_functions.c */
void api_create_function(struct request *req);
void api_update_function_code(struct request *req);
void api_update_function_configuration(struct request *req);
void api_get_function(struct request *req);
void api_get_function_configuration(struct request *req);
void api_list_functions(struct request *req);
void api_delete_function(struct request *req);
void api_publish_version(struct request *req);
void api_list_versions_by_function(struct request *req);
void api_put_function_concurrency(struct request *req);
void api_get_function_concurrency(struct request *req);
void api_delete_function_concurrency(struct request *req);
/* api_aliases.c */
void api_create_alias(struct request *req);
void api_update_alias(struct request *req);
void api_get_alias(struct request *req);
void api_list_aliases(struct request *req);
void api_delete_alias(struct request *req);
/* api_invoke.c */
void api_invoke(struct request *req);
/* api_logs.c */
void api_get_logs(struct request *req);
/* api_layers.c */
void api_publish_layer_version(struct request *req);
void api_get_layer_version(struct request *req);	/* also GetLayerVersionByArn */
void api_list_layer_versions(struct request *req);
void api_list_layers(struct request *req);
void api_delete_layer_version(struct request *req);
/* api_metrics.c */
void api_get_metrics(struct request *req);
void api_get_bill(struct request *req);

#endif
