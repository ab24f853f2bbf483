/* SPDX-License-Identifier: MIT */
/* publish: snapshot $LATEST into the next version. */
#include <stdlib.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

enum { OPT_DESCRIPTION = OPT_COMMAND };

static int publish_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{ "description", required_argument, NULL, OPT_DESCRIPTION },
		{ 0 },
	};
	static const char *const args[] = { "FN", NULL };
	_cleanup_json_ json_t *req = cli_request("PublishVersion"), *result = NULL;
	_cleanup_free_ char *text = NULL, *version = NULL;
	const char *description = NULL, *name;
	size_t len;
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		if (opt == OPT_DESCRIPTION)
			description = optarg;
		else if ((r = cli_common_option(cli, cmd, opt, argv)) != CLI_CONTINUE)
			return r;
	}
	if ((r = cli_positionals(cmd, argc, argv, args, 1)))
		return r;

	cli_set(req, "FunctionName", json_string(argv[optind]));
	if (description)
		cli_set(req, "Description", json_string(description));
	if ((r = cli_call_text(cli, req, &result, &text, &len)))
		return r;
	if (cli->json) {
		output_raw(text, len);
		return 0;
	}
	name = output_str(result, "FunctionName");
	version = output_format(json_object_get(result, "Version"));
	printf("published %s version %s\n", name ? name : argv[optind], version);
	return 0;
}

const struct command cmd_publish = {
	.name = "publish",
	.run = publish_run,
	.usage = "publish FN [--description D]",
	.help = "Publish $LATEST's code and configuration as a new, immutable version. With\n"
		"nothing changed since the last version, that version is returned.\n\n"
		"  --description D  the version's description\n",
};
