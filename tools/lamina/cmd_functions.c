/* SPDX-License-Identifier: MIT */
/* list, get, versions, delete: reading and removing functions. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

static const char *const fn_arg[] = { "FN", NULL };

/* The result as the daemon sent it (--json), else as the human printer shows it. */
static int print_result(struct cli *cli, json_t *result, const char *text, size_t len,
			void (*human)(json_t *result))
{
	if (cli->json)
		output_raw(text, len);
	else
		human(result);
	return 0;
}

static void print_function_table(json_t *list)
{
	static const char *const headers[] = { "NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT",
					       "LAST MODIFIED", NULL };
	struct table *t = table_new(headers);
	size_t i;
	json_t *conf;

	json_array_foreach (list, i, conf) {
		char *row[] = {
			output_format(json_object_get(conf, "FunctionName")),
			output_format(json_object_get(conf, "Runtime")),
			output_format(json_object_get(conf, "Handler")),
			output_unit(conf, "MemorySize", "MB"),
			output_unit(conf, "Timeout", "s"),
			output_format(json_object_get(conf, "LastModified")),
		};
		table_add_owned(t, row);
	}
	table_print(t, stdout);
	table_free(t);
}

static void print_functions(json_t *result)
{
	print_function_table(json_object_get(result, "Functions"));
}

static int list_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const char *const none[] = { NULL };
	_cleanup_json_ json_t *req = cli_request("ListFunctions"), *result = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = cli_parse_common(cli, cmd, argc, argv);

	if (r != CLI_CONTINUE)
		return r;
	if ((r = cli_positionals(cmd, argc, argv, none, 0)))
		return r;
	if ((r = cli_call_text(cli, req, &result, &text, &len)))
		return r;
	return print_result(cli, result, text, len, print_functions);
}

const struct command cmd_list = {
	.name = "list",
	.run = list_run,
	.usage = "list",
	.help = "List the functions ($LATEST of each).\n",
};

static void print_function(json_t *result, const char *fn)
{
	_cleanup_json_ json_t *fields = json_deep_copy(json_object_get(result, "Configuration"));
	json_t *reserved = json_object_get(json_object_get(result, "Concurrency"),
					   "ReservedConcurrentExecutions");

	(void)fn;
	if (!fields)
		fields = json_object();
	if (!fields)
		cli_oom();
	if (reserved)
		cli_set(fields, "ReservedConcurrentExecutions", json_incref(reserved));
	output_fields(stdout, fields);
}

/* The commands that name one function: send action with FunctionName as typed (the
 * daemon parses names, qualifiers and ARNs) and print the result. */
static int run_on_function(struct cli *cli, const struct command *cmd, int argc, char **argv,
			   const char *action, void (*human)(json_t *result, const char *fn))
{
	_cleanup_json_ json_t *req = cli_request(action), *result = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = cli_parse_common(cli, cmd, argc, argv);

	if (r != CLI_CONTINUE)
		return r;
	if ((r = cli_positionals(cmd, argc, argv, fn_arg, 1)))
		return r;
	cli_set(req, "FunctionName", json_string(argv[optind]));
	if ((r = cli_call_text(cli, req, &result, &text, &len)))
		return r;
	if (cli->json)
		output_raw(text, len);
	else
		human(result, argv[optind]);
	return 0;
}

static int get_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	return run_on_function(cli, cmd, argc, argv, "GetFunction", print_function);
}

const struct command cmd_get = {
	.name = "get",
	.run = get_run,
	.usage = "get FN[:Q]",
	.help = "Show a function's configuration ($LATEST, or the version or alias Q).\n",
};

static void print_versions(json_t *result, const char *fn)
{
	(void)fn;
	static const char *const headers[] = { "VERSION", "LAST MODIFIED", "CODE SHA256", "MEMORY",
					       "TIMEOUT", "DESCRIPTION", NULL };
	struct table *t = table_new(headers);
	size_t i;
	json_t *conf;

	json_array_foreach (json_object_get(result, "Versions"), i, conf) {
		const char *description = output_str(conf, "Description");
		char *row[] = {
			output_format(json_object_get(conf, "Version")),
			output_format(json_object_get(conf, "LastModified")),
			output_format(json_object_get(conf, "CodeSha256")),
			output_unit(conf, "MemorySize", "MB"),
			output_unit(conf, "Timeout", "s"),
			strdup(description && *description ? description : "-"),
		};
		if (!row[5])
			cli_oom();
		table_add_owned(t, row);
	}
	table_print(t, stdout);
	table_free(t);
}

static int versions_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	return run_on_function(cli, cmd, argc, argv, "ListVersionsByFunction", print_versions);
}

const struct command cmd_versions = {
	.name = "versions",
	.run = versions_run,
	.usage = "versions FN",
	.help = "List a function's versions: $LATEST and every published one.\n",
};

static void print_deleted(json_t *result, const char *fn)
{
	(void)result;
	printf("deleted %s\n", fn);
}

static int delete_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	return run_on_function(cli, cmd, argc, argv, "DeleteFunction", print_deleted);
}

const struct command cmd_delete = {
	.name = "delete",
	.run = delete_run,
	.usage = "delete FN[:Q]",
	.help = "Delete a function with all its versions and aliases, or with FN:VERSION only\n"
		"that version.\n",
};
