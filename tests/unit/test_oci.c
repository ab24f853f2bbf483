/* SPDX-License-Identifier: MIT */
/*
 * The OCI image reader (images/oci.c) against layouts written here into a
 * temporary directory: layers applied in order with whiteouts and opaque
 * directories, mount points made, digests checked, hostile entries refused, and
 * image URIs parsed.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../images/oci.h"
#include "../../images/store.h"

struct entry {
	const char *name;
	char kind;	  /* f d l h */
	const char *data; /* contents, or link target */
};

static char root[64];

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* A tar (gzip when gz) of entries, in memory. */
static size_t make_tar(const struct entry *es, size_t n, bool gz, char *buf, size_t size)
{
	struct archive *a = archive_write_new();
	size_t used = 0;

	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_memory(a, buf, size, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = es[i].kind == 'f' ? strlen(es[i].data) : 0;

		archive_entry_set_pathname(e, es[i].name);
		archive_entry_set_perm(e, es[i].kind == 'd' ? 0755 : 0644);
		archive_entry_set_filetype(e, es[i].kind == 'd'	  ? AE_IFDIR
					      : es[i].kind == 'l' ? AE_IFLNK
								  : AE_IFREG);
		if (es[i].kind == 'l')
			archive_entry_set_symlink(e, es[i].data);
		if (es[i].kind == 'h')
			archive_entry_set_hardlink(e, es[i].data);
		archive_entry_set_size(e, len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, es[i].data, len), (ssize_t)len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return used;
}

static void put_blob(const char *data, size_t len, char hex[65])
{
	char path[256];
	int fd;

	sha256_hex(data, len, hex);
	snprintf(path, sizeof(path), "%s/layout/blobs/sha256/%s", root, hex);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void put_file(const char *rel, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/layout/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* A layout of the given layers; returns the manifest's hex in out. */
static void make_layout(const struct entry *l1, size_t n1, const struct entry *l2, size_t n2,
			char manifest_hex[65])
{
	static char tar1[1 << 16], tar2[1 << 16];
	char h1[65], h2[65], hc[65], text[2048], path[256];
	const char *config = "{\"config\": {\"Entrypoint\": [\"/bin/x\"], \"Cmd\": [\"a\"],"
			     " \"WorkingDir\": \"/w\", \"Env\": [\"A=1\"]}}";
	size_t s1 = make_tar(l1, n1, true, tar1, sizeof(tar1));
	size_t s2 = make_tar(l2, n2, false, tar2, sizeof(tar2));

	snprintf(path, sizeof(path), "%s/layout", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/layout/blobs", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/layout/blobs/sha256", root);
	mkdir(path, 0755);
	put_blob(tar1, s1, h1);
	put_blob(tar2, s2, h2);
	put_blob(config, strlen(config), hc);
	snprintf(text, sizeof(text),
		 "{\"schemaVersion\": 2, \"config\": {\"digest\": \"sha256:%s\"}, "
		 "\"layers\": ["
		 "{\"digest\": \"sha256:%s\"}, {\"digest\": \"sha256:%s\"}]}",
		 hc, h1, h2);
	put_blob(text, strlen(text), manifest_hex);
	snprintf(text, sizeof(text),
		 "{\"schemaVersion\": 2, \"manifests\": [{\"digest\": \"sha256:%s\","
		 " \"annotations\": {\"org.opencontainers.image.ref.name\": \"v1\"}}]}",
		 manifest_hex);
	put_file("index.json", text);
	put_file("oci-layout", "{\"imageLayoutVersion\": \"1.0.0\"}");
}

static int apply(const char *ref, struct oci_result *res, struct image_error *err)
{
	char layout[128], out[128];
	struct oci_source src = {.path = layout, .ref = ref};
	struct oci_layout *l = NULL;
	int fd, r;

	snprintf(layout, sizeof(layout), "%s/layout", root);
	snprintf(out, sizeof(out), "%s/out", root);
	image_remove_tree(AT_FDCWD, out, NULL);
	mkdir(out, 0755);
	fd = open(out, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	r = oci_open(&src, -1, &l, res, err);
	if (r == 0)
		r = oci_apply(l, fd, 0, 0, res, err);
	oci_close(l);
	close(fd);
	return r;
}

static bool exists(const char *rel)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/out/%s", root, rel);
	return lstat(path, &st) == 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/lamina-test-oci-XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	image_remove_tree(AT_FDCWD, root, NULL);
	return 0;
}

static void test_layers_apply_in_order_with_whiteouts(void **state)
{
	const struct entry l1[] = {
		{"etc/hello", 'f', "one"}, {"gone", 'f', "x"},	       {"dir/old", 'f', "x"},
		{"keep/a", 'f', "x"},	   {"tmp", 'l', "/elsewhere"},
	};
	const struct entry l2[] = {
		{"etc/hello", 'f', "two"},     {".wh.gone", 'f', ""},	  {"dir/new", 'f', "y"},
		{"dir/.wh..wh..opq", 'f', ""}, {"keep/b", 'h', "keep/a"},
	};
	struct oci_result res = {0};
	struct image_error err = {0};
	char manifest[65], path[256], text[16] = "";
	struct stat st;
	int fd;

	(void)state;
	make_layout(l1, 5, l2, 5, manifest);
	assert_int_equal(apply(NULL, &res, &err), 0);
	assert_string_equal(res.manifest_hex, manifest);
	snprintf(path, sizeof(path), "%s/out/etc/hello", root);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, text, sizeof(text) - 1), 3);
	close(fd);
	assert_string_equal(text, "two");
	assert_false(exists("gone"));
	assert_false(exists("dir/old"));
	assert_true(exists("dir/new")); /* same layer as the opaque marker: kept */
	assert_true(exists("keep/b"));
	/* Mount points are real directories, whatever the image had there. */
	snprintf(path, sizeof(path), "%s/out/tmp", root);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_true(exists("dev") && exists("proc") && exists("etc/lamina"));
	assert_string_equal(json_string_value(json_object_get(res.config, "WorkingDirectory")),
			    "/w");
	assert_int_equal(json_array_size(json_object_get(res.config, "EntryPoint")), 1);
	oci_result_clear(&res);
	/* By tag, and an unknown tag. */
	assert_int_equal(apply("v1", &res, &err), 0);
	oci_result_clear(&res);
	assert_true(apply("v2", &res, &err) < 0);
	assert_true(err.refused);
}

static void test_hostile_entries_are_refused(void **state)
{
	const struct entry ok[] = {{"a", 'f', "x"}};
	const struct entry dots[] = {{"a/../../x", 'f', "x"}};
	const struct entry hard[] = {{"l", 'l', "/etc/passwd"}, {"h", 'h', "l"}};
	struct oci_result res = {0};
	struct image_error err = {0};
	char manifest[65], path[256];

	(void)state;
	make_layout(ok, 1, dots, 1, manifest);
	assert_true(apply(NULL, &res, &err) < 0);
	assert_true(err.refused);
	assert_non_null(strstr(err.message, "'..'"));
	snprintf(path, sizeof(path), "%s/layout", root);
	image_remove_tree(AT_FDCWD, path, NULL);
	make_layout(ok, 1, hard, 2, manifest);
	memset(&err, 0, sizeof(err));
	assert_true(apply(NULL, &res, &err) < 0);
	assert_non_null(strstr(err.message, "hard link"));
}

static void test_corrupt_blob_is_refused(void **state)
{
	const struct entry l1[] = {{"a", 'f', "x"}};
	struct oci_result res = {0};
	struct image_error err = {0};
	char manifest[65], path[256];
	int fd;

	(void)state;
	make_layout(l1, 1, l1, 1, manifest);
	snprintf(path, sizeof(path), "%s/layout/blobs/sha256/%s", root, manifest);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, " ", 1), 1);
	close(fd);
	assert_true(apply(NULL, &res, &err) < 0);
	assert_non_null(strstr(err.message, "digest"));
}

static void test_parse_uri(void **state)
{
	struct oci_source s;
	char buf[256];

	(void)state;
	assert_true(oci_parse_uri("oci-archive:/a/b.tar", buf, sizeof(buf), &s));
	assert_true(s.archive);
	assert_string_equal(s.path, "/a/b.tar");
	assert_null(s.ref);
	assert_true(oci_parse_uri("oci:/a/dir:latest", buf, sizeof(buf), &s));
	assert_false(s.archive);
	assert_string_equal(s.path, "/a/dir");
	assert_string_equal(s.ref, "latest");
	assert_true(oci_parse_uri("oci:/a/dir@sha256:abc", buf, sizeof(buf), &s));
	assert_string_equal(s.path, "/a/dir");
	assert_string_equal(s.ref, "sha256:abc");
	assert_false(oci_parse_uri("docker://x", buf, sizeof(buf), &s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layers_apply_in_order_with_whiteouts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_entries_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_blob_is_refused, setup, teardown),
		cmocka_unit_test(test_parse_uri),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
