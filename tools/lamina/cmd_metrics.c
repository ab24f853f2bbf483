/* SPDX-License-Identifier: MIT */
/* metrics: the daemon's metrics in the Prometheus text format, or as a JSON snapshot. */
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

static int metrics_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const char *const none[] = { NULL };
	_cleanup_json_ json_t *req = cli_request("GetMetrics"), *result = NULL;
	_cleanup_free_ char *text = NULL;
	const json_t *exposition;
	size_t len;
	int r = cli_parse_common(cli, cmd, argc, argv);

	if (r != CLI_CONTINUE)
		return r;
	if ((r = cli_positionals(cmd, argc, argv, none, 0)))
		return r;

	if (cli->json) {
		if ((r = cli_call_text(cli, req, &result, &text, &len)))
			return r;
		output_raw(text, len);
		return 0;
	}
	cli_set(req, "Format", json_string("prometheus"));
	if ((r = cli_call(cli, req, &result)))
		return r;
	exposition = json_object_get(result, "Text");
	if (!json_is_string(exposition)) {
		fflush(stdout);
		fprintf(stderr, "lamina: %s: laminad sent no Prometheus text\n", cmd->name);
		return EXIT_UNREACHABLE;
	}
	/* As received, byte for byte: it is for a parser, and already ends in a newline. */
	fwrite(json_string_value(exposition), 1, json_string_length(exposition), stdout);
	return 0;
}

const struct command cmd_metrics = {
	.name = "metrics",
	.run = metrics_run,
	.usage = "metrics",
	.help = "Print laminad's metrics in the Prometheus text exposition format, as the\n"
		"daemon's /metrics endpoint serves them: counters and histograms named lamina_...,\n"
		"labelled by function and version.\n\n"
		"With --json: the GetMetrics snapshot (host, and each function and version) that\n"
		"'lamina top' draws.\n",
};
