/* SPDX-License-Identifier: MIT */
/*
 * lamina: the command-line client of laminad. It only talks to the daemon's socket:
 * each command turns its arguments into Lambda API requests and prints the results.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "lamina.h"

static const struct command *const commands[] = {
	&cmd_deploy, &cmd_invoke, &cmd_publish, &cmd_alias,  &cmd_list,
	&cmd_get,    &cmd_versions, &cmd_delete, &cmd_config, &cmd_logs,
	&cmd_top,    &cmd_bill,     &cmd_metrics, &cmd_image,  &cmd_layer,
};

#define SYNOPSIS "usage: lamina [--socket PATH] [--json] COMMAND [ARGS...]\n"

/* After a command-line error: the synopsis and where to read more. */
static int usage_error(void)
{
	fprintf(stderr, SYNOPSIS "Try 'lamina --help' for more.\n");
	return EXIT_USAGE;
}

static void usage(FILE *out)
{
	fprintf(out, SYNOPSIS "\n"
		     "Deploy, invoke and manage functions on laminad, the local Lambda runtime.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		cli_print_usage_lines(out, "  lamina ", "  lamina ", commands[i]->usage);
	fprintf(out,
		"\nOptions (before or after the command):\n"
		"  --socket PATH  laminad's socket (default: $LAMINA_SOCKET, else %s)\n"
		"  --json         print the API result as one JSON document\n"
		"  -h, --help     show this help; 'lamina COMMAND --help' shows a command's\n\n"
		"FN is a function name, NAME:QUALIFIER, or a partial or full ARN.\n\n"
		"Exit status: 0 success; 1 the function returned an error; 2 usage error;\n"
		"3 the service refused the request; 4 laminad cannot be reached.\n",
		LAMINA_DEFAULT_SOCKET);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option options[] = { CLI_COMMON_OPTIONS, { 0 } };
	struct cli cli = { .socket_path = getenv("LAMINA_SOCKET") };
	const struct command *cmd;
	int opt, status;

	if (!cli.socket_path || !*cli.socket_path)
		cli.socket_path = LAMINA_DEFAULT_SOCKET;
	/* "+": options up to the command are global; the rest belong to the command. */
	while ((opt = getopt_long(argc, argv, "+" CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case OPT_JSON:
			cli.json = true;
			break;
		case OPT_SOCKET:
			cli.socket_path = optarg;
			break;
		case ':':
			fprintf(stderr, "lamina: option '%s' needs a value\n", argv[optind - 1]);
			return usage_error();
		default:
			if (optopt > 0 && optopt < 0x100)
				fprintf(stderr, "lamina: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "lamina: unknown option '%s'\n", argv[optind - 1]);
			return usage_error();
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "lamina: missing COMMAND\n");
		return usage_error();
	}
	if (!strcmp(argv[optind], "help")) {
		if (optind + 1 >= argc) {
			usage(stdout);
			return EXIT_SUCCESS;
		}
		cmd = find_command(argv[optind + 1]);
		if (!cmd) {
			fprintf(stderr, "lamina: unknown command '%s'\n", argv[optind + 1]);
			return EXIT_USAGE;
		}
		cli_print_help(cmd, stdout);
		return EXIT_SUCCESS;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "lamina: unknown command '%s'\n", argv[optind]);
		return usage_error();
	}

	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: start over, permuting options after the command's name */
	status = cmd->run(&cli, cmd, argc, argv);

	/* Output that could not be written is a failure, not a success. */
	if (fflush(stdout) != 0 && status == EXIT_SUCCESS) {
		fprintf(stderr, "lamina: cannot write output: %s\n", strerror(errno));
		status = EXIT_FAILURE;
	}
	client_free(cli.client);
	return status;
}
