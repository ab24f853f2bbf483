/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_CLI_LAMINA_H
#define LAMINA_CLI_LAMINA_H

/*
 * The lamina CLI: global state, the command table and helpers every command shares
 * (option parsing, calling the daemon, reporting errors with the right exit status).
 */

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#define LAMINA_DEFAULT_SOCKET "/run/lamina/lamina.sock"

/* Exit statuses, as DESIGN.md "CLI" promises them. */
#define EXIT_FUNCTION_ERROR 1	/* the function returned an error */
#define EXIT_USAGE 2		/* bad command line, flag value, payload or manifest */
#define EXIT_REFUSED 3		/* the daemon answered ok:false */
#define EXIT_UNREACHABLE 4	/* no daemon at the socket, or the connection broke */

struct client;

struct cli {
	const char *socket_path;	/* --socket, else $LAMINA_SOCKET, else the default */
	bool json;			/* --json: print API results, not tables */
	struct client *client;		/* connected on the first request */
};

struct command {
	const char *name;
	/* argv[0] is the command's name; returns the exit status. */
	int (*run)(struct cli *cli, const struct command *cmd, int argc, char **argv);
	const char *usage;	/* synopsis after "lamina ", one or more lines */
	const char *help;	/* what it does and its options */
};

extern const struct command cmd_deploy, cmd_invoke, cmd_publish, cmd_alias, cmd_list,
	cmd_get, cmd_versions, cmd_delete, cmd_config, cmd_logs;
extern const struct command cmd_bill, cmd_metrics, cmd_top;
extern const struct command cmd_image;
extern const struct command cmd_layer;
/* deploy oci-archive:FILE | oci:DIR (cmd_deploy_oci.c), called by deploy. */
int deploy_oci_run(struct cli *cli, const struct command *cmd, int argc, char **argv);

/*
 * Options every command also takes, so that "lamina list --json" works as well as
 * "lamina --json list". Commands number their own options from OPT_COMMAND.
 */
enum {
	OPT_JSON = 0x100,
	OPT_SOCKET,
	OPT_MEMORY,	/* CLI_CONFIG_OPTIONS */
	OPT_TIMEOUT,
	OPT_ENV,
	OPT_COMMAND,
};
#define CLI_COMMON_OPTIONS                                                     \
	{ "help", no_argument, NULL, 'h' },                                    \
	{ "json", no_argument, NULL, OPT_JSON },                               \
	{ "socket", required_argument, NULL, OPT_SOCKET }
/* getopt_long's short options for every command: report errors ourselves, -h. */
#define CLI_SHORT_OPTIONS ":h"
/* Returned by cli_common_option when parsing goes on. */
#define CLI_CONTINUE (-1)

/* The configuration flags deploy, deploy oci and config share. */
#define CLI_CONFIG_OPTIONS                                                     \
	{ "memory", required_argument, NULL, OPT_MEMORY },                     \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },                   \
	{ "env", required_argument, NULL, OPT_ENV }
/* Returned by cli_config_option for an option that is not one of those. */
#define CLI_OTHER_OPTION (-2)

/*
 * Handles a CLI_CONFIG_OPTIONS flag: --memory and --timeout into conf (MemorySize,
 * Timeout), --env into *vars (created on first use). Returns CLI_CONTINUE,
 * CLI_OTHER_OPTION, or the exit status of a usage error.
 */
int cli_config_option(const struct command *cmd, int opt, const char *value, json_t *conf, json_t **vars);

/*
 * Handles an option not the command's own: --help, --json, --socket, or a getopt error.
 * Returns CLI_CONTINUE, or the exit status the command should return at once.
 */
int cli_common_option(struct cli *cli, const struct command *cmd, int opt, char **argv);

/* Parses argv for a command with only the common options: CLI_CONTINUE or an exit status. */
int cli_parse_common(struct cli *cli, const struct command *cmd, int argc, char **argv);

/* Prints "lamina: CMD: message" and the command's synopsis; returns EXIT_USAGE. */
int cli_usage_error(const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints "lamina: CMD: message" for bad input that is not the command line; EXIT_USAGE. */
int cli_input_error(const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Prints a command's synopsis lines after first (the first line) and rest (the others);
 * a line starting with a space continues the one before.
 */
void cli_print_usage_lines(FILE *out, const char *first, const char *rest, const char *text);

/* Prints "usage: …" and the command's help on out. */
void cli_print_help(const struct command *cmd, FILE *out);

/*
 * Checks the number of positional arguments left after the options (argv[optind…]):
 * names lists them ("FN", "NAME"), n_required of them required. Returns 0 or EXIT_USAGE.
 */
int cli_positionals(const struct command *cmd, int argc, char **argv, const char *const *names,
		    int n_required);

/* A whole number in [min, max] for option opt. Returns 0, or EXIT_USAGE after saying why. */
int cli_parse_int(const struct command *cmd, const char *opt, const char *value, json_int_t min,
		  json_int_t max, json_int_t *out);

/* K=V into vars (a later K replaces an earlier one). Returns 0 or EXIT_USAGE. */
int cli_parse_env(const struct command *cmd, const char *value, json_t *vars);

/*
 * Calling the daemon. Each returns 0, or the exit status after printing why:
 * EXIT_UNREACHABLE when the daemon cannot be reached, EXIT_REFUSED when it answers ok:false.
 */
/* Sends req (a new reference is not taken; its "id" is set). *id identifies the answer. */
int cli_send(struct cli *cli, json_t *req, json_int_t *id);
/* The same, with a member whose value is raw compact JSON text (see client_send). */
int cli_send_raw(struct cli *cli, json_t *req, const char *raw_key, const char *raw,
		 size_t raw_len, json_int_t *id);
/* Waits for the whole response, ok or not (line: see client_wait; may be NULL). */
int cli_wait_response(struct cli *cli, json_int_t id, json_t **response, char **line,
		      size_t *line_len);
/* Waits for the answer; *result is the response without "id" and "ok". */
int cli_wait(struct cli *cli, json_int_t id, json_t **result);
/*
 * The same, and *text (the caller frees it) is the result exactly as the daemon wrote it,
 * compact: what --json prints, so numbers keep the digits they were sent with.
 */
int cli_wait_text(struct cli *cli, json_int_t id, json_t **result, char **text, size_t *len);
/* cli_send then cli_wait (text may be NULL). */
int cli_call(struct cli *cli, json_t *req, json_t **result);
int cli_call_text(struct cli *cli, json_t *req, json_t **result, char **text, size_t *len);

/* For a response: NULL when ok, else its error type ("ServiceException" if unnamed). */
const char *cli_response_error_type(const json_t *response);
/* Turns a response into the result (0) or prints its error (EXIT_REFUSED). */
int cli_response_result(json_t *response, json_t **result);

/* A request object {"action": action} (exits on allocation failure, as the CLI is short-lived). */
json_t *cli_request(const char *action);

/* obj[key] = value, taking the reference (exits on allocation failure). */
void cli_set(json_t *obj, const char *key, json_t *value);

/* Allocation failure in a short-lived CLI: say so and exit. */
__attribute__((noreturn)) void cli_oom(void);

#endif
