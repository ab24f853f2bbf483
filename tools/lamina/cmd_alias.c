/* SPDX-License-Identifier: MIT */
/* alias create|update|get|list|delete: names that point at a version, with canary weights. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

enum {
	OPT_VERSION = OPT_COMMAND,
	OPT_WEIGHT,
	OPT_NO_WEIGHT,
	OPT_DESCRIPTION,
};

struct alias_args {
	const char *version;
	const char *description;
	json_t *weights;	/* AdditionalVersionWeights, when --weight or --no-weight */
	const char *weight_flag;	/* the first of those given, for error messages */
};

/* A published version: 1, 2, … without leading zeros. */
static bool is_version_number(const char *s, size_t len)
{
	if (len == 0 || len > 18 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* VERSION=WEIGHT, as in --weight 2=0.1: version 2 gets 10% of the invocations. */
static int parse_weight(const struct command *cmd, const char *value, struct alias_args *a)
{
	const char *eq = strchr(value, '=');
	_cleanup_free_ char *version = NULL;
	char *end;
	double w;

	if (a->weights && !strcmp(a->weight_flag, "--no-weight"))
		return cli_usage_error(cmd, "only one of --weight and --no-weight");
	if (a->weights)
		return cli_usage_error(cmd, "only one --weight: an alias routes to one additional "
					    "version");
	if (!eq || !is_version_number(value, (size_t)(eq - value)))
		return cli_usage_error(cmd, "--weight: invalid value '%s' (expected VERSION=WEIGHT, "
					    "e.g. 2=0.1)", value);
	errno = 0;
	w = strtod(eq + 1, &end);
	if (errno || end == eq + 1 || *end || !isfinite(w) || w < 0 || w > 1 ||
	    (eq[1] != '.' && (eq[1] < '0' || eq[1] > '9')))
		return cli_usage_error(cmd, "--weight: invalid weight '%s' (a number from 0 to 1, "
					    "e.g. 2=0.1)", eq + 1);
	version = strndup(value, (size_t)(eq - value));
	a->weights = json_object();
	if (!version || !a->weights)
		cli_oom();
	cli_set(a->weights, version, json_real(w));
	a->weight_flag = "--weight";
	return 0;
}

static char *format_routing(const json_t *alias)
{
	json_t *weights = json_object_get(json_object_get(alias, "RoutingConfig"),
					  "AdditionalVersionWeights");
	char *out = NULL;
	size_t size = 0;
	FILE *f;
	const char *version;
	json_t *w;

	if (json_object_size(weights) == 0) {
		out = strdup("-");
		if (!out)
			cli_oom();
		return out;
	}
	f = open_memstream(&out, &size);
	if (!f)
		cli_oom();
	json_object_foreach (weights, version, w) {
		_cleanup_free_ char *s = output_format(w);

		fprintf(f, "%s%s=%s", ftell(f) ? ", " : "", version, s);
	}
	fclose(f);
	return out;
}

/* "fn:live -> version 1 (version 2 at 10%)" */
static void print_alias_summary(const char *verb, const char *fn, const json_t *alias)
{
	json_t *weights = json_object_get(json_object_get(alias, "RoutingConfig"),
					  "AdditionalVersionWeights");
	_cleanup_free_ char *version = output_format(json_object_get(alias, "FunctionVersion"));
	const char *name = output_str(alias, "Name");
	const char *v2;
	json_t *w;

	printf("%s alias %s:%s -> version %s", verb, fn, name ? name : "?", version);
	json_object_foreach (weights, v2, w)
		printf(" (version %s at %g%%)", v2, json_number_value(w) * 100);
	putchar('\n');
}

static void print_alias_list(const json_t *result)
{
	static const char *const headers[] = { "NAME", "VERSION", "ADDITIONAL VERSION WEIGHTS",
					       "DESCRIPTION", NULL };
	struct table *t = table_new(headers);
	size_t i;
	json_t *alias;

	json_array_foreach (json_object_get(result, "Aliases"), i, alias) {
		const char *description = output_str(alias, "Description");
		char *row[] = {
			output_format(json_object_get(alias, "Name")),
			output_format(json_object_get(alias, "FunctionVersion")),
			format_routing(alias),
			strdup(description && *description ? description : "-"),
		};
		if (!row[3])
			cli_oom();
		table_add_owned(t, row);
	}
	table_print(t, stdout);
	table_free(t);
}

static int alias_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{ "version", required_argument, NULL, OPT_VERSION },
		{ "weight", required_argument, NULL, OPT_WEIGHT },
		{ "no-weight", no_argument, NULL, OPT_NO_WEIGHT },
		{ "description", required_argument, NULL, OPT_DESCRIPTION },
		{ 0 },
	};
	static const char *const fn_name[] = { "SUBCOMMAND", "FN", "NAME", NULL };
	static const char *const fn_only[] = { "SUBCOMMAND", "FN", NULL };
	_cleanup_json_ json_t *weights = NULL, *req = NULL, *result = NULL;
	_cleanup_free_ char *text = NULL;
	struct alias_args a = { 0 };
	const char *sub, *action, *fn;
	bool writes;
	size_t len;
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_VERSION:
			a.version = optarg;
			break;
		case OPT_WEIGHT:
			r = parse_weight(cmd, optarg, &a);
			weights = a.weights;
			if (r)
				return r;
			break;
		case OPT_NO_WEIGHT:
			if (a.weights)
				return cli_usage_error(cmd, "only one of --weight and --no-weight");
			weights = a.weights = json_object();
			if (!a.weights)
				cli_oom();
			a.weight_flag = "--no-weight";
			break;
		case OPT_DESCRIPTION:
			a.description = optarg;
			break;
		default:
			if ((r = cli_common_option(cli, cmd, opt, argv)) != CLI_CONTINUE)
				return r;
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "missing SUBCOMMAND (create, update, get, list or "
					    "delete)");
	sub = argv[optind];
	if (!strcmp(sub, "create"))
		action = "CreateAlias";
	else if (!strcmp(sub, "update"))
		action = "UpdateAlias";
	else if (!strcmp(sub, "get"))
		action = "GetAlias";
	else if (!strcmp(sub, "list"))
		action = "ListAliases";
	else if (!strcmp(sub, "delete"))
		action = "DeleteAlias";
	else
		return cli_usage_error(cmd, "unknown subcommand '%s'", sub);

	r = cli_positionals(cmd, argc, argv, !strcmp(sub, "list") ? fn_only : fn_name,
			    !strcmp(sub, "list") ? 2 : 3);
	if (r)
		return r;
	writes = !strcmp(sub, "create") || !strcmp(sub, "update");
	if (!writes && (a.version || a.weights || a.description))
		return cli_usage_error(cmd, "alias %s takes no --version, --weight or "
					    "--description", sub);
	if (!strcmp(sub, "create") && !a.version)
		return cli_usage_error(cmd, "alias create needs --version");
	if (!strcmp(sub, "create") && a.weights && !strcmp(a.weight_flag, "--no-weight"))
		return cli_usage_error(cmd, "--no-weight is for alias update");
	if (a.version && !*a.version)
		return cli_usage_error(cmd, "--version must not be empty");

	fn = argv[optind + 1];
	req = cli_request(action);
	cli_set(req, "FunctionName", json_string(fn));
	if (strcmp(sub, "list"))
		cli_set(req, "Name", json_string(argv[optind + 2]));
	if (a.version)
		cli_set(req, "FunctionVersion", json_string(a.version));
	if (a.description)
		cli_set(req, "Description", json_string(a.description));
	if (a.weights) {
		json_t *routing = json_object();

		if (!routing)
			cli_oom();
		cli_set(routing, "AdditionalVersionWeights", json_incref(a.weights));
		cli_set(req, "RoutingConfig", routing);
	}

	if ((r = cli_call_text(cli, req, &result, &text, &len)))
		return r;
	if (cli->json)
		output_raw(text, len);
	else if (writes)
		print_alias_summary(!strcmp(sub, "create") ? "created" : "updated", fn, result);
	else if (!strcmp(sub, "get"))
		output_fields(stdout, result);
	else if (!strcmp(sub, "list"))
		print_alias_list(result);
	else
		printf("deleted alias %s:%s\n", fn, argv[optind + 2]);
	return 0;
}

const struct command cmd_alias = {
	.name = "alias",
	.run = alias_run,
	.usage = "alias create|update FN NAME --version V [--weight V2=0.1] [--description D]\n"
		 "alias list FN | alias get FN NAME | alias delete FN NAME",
	.help = "Manage aliases: names (not all digits) that point at a published version or\n"
		"$LATEST, invoked as FN:NAME.\n\n"
		"  --version V         the version the alias points at (required for create)\n"
		"  --weight V2=W       also send the fraction W (0 to 1) of invocations to\n"
		"                      version V2, e.g. --weight 2=0.1 for a 10% canary\n"
		"  --no-weight         (update) stop routing to an additional version\n"
		"  --description D     the alias's description\n\n"
		"alias update changes only what is given.\n",
};
