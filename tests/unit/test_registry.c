/* SPDX-License-Identifier: MIT */
/*
 * The registry's promises: Lambda's lifecycle rules for functions, versions and aliases,
 * its bounds and messages, uids that are never shared, and durability — each test on a
 * fresh database in a temp directory, and one that kill -9s a writer at a random moment.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "../../scheduler/registry.h"

#define FIRST_UID 100000

/* sha256("a"), sha256("b"), sha256("c"): hex and base64. */
#define CODE_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define CODE_A_B64 "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs="
#define CODE_B "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define CODE_B_B64 "PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0="
#define CODE_C "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"

#define ARN_PREFIX "arn:aws:lambda:local:000000000000:function:"

struct fixture {
	char dir[64];
	char path[128];
	struct registry *reg;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct api_error err = { 0 };

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/lamina-registry.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/registry.db", fx->dir);
	if (registry_open(fx->path, FIRST_UID, &fx->reg, &err) != 0)
		fail_msg("registry_open: %s", err.message);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];
	int r;

	registry_close(fx->reg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	r = system(cmd);
	free(fx);
	return r;
}

static void reopen(struct fixture *fx)
{
	struct api_error err = { 0 };

	registry_close(fx->reg);
	fx->reg = NULL;
	if (registry_open(fx->path, FIRST_UID, &fx->reg, &err) != 0)
		fail_msg("registry_open: %s", err.message);
}

static struct function_config basic_config(void)
{
	return (struct function_config){
		.runtime = "python3.11",
		.handler = "app.handler",
		.code_hex = CODE_A,
		.code_size = 1234,
	};
}

static void create(struct fixture *fx, const char *name, struct function_version *out)
{
	struct function_config c = basic_config();
	struct function_version v;
	struct api_error err = { 0 };

	if (registry_create_function(fx->reg, name, &c, out ? out : &v, &err) != 0)
		fail_msg("create %s: %s", name, err.message);
	if (!out)
		function_version_clear(&v);
}

static void set_memory(struct fixture *fx, const char *name, uint32_t mb)
{
	struct function_config c = { .memory_mb = mb };
	struct api_error err = { 0 };

	if (registry_update_latest(fx->reg, name, &c, NULL, &err) != 0)
		fail_msg("update %s: %s", name, err.message);
}

static void publish(struct fixture *fx, const char *name, const char *want_version)
{
	struct function_version v;
	struct api_error err = { 0 };

	if (registry_publish(fx->reg, name, NULL, &v, &err) != 0)
		fail_msg("publish %s: %s", name, err.message);
	assert_string_equal(v.version, want_version);
	function_version_clear(&v);
}

static struct alias make_alias(const char *fn, const char *name, const char *version,
			       const char *additional, double weight)
{
	struct alias a = { .additional_weight = weight };

	snprintf(a.function_name, sizeof(a.function_name), "%s", fn);
	snprintf(a.name, sizeof(a.name), "%s", name);
	snprintf(a.version, sizeof(a.version), "%s", version);
	snprintf(a.additional_version, sizeof(a.additional_version), "%s", additional);
	return a;
}

/* The call failed with this exception and a message containing `contains`. */
static void expect_error(int r, const struct api_error *err, const char *type,
			 const char *contains)
{
	if (r == 0)
		fail_msg("call succeeded; expected %s", type);
	assert_non_null(err->type);
	if (strcmp(err->type, type) != 0)
		fail_msg("got %s (%s); expected %s", err->type, err->message, type);
	if (contains && !strstr(err->message, contains))
		fail_msg("message '%s' does not contain '%s'", err->message, contains);
}

static sqlite3 *raw_open(struct fixture *fx)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static long long raw_count(struct fixture *fx, const char *sql)
{
	sqlite3 *db = raw_open(fx);
	sqlite3_stmt *s = NULL;
	long long n;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* ---- functions ---- */

static void test_create_fills_latest_with_lambdas_defaults(void **state)
{
	struct fixture *fx = *state;
	struct function_version v;

	create(fx, "hello", &v);
	assert_string_equal(v.name, "hello");
	assert_string_equal(v.version, "$LATEST");
	assert_string_equal(v.runtime, "python3.11");
	assert_string_equal(v.handler, "app.handler");
	assert_string_equal(v.description, "");
	assert_int_equal(v.memory_mb, 128);
	assert_int_equal(v.timeout_s, 3);
	assert_int_equal(v.ephemeral_mb, 512);
	assert_true(json_is_object(v.environment));
	assert_int_equal(json_object_size(v.environment), 0);
	assert_string_equal(v.code_hex, CODE_A);
	assert_string_equal(v.code_sha256, CODE_A_B64);
	assert_int_equal(v.code_size, 1234);
	assert_int_equal(v.uid, FIRST_UID);
	assert_int_equal(strlen(v.revision_id), 36);
	/* 2026-11-27T17:25:22.000+0000 */
	assert_int_equal(strlen(v.last_modified), 28);
	assert_string_equal(v.last_modified + 23, "+0000");
	assert_int_equal(v.last_modified[10], 'T');
	function_version_clear(&v);
}

static void test_get_returns_what_create_stored(void **state)
{
	struct fixture *fx = *state;
	struct function_version created, got;
	struct api_error err = { 0 };

	create(fx, "hello", &created);
	assert_int_equal(registry_get(fx->reg, "hello", "", &got, NULL, &err), 0);
	assert_string_equal(got.revision_id, created.revision_id);
	assert_string_equal(got.code_sha256, CODE_A_B64);
	assert_int_equal(got.function_id, created.function_id);
	assert_int_equal(got.uid, created.uid);
	function_version_clear(&got);
	assert_int_equal(registry_get(fx->reg, "hello", "$LATEST", &got, NULL, &err), 0);
	assert_string_equal(got.version, "$LATEST");
	function_version_clear(&got);
	assert_int_equal(registry_get(fx->reg, "hello", NULL, &got, NULL, &err), 0);
	function_version_clear(&got);
	function_version_clear(&created);
}

static void test_create_existing_name_is_a_conflict(void **state)
{
	struct fixture *fx = *state;
	struct function_config c = basic_config();
	struct function_version v;
	struct api_error err = { 0 };

	create(fx, "dup", NULL);
	expect_error(registry_create_function(fx->reg, "dup", &c, &v, &err), &err,
		     "ResourceConflictException", "Function already exist: dup");
}

static void test_create_requires_runtime_handler_and_code(void **state)
{
	struct fixture *fx = *state;
	struct function_version v;
	struct api_error err = { 0 };
	struct function_config c;

	c = basic_config();
	c.runtime = NULL;
	expect_error(registry_create_function(fx->reg, "f", &c, &v, &err), &err,
		     "InvalidParameterValueException", "Runtime and Handler are mandatory");
	c = basic_config();
	c.handler = NULL;
	expect_error(registry_create_function(fx->reg, "f", &c, &v, &err), &err,
		     "InvalidParameterValueException", "Runtime and Handler are mandatory");
	c = basic_config();
	c.code_hex = NULL;
	expect_error(registry_create_function(fx->reg, "f", &c, &v, &err), &err,
		     "InvalidParameterValueException", "'code'");
	expect_error(registry_create_function(fx->reg, "f", NULL, &v, &err), &err,
		     "InvalidParameterValueException", NULL);
	c = basic_config();
	c.handler = "app handler";
	expect_error(registry_create_function(fx->reg, "f", &c, &v, &err), &err,
		     "InvalidParameterValueException", "'app handler'");
	c = basic_config();
	c.runtime = "Python 3";
	expect_error(registry_create_function(fx->reg, "f", &c, &v, &err), &err,
		     "InvalidParameterValueException", "'Python 3'");
	/* Nothing was half-created. */
	expect_error(registry_get(fx->reg, "f", "", &v, NULL, &err), &err,
		     "ResourceNotFoundException", NULL);
}

static void test_create_refuses_invalid_names(void **state)
{
	struct fixture *fx = *state;
	struct function_config c = basic_config();
	struct function_version v;
	struct api_error err = { 0 };
	char long_name[70];

	memset(long_name, 'n', 65);
	long_name[65] = '\0';
	expect_error(registry_create_function(fx->reg, "bad name", &c, &v, &err), &err,
		     "InvalidParameterValueException", "'bad name'");
	expect_error(registry_create_function(fx->reg, "", &c, &v, &err), &err,
		     "InvalidParameterValueException", NULL);
	expect_error(registry_create_function(fx->reg, long_name, &c, &v, &err), &err,
		     "InvalidParameterValueException", "64");
	expect_error(registry_create_function(fx->reg, "fn:1", &c, &v, &err), &err,
		     "InvalidParameterValueException", "'fn:1'");
}

static void test_code_is_named_by_hex_or_base64_and_both_must_agree(void **state)
{
	struct fixture *fx = *state;
	struct function_config c = basic_config();
	struct function_version v;
	struct api_error err = { 0 };

	c.code_hex = NULL;
	c.code_sha256 = CODE_B_B64;
	assert_int_equal(registry_create_function(fx->reg, "by-b64", &c, &v, &err), 0);
	assert_string_equal(v.code_hex, CODE_B);
	function_version_clear(&v);

	c.code_hex = CODE_A;
	c.code_sha256 = CODE_B_B64;
	expect_error(registry_create_function(fx->reg, "mismatch", &c, &v, &err), &err,
		     "InvalidParameterValueException", "does not match");

	c.code_sha256 = NULL;
	c.code_hex = "../../etc/passwd";
	expect_error(registry_create_function(fx->reg, "traversal", &c, &v, &err), &err,
		     "InvalidParameterValueException", "../../etc/passwd");
	c.code_hex = CODE_A;
	c.code_sha256 = "not base64";
	expect_error(registry_create_function(fx->reg, "bad-b64", &c, &v, &err), &err,
		     "InvalidParameterValueException", "not base64");

	/* Upper-case hex is stored lower-case: it names a file in the image store. */
	c.code_sha256 = NULL;
	c.code_hex = "CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB";
	assert_int_equal(registry_create_function(fx->reg, "upper", &c, &v, &err), 0);
	assert_string_equal(v.code_hex, CODE_A);
	function_version_clear(&v);
}

static void check_bound(struct fixture *fx, struct function_config c, bool ok,
			const char *field, const char *value)
{
	struct function_version v;
	struct api_error err = { 0 };
	static int n;
	char name[32];

	snprintf(name, sizeof(name), "bound-%d", n++);
	if (ok) {
		if (registry_create_function(fx->reg, name, &c, &v, &err) != 0)
			fail_msg("%s=%s refused: %s", field, value, err.message);
		function_version_clear(&v);
		/* And the same value through an update. */
		c.runtime = c.handler = c.code_hex = NULL;
		if (registry_update_latest(fx->reg, name, &c, NULL, &err) != 0)
			fail_msg("update %s=%s refused: %s", field, value, err.message);
		return;
	}
	expect_error(registry_create_function(fx->reg, name, &c, &v, &err), &err,
		     "InvalidParameterValueException", field);
	assert_non_null(strstr(err.message, value));
	create(fx, name, NULL);
	c.runtime = c.handler = c.code_hex = NULL;
	expect_error(registry_update_latest(fx->reg, name, &c, NULL, &err), &err,
		     "InvalidParameterValueException", field);
}

static void test_memory_timeout_and_ephemeral_storage_bounds(void **state)
{
	struct fixture *fx = *state;
	struct function_config c;

	c = basic_config(), c.memory_mb = 127, check_bound(fx, c, false, "memorySize", "'127'");
	c = basic_config(), c.memory_mb = 128, check_bound(fx, c, true, "memorySize", "128");
	c = basic_config(), c.memory_mb = 10240, check_bound(fx, c, true, "memorySize", "10240");
	c = basic_config(), c.memory_mb = 10241,
	check_bound(fx, c, false, "memorySize", "'10241'");
	c = basic_config(), c.timeout_s = 1, check_bound(fx, c, true, "timeout", "1");
	c = basic_config(), c.timeout_s = 900, check_bound(fx, c, true, "timeout", "900");
	c = basic_config(), c.timeout_s = 901, check_bound(fx, c, false, "timeout", "'901'");
	c = basic_config(), c.ephemeral_mb = 511,
	check_bound(fx, c, false, "ephemeralStorage.size", "'511'");
	c = basic_config(), c.ephemeral_mb = 512,
	check_bound(fx, c, true, "ephemeralStorage.size", "512");
	c = basic_config(), c.ephemeral_mb = 10240,
	check_bound(fx, c, true, "ephemeralStorage.size", "10240");
	c = basic_config(), c.ephemeral_mb = 10241,
	check_bound(fx, c, false, "ephemeralStorage.size", "'10241'");
}

static void expect_env_refused(struct fixture *fx, json_t *env, const char *contains)
{
	struct function_config c = basic_config();
	struct function_version v;
	struct api_error err = { 0 };

	c.environment = env;
	expect_error(registry_create_function(fx->reg, "env-bad", &c, &v, &err), &err,
		     "InvalidParameterValueException", contains);
	json_decref(env);
}

static void test_environment_must_be_strings_under_lambda_key_rules(void **state)
{
	struct fixture *fx = *state;
	struct function_config c = basic_config();
	struct function_version v, got;
	struct api_error err = { 0 };
	json_t *big = json_object();
	char value[1100];

	expect_env_refused(fx, json_pack("{s:i}", "COUNT", 3), "'COUNT'");
	expect_env_refused(fx, json_pack("{s:n}", "NOTHING"), "'NOTHING'");
	expect_env_refused(fx, json_pack("{s:s}", "1ABC", "x"), "'1ABC'");
	expect_env_refused(fx, json_pack("{s:s}", "A", "x"), "'A'");
	expect_env_refused(fx, json_pack("{s:s}", "MY-VAR", "x"), "'MY-VAR'");
	expect_env_refused(fx, json_pack("{s:s}", "A=B", "x"), "'A=B'");
	expect_env_refused(fx, json_pack("[s]", "x"), "object");
	expect_env_refused(fx, json_pack("{s:o}", "NUL", json_stringn("a\0b", 3)), "NUL");

	/* Reserved keys, named in Lambda's message. */
	expect_env_refused(fx, json_pack("{s:s}", "AWS_REGION", "x"),
			   "Reserved keys used in this request: AWS_REGION");
	expect_env_refused(fx, json_pack("{s:s, s:s}", "OK_KEY", "x", "_HANDLER", "y"),
			   "_HANDLER");
	expect_env_refused(fx, json_pack("{s:s}", "AWS_LAMBDA_FUNCTION_NAME", "x"),
			   "AWS_LAMBDA_FUNCTION_NAME");
	expect_env_refused(fx, json_pack("{s:s}", "AWS_LAMBDA_RUNTIME_API", "x"),
			   "AWS_LAMBDA_RUNTIME_API");
	expect_env_refused(fx, json_pack("{s:s}", "LAMBDA_TASK_ROOT", "x"), "LAMBDA_TASK_ROOT");
	expect_env_refused(fx, json_pack("{s:s}", "AWS_SECRET_ACCESS_KEY", "x"),
			   "AWS_SECRET_ACCESS_KEY");
	expect_env_refused(fx, json_pack("{s:s}", "LAMINA_RUNTIME_FD", "3"), "LAMINA_RUNTIME_FD");

	/* 4 KB in all. */
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	for (int i = 0; i < 4; i++) {
		char key[16];

		snprintf(key, sizeof(key), "KEY%d", i);
		json_object_set_new(big, key, json_string(value));
	}
	expect_env_refused(fx, big, "4KB");

	/* A valid map is stored and given back; an update replaces it whole. */
	c.environment = json_pack("{s:s, s:s, s:s}", "STAGE", "prod", "db_host", "10.0.0.1",
				  "EMPTY", "");
	assert_int_equal(registry_create_function(fx->reg, "env-ok", &c, &v, &err), 0);
	json_decref(c.environment);
	function_version_clear(&v);
	assert_int_equal(registry_get(fx->reg, "env-ok", "", &got, NULL, &err), 0);
	assert_string_equal(json_string_value(json_object_get(got.environment, "STAGE")), "prod");
	assert_string_equal(json_string_value(json_object_get(got.environment, "db_host")),
			    "10.0.0.1");
	assert_int_equal(json_object_size(got.environment), 3);
	function_version_clear(&got);

	c = (struct function_config){ .environment = json_pack("{s:s}", "ONLY", "one") };
	assert_int_equal(registry_update_latest(fx->reg, "env-ok", &c, &got, &err), 0);
	json_decref(c.environment);
	assert_int_equal(json_object_size(got.environment), 1);
	function_version_clear(&got);

	c = (struct function_config){ .environment = json_object() };
	assert_int_equal(registry_update_latest(fx->reg, "env-ok", &c, &got, &err), 0);
	json_decref(c.environment);
	assert_int_equal(json_object_size(got.environment), 0);
	function_version_clear(&got);
}

static void test_update_changes_latest_and_keeps_what_is_unset(void **state)
{
	struct fixture *fx = *state;
	struct function_version before, after, got;
	struct function_config c = { .memory_mb = 512, .description = "bigger" };
	struct api_error err = { 0 };

	create(fx, "upd", &before);
	usleep(2000);
	assert_int_equal(registry_update_latest(fx->reg, "upd", &c, &after, &err), 0);
	assert_int_equal(after.memory_mb, 512);
	assert_string_equal(after.description, "bigger");
	assert_int_equal(after.timeout_s, before.timeout_s);
	assert_string_equal(after.handler, before.handler);
	assert_string_equal(after.code_hex, CODE_A);
	assert_int_equal(after.uid, before.uid);
	assert_string_not_equal(after.revision_id, before.revision_id);
	assert_string_not_equal(after.last_modified, before.last_modified);

	c = (struct function_config){ .code_hex = CODE_B, .code_size = 99 };
	assert_int_equal(registry_update_latest(fx->reg, "upd", &c, NULL, &err), 0);
	assert_int_equal(registry_get(fx->reg, "upd", "", &got, NULL, &err), 0);
	assert_string_equal(got.code_hex, CODE_B);
	assert_string_equal(got.code_sha256, CODE_B_B64);
	assert_int_equal(got.code_size, 99);
	assert_int_equal(got.memory_mb, 512);
	assert_string_not_equal(got.revision_id, after.revision_id);

	/* Every update is a new revision, even one that changes no value. */
	c = (struct function_config){ 0 };
	function_version_clear(&after);
	assert_int_equal(registry_update_latest(fx->reg, "upd", &c, &after, &err), 0);
	assert_string_not_equal(after.revision_id, got.revision_id);

	function_version_clear(&before);
	function_version_clear(&after);
	function_version_clear(&got);
}

static void test_unknown_function_is_not_found_with_its_arn(void **state)
{
	struct fixture *fx = *state;
	struct function_config c = { .memory_mb = 256 };
	struct function_version v;
	struct alias a;
	struct api_error err = { 0 };
	int reserved;

	expect_error(registry_get(fx->reg, "nope", "", &v, NULL, &err), &err,
		     "ResourceNotFoundException", "Function not found: " ARN_PREFIX "nope");
	assert_null(strstr(err.message, "nope:"));
	expect_error(registry_get(fx->reg, "nope", "7", &v, NULL, &err), &err,
		     "ResourceNotFoundException", "Function not found: " ARN_PREFIX "nope:7");
	expect_error(registry_get(fx->reg, "nope", "live", &v, NULL, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "nope:live");
	expect_error(registry_update_latest(fx->reg, "nope", &c, &v, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "nope");
	expect_error(registry_publish(fx->reg, "nope", NULL, &v, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "nope");
	expect_error(registry_delete(fx->reg, "nope", "", &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "nope");
	expect_error(registry_get_alias(fx->reg, "nope", "live", &a, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "nope");
	expect_error(registry_get_concurrency(fx->reg, "nope", &reserved, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "nope");

	/* The ARN uses the daemon's region and account. */
	registry_set_arn_prefix(fx->reg, "eu-west-1", "123456789012");
	expect_error(registry_get(fx->reg, "nope", "3", &v, NULL, &err), &err,
		     "ResourceNotFoundException",
		     "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:nope:3");

	create(fx, "known", NULL);
	expect_error(registry_get(fx->reg, "known", "4", &v, NULL, &err), &err,
		     "ResourceNotFoundException", "function:known:4");
	expect_error(registry_get(fx->reg, "known", "04", &v, NULL, &err), &err,
		     "InvalidParameterValueException", "'04'");
	expect_error(registry_get_version(fx->reg, "known", "live", &v, &err), &err,
		     "InvalidParameterValueException", "'live'");
}

static void test_list_functions_gives_each_latest_sorted_by_name(void **state)
{
	struct fixture *fx = *state;
	struct function_version *list = NULL;
	size_t n = 99;
	struct api_error err = { 0 };

	assert_int_equal(registry_list_functions(fx->reg, &list, &n, &err), 0);
	assert_int_equal(n, 0);
	function_versions_free(list, n);

	create(fx, "charlie", NULL);
	create(fx, "alpha", NULL);
	create(fx, "bravo", NULL);
	publish(fx, "bravo", "1");
	assert_int_equal(registry_list_functions(fx->reg, &list, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].name, "alpha");
	assert_string_equal(list[1].name, "bravo");
	assert_string_equal(list[2].name, "charlie");
	for (size_t i = 0; i < n; i++)
		assert_string_equal(list[i].version, "$LATEST");
	function_versions_free(list, n);
}

/* ---- versions ---- */

static void test_publish_snapshots_latest_and_the_version_never_changes(void **state)
{
	struct fixture *fx = *state;
	struct function_version v1, again, latest;
	struct function_config c = {
		.memory_mb = 1024,
		.code_hex = CODE_B,
		.code_size = 5,
		.handler = "other.handler",
		.environment = json_pack("{s:s}", "MODE", "new"),
	};
	struct api_error err = { 0 };
	sqlite3 *db;
	char *msg = NULL;

	create(fx, "snap", NULL);
	assert_int_equal(registry_publish(fx->reg, "snap", NULL, &v1, &err), 0);
	assert_string_equal(v1.version, "1");
	assert_string_equal(v1.code_hex, CODE_A);
	assert_int_equal(v1.memory_mb, 128);

	assert_int_equal(registry_update_latest(fx->reg, "snap", &c, NULL, &err), 0);
	json_decref(c.environment);

	assert_int_equal(registry_get(fx->reg, "snap", "1", &again, NULL, &err), 0);
	assert_string_equal(again.version, "1");
	assert_string_equal(again.code_hex, CODE_A);
	assert_string_equal(again.handler, "app.handler");
	assert_int_equal(again.memory_mb, 128);
	assert_int_equal(json_object_size(again.environment), 0);
	assert_string_equal(again.revision_id, v1.revision_id);
	assert_string_equal(again.last_modified, v1.last_modified);
	assert_int_equal(again.uid, v1.uid);
	function_version_clear(&again);

	assert_int_equal(registry_get(fx->reg, "snap", "", &latest, NULL, &err), 0);
	assert_string_equal(latest.code_hex, CODE_B);
	assert_int_equal(latest.memory_mb, 1024);
	function_version_clear(&latest);

	/* Not even a direct UPDATE of the table changes a published version. */
	db = raw_open(fx);
	assert_int_not_equal(sqlite3_exec(db,
					  "UPDATE versions SET memory_mb = 4096 WHERE version = '1'",
					  NULL, NULL, &msg),
			     SQLITE_OK);
	assert_non_null(strstr(msg, "immutable"));
	sqlite3_free(msg);
	sqlite3_close(db);
	assert_int_equal(registry_get_version(fx->reg, "snap", "1", &again, &err), 0);
	assert_int_equal(again.memory_mb, 128);
	function_version_clear(&again);
	function_version_clear(&v1);
}

static void test_publish_with_nothing_changed_returns_the_last_version(void **state)
{
	struct fixture *fx = *state;
	struct function_version v1, v1_again, *list = NULL;
	struct function_config same = { .memory_mb = 128 };
	size_t n;
	struct api_error err = { 0 };

	create(fx, "idem", NULL);
	assert_int_equal(registry_publish(fx->reg, "idem", "first", &v1, &err), 0);
	assert_int_equal(registry_publish(fx->reg, "idem", "second", &v1_again, &err), 0);
	assert_string_equal(v1_again.version, "1");
	assert_string_equal(v1_again.revision_id, v1.revision_id);
	assert_string_equal(v1_again.description, "first");
	function_version_clear(&v1_again);

	/* An update that sets the same values is no change either. */
	assert_int_equal(registry_update_latest(fx->reg, "idem", &same, NULL, &err), 0);
	publish(fx, "idem", "1");

	assert_int_equal(registry_list_versions(fx->reg, "idem", &list, &n, &err), 0);
	assert_int_equal(n, 2);
	function_versions_free(list, n);

	/* A change to any configuration publishes a new one: description included. */
	same = (struct function_config){ .description = "now described" };
	assert_int_equal(registry_update_latest(fx->reg, "idem", &same, NULL, &err), 0);
	publish(fx, "idem", "2");
	same = (struct function_config){ .timeout_s = 10 };
	assert_int_equal(registry_update_latest(fx->reg, "idem", &same, NULL, &err), 0);
	publish(fx, "idem", "3");
	same = (struct function_config){ .environment = json_pack("{s:s}", "K1", "v") };
	assert_int_equal(registry_update_latest(fx->reg, "idem", &same, NULL, &err), 0);
	json_decref(same.environment);
	publish(fx, "idem", "4");
	same = (struct function_config){ .code_hex = CODE_C, .code_size = 1 };
	assert_int_equal(registry_update_latest(fx->reg, "idem", &same, NULL, &err), 0);
	publish(fx, "idem", "5");
	publish(fx, "idem", "5");
	function_version_clear(&v1);
}

static void test_publish_description_overrides_and_latest_revision_moves(void **state)
{
	struct fixture *fx = *state;
	struct function_version before, v, after;
	struct function_config c = { .description = "latest's own" };
	struct api_error err = { 0 };
	char long_desc[300];

	create(fx, "desc", NULL);
	assert_int_equal(registry_update_latest(fx->reg, "desc", &c, &before, &err), 0);
	assert_int_equal(registry_publish(fx->reg, "desc", "release 1", &v, &err), 0);
	assert_string_equal(v.description, "release 1");
	assert_string_not_equal(v.revision_id, before.revision_id);
	assert_string_equal(v.last_modified, before.last_modified);
	assert_int_equal(registry_get(fx->reg, "desc", "", &after, NULL, &err), 0);
	assert_string_equal(after.description, "latest's own");
	assert_string_not_equal(after.revision_id, before.revision_id);
	function_version_clear(&after);
	function_version_clear(&v);

	/* Without a description the version takes $LATEST's. */
	c.description = "second";
	assert_int_equal(registry_update_latest(fx->reg, "desc", &c, NULL, &err), 0);
	assert_int_equal(registry_publish(fx->reg, "desc", NULL, &v, &err), 0);
	assert_string_equal(v.version, "2");
	assert_string_equal(v.description, "second");
	function_version_clear(&v);

	memset(long_desc, 'd', sizeof(long_desc) - 1);
	long_desc[sizeof(long_desc) - 1] = '\0';
	expect_error(registry_publish(fx->reg, "desc", long_desc, &v, &err), &err,
		     "InvalidParameterValueException", "description");
	function_version_clear(&before);
}

static void test_version_numbers_are_never_reused(void **state)
{
	struct fixture *fx = *state;
	struct api_error err = { 0 };
	struct function_version v;

	create(fx, "count", NULL);
	publish(fx, "count", "1");
	set_memory(fx, "count", 256);
	publish(fx, "count", "2");
	assert_int_equal(registry_delete(fx->reg, "count", "2", &err), 0);
	expect_error(registry_get(fx->reg, "count", "2", &v, NULL, &err), &err,
		     "ResourceNotFoundException", "count:2");
	/* Lambda compares with the last version published: it is gone, so this publishes
	 * again even though $LATEST did not change — as 3, not 2. */
	publish(fx, "count", "3");
	set_memory(fx, "count", 512);
	publish(fx, "count", "4");
	reopen(fx);
	set_memory(fx, "count", 1024);
	publish(fx, "count", "5");
}

static void test_list_versions_is_latest_then_numeric_order(void **state)
{
	struct fixture *fx = *state;
	struct function_version *list = NULL;
	size_t n;
	struct api_error err = { 0 };
	char want[24];

	create(fx, "many", NULL);
	for (int i = 1; i <= 11; i++) {
		snprintf(want, sizeof(want), "%d", i);
		set_memory(fx, "many", 128 + (uint32_t)i);
		publish(fx, "many", want);
	}
	assert_int_equal(registry_list_versions(fx->reg, "many", &list, &n, &err), 0);
	assert_int_equal(n, 12);
	assert_string_equal(list[0].version, "$LATEST");
	for (size_t i = 1; i < n; i++) {
		snprintf(want, sizeof(want), "%zu", i);
		assert_string_equal(list[i].version, want);
		assert_int_equal(list[i].memory_mb, 128 + i);
	}
	function_versions_free(list, n);
	expect_error(registry_list_versions(fx->reg, "none", &list, &n, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "none");
}

/* ---- aliases ---- */

static void versions_1_2_3(struct fixture *fx, const char *name)
{
	create(fx, name, NULL);
	publish(fx, name, "1");
	set_memory(fx, name, 256);
	publish(fx, name, "2");
	set_memory(fx, name, 512);
	publish(fx, name, "3");
}

static void test_alias_lifecycle_create_get_list_update_delete(void **state)
{
	struct fixture *fx = *state;
	struct alias a = make_alias("fn", "live", "1", "", 0), out, got, *list = NULL;
	struct function_version v;
	struct api_error err = { 0 };
	size_t n;

	versions_1_2_3(fx, "fn");
	snprintf(a.description, sizeof(a.description), "production");
	assert_int_equal(registry_create_alias(fx->reg, &a, &out, &err), 0);
	assert_string_equal(out.version, "1");
	assert_string_equal(out.additional_version, "");
	assert_int_equal(strlen(out.revision_id), 36);

	assert_int_equal(registry_get_alias(fx->reg, "fn", "live", &got, &err), 0);
	assert_string_equal(got.function_name, "fn");
	assert_string_equal(got.description, "production");
	assert_string_equal(got.revision_id, out.revision_id);

	/* Invoking through the alias resolves to its version. */
	memset(&got, 0, sizeof(got));
	assert_int_equal(registry_get(fx->reg, "fn", "live", &v, &got, &err), 0);
	assert_string_equal(v.version, "1");
	assert_int_equal(v.memory_mb, 128);
	assert_string_equal(got.name, "live");
	function_version_clear(&v);

	a = make_alias("fn", "beta", "$LATEST", "", 0);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	assert_int_equal(registry_list_aliases(fx->reg, "fn", &list, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "beta");
	assert_string_equal(list[1].name, "live");
	free(list);

	/* Update: only what is given changes. */
	a = make_alias("fn", "live", "2", "", -1);
	assert_int_equal(registry_update_alias(fx->reg, &a, false, &got, &err), 0);
	assert_string_equal(got.version, "2");
	assert_string_equal(got.description, "production");
	assert_string_not_equal(got.revision_id, out.revision_id);
	assert_int_equal(registry_get(fx->reg, "fn", "live", &v, NULL, &err), 0);
	assert_string_equal(v.version, "2");
	function_version_clear(&v);

	assert_int_equal(registry_delete_alias(fx->reg, "fn", "live", &err), 0);
	expect_error(registry_get_alias(fx->reg, "fn", "live", &got, &err), &err,
		     "ResourceNotFoundException", "Cannot find alias arn: " ARN_PREFIX "fn:live");
	expect_error(registry_get(fx->reg, "fn", "live", &v, NULL, &err), &err,
		     "ResourceNotFoundException", "Function not found: " ARN_PREFIX "fn:live");
	expect_error(registry_delete_alias(fx->reg, "fn", "live", &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "fn:live");
	a = make_alias("fn", "live", "2", "", -1);
	expect_error(registry_update_alias(fx->reg, &a, false, &got, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "fn:live");
}

static void test_alias_names_follow_lambdas_rules(void **state)
{
	struct fixture *fx = *state;
	struct alias a;
	struct api_error err = { 0 };
	char long_name[140];

	versions_1_2_3(fx, "fn");
	a = make_alias("fn", "123", "1", "", 0);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", "'123'");
	a = make_alias("fn", "$LATEST", "1", "", 0);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", "'$LATEST'");
	a = make_alias("fn", "has space", "1", "", 0);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", "'has space'");
	a = make_alias("fn", "", "1", "", 0);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", NULL);
	memset(long_name, 'a', 128);
	long_name[128] = '\0';
	a = make_alias("fn", long_name, "1", "", 0);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	a = make_alias("fn", "v1-beta_2", "1", "", 0);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	a = make_alias("fn", "ok", "01", "", 0);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", "'01'");
	a = make_alias("fn", "ok", "", "", 0);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", "functionVersion");
}

static void test_alias_version_must_exist(void **state)
{
	struct fixture *fx = *state;
	struct alias a;
	struct api_error err = { 0 };

	versions_1_2_3(fx, "fn");
	a = make_alias("fn", "live", "9", "", 0);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "ResourceNotFoundException", "Function not found: " ARN_PREFIX "fn:9");
	a = make_alias("ghost", "live", "1", "", 0);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "ghost");
}

static void test_duplicate_alias_is_a_conflict(void **state)
{
	struct fixture *fx = *state;
	struct alias a = make_alias("fn", "live", "1", "", 0);
	struct api_error err = { 0 };

	versions_1_2_3(fx, "fn");
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	a = make_alias("fn", "live", "2", "", 0);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "ResourceConflictException", "Alias already exists: " ARN_PREFIX "fn:live");
}

static void test_alias_may_point_at_latest_only_without_routing(void **state)
{
	struct fixture *fx = *state;
	struct alias a, got;
	struct function_version v;
	struct api_error err = { 0 };

	versions_1_2_3(fx, "fn");
	a = make_alias("fn", "dev", "$LATEST", "", 0);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	assert_int_equal(registry_get(fx->reg, "fn", "dev", &v, NULL, &err), 0);
	assert_string_equal(v.version, "$LATEST");
	function_version_clear(&v);

	a = make_alias("fn", "canary", "$LATEST", "1", 0.5);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", "$LATEST is not supported");
	/* Nor can routing be added to an alias on $LATEST, or an alias with routing moved
	 * to $LATEST. */
	a = make_alias("fn", "dev", "", "1", 0.5);
	expect_error(registry_update_alias(fx->reg, &a, false, &got, &err), &err,
		     "InvalidParameterValueException", "$LATEST");
	a = make_alias("fn", "split", "2", "1", 0.5);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	a = make_alias("fn", "split", "$LATEST", "", -1);
	expect_error(registry_update_alias(fx->reg, &a, false, &got, &err), &err,
		     "InvalidParameterValueException", "$LATEST");
	/* Moving to $LATEST while clearing the routing is fine. */
	assert_int_equal(registry_update_alias(fx->reg, &a, true, &got, &err), 0);
	assert_string_equal(got.version, "$LATEST");
	assert_string_equal(got.additional_version, "");
}

static void test_routing_rules_for_additional_version_and_weight(void **state)
{
	struct fixture *fx = *state;
	struct alias a, got;
	struct function_version v;
	struct api_error err = { 0 };

	versions_1_2_3(fx, "fn");
	a = make_alias("fn", "r", "2", "9", 0.1);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "fn:9");
	a = make_alias("fn", "r", "2", "2", 0.1);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException",
		     "Function version 2 is already included in routing configuration.");
	a = make_alias("fn", "r", "2", "live", 0.1);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", "live");
	a = make_alias("fn", "r", "2", "1", 1.5);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", "less than or equal to 1.0");
	a = make_alias("fn", "r", "2", "1", -0.25);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", "greater than or equal to 0.0");
	a = make_alias("fn", "r", "2", "1", NAN);
	expect_error(registry_create_alias(fx->reg, &a, NULL, &err), &err,
		     "InvalidParameterValueException", NULL);

	/* The API's bounds are inclusive. */
	a = make_alias("fn", "zero", "2", "1", 0.0);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	a = make_alias("fn", "one", "2", "1", 1.0);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);

	a = make_alias("fn", "r", "2", "1", 0.25);
	assert_int_equal(registry_create_alias(fx->reg, &a, &got, &err), 0);
	assert_string_equal(got.additional_version, "1");
	assert_true(got.additional_weight == 0.25);
	memset(&got, 0, sizeof(got));
	assert_int_equal(registry_get(fx->reg, "fn", "r", &v, &got, &err), 0);
	assert_string_equal(v.version, "2");
	assert_string_equal(got.additional_version, "1");
	assert_true(got.additional_weight == 0.25);
	function_version_clear(&v);

	/* Updates: description alone keeps the routing; a new weight needs its version;
	 * the primary cannot become the additional one. */
	a = make_alias("fn", "r", "", "", 0);
	snprintf(a.description, sizeof(a.description), "canary");
	assert_int_equal(registry_update_alias(fx->reg, &a, false, &got, &err), 0);
	assert_string_equal(got.additional_version, "1");
	assert_true(got.additional_weight == 0.25);
	assert_string_equal(got.description, "canary");
	a = make_alias("fn", "r", "", "3", 0.75);
	assert_int_equal(registry_update_alias(fx->reg, &a, false, &got, &err), 0);
	assert_string_equal(got.version, "2");
	assert_string_equal(got.additional_version, "3");
	assert_true(got.additional_weight == 0.75);
	a = make_alias("fn", "r", "", "1", -1);
	expect_error(registry_update_alias(fx->reg, &a, false, &got, &err), &err,
		     "InvalidParameterValueException", "weight");
	a = make_alias("fn", "r", "3", "", -1);
	expect_error(registry_update_alias(fx->reg, &a, false, &got, &err), &err,
		     "InvalidParameterValueException", "already included in routing");
	a = make_alias("fn", "r", "", "", -1);
	assert_int_equal(registry_update_alias(fx->reg, &a, true, &got, &err), 0);
	assert_string_equal(got.additional_version, "");
	assert_true(got.additional_weight == 0);
	assert_int_equal(registry_get_alias(fx->reg, "fn", "r", &got, &err), 0);
	assert_string_equal(got.additional_version, "");
	assert_string_equal(got.version, "2");
}

static void test_deleting_a_version_an_alias_routes_to_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct alias a;
	struct api_error err = { 0 };

	versions_1_2_3(fx, "fn");
	a = make_alias("fn", "live", "2", "1", 0.1);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	a = make_alias("fn", "also", "2", "", 0);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);

	expect_error(registry_delete(fx->reg, "fn", "2", &err), &err, "ResourceConflictException",
		     "Unable to delete version because the following aliases reference it: "
		     "[also, live]");
	expect_error(registry_delete(fx->reg, "fn", "1", &err), &err, "ResourceConflictException",
		     "[live]");
	assert_int_equal(registry_delete(fx->reg, "fn", "3", &err), 0);
	assert_int_equal(registry_delete_alias(fx->reg, "fn", "live", &err), 0);
	assert_int_equal(registry_delete(fx->reg, "fn", "1", &err), 0);
	expect_error(registry_delete(fx->reg, "fn", "2", &err), &err, "ResourceConflictException",
		     "[also]");
}

static void test_delete_refuses_latest_and_alias_qualifiers(void **state)
{
	struct fixture *fx = *state;
	struct alias a = make_alias("fn", "live", "1", "", 0);
	struct function_version v;
	struct api_error err = { 0 };

	versions_1_2_3(fx, "fn");
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	expect_error(registry_delete(fx->reg, "fn", "$LATEST", &err), &err,
		     "InvalidParameterValueException",
		     "$LATEST version cannot be deleted without deleting the function.");
	expect_error(registry_delete(fx->reg, "fn", "live", &err), &err,
		     "InvalidParameterValueException", "Deletion of aliases is not");
	expect_error(registry_delete(fx->reg, "fn", "0", &err), &err,
		     "InvalidParameterValueException", "'0'");
	/* Lambda answers the deletion of a version that does not exist with success. */
	assert_int_equal(registry_delete(fx->reg, "fn", "42", &err), 0);
	assert_int_equal(registry_get(fx->reg, "fn", "live", &v, NULL, &err), 0);
	function_version_clear(&v);
}

static void test_delete_function_removes_versions_and_aliases(void **state)
{
	struct fixture *fx = *state;
	struct alias a = make_alias("gone", "live", "2", "1", 0.5), *aliases;
	struct function_version v, *list;
	struct api_error err = { 0 };
	size_t n;

	versions_1_2_3(fx, "gone");
	versions_1_2_3(fx, "stays");
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	a = make_alias("stays", "live", "1", "", 0);
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);

	assert_int_equal(registry_delete(fx->reg, "gone", "", &err), 0);
	expect_error(registry_get(fx->reg, "gone", "", &v, NULL, &err), &err,
		     "ResourceNotFoundException", ARN_PREFIX "gone");
	expect_error(registry_list_versions(fx->reg, "gone", &list, &n, &err), &err,
		     "ResourceNotFoundException", NULL);
	expect_error(registry_list_aliases(fx->reg, "gone", &aliases, &n, &err), &err,
		     "ResourceNotFoundException", NULL);
	assert_int_equal(raw_count(fx, "SELECT count(*) FROM versions"), 4);
	assert_int_equal(raw_count(fx, "SELECT count(*) FROM aliases"), 1);

	/* A function created again under the name starts from scratch. */
	create(fx, "gone", NULL);
	publish(fx, "gone", "1");
	assert_int_equal(registry_list_aliases(fx->reg, "gone", &aliases, &n, &err), 0);
	assert_int_equal(n, 0);
	free(aliases);
	assert_int_equal(registry_get(fx->reg, "stays", "live", &v, NULL, &err), 0);
	function_version_clear(&v);
}

static void test_each_function_has_its_own_uid_never_reused(void **state)
{
	struct fixture *fx = *state;
	struct function_version a, b, c, b2;
	struct api_error err = { 0 };

	create(fx, "a", &a);
	create(fx, "b", &b);
	assert_int_equal(a.uid, FIRST_UID);
	assert_int_equal(b.uid, FIRST_UID + 1);
	assert_int_equal(registry_delete(fx->reg, "b", NULL, &err), 0);
	create(fx, "c", &c);
	assert_int_equal(c.uid, FIRST_UID + 2);
	reopen(fx);
	create(fx, "b", &b2);
	assert_int_equal(b2.uid, FIRST_UID + 3);

	/* Published versions run as the function's uid. */
	publish(fx, "a", "1");
	function_version_clear(&a);
	assert_int_equal(registry_get(fx->reg, "a", "1", &a, NULL, &err), 0);
	assert_int_equal(a.uid, FIRST_UID);
	function_version_clear(&a);
	function_version_clear(&b);
	function_version_clear(&c);
	function_version_clear(&b2);
}

static void test_uids_skip_ones_taken_under_another_first_uid(void **state)
{
	struct fixture *fx = *state;
	struct function_version v;
	struct api_error err = { 0 };

	create(fx, "one", &v); /* FIRST_UID, counter now 1 */
	function_version_clear(&v);
	registry_close(fx->reg);
	fx->reg = NULL;
	/* Restarted with first_uid one lower: FIRST_UID - 1 + 1 is taken by "one". */
	assert_int_equal(registry_open(fx->path, FIRST_UID - 1, &fx->reg, &err), 0);
	create(fx, "two", &v);
	assert_int_equal(v.uid, FIRST_UID + 1);
	function_version_clear(&v);
}

static void test_reserved_concurrency_put_get_clear(void **state)
{
	struct fixture *fx = *state;
	struct api_error err = { 0 };
	int reserved = 7;

	create(fx, "conc", NULL);
	assert_int_equal(registry_get_concurrency(fx->reg, "conc", &reserved, &err), 0);
	assert_int_equal(reserved, -1);
	assert_int_equal(registry_put_concurrency(fx->reg, "conc", 5, &err), 0);
	assert_int_equal(registry_get_concurrency(fx->reg, "conc", &reserved, &err), 0);
	assert_int_equal(reserved, 5);
	assert_int_equal(registry_put_concurrency(fx->reg, "conc", 0, &err), 0);
	assert_int_equal(registry_get_concurrency(fx->reg, "conc", &reserved, &err), 0);
	assert_int_equal(reserved, 0);
	expect_error(registry_put_concurrency(fx->reg, "conc", -2, &err), &err,
		     "InvalidParameterValueException", "'-2'");
	assert_int_equal(registry_put_concurrency(fx->reg, "conc", -1, &err), 0);
	assert_int_equal(registry_get_concurrency(fx->reg, "conc", &reserved, &err), 0);
	assert_int_equal(reserved, -1);
	expect_error(registry_put_concurrency(fx->reg, "ghost", 1, &err), &err,
		     "ResourceNotFoundException", NULL);
}

static void test_code_in_use_counts_latest_and_published_versions(void **state)
{
	struct fixture *fx = *state;
	struct function_config c = { .code_hex = CODE_B, .code_size = 2 };
	struct api_error err = { 0 };
	bool in_use = true;

	assert_int_equal(registry_code_in_use(fx->reg, CODE_A, &in_use, &err), 0);
	assert_false(in_use);
	create(fx, "code", NULL);
	publish(fx, "code", "1");
	assert_int_equal(registry_update_latest(fx->reg, "code", &c, NULL, &err), 0);
	assert_int_equal(registry_code_in_use(fx->reg, CODE_A, &in_use, &err), 0);
	assert_true(in_use);
	assert_int_equal(registry_code_in_use(fx->reg, CODE_B, &in_use, &err), 0);
	assert_true(in_use);
	assert_int_equal(registry_delete(fx->reg, "code", "1", &err), 0);
	assert_int_equal(registry_code_in_use(fx->reg, CODE_A, &in_use, &err), 0);
	assert_false(in_use);
	assert_int_equal(registry_delete(fx->reg, "code", NULL, &err), 0);
	assert_int_equal(registry_code_in_use(fx->reg, CODE_B, &in_use, &err), 0);
	assert_false(in_use);
}

/* ---- JSON ---- */

static void test_function_configuration_json_has_lambdas_shape(void **state)
{
	struct fixture *fx = *state;
	struct function_config c = basic_config();
	struct function_version v;
	struct api_error err = { 0 };
	json_t *j;

	c.environment = json_pack("{s:s}", "STAGE", "prod");
	c.description = "hello";
	assert_int_equal(registry_create_function(fx->reg, "shape", &c, &v, &err), 0);
	json_decref(c.environment);
	j = function_version_to_json(&v, "local", "000000000000");
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "FunctionName")), "shape");
	assert_string_equal(json_string_value(json_object_get(j, "FunctionArn")),
			    ARN_PREFIX "shape");
	assert_string_equal(json_string_value(json_object_get(j, "Runtime")), "python3.11");
	assert_string_equal(json_string_value(json_object_get(j, "Handler")), "app.handler");
	assert_int_equal(json_integer_value(json_object_get(j, "CodeSize")), 1234);
	assert_string_equal(json_string_value(json_object_get(j, "Description")), "hello");
	assert_int_equal(json_integer_value(json_object_get(j, "Timeout")), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "MemorySize")), 128);
	assert_string_equal(json_string_value(json_object_get(j, "LastModified")),
			    v.last_modified);
	assert_string_equal(json_string_value(json_object_get(j, "CodeSha256")), CODE_A_B64);
	assert_string_equal(json_string_value(json_object_get(j, "Version")), "$LATEST");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(j, "Environment"), "Variables"), "STAGE")),
		"prod");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "EphemeralStorage"),
							    "Size")),
			 512);
	assert_string_equal(json_string_value(json_object_get(j, "RevisionId")), v.revision_id);
	assert_string_equal(json_string_value(json_object_get(j, "State")), "Active");
	assert_string_equal(json_string_value(json_object_get(j, "LastUpdateStatus")),
			    "Successful");
	assert_string_equal(json_string_value(json_object_get(j, "PackageType")), "Zip");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "Architectures"),
							     0)),
			    "x86_64");
	json_decref(j);
	function_version_clear(&v);

	assert_int_equal(registry_publish(fx->reg, "shape", NULL, &v, &err), 0);
	j = function_version_to_json(&v, "local", "000000000000");
	assert_string_equal(json_string_value(json_object_get(j, "FunctionArn")),
			    ARN_PREFIX "shape:1");
	assert_string_equal(json_string_value(json_object_get(j, "Version")), "1");
	json_decref(j);
	function_version_clear(&v);
}

static void test_alias_configuration_json_has_lambdas_shape(void **state)
{
	struct fixture *fx = *state;
	struct alias a = make_alias("fn", "live", "2", "1", 0.25), out;
	struct api_error err = { 0 };
	json_t *j, *weights;

	versions_1_2_3(fx, "fn");
	snprintf(a.description, sizeof(a.description), "prod");
	assert_int_equal(registry_create_alias(fx->reg, &a, &out, &err), 0);
	j = alias_to_json(&out, "local", "000000000000");
	assert_string_equal(json_string_value(json_object_get(j, "AliasArn")), ARN_PREFIX "fn:live");
	assert_string_equal(json_string_value(json_object_get(j, "Name")), "live");
	assert_string_equal(json_string_value(json_object_get(j, "FunctionVersion")), "2");
	assert_string_equal(json_string_value(json_object_get(j, "Description")), "prod");
	assert_string_equal(json_string_value(json_object_get(j, "RevisionId")), out.revision_id);
	weights = json_object_get(json_object_get(j, "RoutingConfig"), "AdditionalVersionWeights");
	assert_true(json_real_value(json_object_get(weights, "1")) == 0.25);
	assert_int_equal(json_object_size(weights), 1);
	json_decref(j);

	a = make_alias("fn", "plain", "3", "", 0);
	assert_int_equal(registry_create_alias(fx->reg, &a, &out, &err), 0);
	j = alias_to_json(&out, "local", "000000000000");
	assert_null(json_object_get(j, "RoutingConfig"));
	json_decref(j);
}

/* ---- storage ---- */

static void test_database_is_private_wal_and_survives_reopen(void **state)
{
	struct fixture *fx = *state;
	struct function_config c = basic_config();
	struct alias a = make_alias("durable", "live", "1", "", 0), got;
	struct function_version v;
	struct api_error err = { 0 };
	struct stat st;
	sqlite3 *db;
	sqlite3_stmt *s;
	int reserved;

	c.environment = json_pack("{s:s}", "SECRET", "hunter2");
	assert_int_equal(registry_create_function(fx->reg, "durable", &c, &v, &err), 0);
	json_decref(c.environment);
	function_version_clear(&v);
	publish(fx, "durable", "1");
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);
	assert_int_equal(registry_put_concurrency(fx->reg, "durable", 3, &err), 0);

	/* Environment variables are secrets: the files are the owner's alone. */
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	db = raw_open(fx);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);

	reopen(fx);
	assert_int_equal(registry_get(fx->reg, "durable", "live", &v, &got, &err), 0);
	assert_string_equal(v.version, "1");
	assert_string_equal(json_string_value(json_object_get(v.environment, "SECRET")),
			    "hunter2");
	function_version_clear(&v);
	assert_int_equal(registry_get_concurrency(fx->reg, "durable", &reserved, &err), 0);
	assert_int_equal(reserved, 3);
}

static void test_open_refuses_a_schema_newer_than_it_knows(void **state)
{
	struct fixture *fx = *state;
	struct registry *reg = NULL;
	struct api_error err = { 0 };
	sqlite3 *db = raw_open(fx);

	assert_int_equal(sqlite3_exec(db,
				      "UPDATE registry_meta SET value = 99"
				      " WHERE key = 'schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	expect_error(registry_open(fx->path, FIRST_UID, &reg, &err), &err, "ServiceException",
		     "schema version 99");
	assert_null(reg);
}

/*
 * kill -9 of a writer at a random moment. The child publishes versions and moves an alias
 * with routing, and reports each call only after it returned 0. After the kill the
 * database must pass integrity_check and foreign_key_check, and hold every reported
 * change.
 */
static void crash_child(const char *path, int fd)
{
	struct registry *reg;
	struct api_error err;
	char prev[16] = "";

	if (registry_open(path, FIRST_UID, &reg, &err) != 0)
		_exit(2);
	for (;;) {
		struct function_version latest, v;
		struct function_config c = { 0 };
		struct alias a;

		if (registry_get(reg, "crash", "", &latest, NULL, &err) != 0)
			_exit(3);
		c.memory_mb = latest.memory_mb >= MEMORY_MAX_MB ? MEMORY_MIN_MB :
								  latest.memory_mb + 1;
		function_version_clear(&latest);
		if (registry_update_latest(reg, "crash", &c, NULL, &err) != 0 ||
		    registry_publish(reg, "crash", NULL, &v, &err) != 0)
			_exit(4);
		dprintf(fd, "V %s %u\n", v.version, v.memory_mb);
		a = make_alias("crash", "live", v.version, prev, prev[0] ? 0.25 : -1);
		if (registry_update_alias(reg, &a, !prev[0], NULL, &err) != 0)
			_exit(5);
		dprintf(fd, "A %s\n", v.version);
		snprintf(prev, sizeof(prev), "%s", v.version);
		function_version_clear(&v);
	}
}

static void check_after_crash(struct fixture *fx, FILE *acks, int *n_acks)
{
	struct api_error err = { 0 };
	char line[64];
	long last_alias = 0;
	struct alias a;
	sqlite3 *db;
	sqlite3_stmt *s;

	db = raw_open(fx);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);

	reopen(fx);
	while (fgets(line, sizeof(line), acks)) {
		char version[16];
		unsigned int memory;
		struct function_version v;

		if (sscanf(line, "V %15s %u", version, &memory) == 2) {
			if (registry_get_version(fx->reg, "crash", version, &v, &err) != 0)
				fail_msg("acknowledged version %s lost: %s", version, err.message);
			assert_int_equal(v.memory_mb, memory);
			function_version_clear(&v);
		} else if (sscanf(line, "A %15s", version) == 1) {
			last_alias = atol(version);
		} else {
			fail_msg("bad ack line '%s'", line);
		}
		(*n_acks)++;
	}
	assert_int_equal(registry_get_alias(fx->reg, "crash", "live", &a, &err), 0);
	/* The alias holds the last acknowledged move, or the one after it that committed
	 * just before the kill. */
	assert_true(atol(a.version) >= last_alias);
	if (a.additional_version[0])
		assert_true(atol(a.additional_version) < atol(a.version));
}

static void test_kill_9_at_a_random_moment_loses_no_acknowledged_change(void **state)
{
	struct fixture *fx = *state;
	struct alias a = make_alias("crash", "live", "1", "", 0);
	struct api_error err = { 0 };
	int total_acks = 0;

	srand((unsigned int)time(NULL) ^ (unsigned int)getpid());
	create(fx, "crash", NULL);
	publish(fx, "crash", "1");
	assert_int_equal(registry_create_alias(fx->reg, &a, NULL, &err), 0);

	for (int round = 0; round < 6; round++) {
		int fds[2], status;
		char first[64];
		pid_t pid;
		FILE *acks;

		registry_close(fx->reg);
		fx->reg = NULL;
		assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(fx->path, fds[1]);
			_exit(1);
		}
		close(fds[1]);
		acks = fdopen(fds[0], "r");
		assert_non_null(acks);
		/* Kill it mid-stream: after the first acknowledgement, 0–80 ms later. */
		assert_non_null(fgets(first, sizeof(first), acks));
		usleep((useconds_t)(rand() % 80000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("writer ended before the kill (status %d)", status);

		/* Check the first line too: it was read to know the child got going. */
		{
			char path[200];
			FILE *all;
			char rest[64];

			snprintf(path, sizeof(path), "%s/acks", fx->dir);
			all = fopen(path, "w+");
			assert_non_null(all);
			fputs(first, all);
			while (fgets(rest, sizeof(rest), acks))
				fputs(rest, all);
			rewind(all);
			check_after_crash(fx, all, &total_acks);
			fclose(all);
		}
		fclose(acks);
	}
	assert_true(total_acks > 6);
	print_message("%d acknowledged changes checked across 6 kills\n", total_acks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_create_fills_latest_with_lambdas_defaults),
		T(test_get_returns_what_create_stored),
		T(test_create_existing_name_is_a_conflict),
		T(test_create_requires_runtime_handler_and_code),
		T(test_create_refuses_invalid_names),
		T(test_code_is_named_by_hex_or_base64_and_both_must_agree),
		T(test_memory_timeout_and_ephemeral_storage_bounds),
		T(test_environment_must_be_strings_under_lambda_key_rules),
		T(test_update_changes_latest_and_keeps_what_is_unset),
		T(test_unknown_function_is_not_found_with_its_arn),
		T(test_list_functions_gives_each_latest_sorted_by_name),
		T(test_publish_snapshots_latest_and_the_version_never_changes),
		T(test_publish_with_nothing_changed_returns_the_last_version),
		T(test_publish_description_overrides_and_latest_revision_moves),
		T(test_version_numbers_are_never_reused),
		T(test_list_versions_is_latest_then_numeric_order),
		T(test_alias_lifecycle_create_get_list_update_delete),
		T(test_alias_names_follow_lambdas_rules),
		T(test_alias_version_must_exist),
		T(test_duplicate_alias_is_a_conflict),
		T(test_alias_may_point_at_latest_only_without_routing),
		T(test_routing_rules_for_additional_version_and_weight),
		T(test_deleting_a_version_an_alias_routes_to_is_refused),
		T(test_delete_refuses_latest_and_alias_qualifiers),
		T(test_delete_function_removes_versions_and_aliases),
		T(test_each_function_has_its_own_uid_never_reused),
		T(test_uids_skip_ones_taken_under_another_first_uid),
		T(test_reserved_concurrency_put_get_clear),
		T(test_code_in_use_counts_latest_and_published_versions),
		T(test_function_configuration_json_has_lambdas_shape),
		T(test_alias_configuration_json_has_lambdas_shape),
		T(test_database_is_private_wal_and_survives_reopen),
		T(test_open_refuses_a_schema_newer_than_it_knows),
		T(test_kill_9_at_a_random_moment_loses_no_acknowledged_change),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
