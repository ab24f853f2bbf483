/* SPDX-License-Identifier: MIT */
/* config: change $LATEST's configuration and the function's reserved concurrency. */
#include <stdint.h>
#include <stdlib.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

enum {
	OPT_CONCURRENCY = OPT_COMMAND,
};

static void print_configuration(const char *fn, const json_t *conf)
{
	_cleanup_free_ char *memory = output_unit(conf, "MemorySize", "MB");
	_cleanup_free_ char *timeout = output_unit(conf, "Timeout", "s");
	const char *name = output_str(conf, "FunctionName");
	const char *version = output_str(conf, "Version");
	size_t n_vars = json_object_size(
		json_object_get(json_object_get(conf, "Environment"), "Variables"));

	printf("updated %s %s (%s, %s, %zu environment variable%s)\n", name ? name : fn,
	       version ? version : "$LATEST", memory, timeout, n_vars, n_vars == 1 ? "" : "s");
}

static void print_reserved(const char *fn, const json_t *result)
{
	_cleanup_free_ char *n = output_format(
		json_object_get(result, "ReservedConcurrentExecutions"));

	printf("reserved concurrency of %s: %s\n", fn, n);
}

static int config_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		CLI_CONFIG_OPTIONS,
		{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
		{ 0 },
	};
	static const char *const args[] = { "FN", NULL };
	_cleanup_json_ json_t *update = cli_request("UpdateFunctionConfiguration"),
			      *concurrency = NULL, *vars = NULL, *conf = NULL, *reserved = NULL;
	json_int_t value, update_id = 0, concurrency_id = 0;
	bool changes = false;
	int opt, r, status = 0;

	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_CONCURRENCY:
			if ((r = cli_parse_int(cmd, "--concurrency", optarg, 0, INT32_MAX, &value)))
				return r;
			concurrency = cli_request("PutFunctionConcurrency");
			cli_set(concurrency, "ReservedConcurrentExecutions", json_integer(value));
			break;
		default:
			r = cli_config_option(cmd, opt, optarg, update, &vars);
			if (r == CLI_OTHER_OPTION)
				r = cli_common_option(cli, cmd, opt, argv);
			else
				changes = true;
			if (r != CLI_CONTINUE)
				return r;
		}
	}
	if ((r = cli_positionals(cmd, argc, argv, args, 1)))
		return r;
	if (!changes && !concurrency)
		return cli_usage_error(cmd, "nothing to change: give --memory, --timeout, --env or "
					    "--concurrency");
	if (vars) {
		/* As in Lambda, the variables given replace the whole set. */
		json_t *env = json_object();

		if (!env)
			cli_oom();
		cli_set(env, "Variables", json_incref(vars));
		cli_set(update, "Environment", env);
	}

	/* The two are independent: both go out at once, and both answers are reported. */
	if (changes) {
		cli_set(update, "FunctionName", json_string(argv[optind]));
		if ((r = cli_send(cli, update, &update_id)))
			return r;
	}
	if (concurrency) {
		cli_set(concurrency, "FunctionName", json_string(argv[optind]));
		if ((r = cli_send(cli, concurrency, &concurrency_id)))
			return r;
	}
	if (update_id && (r = cli_wait(cli, update_id, &conf))) {
		if (r == EXIT_UNREACHABLE)
			return r;
		status = r;
	}
	if (concurrency_id && (r = cli_wait(cli, concurrency_id, &reserved)))
		status = r;
	if (status) {
		/* Say what did change, so that a partial failure is not taken for none. */
		if (!cli->json && reserved)
			print_reserved(argv[optind], reserved);
		return status;
	}

	if (cli->json) {
		if (conf && reserved) {
			_cleanup_json_ json_t *both = json_object();

			if (!both)
				cli_oom();
			cli_set(both, "Configuration", json_incref(conf));
			cli_set(both, "Concurrency", json_incref(reserved));
			output_json(both);
		} else {
			output_json(conf ? conf : reserved);
		}
		return 0;
	}
	if (conf)
		print_configuration(argv[optind], conf);
	if (reserved)
		print_reserved(argv[optind], reserved);
	return 0;
}

const struct command cmd_config = {
	.name = "config",
	.run = config_run,
	.usage = "config FN [--memory MB] [--timeout S] [--env K=V]... [--concurrency N]",
	.help = "Change $LATEST's configuration; what is not given stays as it is.\n\n"
		"  --memory MB       memory in MB (Lambda allows 128 to 10240)\n"
		"  --timeout S       timeout in seconds (at most 900)\n"
		"  --env K=V         an environment variable (repeatable). As in Lambda, the\n"
		"                    variables given REPLACE all the function's variables:\n"
		"                    list every one to keep\n"
		"  --concurrency N   reserve N concurrent executions for the function\n"
		"                    (0 stops all invocations)\n",
};
