/* SPDX-License-Identifier: MIT */
/*
 * deploy: create or update a function's $LATEST from an image (a directory, .zip, .tar or
 * .tar.gz), whose lamina.json gives the configuration that flags override.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../images/image.h"
#include "cleanup.h"
#include "lamina.h"
#include "output.h"
#include "progress.h"

enum {
	OPT_NAME = OPT_COMMAND,
	OPT_RUNTIME,
	OPT_HANDLER,
	OPT_PUBLISH,
};

#define MANIFEST "lamina.json"

/* The manifest's keys this command reads, in the order requests carry them. */
struct manifest_key {
	const char *key;
	json_type type;
	const char *inner;	/* an object's one member (Environment.Variables) */
	json_type inner_type;
};

static const struct manifest_key manifest_keys[] = {
	{ "FunctionName", JSON_STRING, NULL, 0 },
	{ "Runtime", JSON_STRING, NULL, 0 },
	{ "Handler", JSON_STRING, NULL, 0 },
	{ "Description", JSON_STRING, NULL, 0 },
	{ "MemorySize", JSON_INTEGER, NULL, 0 },
	{ "Timeout", JSON_INTEGER, NULL, 0 },
	{ "Environment", JSON_OBJECT, "Variables", JSON_OBJECT },
	{ "EphemeralStorage", JSON_OBJECT, "Size", JSON_INTEGER },
	{ "Layers", JSON_ARRAY, NULL, 0 },	/* layer version ARNs (cmd_layer.c) */
};

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "a whole number";
	case JSON_OBJECT:
		return "an object";
	default:
		return "a value";
	}
}

/* An archive's lamina.json, as text. */
static int read_archive_manifest(const struct command *cmd, const char *file, char **text)
{
	struct image_source src = { .name = file, .dir_fd = -1, .archive_fd = -1 };
	struct image_error ierr = { 0 };
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return cli_input_error(cmd, "cannot read '%s': %s", file, strerror(errno));
	src.archive_fd = fd;
	r = image_read_file(&src, MANIFEST, 1 << 20, text, NULL, &ierr);
	if (r == -ENOENT)
		return cli_input_error(cmd, "no %s at the root of '%s' (an image has its manifest "
					    "at its root)", MANIFEST, file);
	if (r < 0)
		return cli_input_error(cmd, "%s", ierr.message);
	return 0;
}

/*
 * Reads and checks the image's lamina.json (a directory's, or an archive's when archive)
 * into *out (the known keys only). A key it does not know is reported but kept out of the
 * requests: the image format may grow.
 */
static int load_manifest(const struct command *cmd, const char *dir, bool archive, json_t **out)
{
	_cleanup_json_ json_t *m = NULL, *known = json_object();
	_cleanup_free_ char *path = NULL, *text = NULL;
	json_error_t jerr;
	const char *key;
	json_t *value;
	int r;

	if (!known || asprintf(&path, "%s%s%s", dir, archive ? ":" : "/", MANIFEST) < 0)
		cli_oom();
	if (archive) {
		if ((r = read_archive_manifest(cmd, dir, &text)))
			return r;
		m = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	} else {
		m = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	}
	if (!m) {
		if (!archive && access(path, F_OK) < 0 && errno == ENOENT)
			return cli_input_error(cmd, "no %s in '%s' (an image directory has its "
						    "manifest at its root)", MANIFEST, dir);
		return cli_input_error(cmd, "%s: invalid manifest at line %d, column %d: %s", path,
				       jerr.line, jerr.column, jerr.text);
	}
	if (!json_is_object(m))
		return cli_input_error(cmd, "%s: the manifest must be a JSON object", path);

	json_object_foreach (m, key, value) {
		const struct manifest_key *k = NULL;

		for (size_t i = 0; i < sizeof(manifest_keys) / sizeof(manifest_keys[0]); i++)
			if (!strcmp(manifest_keys[i].key, key))
				k = &manifest_keys[i];
		if (!k) {
			fprintf(stderr, "lamina: deploy: %s: ignoring unknown key '%s'\n", path, key);
			continue;
		}
		if (json_is_null(value))
			continue;
		if (json_typeof(value) != k->type)
			return cli_input_error(cmd, "%s: %s must be %s", path, key, type_name(k->type));
		if (k->inner) {
			json_t *inner = json_object_get(value, k->inner);
			const char *var;
			json_t *v;

			if (json_object_size(value) != 1 || !inner ||
			    json_typeof(inner) != k->inner_type)
				return cli_input_error(cmd, "%s: %s must be {\"%s\": %s}", path, key,
						       k->inner, type_name(k->inner_type));
			if (k->inner_type == JSON_OBJECT)
				json_object_foreach (inner, var, v)
					if (!json_is_string(v))
						return cli_input_error(
							cmd, "%s: %s.%s.%s must be a string", path,
							key, k->inner, var);
		}
		cli_set(known, key, json_incref(value));
	}
	*out = steal_pointer(&known);
	return 0;
}

/* The configuration members of the merged manifest, in Lambda's order. */
static void copy_configuration(json_t *req, const json_t *manifest)
{
	for (size_t i = 1; i < sizeof(manifest_keys) / sizeof(manifest_keys[0]); i++) {
		json_t *v = json_object_get(manifest, manifest_keys[i].key);

		if (v)
			cli_set(req, manifest_keys[i].key, json_incref(v));
	}
}

/* Code.Directory for a directory, else Code.ImageFile (the daemon reads it as us). */
static json_t *code_of(const char *path, bool archive, const struct progress *progress)
{
	json_t *code = json_object();

	if (!code)
		cli_oom();
	cli_set(code, archive ? "ImageFile" : "Directory", json_string(path));
	if (progress)
		cli_set(code, "ProgressFifo", json_string(progress_fifo(progress)));
	return code;
}

static uint64_t tree_bytes;

static int add_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode))
		tree_bytes += st->st_size;
	return 0;
}

/* What the progress bar counts: an archive's bytes, a directory's files' bytes. */
static uint64_t image_bytes(const char *path, const struct stat *st)
{
	if (!S_ISDIR(st->st_mode))
		return st->st_size;
	tree_bytes = 0;
	nftw(path, add_size, 32, FTW_PHYS);
	return tree_bytes;
}

/* A request carrying the code, with the progress bar on a terminal while it runs. */
static int call_with_code(struct cli *cli, json_t *req, const char *path, bool archive,
			  const struct stat *st, json_t **result)
{
	_cleanup_json_ json_t *response = NULL;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char label[64];
	struct progress *progress;
	json_int_t id;
	int r;

	snprintf(label, sizeof(label), "deploying %.40s", base);
	progress = progress_start(label, image_bytes(path, st));
	cli_set(req, "Code", code_of(path, archive, progress));
	if ((r = cli_send(cli, req, &id)) || (r = cli_wait_response(cli, id, &response, NULL, NULL))) {
		progress_finish(progress, false);
		return r;
	}
	progress_finish(progress, json_is_true(json_object_get(response, "ok")));
	return cli_response_result(response, result);
}

/* "deployed fn $LATEST (CodeSha256 …, 128 MB, 3 s)" */
static void print_deployed(const char *name, const json_t *conf)
{
	_cleanup_free_ char *memory = output_unit(conf, "MemorySize", "MB");
	_cleanup_free_ char *timeout = output_unit(conf, "Timeout", "s");
	const char *sha = output_str(conf, "CodeSha256");

	printf("deployed %s $LATEST (CodeSha256 %s, %s, %s)\n", name, sha ? sha : "-", memory,
	       timeout);
}

/* A published version's number from its configuration, or NULL if it is $LATEST's. */
static const char *published_version(const json_t *conf)
{
	const char *v = output_str(conf, "Version");

	return v && *v && strcmp(v, "$LATEST") ? v : NULL;
}

static int deploy_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{ "name", required_argument, NULL, OPT_NAME },
		{ "runtime", required_argument, NULL, OPT_RUNTIME },
		{ "handler", required_argument, NULL, OPT_HANDLER },
		CLI_CONFIG_OPTIONS,
		{ "publish", no_argument, NULL, OPT_PUBLISH },
		{ 0 },
	};
	static const char *const args[] = { "PATH", NULL };
	_cleanup_json_ json_t *flags = json_object(), *vars = NULL, *manifest = NULL,
			      *response = NULL, *latest = NULL, *version = NULL;
	_cleanup_free_ char *dir = NULL;
	const char *name, *missing = NULL, *error_type;
	bool publish = false, archive;
	struct stat st;
	int opt, r;

	if (!flags)
		cli_oom();
	/* Container images (oci-archive:FILE, oci:DIR) are cmd_deploy_oci.c's. */
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "oci-archive:", 12) || !strncmp(argv[i], "oci:", 4))
			return deploy_oci_run(cli, cmd, argc, argv);
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_NAME:
			cli_set(flags, "FunctionName", json_string(optarg));
			break;
		case OPT_RUNTIME:
			cli_set(flags, "Runtime", json_string(optarg));
			break;
		case OPT_HANDLER:
			cli_set(flags, "Handler", json_string(optarg));
			break;
		case OPT_PUBLISH:
			publish = true;
			break;
		default:
			r = cli_config_option(cmd, opt, optarg, flags, &vars);
			if (r == CLI_OTHER_OPTION)
				r = cli_common_option(cli, cmd, opt, argv);
			if (r != CLI_CONTINUE)
				return r;
		}
	}
	if ((r = cli_positionals(cmd, argc, argv, args, 1)))
		return r;

	/* The daemon reads the image itself: it needs the absolute path. */
	dir = realpath(argv[optind], NULL);
	if (!dir)
		return cli_input_error(cmd, "cannot use '%s': %s", argv[optind], strerror(errno));
	if (stat(dir, &st) < 0 || (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)))
		return cli_input_error(cmd, "'%s' is not an image (a directory, .zip, .tar or .tar.gz "
					    "with %s at its root)", argv[optind], MANIFEST);
	archive = S_ISREG(st.st_mode);
	if (archive) {
		_cleanup_close_ int fd = open(dir, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || !image_is_archive(fd))
			return cli_input_error(cmd, "'%s' is not a directory nor a .zip, .tar or .tar.gz "
						    "archive (an image has %s at its root)", argv[optind],
					       MANIFEST);
	}
	if ((r = load_manifest(cmd, dir, archive, &manifest)))
		return r;

	/* Flags override the manifest; --env adds to (or replaces single) variables. */
	json_object_update(manifest, flags);
	if (vars) {
		json_t *env = json_object_get(manifest, "Environment");
		json_t *merged = json_deep_copy(json_object_get(env, "Variables"));
		json_t *new_env = json_object();

		if (!merged)
			merged = json_object();
		if (!merged || !new_env || json_object_update(merged, vars) < 0)
			cli_oom();
		cli_set(new_env, "Variables", merged);
		cli_set(manifest, "Environment", new_env);
	}
	if (!json_object_get(manifest, "FunctionName"))
		missing = "function name: set FunctionName in " MANIFEST " or give --name";
	else if (!json_object_get(manifest, "Runtime"))
		missing = "runtime: set Runtime in " MANIFEST " or give --runtime";
	else if (!json_object_get(manifest, "Handler"))
		missing = "handler: set Handler in " MANIFEST " or give --handler";
	if (missing)
		return cli_usage_error(cmd, "no %s", missing);
	name = json_string_value(json_object_get(manifest, "FunctionName"));
	if (!*name)
		return cli_usage_error(cmd, "the function name must not be empty");

	/* Create or update: whether the function exists decides. */
	{
		_cleanup_json_ json_t *req = cli_request("GetFunction");
		json_int_t id;

		cli_set(req, "FunctionName", json_string(name));
		if ((r = cli_send(cli, req, &id)) || (r = cli_wait_response(cli, id, &response, NULL,
									    NULL)))
			return r;
	}
	error_type = cli_response_error_type(response);
	if (error_type && strcmp(error_type, "ResourceNotFoundException")) {
		_cleanup_json_ json_t *unused = NULL;

		return cli_response_result(response, &unused);
	}

	if (error_type) {
		_cleanup_json_ json_t *req = cli_request("CreateFunction");

		cli_set(req, "FunctionName", json_string(name));
		copy_configuration(req, manifest);
		/* Publishing at creation snapshots code and configuration together. */
		cli_set(req, "Publish", json_boolean(publish));
		if ((r = call_with_code(cli, req, dir, archive, &st, &latest)))
			return r;
		if (publish && published_version(latest))
			version = json_incref(latest);
	} else {
		_cleanup_json_ json_t *code = cli_request("UpdateFunctionCode"), *code_result = NULL,
				      *conf = cli_request("UpdateFunctionConfiguration");

		/*
		 * Not Publish:true here: the version would hold the old configuration. The
		 * configuration goes second and PublishVersion last, over both.
		 */
		cli_set(code, "FunctionName", json_string(name));
		cli_set(code, "Publish", json_false());
		if ((r = call_with_code(cli, code, dir, archive, &st, &code_result)))
			return r;
		cli_set(conf, "FunctionName", json_string(name));
		copy_configuration(conf, manifest);
		if ((r = cli_call(cli, conf, &latest)))
			return r;
	}
	if (publish && !version) {
		_cleanup_json_ json_t *req = cli_request("PublishVersion");

		cli_set(req, "FunctionName", json_string(name));
		if ((r = cli_call(cli, req, &version)))
			return r;
	}

	if (cli->json) {
		output_json(version ? version : latest);
		return 0;
	}
	print_deployed(name, latest);
	if (version) {
		const char *v = published_version(version);

		printf("published %s version %s\n", name, v ? v : "-");
	}
	return 0;
}

const struct command cmd_deploy = {
	.name = "deploy",
	.run = deploy_run,
	.usage = "deploy PATH [--name N] [--runtime R] [--handler H] [--memory MB] [--timeout S]\n"
		 "       [--env K=V]... [--publish]",
	.help = "Create a function, or update its $LATEST, from the image PATH (a directory, .zip,\n"
		".tar or .tar.gz), which holds the code and a manifest " MANIFEST " at its root:\n"
		"  {\"FunctionName\", \"Runtime\", \"Handler\", \"MemorySize\", \"Timeout\",\n"
		"   \"Description\", \"Environment\": {\"Variables\": {}}, \"EphemeralStorage\": {\"Size\"}}\n"
		"Flags override the manifest. On update, settings neither gives stay as they are.\n\n"
		"  --name N       function name\n"
		"  --runtime R    python3.11, nodejs20.x, java17, dotnet, go or provided\n"
		"  --handler H    handler, e.g. app.handler\n"
		"  --memory MB    memory in MB (default 128)\n"
		"  --timeout S    timeout in seconds (default 3)\n"
		"  --env K=V      an environment variable, added to the manifest's (repeatable)\n"
		"  --publish      also publish a version of the new code and configuration\n"
		"On a terminal, images of 8 MB or more show a progress bar on stderr.\n",
};
