/* SPDX-License-Identifier: MIT */
/* logs: a function's log lines, and with --follow new ones as they come. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

enum {
	OPT_FOLLOW = OPT_COMMAND,
	OPT_REQUEST_ID,
};

/* How often --follow asks for new lines once it has caught up. */
#define FOLLOW_POLL_MS 200

/* "2024-05-01T12:00:00.123Z message" */
static void print_event(const json_t *event)
{
	const json_t *ts = json_object_get(event, "Timestamp");
	const char *message = output_str(event, "Message");

	if (json_is_number(ts)) {
		long long ms = (long long)json_number_value(ts);
		time_t secs = (time_t)(ms / 1000);
		struct tm tm;
		char when[32];

		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		printf("%s.%03lldZ ", when, ms % 1000);
	}
	printf("%s\n", message ? message : "");
}

static int logs_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "request-id", required_argument, NULL, OPT_REQUEST_ID },
		{ 0 },
	};
	static const char *const args[] = { "FN", NULL };
	_cleanup_json_ json_t *all = NULL, *token = NULL;
	const char *request_id = NULL;
	bool follow = false;
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_FOLLOW:
			follow = true;
			break;
		case OPT_REQUEST_ID:
			request_id = optarg;
			break;
		default:
			if ((r = cli_common_option(cli, cmd, opt, argv)) != CLI_CONTINUE)
				return r;
		}
	}
	if ((r = cli_positionals(cmd, argc, argv, args, 1)))
		return r;
	if (request_id && !*request_id)
		return cli_usage_error(cmd, "--request-id must not be empty");
	all = json_array();
	if (!all)
		cli_oom();

	/* Without --follow: page until the daemon has nothing more. With it: until killed. */
	for (;;) {
		_cleanup_json_ json_t *req = cli_request("GetLogs"), *result = NULL;
		json_t *events, *next, *event;
		bool caught_up;
		size_t i;

		cli_set(req, "FunctionName", json_string(argv[optind]));
		if (request_id)
			cli_set(req, "RequestId", json_string(request_id));
		if (json_is_string(token))
			cli_set(req, "NextToken", json_incref(token));
		if ((r = cli_call(cli, req, &result)))
			return r;

		events = json_object_get(result, "Events");
		json_array_foreach (events, i, event) {
			if (!cli->json)
				print_event(event);
			else if (follow)
				output_json(event);	/* one JSON document per line */
			else if (json_array_append(all, event) < 0)
				cli_oom();
		}
		next = json_object_get(result, "NextToken");
		/* No token, or the same one again: the end, for now. */
		caught_up = json_array_size(events) == 0 || !json_is_string(next) ||
			    json_equal(next, token);
		if (json_is_string(next)) {
			json_decref(token);
			token = json_incref(next);
		}
		if (!follow && caught_up)
			break;
		if (follow) {
			/* Lines reach a pipe as they come, not when a buffer fills. */
			fflush(stdout);
			if (caught_up) {
				struct timespec ts = { 0, FOLLOW_POLL_MS * 1000000L };

				nanosleep(&ts, NULL);
			}
		}
	}

	if (cli->json) {
		_cleanup_json_ json_t *doc = json_object();

		if (!doc)
			cli_oom();
		cli_set(doc, "Events", json_incref(all));
		cli_set(doc, "NextToken", token ? json_incref(token) : json_null());
		output_json(doc);
	}
	return 0;
}

const struct command cmd_logs = {
	.name = "logs",
	.run = logs_run,
	.usage = "logs FN [--follow] [--request-id ID]",
	.help = "Print a function's log lines, oldest first, each after its UTC time.\n\n"
		"  --follow          keep printing new lines as they come, until interrupted\n"
		"  --request-id ID   only the lines of one invocation\n\n"
		"With --json: one document {Events, NextToken}; with --follow, one JSON event\n"
		"per line.\n",
};
