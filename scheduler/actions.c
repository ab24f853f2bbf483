/* SPDX-License-Identifier: MIT */
#include "actions.h"

#include <string.h>

static const struct action actions[] = {
	{ "CreateAlias", api_create_alias, true },
	{ "CreateFunction", api_create_function, true },
	{ "DeleteAlias", api_delete_alias, true },
	{ "DeleteFunction", api_delete_function, true },
	{ "DeleteFunctionConcurrency", api_delete_function_concurrency, true },
	{ "DeleteLayerVersion", api_delete_layer_version, true },
	{ "GetAlias", api_get_alias },
	{ "GetBill", api_get_bill },
	{ "GetFunction", api_get_function },
	{ "GetFunctionConcurrency", api_get_function_concurrency },
	{ "GetFunctionConfiguration", api_get_function_configuration },
	{ "GetLayerVersion", api_get_layer_version },
	{ "GetLayerVersionByArn", api_get_layer_version },
	{ "GetLogs", api_get_logs },
	{ "GetMetrics", api_get_metrics },
	{ "Invoke", api_invoke },
	{ "ListAliases", api_list_aliases },
	{ "ListFunctions", api_list_functions },
	{ "ListLayerVersions", api_list_layer_versions },
	{ "ListLayers", api_list_layers },
	{ "ListVersionsByFunction", api_list_versions_by_function },
	{ "PublishLayerVersion", api_publish_layer_version, true },
	{ "PublishVersion", api_publish_version, true },
	{ "PutFunctionConcurrency", api_put_function_concurrency, true },
	{ "UpdateAlias", api_update_alias, true },
	{ "UpdateFunctionCode", api_update_function_code, true },
	{ "UpdateFunctionConfiguration", api_update_function_configuration, true },
};

const struct action *action_find(const char *name)
{
	size_t lo = 0, hi = sizeof(actions) / sizeof(actions[0]);

	/* The table is sorted by name. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, actions[mid].name);

		if (c == 0)
			return &actions[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
