/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "client.h"
#include "lamina.h"
#include "output.h"
#include "rawjson.h"

void cli_oom(void)
{
	fprintf(stderr, "lamina: out of memory\n");
	exit(EXIT_FAILURE);
}

void cli_set(json_t *obj, const char *key, json_t *value)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		cli_oom();
}

json_t *cli_request(const char *action)
{
	json_t *req = json_object();

	if (!req)
		cli_oom();
	cli_set(req, "action", json_string(action));
	return req;
}

void cli_print_usage_lines(FILE *out, const char *first, const char *rest, const char *text)
{
	const char *prefix = first;

	while (*text) {
		const char *nl = strchrnul(text, '\n');

		/* A line that starts with a space continues the one before. */
		if (*text == ' ')
			fprintf(out, "%*s%.*s\n", (int)strlen(first), "", (int)(nl - text), text);
		else
			fprintf(out, "%s%.*s\n", prefix, (int)(nl - text), text);
		prefix = rest;
		text = *nl ? nl + 1 : nl;
	}
}

void cli_print_help(const struct command *cmd, FILE *out)
{
	cli_print_usage_lines(out, "usage: lamina ", "       lamina ", cmd->usage);
	if (cmd->help) {
		fputc('\n', out);
		fputs(cmd->help, out);
	}
}

int cli_usage_error(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "lamina: %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_print_usage_lines(stderr, "usage: lamina ", "       lamina ", cmd->usage);
	fprintf(stderr, "Try 'lamina %s --help' for more.\n", cmd->name);
	return EXIT_USAGE;
}

int cli_input_error(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "lamina: %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int cli_common_option(struct cli *cli, const struct command *cmd, int opt, char **argv)
{
	switch (opt) {
	case 'h':
		cli_print_help(cmd, stdout);
		return EXIT_SUCCESS;
	case OPT_JSON:
		cli->json = true;
		return CLI_CONTINUE;
	case OPT_SOCKET:
		cli->socket_path = optarg;
		return CLI_CONTINUE;
	case ':':
		return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	case '?':
		if (optopt > 0 && optopt < 0x100)
			return cli_usage_error(cmd, "unknown option '-%c'", optopt);
		return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	default:
		return cli_usage_error(cmd, "unhandled option %d", opt);
	}
}

int cli_parse_common(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = { CLI_COMMON_OPTIONS, { 0 } };
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1)
		if ((r = cli_common_option(cli, cmd, opt, argv)) != CLI_CONTINUE)
			return r;
	return CLI_CONTINUE;
}

int cli_positionals(const struct command *cmd, int argc, char **argv, const char *const *names,
		    int n_required)
{
	int n_names = 0, n = argc - optind;

	while (names[n_names])
		n_names++;
	if (n < n_required)
		return cli_usage_error(cmd, "missing %s", names[n]);
	if (n > n_names)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + n_names]);
	for (int i = 0; i < n; i++)
		if (!argv[optind + i][0])
			return cli_usage_error(cmd, "%s must not be empty", names[i]);
	return 0;
}

int cli_parse_int(const struct command *cmd, const char *opt, const char *value, json_int_t min,
		  json_int_t max, json_int_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno == ERANGE || (value[0] != '-' && (value[0] < '0' || value[0] > '9')) ||
	    end == value || *end)
		return cli_usage_error(cmd, "%s: invalid value '%s' (expected a whole number)", opt,
				       value);
	if (v < min)
		return cli_usage_error(cmd, "%s: invalid value '%s' (at least %lld)", opt, value,
				       (long long)min);
	if (v > max)
		return cli_usage_error(cmd, "%s: invalid value '%s' (at most %lld)", opt, value,
				       (long long)max);
	*out = v;
	return 0;
}

int cli_parse_env(const struct command *cmd, const char *value, json_t *vars)
{
	const char *eq = strchr(value, '=');
	_cleanup_free_ char *key = NULL;

	if (!eq || eq == value)
		return cli_usage_error(cmd, "--env: invalid value '%s' (expected KEY=VALUE)", value);
	/* A name a shell could export; the daemon applies Lambda's own rules on top. */
	for (const char *p = value; p < eq; p++)
		if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (p > value && *p >= '0' && *p <= '9')))
			return cli_usage_error(cmd, "--env: '%.*s' is not a valid variable name",
					       (int)(eq - value), value);
	key = strndup(value, (size_t)(eq - value));
	if (!key)
		cli_oom();
	cli_set(vars, key, json_string(eq + 1));
	return 0;
}

int cli_config_option(const struct command *cmd, int opt, const char *value, json_t *conf, json_t **vars)
{
	json_int_t n;
	int r;

	switch (opt) {
	case OPT_MEMORY:
	case OPT_TIMEOUT: {
		bool memory = opt == OPT_MEMORY;

		if ((r = cli_parse_int(cmd, memory ? "--memory" : "--timeout", value, 1, INT32_MAX, &n)))
			return r;
		cli_set(conf, memory ? "MemorySize" : "Timeout", json_integer(n));
		return CLI_CONTINUE;
	}
	case OPT_ENV:
		if (!*vars && !(*vars = json_object()))
			cli_oom();
		return (r = cli_parse_env(cmd, value, *vars)) ? r : CLI_CONTINUE;
	default:
		return CLI_OTHER_OPTION;
	}
}

static int client_for(struct cli *cli)
{
	if (!cli->client) {
		cli->client = client_new(cli->socket_path);
		if (!cli->client)
			cli_oom();
	}
	return 0;
}

int cli_send_raw(struct cli *cli, json_t *req, const char *raw_key, const char *raw,
		 size_t raw_len, json_int_t *id)
{
	json_int_t r;

	client_for(cli);
	r = client_send(cli->client, req, raw_key, raw, raw_len);
	if (r < 0) {
		fflush(stdout);
		fprintf(stderr, "lamina: %s\n", client_error(cli->client));
		return EXIT_UNREACHABLE;
	}
	*id = r;
	return 0;
}

int cli_send(struct cli *cli, json_t *req, json_int_t *id)
{
	return cli_send_raw(cli, req, NULL, NULL, 0, id);
}

int cli_wait_response(struct cli *cli, json_int_t id, json_t **response, char **line,
		      size_t *line_len)
{
	if (client_wait(cli->client, id, response, line, line_len) < 0) {
		fflush(stdout);
		fprintf(stderr, "lamina: %s\n", client_error(cli->client));
		return EXIT_UNREACHABLE;
	}
	return 0;
}

const char *cli_response_error_type(const json_t *response)
{
	const char *type;

	if (json_is_true(json_object_get(response, "ok")))
		return NULL;
	type = json_string_value(json_object_get(json_object_get(response, "error"), "type"));
	return type && *type ? type : "ServiceException";
}

int cli_response_result(json_t *response, json_t **result)
{
	const char *type = cli_response_error_type(response);
	const char *message;

	if (!type) {
		json_object_del(response, "id");
		json_object_del(response, "ok");
		*result = json_incref(response);
		return 0;
	}
	message = json_string_value(json_object_get(json_object_get(response, "error"), "message"));
	fflush(stdout);
	if (message && *message)
		fprintf(stderr, "lamina: %s: %s\n", type, message);
	else
		fprintf(stderr, "lamina: %s\n", type);
	return EXIT_REFUSED;
}

int cli_wait_text(struct cli *cli, json_int_t id, json_t **result, char **text, size_t *len)
{
	static const char *const envelope[] = { "id", "ok", NULL };
	_cleanup_json_ json_t *response = NULL;
	_cleanup_free_ char *line = NULL;
	size_t line_len = 0;
	int r = cli_wait_response(cli, id, &response, text ? &line : NULL, &line_len);

	if (r)
		return r;
	r = cli_response_result(response, result);
	if (r)
		return r;
	if (text) {
		*len = rawjson_drop(line, line_len, envelope);
		line[*len] = '\0';
		*text = steal_pointer(&line);
	}
	return 0;
}

int cli_wait(struct cli *cli, json_int_t id, json_t **result)
{
	return cli_wait_text(cli, id, result, NULL, NULL);
}

int cli_call_text(struct cli *cli, json_t *req, json_t **result, char **text, size_t *len)
{
	json_int_t id;
	int r = cli_send(cli, req, &id);

	if (r)
		return r;
	return cli_wait_text(cli, id, result, text, len);
}

int cli_call(struct cli *cli, json_t *req, json_t **result)
{
	return cli_call_text(cli, req, result, NULL, NULL);
}
