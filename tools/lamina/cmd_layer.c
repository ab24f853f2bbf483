/* SPDX-License-Identifier: MIT */
/* layer publish|list|delete: Lambda layers (PublishLayerVersion and friends).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

enum { OPT_DESCRIPTION = OPT_COMMAND, OPT_RUNTIME };

static int publish_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{"description", required_argument, NULL, OPT_DESCRIPTION},
		{"runtime", required_argument, NULL, OPT_RUNTIME},
		{0},
	};
	static const char *const args[] = {"NAME", "PATH", NULL};
	_cleanup_json_ json_t *req = cli_request("PublishLayerVersion"), *result = NULL,
			      *runtimes = json_array(), *content = json_object();
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct stat st;
	size_t len;
	int opt, r;

	if (!runtimes || !content)
		cli_oom();
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		if (opt == OPT_DESCRIPTION)
			cli_set(req, "Description", json_string(optarg));
		else if (opt == OPT_RUNTIME)
			json_array_append_new(runtimes, json_string(optarg));
		else if ((r = cli_common_option(cli, cmd, opt, argv)) != CLI_CONTINUE)
			return r;
	}
	if ((r = cli_positionals(cmd, argc, argv, args, 2)))
		return r;
	/* The daemon reads the content itself, with our credentials: an absolute
	 * path. */
	path = realpath(argv[optind + 1], NULL);
	if (!path || stat(path, &st) < 0 || (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)))
		return cli_input_error(cmd, "cannot use '%s': %s", argv[optind + 1],
				       path ? "not a directory nor an archive" : strerror(errno));
	cli_set(content, S_ISDIR(st.st_mode) ? "Directory" : "ImageFile", json_string(path));
	cli_set(req, "LayerName", json_string(argv[optind]));
	cli_set(req, "Content", json_incref(content));
	if (json_array_size(runtimes))
		cli_set(req, "CompatibleRuntimes", json_incref(runtimes));
	if ((r = cli_call_text(cli, req, &result, &text, &len)))
		return r;
	if (cli->json) {
		output_raw(text, len);
		return 0;
	}
	printf("%s\n", json_string_value(json_object_get(result, "LayerVersionArn")));
	return 0;
}

static int list_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const char *const args[] = {"NAME", NULL};
	_cleanup_json_ json_t *result = NULL, *req = NULL;
	_cleanup_free_ char *text = NULL;
	json_t *list, *l;
	size_t len, i;
	int r;

	if ((r = cli_parse_common(cli, cmd, argc, argv)) != CLI_CONTINUE)
		return r;
	if ((r = cli_positionals(cmd, argc, argv, args, 0)))
		return r;
	req = cli_request(optind < argc ? "ListLayerVersions" : "ListLayers");
	if (optind < argc)
		cli_set(req, "LayerName", json_string(argv[optind]));
	if ((r = cli_call_text(cli, req, &result, &text, &len)))
		return r;
	if (cli->json) {
		output_raw(text, len);
		return 0;
	}
	list = json_object_get(result, optind < argc ? "LayerVersions" : "Layers");
	printf("%-60s %-12s %s\n", "LAYER VERSION", "SIZE", "CREATED");
	json_array_foreach(list, i, l) {
		json_t *v = json_object_get(l, "LatestMatchingVersion") ?: l;

		printf("%-60s %-12lld %s\n",
		       json_string_value(json_object_get(v, "LayerVersionArn")),
		       (long long)json_integer_value(
			       json_object_get(json_object_get(v, "Content"), "CodeSize")),
		       json_string_value(json_object_get(v, "CreatedDate")));
	}
	return 0;
}

static int delete_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const char *const args[] = {"NAME", "VERSION", NULL};
	_cleanup_json_ json_t *req = cli_request("DeleteLayerVersion"), *result = NULL;
	json_int_t version;
	int r;

	if ((r = cli_parse_common(cli, cmd, argc, argv)) != CLI_CONTINUE)
		return r;
	if ((r = cli_positionals(cmd, argc, argv, args, 2)))
		return r;
	if ((r = cli_parse_int(cmd, "VERSION", argv[optind + 1], 1, INT64_MAX, &version)))
		return r;
	cli_set(req, "LayerName", json_string(argv[optind]));
	cli_set(req, "VersionNumber", json_integer(version));
	if ((r = cli_call(cli, req, &result)))
		return r;
	if (cli->json)
		output_json(json_object());
	return 0;
}

static const struct command cmd_layer_publish = {
	.name = "layer publish",
	.run = publish_run,
	.usage = "layer publish NAME PATH [--description D] [--runtime R]...",
	.help = "Publishes a new version of layer NAME from PATH (a directory, "
		".zip, .tar or\n"
		".tar.gz) and prints its LayerVersionArn. Functions list layer "
		"versions in\n"
		"\"Layers\" (lamina.json or "
		"CreateFunction/UpdateFunctionConfiguration); their\n"
		"instances see them merged read-only at /opt, later layers over "
		"earlier ones.\n",
};

static const struct command cmd_layer_list = {
	.name = "layer list",
	.run = list_run,
	.usage = "layer list [NAME]",
	.help = "Lists every layer's latest version, or NAME's versions.\n",
};

static const struct command cmd_layer_delete = {
	.name = "layer delete",
	.run = delete_run,
	.usage = "layer delete NAME VERSION",
	.help = "Deletes a layer version; functions configured with it keep its "
		"content.\n",
};

static int layer_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "publish"))
		return publish_run(cli, &cmd_layer_publish, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return list_run(cli, &cmd_layer_list, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "delete"))
		return delete_run(cli, &cmd_layer_delete, argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cli_print_help(cmd, stdout);
		return 0;
	}
	return cli_usage_error(cmd, "expected publish, list or delete");
}

const struct command cmd_layer = {
	.name = "layer",
	.run = layer_run,
	.usage = "layer publish NAME PATH [--description D] [--runtime R]...\n"
		 "layer list [NAME] | layer delete NAME VERSION",
	.help = "Lambda layers: code and data shared by functions, mounted "
		"read-only at /opt.\n",
};
