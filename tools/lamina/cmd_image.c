/* SPDX-License-Identifier: MIT */
/*
 * image build DIR -o FILE: a deterministic .zip, .tar.gz or .tar of an image directory.
 * image inspect PATH: an image's manifest, entries, unpacked size and CodeSha256, checked
 * as the daemon checks it. Neither talks to the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../images/image.h"
#include "cleanup.h"
#include "lamina.h"
#include "output.h"

enum {
	OPT_OUTPUT = OPT_COMMAND,
};

static const char *const format_names[] = {
	[IMAGE_FORMAT_ZIP] = "zip",
	[IMAGE_FORMAT_TAR_GZ] = "tar.gz",
	[IMAGE_FORMAT_TAR] = "tar",
};

/* Refused content is the service-style refusal (3); a file we cannot read is usage (2). */
static int image_failed(const struct command *cmd, const struct image_error *ierr)
{
	fflush(stdout);
	fprintf(stderr, "lamina: %s: %s\n", cmd->name, ierr->message);
	return ierr->refused ? EXIT_REFUSED : EXIT_USAGE;
}

static json_t *listing_json(const struct image_listing *l)
{
	char digest[80];

	snprintf(digest, sizeof(digest), "sha256:%s", l->digest.hex);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "CodeSha256", l->digest.b64, "Digest",
			 digest, "Files", (json_int_t)l->files, "Directories", (json_int_t)l->dirs,
			 "Links", (json_int_t)l->links, "UnpackedSize", (json_int_t)l->bytes);
}

/* ---- build ---- */

static int build_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ 0 },
	};
	static const char *const args[] = { "DIR", NULL };
	struct image_listing listing = { 0 };
	struct image_error ierr = { 0 };
	struct image_source src = { .dir_fd = -1, .archive_fd = -1 };
	_cleanup_close_ int dir_fd = -1, out_fd = -1;
	_cleanup_free_ char *tmp = NULL;
	const char *output = NULL;
	struct stat st;
	int opt, r, format;

	optind = 0;
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS "o:", options, NULL)) != -1) {
		switch (opt) {
		case 'o':
		case OPT_OUTPUT:
			output = optarg;
			break;
		default:
			if ((r = cli_common_option(cli, cmd, opt, argv)) != CLI_CONTINUE)
				return r;
		}
	}
	if ((r = cli_positionals(cmd, argc, argv, args, 1)))
		return r;
	if (!output)
		return cli_usage_error(cmd, "give the archive to write with -o FILE");
	format = image_format_from_name(output);
	if (format < 0)
		return cli_usage_error(cmd, "'%s': the name must end in .zip, .tar.gz, .tgz or .tar",
				       output);
	src.name = argv[optind];
	dir_fd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return cli_input_error(cmd, "cannot read directory '%s': %s", argv[optind],
				       strerror(errno));
	if (fstatat(dir_fd, IMAGE_MANIFEST, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return cli_input_error(cmd, "no %s in '%s' (an image has its manifest at its root)",
				       IMAGE_MANIFEST, argv[optind]);
	src.dir_fd = dir_fd;
	/* Written beside the target and renamed: a failed build leaves no half archive. */
	if (asprintf(&tmp, "%s.tmp-XXXXXX", output) < 0)
		cli_oom();
	out_fd = mkostemp(tmp, O_CLOEXEC);
	if (out_fd < 0)
		return cli_input_error(cmd, "cannot create '%s': %s", output, strerror(errno));
	fchmod(out_fd, 0644);
	if (image_build(&src, out_fd, format, NULL, &listing, &ierr) < 0) {
		unlink(tmp);
		return image_failed(cmd, &ierr);
	}
	if (fsync(out_fd) < 0 || rename(tmp, output) < 0) {
		r = cli_input_error(cmd, "cannot write '%s': %s", output, strerror(errno));
		unlink(tmp);
		image_listing_free(&listing);
		return r;
	}
	if (cli->json) {
		json_t *j = listing_json(&listing);

		fstat(out_fd, &st);
		cli_set(j, "File", json_string(output));
		cli_set(j, "Format", json_string(format_names[format]));
		cli_set(j, "Size", json_integer(st.st_size));
		output_json(j);
		json_decref(j);
	} else {
		printf("built %s: %u files, %llu bytes unpacked, CodeSha256 %s\n", output,
		       listing.files, (unsigned long long)listing.bytes, listing.digest.b64);
	}
	image_listing_free(&listing);
	return 0;
}

/* ---- inspect ---- */

static const char *sniff_format(int fd)
{
	unsigned char magic[4] = { 0 };

	if (pread(fd, magic, sizeof(magic), 0) < 2)
		return "unknown";
	if (magic[0] == 'P' && magic[1] == 'K')
		return "zip";
	if (magic[0] == 0x1f && magic[1] == 0x8b)
		return "tar.gz";
	return "tar";
}

static int inspect_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const char *const args[] = { "PATH", NULL };
	struct image_listing listing = { 0 };
	struct image_error ierr = { 0 };
	struct image_source src = { .dir_fd = -1, .archive_fd = -1 };
	_cleanup_json_ json_t *manifest = NULL, *result = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	const char *format;
	struct stat st;
	int r;

	optind = 0;
	if ((r = cli_parse_common(cli, cmd, argc, argv)) != CLI_CONTINUE)
		return r;
	if ((r = cli_positionals(cmd, argc, argv, args, 1)))
		return r;
	src.name = argv[optind];
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return cli_input_error(cmd, "cannot read '%s': %s", argv[optind], strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		src.dir_fd = fd;
		format = "directory";
	} else if (S_ISREG(st.st_mode)) {
		src.archive_fd = fd;
		format = sniff_format(fd);
	} else {
		return cli_input_error(cmd, "'%s' is neither a directory nor an archive", argv[optind]);
	}
	if (image_unpack(&src, -1, NULL, NULL, &listing, &ierr) < 0)
		return image_failed(cmd, &ierr);
	r = image_read_file(&src, IMAGE_MANIFEST, 1 << 20, &text, NULL, &ierr);
	if (r == 0) {
		json_error_t jerr;

		manifest = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
		if (!manifest)
			fprintf(stderr, "lamina: image inspect: %s is not valid JSON: %s\n",
				IMAGE_MANIFEST, jerr.text);
	} else if (r == -ENOENT) {
		fprintf(stderr, "lamina: image inspect: no %s at the image's root\n", IMAGE_MANIFEST);
	}
	result = listing_json(&listing);
	cli_set(result, "Path", json_string(argv[optind]));
	cli_set(result, "Format", json_string(format));
	if (!S_ISDIR(st.st_mode))
		cli_set(result, "Size", json_integer(st.st_size));
	cli_set(result, "Manifest", manifest ? json_incref(manifest) : json_null());
	if (cli->json) {
		output_json(result);
	} else {
		_cleanup_free_ char *m = manifest ? json_dumps(manifest, JSON_INDENT(2) | JSON_SORT_KEYS)
						  : NULL;

		printf("image       %s (%s", argv[optind], format);
		if (!S_ISDIR(st.st_mode))
			printf(", %lld bytes", (long long)st.st_size);
		printf(")\n");
		printf("files       %u (and %u directories, %u links)\n", listing.files, listing.dirs,
		       listing.links);
		printf("unpacked    %llu bytes\n", (unsigned long long)listing.bytes);
		printf("CodeSha256  %s\n", listing.digest.b64);
		printf("digest      sha256:%s\n", listing.digest.hex);
		printf("manifest    %s\n", m ? m : "(none)");
	}
	image_listing_free(&listing);
	return 0;
}

static const struct command cmd_image_build = {
	.name = "image build",
	.run = build_run,
	.usage = "image build DIR -o FILE",
	.help = "Write the image directory DIR (with " IMAGE_MANIFEST " at its root) as a deterministic\n"
		"archive FILE: .zip, .tar.gz (.tgz) or .tar by its name. Entries are sorted, times\n"
		"(1980-01-01) and owners (0:0) fixed: the same files always give the same bytes.\n"
		"Exit status 3 when the daemon would refuse the image (unsafe or too large).\n\n"
		"  -o, --output FILE   the archive to write (replaced atomically)\n",
};

static const struct command cmd_image_inspect = {
	.name = "image inspect",
	.run = inspect_run,
	.usage = "image inspect PATH",
	.help = "Check the image PATH (a directory, .zip, .tar or .tar.gz) as the daemon would and\n"
		"print its manifest, entry counts, unpacked size, CodeSha256 and digest (--json:\n"
		"one object). Exit status 3 when the image would be refused.\n",
};

static int image_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		if (argc < 2)
			return cli_usage_error(cmd, "give a subcommand: build or inspect");
		cli_print_help(cmd, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "build"))
		return build_run(cli, &cmd_image_build, argc - 1, argv + 1);
	if (!strcmp(argv[1], "inspect"))
		return inspect_run(cli, &cmd_image_inspect, argc - 1, argv + 1);
	return cli_usage_error(cmd, "unknown subcommand '%s' (build or inspect)", argv[1]);
}

const struct command cmd_image = {
	.name = "image",
	.run = image_run,
	.usage = "image build DIR -o FILE\n"
		 "image inspect PATH",
	.help = "build: write the image directory DIR (with " IMAGE_MANIFEST " at its root) as a\n"
		"deterministic archive FILE: .zip, .tar.gz (.tgz) or .tar by its name. Entries are\n"
		"sorted, times and owners fixed: the same files always give the same bytes.\n"
		"inspect: check an image (directory or archive) as the daemon would and print its\n"
		"manifest, entry counts, unpacked size and CodeSha256 (--json: one object).\n"
		"Exit status 3 when the image would be refused (unsafe or too large).\n",
};
