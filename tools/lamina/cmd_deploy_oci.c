/* SPDX-License-Identifier: MIT */
/*
 * deploy oci-archive:FILE | oci:DIR[:TAG]: a container-image function. The
 * daemon reads the OCI image layout itself (with our credentials), so the path
 * is made absolute; the function's name comes from --name, else the file's or
 * directory's base name.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "lamina.h"
#include "output.h"

enum { OPT_NAME = OPT_COMMAND, OPT_PUBLISH, OPT_DESCRIPTION };

/* "oci-archive:rel/x.tar:tag" → "oci-archive:/abs/x.tar:tag"; *base: a default
 * name. */
static int absolute_uri(const struct command *cmd, const char *uri, char *out, size_t size,
			char *base, size_t base_size)
{
	const char *prefix = !strncmp(uri, "oci-archive:", 12) ? "oci-archive:" : "oci:";
	const char *path = uri + strlen(prefix);
	char copy[PATH_MAX], *suffix = NULL, *colon, *at, *real, *slash, *dot;

	snprintf(copy, sizeof(copy), "%s", path);
	at = strstr(copy, "@sha256:");
	colon = strrchr(copy, ':');
	if (at)
		suffix = at;
	else if (colon && !strchr(colon, '/'))
		suffix = colon;
	if (suffix) {
		memmove(suffix + 1, suffix, strlen(suffix) + 1);
		*suffix++ = '\0';
	}
	real = realpath(copy, NULL);
	if (!real)
		return cli_input_error(cmd, "cannot use '%s': %s", copy, strerror(errno));
	snprintf(out, size, "%s%s%s", prefix, real, suffix ? suffix : "");
	slash = strrchr(real, '/');
	snprintf(base, base_size, "%s", slash ? slash + 1 : real);
	if ((dot = strchr(base, '.')))
		*dot = '\0';
	for (char *p = base; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			*p = '-';
	free(real);
	return 0;
}

int deploy_oci_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{"name", required_argument, NULL, OPT_NAME},
		CLI_CONFIG_OPTIONS,
		{"publish", no_argument, NULL, OPT_PUBLISH},
		{"description", required_argument, NULL, OPT_DESCRIPTION},
		{0},
	};
	static const char *const args[] = {"oci-archive:FILE|oci:DIR", NULL};
	_cleanup_json_ json_t *conf = json_object(), *vars = NULL, *response = NULL, *result = NULL,
			      *code = json_object();
	char uri[PATH_MAX + 80], base[NAME_MAX + 1];
	const char *name = NULL, *error_type;
	bool publish = false;
	json_int_t id;
	int opt, r;

	if (!conf || !code)
		cli_oom();
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_PUBLISH:
			publish = true;
			break;
		case OPT_DESCRIPTION:
			cli_set(conf, "Description", json_string(optarg));
			break;
		default:
			r = cli_config_option(cmd, opt, optarg, conf, &vars);
			if (r == CLI_OTHER_OPTION)
				r = cli_common_option(cli, cmd, opt, argv);
			if (r != CLI_CONTINUE)
				return r;
		}
	}
	if ((r = cli_positionals(cmd, argc, argv, args, 1)))
		return r;
	if ((r = absolute_uri(cmd, argv[optind], uri, sizeof(uri), base, sizeof(base))))
		return r;
	if (!name)
		name = base;
	if (vars)
		cli_set(conf, "Environment", json_pack("{s:O}", "Variables", vars));
	cli_set(code, "ImageUri", json_string(uri));

	{
		_cleanup_json_ json_t *req = cli_request("GetFunction");

		cli_set(req, "FunctionName", json_string(name));
		if ((r = cli_send(cli, req, &id)) ||
		    (r = cli_wait_response(cli, id, &response, NULL, NULL)))
			return r;
	}
	error_type = cli_response_error_type(response);
	if (error_type && strcmp(error_type, "ResourceNotFoundException")) {
		_cleanup_json_ json_t *unused = NULL;

		return cli_response_result(response, &unused);
	}
	if (error_type) {
		_cleanup_json_ json_t *req = cli_request("CreateFunction");

		json_object_update(req, conf);
		cli_set(req, "FunctionName", json_string(name));
		cli_set(req, "PackageType", json_string("Image"));
		cli_set(req, "Code", json_incref(code));
		cli_set(req, "Publish", json_boolean(publish));
		if ((r = cli_call(cli, req, &result)))
			return r;
	} else {
		_cleanup_json_ json_t *req = cli_request("UpdateFunctionCode"), *unused = NULL;

		cli_set(req, "FunctionName", json_string(name));
		cli_set(req, "ImageUri", json_string(uri));
		cli_set(req, "Code", json_incref(code));
		if ((r = cli_call(cli, req, &unused)))
			return r;
		json_decref(req);
		req = cli_request("UpdateFunctionConfiguration");
		json_object_update(req, conf);
		cli_set(req, "FunctionName", json_string(name));
		if ((r = cli_call(cli, req, &result)))
			return r;
		if (publish) {
			json_decref(result);
			result = NULL;
			json_decref(req);
			req = cli_request("PublishVersion");
			cli_set(req, "FunctionName", json_string(name));
			if ((r = cli_call(cli, req, &result)))
				return r;
		}
	}
	if (cli->json) {
		output_json(result);
		return 0;
	}
	printf("deployed %s %s from %s (image sha256 %s)\n", name,
	       output_str(result, "Version") ? output_str(result, "Version") : "$LATEST", uri,
	       output_str(result, "CodeSha256") ? output_str(result, "CodeSha256") : "-");
	return 0;
}
