/* SPDX-License-Identifier: MIT */
/* invoke: run a function with a payload, print its response and the REPORT line. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"
#include "rawjson.h"

enum {
	OPT_PAYLOAD = OPT_COMMAND,
	OPT_PAYLOAD_FILE,
	OPT_ASYNC,
};

/* Reads all of fd; *out is NUL-terminated. Returns 0 or a negative errno. */
static int read_all(int fd, char **out, size_t *out_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 65536;
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size >= cap)
		cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger)
				return -ENOMEM;
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = steal_pointer(&buf);
	*out_len = len;
	return 0;
}

static int read_payload_file(const struct command *cmd, const char *path, char **out,
			     size_t *len)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (strcmp(path, "-")) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_input_error(cmd, "--payload-file: cannot open '%s': %s", path,
					       strerror(errno));
	}
	r = read_all(fd >= 0 ? fd : STDIN_FILENO, out, len);
	if (r < 0)
		return cli_input_error(cmd, "--payload-file: cannot read '%s': %s",
				       strcmp(path, "-") ? path : "standard input", strerror(-r));
	return 0;
}

/* A whole number for the REPORT line, which shows memory and billed time without decimals. */
static void print_whole(const json_t *v)
{
	if (json_is_integer(v))
		fprintf(stderr, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		fprintf(stderr, "%.0f", json_number_value(v));
}

/* REPORT RequestId: … Duration: 1.23 ms Billed Duration: 2 ms Memory Size: 128 MB … */
static void print_report(const json_t *result)
{
	const json_t *report = json_object_get(result, "Report");
	const json_t *init = json_object_get(report, "InitDurationMs");
	const char *request_id = output_str(result, "RequestId");

	if (!json_is_object(report))
		return;
	fprintf(stderr, "REPORT RequestId: %s Duration: %.2f ms Billed Duration: ",
		request_id ? request_id : "-",
		json_number_value(json_object_get(report, "DurationMs")));
	print_whole(json_object_get(report, "BilledDurationMs"));
	fprintf(stderr, " ms Memory Size: ");
	print_whole(json_object_get(report, "MemorySizeMB"));
	fprintf(stderr, " MB Max Memory Used: ");
	print_whole(json_object_get(report, "MaxMemoryUsedMB"));
	fprintf(stderr, " MB");
	if (json_is_number(init))
		fprintf(stderr, " Init Duration: %.2f ms", json_number_value(init));
	fputc('\n', stderr);
}

static int invoke_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "payload-file", required_argument, NULL, OPT_PAYLOAD_FILE },
		{ "async", no_argument, NULL, OPT_ASYNC },
		{ 0 },
	};
	static const char *const args[] = { "FN", NULL };
	static const char *const envelope[] = { "id", "ok", NULL };
	_cleanup_json_ json_t *req = NULL, *response = NULL, *result = NULL, *parsed = NULL;
	_cleanup_free_ char *payload = NULL, *line = NULL;
	const char *inline_payload = NULL, *payload_file = NULL, *function_error;
	size_t payload_len = 0, line_len = 0, start, end;
	json_error_t jerr;
	json_int_t id;
	bool async = false;
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_PAYLOAD:
			inline_payload = optarg;
			break;
		case OPT_PAYLOAD_FILE:
			payload_file = optarg;
			break;
		case OPT_ASYNC:
			async = true;
			break;
		default:
			if ((r = cli_common_option(cli, cmd, opt, argv)) != CLI_CONTINUE)
				return r;
		}
	}
	if ((r = cli_positionals(cmd, argc, argv, args, 1)))
		return r;
	if (inline_payload && payload_file)
		return cli_usage_error(cmd, "give --payload or --payload-file, not both");

	if (payload_file) {
		if ((r = read_payload_file(cmd, payload_file, &payload, &payload_len)))
			return r;
	} else {
		payload = strdup(inline_payload ? inline_payload : "{}");
		if (!payload)
			cli_oom();
		payload_len = strlen(payload);
	}
	/*
	 * Checked here so that a typo costs no round trip. Integers too big for 64 bits are
	 * valid JSON, hence INT_AS_REAL; the text itself is what is sent.
	 */
	parsed = json_loadb(payload, payload_len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
	if (!parsed && strspn(payload, " \t\r\n") == payload_len)
		return cli_input_error(cmd, "malformed payload JSON: the payload is empty (give {} "
					    "for an empty event)");
	if (!parsed) {
		return cli_input_error(cmd, "malformed payload JSON at line %d, column %d (byte %d): "
					    "%s",
				       jerr.line, jerr.column, jerr.position, jerr.text);
	}
	/* Valid JSON holds no raw newline inside strings: once minified it fits on one line. */
	payload_len = rawjson_minify(payload, payload_len);

	req = cli_request("Invoke");
	cli_set(req, "FunctionName", json_string(argv[optind]));
	cli_set(req, "InvocationType", json_string(async ? "Event" : "RequestResponse"));
	if ((r = cli_send_raw(cli, req, "Payload", payload, payload_len, &id)))
		return r;
	if ((r = cli_wait_response(cli, id, &response, &line, &line_len)))
		return r;
	if ((r = cli_response_result(response, &result)))
		return r;

	if (async) {
		const json_t *status = json_object_get(result, "StatusCode");

		if (cli->json) {
			line_len = rawjson_drop(line, line_len, envelope);
			output_raw(line, line_len);
		} else {
			const char *request_id = output_str(result, "RequestId");

			printf("%s\n", request_id ? request_id : "-");
		}
		if (json_integer_value(status) != 202) {
			fflush(stdout);
			fprintf(stderr, "lamina: invoke: queued with StatusCode %" JSON_INTEGER_FORMAT
					", not 202\n",
				json_integer_value(status));
			return EXIT_REFUSED;
		}
		return 0;
	}

	function_error = output_str(result, "FunctionError");
	if (cli->json) {
		line_len = rawjson_drop(line, line_len, envelope);
		output_raw(line, line_len);
	} else {
		/* The payload exactly as the daemon relayed it, not re-encoded. */
		if (rawjson_find(line, line_len, "Payload", &start, &end))
			output_raw(line + start, end - start);
		fflush(stdout);
		print_report(result);
	}
	return function_error && *function_error ? EXIT_FUNCTION_ERROR : 0;
}

const struct command cmd_invoke = {
	.name = "invoke",
	.run = invoke_run,
	.usage = "invoke FN[:Q] [--payload JSON | --payload-file F|-] [--async]",
	.help = "Invoke a function ($LATEST, or the version or alias Q) and wait for it: its\n"
		"response goes to standard output, compact, and the REPORT line to standard\n"
		"error. Exits 1 if the function returned an error (its payload is printed).\n\n"
		"  --payload JSON      the event, any JSON value (default {})\n"
		"  --payload-file F    read the event from file F, or standard input for -\n"
		"  --async             queue the event (InvocationType Event) and print its\n"
		"                      RequestId instead of waiting\n\n"
		"With --json, the whole Invoke result (StatusCode, Payload, FunctionError,\n"
		"ExecutedVersion, RequestId, Report) is printed instead, and no REPORT line.\n",
};
