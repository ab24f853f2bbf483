/* SPDX-License-Identifier: MIT */
/*
 * The function registry on SQLite.
 *
 * Durability: WAL with synchronous=FULL fsyncs the log on every COMMIT, and every change is
 * one BEGIN IMMEDIATE … COMMIT, so a call that returned 0 is on disk and a kill -9 at any
 * point leaves either all of a change or none of it.
 *
 * The schema carries the rules the code enforces where SQL can say them (foreign keys from
 * aliases to the versions they route to, a trigger that refuses to update a published
 * version, checks on weights and routing), so a bug above cannot store what Lambda would
 * never show. The code checks first anyway, to answer with Lambda's messages.
 */
#include "registry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "../images/image.h"

/* Lambda's defaults. */
#define DEFAULT_MEMORY_MB 128
#define DEFAULT_TIMEOUT_S 3
#define DEFAULT_EPHEMERAL_MB 512
/* Lambda: "The total size of all environment variables doesn't exceed 4 KB." */
#define ENVIRONMENT_MAX_BYTES 4096
/* One process owns the database, but a second connection (a CLI inspecting it, a backup)
 * must make us wait rather than fail. */
#define BUSY_TIMEOUT_MS 10000
/* Sandbox uids stay below 2^31: some tools treat larger ones as negative. */
#define UID_LIMIT 0x7fffffffu

#define QUOTE_MAX 160

static void stmt_resetp(sqlite3_stmt **s)
{
	if (*s) {
		sqlite3_reset(*s);
		sqlite3_clear_bindings(*s);
	}
}

static void freep(void *p)
{
	free(*(void **)p);
}

#define _cleanup_stmt_ __attribute__((cleanup(stmt_resetp)))
#define _cleanup_free_ __attribute__((cleanup(freep)))
/* jansson's own json_decrefp. */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

/*
 * Migrations, applied in order; the registry's schema version is kept in its own table
 * (not PRAGMA user_version) because the billing ledger and the async queue share the
 * database file and version their tables on their own.
 */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE registry_meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL"
	") WITHOUT ROWID;"
	/* AUTOINCREMENT: a deleted function's id is never handed out again, so rows other
	 * modules keyed by it cannot be taken for a later function of the same name. */
	"CREATE TABLE functions ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  uid INTEGER NOT NULL UNIQUE,"
	"  reserved_concurrency INTEGER CHECK (reserved_concurrency >= 0),"
	"  next_version INTEGER NOT NULL DEFAULT 1,"
	"  created TEXT NOT NULL"
	");"
	/* version_num is 0 for $LATEST, so ORDER BY lists it first as Lambda does.
	 * fingerprint: $LATEST's code and configuration when the row was written; a publish
	 * compares it to tell whether anything changed since the last version. */
	"CREATE TABLE versions ("
	"  function_id INTEGER NOT NULL REFERENCES functions (id) ON DELETE CASCADE,"
	"  version TEXT NOT NULL,"
	"  version_num INTEGER NOT NULL,"
	"  runtime TEXT NOT NULL,"
	"  handler TEXT NOT NULL,"
	"  description TEXT NOT NULL,"
	"  memory_mb INTEGER NOT NULL,"
	"  timeout_s INTEGER NOT NULL,"
	"  ephemeral_mb INTEGER NOT NULL,"
	"  environment TEXT NOT NULL,"
	"  code_sha256 TEXT NOT NULL,"
	"  code_hex TEXT NOT NULL,"
	"  code_size INTEGER NOT NULL,"
	"  last_modified TEXT NOT NULL,"
	"  revision_id TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL,"
	"  PRIMARY KEY (function_id, version),"
	"  UNIQUE (function_id, version_num)"
	");"
	"CREATE INDEX versions_code ON versions (code_hex);"
	"CREATE TRIGGER versions_immutable BEFORE UPDATE ON versions"
	"  WHEN OLD.version_num <> 0"
	"  BEGIN SELECT RAISE(ABORT, 'published versions are immutable'); END;"
	"CREATE TABLE aliases ("
	"  function_id INTEGER NOT NULL REFERENCES functions (id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  version TEXT NOT NULL,"
	"  additional_version TEXT,"
	"  additional_weight REAL NOT NULL DEFAULT 0"
	"    CHECK (additional_weight >= 0 AND additional_weight <= 1),"
	"  description TEXT NOT NULL,"
	"  revision_id TEXT NOT NULL,"
	"  PRIMARY KEY (function_id, name),"
	"  FOREIGN KEY (function_id, version) REFERENCES versions (function_id, version),"
	"  FOREIGN KEY (function_id, additional_version)"
	"    REFERENCES versions (function_id, version),"
	"  CHECK (additional_version IS NULL OR"
	"    (additional_version <> version AND version <> '$LATEST'))"
	");"
	"CREATE INDEX aliases_version ON aliases (function_id, version);"
	"CREATE INDEX aliases_additional ON aliases (function_id, additional_version);",
	/* 2: layers, and lamina's extra configuration of a version (Layers, container
	 * images) as one JSON object. A layer's numbers are never reused: layer_names keeps
	 * the next one after its versions are deleted. */
	"ALTER TABLE versions ADD COLUMN extra TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE layer_names ("
	"  name TEXT PRIMARY KEY,"
	"  next_version INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE layers ("
	"  name TEXT NOT NULL REFERENCES layer_names (name),"
	"  version INTEGER NOT NULL,"
	"  description TEXT NOT NULL,"
	"  code_sha256 TEXT NOT NULL,"
	"  code_hex TEXT NOT NULL,"
	"  code_size INTEGER NOT NULL,"
	"  created TEXT NOT NULL,"
	"  runtimes TEXT NOT NULL,"
	"  PRIMARY KEY (name, version)"
	");"
	"CREATE INDEX layers_code ON layers (code_hex);",
};

#define SCHEMA_VERSION ((int64_t)(sizeof(migrations) / sizeof(migrations[0])))

#define VERSION_SELECT                                                                     \
	"SELECT f.id, f.name, f.uid, v.version, v.runtime, v.handler, v.description,"     \
	" v.memory_mb, v.timeout_s, v.ephemeral_mb, v.environment, v.code_sha256,"         \
	" v.code_hex, v.code_size, v.last_modified, v.revision_id, v.fingerprint,"         \
	" v.extra FROM versions v JOIN functions f ON f.id = v.function_id"

#define ALIAS_SELECT                                                                       \
	"SELECT a.name, f.name, a.version, a.additional_version, a.additional_weight,"    \
	" a.description, a.revision_id FROM aliases a JOIN functions f ON f.id = a.function_id"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_META_GET,
	ST_META_PUT,
	ST_FUNCTION_GET,
	ST_FUNCTION_INSERT,
	ST_FUNCTION_DELETE,
	ST_FUNCTION_NEXT_VERSION,
	ST_FUNCTION_CONCURRENCY,
	ST_UID_TAKEN,
	ST_VERSION_GET,
	ST_VERSION_LIST,
	ST_LATEST_LIST,
	ST_VERSION_EXISTS,
	ST_VERSION_FINGERPRINT,
	ST_VERSION_INSERT,
	ST_LATEST_UPDATE,
	ST_LATEST_REVISION,
	ST_VERSION_DELETE,
	ST_ALIAS_GET,
	ST_ALIAS_LIST,
	ST_ALIAS_INSERT,
	ST_ALIAS_UPDATE,
	ST_ALIAS_DELETE,
	ST_ALIASES_ROUTING_TO,
	ST_CODE_IN_USE,
	ST_LAYER_GET,
	ST_LAYER_LIST,
	ST_LAYER_LIST_ALL,
	ST_LAYER_INSERT,
	ST_LAYER_DELETE,
	ST_LAYER_NEXT,
	ST_LAYER_NEXT_PUT,
	ST__COUNT
};

#define LAYER_SELECT                                                                       \
	"SELECT name, version, description, code_sha256, code_hex, code_size, created, runtimes" \
	" FROM layers"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_META_GET] = "SELECT value FROM registry_meta WHERE key = ?1",
	[ST_META_PUT] = "INSERT INTO registry_meta (key, value) VALUES (?1, ?2)"
			" ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_FUNCTION_GET] = "SELECT id, uid, next_version, reserved_concurrency"
			    " FROM functions WHERE name = ?1",
	[ST_FUNCTION_INSERT] = "INSERT INTO functions (name, uid, created) VALUES (?1, ?2, ?3)",
	[ST_FUNCTION_DELETE] = "DELETE FROM functions WHERE id = ?1",
	[ST_FUNCTION_NEXT_VERSION] = "UPDATE functions SET next_version = ?2 WHERE id = ?1",
	[ST_FUNCTION_CONCURRENCY] = "UPDATE functions SET reserved_concurrency = ?2 WHERE id = ?1",
	[ST_UID_TAKEN] = "SELECT 1 FROM functions WHERE uid = ?1",
	[ST_VERSION_GET] = VERSION_SELECT " WHERE f.name = ?1 AND v.version = ?2",
	[ST_VERSION_LIST] = VERSION_SELECT " WHERE f.name = ?1 ORDER BY v.version_num",
	[ST_LATEST_LIST] = VERSION_SELECT " WHERE v.version_num = 0 ORDER BY f.name",
	[ST_VERSION_EXISTS] = "SELECT 1 FROM versions WHERE function_id = ?1 AND version = ?2",
	[ST_VERSION_FINGERPRINT] = "SELECT fingerprint FROM versions"
				   " WHERE function_id = ?1 AND version = ?2",
	[ST_VERSION_INSERT] = "INSERT INTO versions (function_id, version, version_num, runtime,"
			      " handler, description, memory_mb, timeout_s, ephemeral_mb,"
			      " environment, code_sha256, code_hex, code_size, last_modified,"
			      " revision_id, fingerprint, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
			      " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
	[ST_LATEST_UPDATE] = "UPDATE versions SET version_num = ?3, runtime = ?4, handler = ?5,"
			     " description = ?6, memory_mb = ?7, timeout_s = ?8,"
			     " ephemeral_mb = ?9, environment = ?10, code_sha256 = ?11,"
			     " code_hex = ?12, code_size = ?13, last_modified = ?14,"
			     " revision_id = ?15, fingerprint = ?16, extra = ?17"
			     " WHERE function_id = ?1 AND version = ?2",
	[ST_LATEST_REVISION] = "UPDATE versions SET revision_id = ?2"
			       " WHERE function_id = ?1 AND version_num = 0",
	[ST_VERSION_DELETE] = "DELETE FROM versions WHERE function_id = ?1 AND version = ?2",
	[ST_ALIAS_GET] = ALIAS_SELECT " WHERE f.name = ?1 AND a.name = ?2",
	[ST_ALIAS_LIST] = ALIAS_SELECT " WHERE f.name = ?1 ORDER BY a.name",
	[ST_ALIAS_INSERT] = "INSERT INTO aliases (function_id, name, version, additional_version,"
			    " additional_weight, description, revision_id)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_ALIAS_UPDATE] = "UPDATE aliases SET version = ?3, additional_version = ?4,"
			    " additional_weight = ?5, description = ?6, revision_id = ?7"
			    " WHERE function_id = ?1 AND name = ?2",
	[ST_ALIAS_DELETE] = "DELETE FROM aliases WHERE function_id = ?1 AND name = ?2",
	[ST_ALIASES_ROUTING_TO] = "SELECT name FROM aliases WHERE function_id = ?1"
				  " AND (version = ?2 OR additional_version = ?2) ORDER BY name",
	/* An image is used as a version's code, a layer version's content, or a layer a
	 * version was configured with (kept after the layer version is deleted). */
	[ST_CODE_IN_USE] = "SELECT 1 FROM versions WHERE code_hex = ?1"
			   " UNION ALL SELECT 1 FROM layers WHERE code_hex = ?1"
			   " UNION ALL SELECT 1 FROM versions v,"
			   "  json_each(CASE v.extra WHEN '' THEN '{}' ELSE v.extra END, '$.Layers') j"
			   "  WHERE json_extract(j.value, '$.Hex') = ?1 LIMIT 1",
	[ST_LAYER_GET] = LAYER_SELECT " WHERE name = ?1 AND version = ?2",
	[ST_LAYER_LIST] = LAYER_SELECT " WHERE name = ?1 ORDER BY version DESC",
	[ST_LAYER_LIST_ALL] = LAYER_SELECT " l WHERE version = (SELECT MAX(version)"
			      " FROM layers m WHERE m.name = l.name) ORDER BY name",
	[ST_LAYER_INSERT] = "INSERT INTO layers (name, version, description, code_sha256,"
			    " code_hex, code_size, created, runtimes)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_LAYER_DELETE] = "DELETE FROM layers WHERE name = ?1 AND version = ?2",
	[ST_LAYER_NEXT] = "SELECT next_version FROM layer_names WHERE name = ?1",
	[ST_LAYER_NEXT_PUT] = "INSERT INTO layer_names (name, next_version)"
			      " VALUES (?1, ?2) ON CONFLICT (name)"
			      " DO UPDATE SET next_version = excluded.next_version",
};

struct registry {
	sqlite3 *db;
	uint32_t first_uid;
	char region[64];
	char account[64];
	sqlite3_stmt *stmts[ST__COUNT];
};

/* A functions row. */
struct function_row {
	int64_t id;
	uint32_t uid;
	int64_t next_version;
	int reserved_concurrency;	/* -1: none */
};

static const char *const reserved_environment[] = {
	/* Lambda's reserved keys: set by the runtime, refused in a function's configuration. */
	"_HANDLER",
	"_X_AMZN_TRACE_ID",
	"AWS_ACCESS_KEY",
	"AWS_ACCESS_KEY_ID",
	"AWS_DEFAULT_REGION",
	"AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
	"AWS_LAMBDA_FUNCTION_NAME",
	"AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE",
	"AWS_LAMBDA_LOG_GROUP_NAME",
	"AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_LAMBDA_RUNTIME_API",
	"AWS_REGION",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"LAMBDA_RUNTIME_DIR",
	"LAMBDA_TASK_ROOT",
	/* lamina's own: the bootstraps trust it to name their Runtime API socket. */
	"LAMINA_RUNTIME_FD",
};

/* ---- SQLite plumbing ---- */

static int db_error(struct registry *reg, const char *what, struct api_error *err)
{
	return api_error_set(err, API_ERR_SERVICE, "registry: %s: %s", what,
			     sqlite3_errmsg(reg->db));
}

static sqlite3_stmt *stmt(struct registry *reg, enum stmt_id id, struct api_error *err)
{
	if (!reg->stmts[id] &&
	    sqlite3_prepare_v3(reg->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
			       &reg->stmts[id], NULL) != SQLITE_OK) {
		db_error(reg, "prepare", err);
		reg->stmts[id] = NULL;
		return NULL;
	}
	return reg->stmts[id];
}

/* 1: a row, 0: done, -1: error (err filled). */
static int step(struct registry *reg, sqlite3_stmt *s, struct api_error *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_error(reg, "step", err);
}

/* Runs a statement that returns no rows. */
static int exec_stmt(struct registry *reg, sqlite3_stmt *s, struct api_error *err)
{
	int r = step(reg, s, err);

	if (r > 0)
		return 0;
	return r;
}

static void bind_text(sqlite3_stmt *s, int i, const char *text)
{
	if (text)
		sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void copy_column(char *dst, size_t size, sqlite3_stmt *s, int col)
{
	const unsigned char *text = sqlite3_column_text(s, col);

	snprintf(dst, size, "%s", text ? (const char *)text : "");
}

static int tx_begin(struct registry *reg, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_BEGIN, err);

	if (!s)
		return -1;
	return exec_stmt(reg, s, err);
}

static void tx_rollback(struct registry *reg)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;

	/* An I/O error may have rolled back already; ROLLBACK would then fail. */
	if (sqlite3_get_autocommit(reg->db))
		return;
	s = stmt(reg, ST_ROLLBACK, NULL);
	if (s)
		sqlite3_step(s);
}

/* Ends the transaction: commits when r is 0, else rolls back. Returns r or the commit's
 * failure. Nothing is acknowledged before COMMIT has returned: that is the fsync. */
static int tx_end(struct registry *reg, int r, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;

	if (r < 0) {
		tx_rollback(reg);
		return r;
	}
	s = stmt(reg, ST_COMMIT, err);
	if (!s || exec_stmt(reg, s, err) < 0) {
		tx_rollback(reg);
		return -1;
	}
	return 0;
}

static int meta_get(struct registry *reg, const char *key, int64_t *value, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_META_GET, err);
	int r;

	if (!s)
		return -1;
	bind_text(s, 1, key);
	r = step(reg, s, err);
	if (r < 0)
		return -1;
	*value = r ? sqlite3_column_int64(s, 0) : 0;
	return 0;
}

static int meta_put(struct registry *reg, const char *key, int64_t value, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_META_PUT, err);

	if (!s)
		return -1;
	bind_text(s, 1, key);
	sqlite3_bind_int64(s, 2, value);
	return exec_stmt(reg, s, err);
}

/* ---- small helpers ---- */

static void format_arn(const struct registry *reg, char *buf, size_t size, const char *name,
		       const char *qualifier)
{
	name_format_arn(buf, size, reg->region, reg->account, name, qualifier);
}

static int function_not_found(struct registry *reg, const char *name, const char *qualifier,
			      struct api_error *err)
{
	char arn[320];

	format_arn(reg, arn, sizeof(arn), name, qualifier);
	return api_error_set(err, API_ERR_NOT_FOUND, "Function not found: %s", arn);
}

static int alias_not_found(struct registry *reg, const char *name, const char *alias,
			   struct api_error *err)
{
	char arn[320];

	format_arn(reg, arn, sizeof(arn), name, alias);
	return api_error_set(err, API_ERR_NOT_FOUND, "Cannot find alias arn: %s", arn);
}

static int invalid_function_name(const char *name, struct api_error *err)
{
	const char *why = "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+";

	if (!name)
		name = "";
	if (!*name)
		why = "Member must have length greater than or equal to 1";
	else if (strlen(name) > NAME_MAX_LEN)
		why = "Member must have length less than or equal to 64";
	return api_error_set(err, API_ERR_INVALID,
			     "1 validation error detected: Value '%.*s' at 'functionName' failed to "
			     "satisfy constraint: %s",
			     QUOTE_MAX, name, why);
}

static int invalid_qualifier(const char *qualifier, struct api_error *err)
{
	return api_error_set(err, API_ERR_INVALID,
			     "1 validation error detected: Value '%.*s' at 'qualifier' failed to "
			     "satisfy constraint: Member must be $LATEST, a version number or an "
			     "alias name",
			     QUOTE_MAX, qualifier);
}

/* ISO 8601 with milliseconds, as Lambda's LastModified: 2026-11-27T17:25:22.000+0000. */
static void now_timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char base[24];
	unsigned int ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (!strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
		base[0] = '\0';
	ms = (unsigned int)(ts.tv_nsec / 1000000) % 1000;
	snprintf(buf, size, "%.23s.%03u+0000", base, ms);
}

static void new_revision_id(char *buf, size_t size)
{
	uuid_t u;
	char text[37];

	uuid_generate_random(u);
	uuid_unparse_lower(u, text);
	snprintf(buf, size, "%s", text);
}

/* ---- code identity: CodeSha256 (base64) and the store's hex name ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static bool base64_to_sha(const char *in, unsigned char sha[32])
{
	unsigned char buf[33];
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (strlen(in) != 44 || in[43] != '=')
		return false;
	for (i = 0; i < 43; i++) {
		const char *p = strchr(b64_alphabet, in[i]);

		if (!p || !in[i])
			return false;
		acc = acc << 6 | (uint32_t)(p - b64_alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* The 2 bits left over must be zero in a canonical encoding. */
	if (o != 32 || acc != 0)
		return false;
	memcpy(sha, buf, 32);
	return true;
}

/* 1: config names code (hex and base64 filled, lower-case hex), 0: no code given. */
static int code_resolve(const struct function_config *c, char hex[65], char b64[45],
			struct api_error *err)
{
	struct image_digest d;
	unsigned char other[32];

	if (!c->code_hex && !c->code_sha256)
		return 0;
	if (c->code_hex && !image_digest_parse_hex(c->code_hex, &d))
		return api_error_set(err, API_ERR_INVALID,
				     "Code '%.*s' is not a SHA-256 in hex (64 hex digits)",
				     QUOTE_MAX, c->code_hex);
	if (c->code_sha256 && !base64_to_sha(c->code_sha256, c->code_hex ? other : d.sha256))
		return api_error_set(err, API_ERR_INVALID,
				     "CodeSha256 '%.*s' is not the base64 of a SHA-256", QUOTE_MAX,
				     c->code_sha256);
	if (c->code_hex && c->code_sha256 && memcmp(d.sha256, other, 32) != 0)
		return api_error_set(err, API_ERR_INVALID,
				     "CodeSha256 '%s' does not match the code's SHA-256 '%s'",
				     c->code_sha256, c->code_hex);
	image_digest_format(&d);
	memcpy(hex, d.hex, 65);
	memcpy(b64, d.b64, 45);
	return 1;
}

/* ---- configuration validation ---- */

static bool is_env_key(const char *k)
{
	/* Lambda's pattern: [a-zA-Z]([a-zA-Z0-9_])+ — note the '+': two characters at least. */
	if (!isalpha((unsigned char)k[0]) || !k[1])
		return false;
	for (k++; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_')
			return false;
	return true;
}

static bool is_reserved_env(const char *k)
{
	for (size_t i = 0; i < sizeof(reserved_environment) / sizeof(reserved_environment[0]);
	     i++)
		if (strcmp(k, reserved_environment[i]) == 0)
			return true;
	return false;
}

static int environment_validate(json_t *env, struct api_error *err)
{
	_cleanup_free_ char *dumped = NULL;
	char reserved[400] = "";
	size_t used = 0;
	const char *key;
	json_t *value;

	if (!json_is_object(env))
		return api_error_set(err, API_ERR_INVALID,
				     "Environment.Variables must be an object of string values");
	json_object_foreach(env, key, value) {
		if (is_reserved_env(key)) {
			int n = snprintf(reserved + used, sizeof(reserved) - used, "%s%s",
					 used ? ", " : "", key);

			if (n > 0 && (size_t)n < sizeof(reserved) - used)
				used += (size_t)n;
		}
	}
	if (used)
		return api_error_set(err, API_ERR_INVALID,
				     "Lambda was unable to configure your environment variables "
				     "because the environment variables you have provided contains "
				     "reserved keys that are currently not supported for "
				     "modification. Reserved keys used in this request: %s",
				     reserved);
	json_object_foreach(env, key, value) {
		if (!is_env_key(key))
			return api_error_set(err, API_ERR_INVALID,
					     "1 validation error detected: Value '%.*s' at "
					     "'environment.variables' failed to satisfy constraint: "
					     "Map keys must satisfy constraint: [Member must satisfy "
					     "regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
					     QUOTE_MAX, key);
		if (!json_is_string(value))
			return api_error_set(err, API_ERR_INVALID,
					     "The value of environment variable '%.*s' must be a "
					     "string",
					     QUOTE_MAX, key);
		/* A NUL would cut the value short in the instance's environ. */
		if (strlen(json_string_value(value)) != json_string_length(value))
			return api_error_set(err, API_ERR_INVALID,
					     "The value of environment variable '%.*s' contains a "
					     "NUL character",
					     QUOTE_MAX, key);
	}
	dumped = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
	if (!dumped)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	if (strlen(dumped) > ENVIRONMENT_MAX_BYTES)
		return api_error_set(err, API_ERR_INVALID,
				     "Lambda was unable to configure your environment variables "
				     "because the environment variables you have provided exceeded "
				     "the 4KB limit. String measured: %zu bytes",
				     strlen(dumped));
	return 0;
}

static int bound_error(const char *field, long value, bool too_small, long bound,
		       struct api_error *err)
{
	return api_error_set(err, API_ERR_INVALID,
			     "1 validation error detected: Value '%ld' at '%s' failed to satisfy "
			     "constraint: Member must have value %s than or equal to %ld",
			     value, field, too_small ? "greater" : "less", bound);
}

static int check_range(const char *field, uint32_t value, uint32_t min, uint32_t max,
		       struct api_error *err)
{
	if (value < min)
		return bound_error(field, value, true, min, err);
	if (value > max)
		return bound_error(field, value, false, max, err);
	return 0;
}

static int check_length(const char *field, const char *value, size_t max,
			struct api_error *err)
{
	if (strlen(value) > max)
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '%.*s…' at '%s' failed to "
				     "satisfy constraint: Member must have length less than or equal "
				     "to %zu",
				     QUOTE_MAX, value, field, max);
	return 0;
}

static bool is_runtime_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '.' &&
		    *s != '-' && *s != '_')
			return false;
	return true;
}

static bool has_space(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return true;
	return false;
}

/* Checks what c sets; a new function must set runtime, handler and code. */
static int config_validate(const struct function_config *c, bool create, struct api_error *err)
{
	struct function_version *v = NULL;
	char hex[65], b64[45];
	int r;

	if (!c)
		return api_error_set(err, API_ERR_INVALID, "No configuration given");
	if (create && (!c->runtime || !c->handler))
		return api_error_set(err, API_ERR_INVALID,
				     "Runtime and Handler are mandatory parameters for functions "
				     "created with deployment packages.");
	if (c->runtime) {
		if (check_length("runtime", c->runtime, sizeof(v->runtime) - 1, err) < 0)
			return -1;
		if (!is_runtime_name(c->runtime))
			return api_error_set(err, API_ERR_INVALID,
					     "1 validation error detected: Value '%.*s' at "
					     "'runtime' failed to satisfy constraint: Member must be "
					     "a runtime identifier such as python3.11 or provided",
					     QUOTE_MAX, c->runtime);
	}
	if (c->handler) {
		if (check_length("handler", c->handler, sizeof(v->handler) - 1, err) < 0)
			return -1;
		if (!*c->handler || has_space(c->handler))
			return api_error_set(err, API_ERR_INVALID,
					     "1 validation error detected: Value '%.*s' at "
					     "'handler' failed to satisfy constraint: Member must "
					     "satisfy regular expression pattern: [^\\s]+",
					     QUOTE_MAX, c->handler);
	}
	if (c->description &&
	    check_length("description", c->description, sizeof(v->description) - 1, err) < 0)
		return -1;
	if (c->memory_mb &&
	    check_range("memorySize", c->memory_mb, MEMORY_MIN_MB, MEMORY_MAX_MB, err) < 0)
		return -1;
	if (c->timeout_s && check_range("timeout", c->timeout_s, 1, TIMEOUT_MAX_S, err) < 0)
		return -1;
	if (c->ephemeral_mb && check_range("ephemeralStorage.size", c->ephemeral_mb,
					   EPHEMERAL_MIN_MB, EPHEMERAL_MAX_MB, err) < 0)
		return -1;
	if (c->environment && environment_validate(c->environment, err) < 0)
		return -1;
	r = code_resolve(c, hex, b64, err);
	if (r < 0)
		return -1;
	if (create && r == 0)
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value null at 'code' failed to "
				     "satisfy constraint: Member must not be null");
	if (r && c->code_size < 0)
		return api_error_set(err, API_ERR_INVALID,
				     "Code size %" PRId64 " is negative", c->code_size);
	return 0;
}

/* Applies a validated configuration to v. */
static int config_apply(struct function_version *v, const struct function_config *c,
			struct api_error *err)
{
	char hex[65], b64[45];

	if (c->runtime)
		snprintf(v->runtime, sizeof(v->runtime), "%s", c->runtime);
	if (c->handler)
		snprintf(v->handler, sizeof(v->handler), "%s", c->handler);
	if (c->description)
		snprintf(v->description, sizeof(v->description), "%s", c->description);
	if (c->memory_mb)
		v->memory_mb = c->memory_mb;
	if (c->timeout_s)
		v->timeout_s = c->timeout_s;
	if (c->ephemeral_mb)
		v->ephemeral_mb = c->ephemeral_mb;
	if (c->environment) {
		json_t *copy = json_deep_copy(c->environment);

		if (!copy)
			return api_error_set(err, API_ERR_SERVICE, "out of memory");
		json_decref(v->environment);
		v->environment = copy;
	}
	if (code_resolve(c, hex, b64, err) > 0) {
		snprintf(v->code_hex, sizeof(v->code_hex), "%s", hex);
		snprintf(v->code_sha256, sizeof(v->code_sha256), "%s", b64);
		v->code_size = c->code_size;
	}
	return 0;
}

/* $LATEST's code and configuration as one canonical string. */
static char *fingerprint(const struct function_version *v)
{
	_cleanup_json_ json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:O, s:s, s:I}",
					     "runtime", v->runtime, "handler", v->handler,
					     "description", v->description, "memory",
					     (json_int_t)v->memory_mb, "timeout",
					     (json_int_t)v->timeout_s, "ephemeral",
					     (json_int_t)v->ephemeral_mb, "environment",
					     v->environment, "code", v->code_hex, "code_size",
					     (json_int_t)v->code_size);

	if (j && v->extra[0])
		json_object_set_new(j, "extra", json_string(v->extra));

	return j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* ---- rows ---- */

static int function_find(struct registry *reg, const char *name, struct function_row *row,
			 struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_FUNCTION_GET, err);
	int r;

	if (!s)
		return -1;
	bind_text(s, 1, name);
	r = step(reg, s, err);
	if (r <= 0)
		return r;
	row->id = sqlite3_column_int64(s, 0);
	row->uid = (uint32_t)sqlite3_column_int64(s, 1);
	row->next_version = sqlite3_column_int64(s, 2);
	row->reserved_concurrency = sqlite3_column_type(s, 3) == SQLITE_NULL ?
					    -1 :
					    sqlite3_column_int(s, 3);
	return 1;
}

/* Finds the function or fills a ResourceNotFound naming it. */
static int function_require(struct registry *reg, const char *name, struct function_row *row,
			    struct api_error *err)
{
	int r = function_find(reg, name, row, err);

	if (r == 0)
		return function_not_found(reg, name, NULL, err);
	return r < 0 ? -1 : 0;
}

/* A VERSION_SELECT row into *v (environment owned by v). */
static int version_from_row(sqlite3_stmt *s, struct function_version *v, struct api_error *err)
{
	const char *env_text = (const char *)sqlite3_column_text(s, 10);
	json_error_t jerr;

	memset(v, 0, sizeof(*v));
	v->function_id = sqlite3_column_int64(s, 0);
	copy_column(v->name, sizeof(v->name), s, 1);
	v->uid = (uint32_t)sqlite3_column_int64(s, 2);
	copy_column(v->version, sizeof(v->version), s, 3);
	copy_column(v->runtime, sizeof(v->runtime), s, 4);
	copy_column(v->handler, sizeof(v->handler), s, 5);
	copy_column(v->description, sizeof(v->description), s, 6);
	v->memory_mb = (uint32_t)sqlite3_column_int64(s, 7);
	v->timeout_s = (uint32_t)sqlite3_column_int64(s, 8);
	v->ephemeral_mb = (uint32_t)sqlite3_column_int64(s, 9);
	copy_column(v->code_sha256, sizeof(v->code_sha256), s, 11);
	copy_column(v->code_hex, sizeof(v->code_hex), s, 12);
	v->code_size = sqlite3_column_int64(s, 13);
	copy_column(v->last_modified, sizeof(v->last_modified), s, 14);
	copy_column(v->revision_id, sizeof(v->revision_id), s, 15);
	copy_column(v->extra, sizeof(v->extra), s, 17);
	v->environment = json_loads(env_text ? env_text : "", 0, &jerr);
	if (!json_is_object(v->environment)) {
		json_decref(v->environment);
		v->environment = NULL;
		return api_error_set(err, API_ERR_SERVICE,
				     "registry: environment of %s:%s is not a JSON object: %s",
				     v->name, v->version, jerr.text);
	}
	return 0;
}

/* 1: loaded, 0: no such version (or function), -1: error. */
static int version_find(struct registry *reg, const char *name, const char *version,
			struct function_version *out, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_VERSION_GET, err);
	int r;

	if (!s)
		return -1;
	bind_text(s, 1, name);
	bind_text(s, 2, version);
	r = step(reg, s, err);
	if (r <= 0)
		return r;
	return version_from_row(s, out, err) < 0 ? -1 : 1;
}

/* Loads a version or fills "Function not found: <arn as the caller named it>". */
static int version_require(struct registry *reg, const char *name, const char *version,
			   const char *asked, struct function_version *out,
			   struct api_error *err)
{
	int r = version_find(reg, name, version, out, err);

	if (r == 0)
		return function_not_found(reg, name, asked, err);
	return r < 0 ? -1 : 0;
}

static int version_exists(struct registry *reg, int64_t function_id, const char *version,
			  bool *exists, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_VERSION_EXISTS, err);
	int r;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, function_id);
	bind_text(s, 2, version);
	r = step(reg, s, err);
	if (r < 0)
		return -1;
	*exists = r > 0;
	return 0;
}

/* Inserts (ST_VERSION_INSERT) or rewrites $LATEST (ST_LATEST_UPDATE). */
static int version_write(struct registry *reg, enum stmt_id id, const struct function_version *v,
			 int64_t version_num, const char *fp, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, id, err);
	_cleanup_free_ char *env = NULL;

	if (!s)
		return -1;
	env = json_dumps(v->environment, JSON_COMPACT | JSON_SORT_KEYS);
	if (!env)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	sqlite3_bind_int64(s, 1, v->function_id);
	bind_text(s, 2, v->version);
	sqlite3_bind_int64(s, 3, version_num);
	bind_text(s, 4, v->runtime);
	bind_text(s, 5, v->handler);
	bind_text(s, 6, v->description);
	sqlite3_bind_int64(s, 7, v->memory_mb);
	sqlite3_bind_int64(s, 8, v->timeout_s);
	sqlite3_bind_int64(s, 9, v->ephemeral_mb);
	bind_text(s, 10, env);
	bind_text(s, 11, v->code_sha256);
	bind_text(s, 12, v->code_hex);
	sqlite3_bind_int64(s, 13, v->code_size);
	bind_text(s, 14, v->last_modified);
	bind_text(s, 15, v->revision_id);
	bind_text(s, 16, fp);
	bind_text(s, 17, v->extra);
	return exec_stmt(reg, s, err);
}

static int alias_from_row(sqlite3_stmt *s, struct alias *a)
{
	memset(a, 0, sizeof(*a));
	copy_column(a->name, sizeof(a->name), s, 0);
	copy_column(a->function_name, sizeof(a->function_name), s, 1);
	copy_column(a->version, sizeof(a->version), s, 2);
	copy_column(a->additional_version, sizeof(a->additional_version), s, 3);
	a->additional_weight = a->additional_version[0] ? sqlite3_column_double(s, 4) : 0;
	copy_column(a->description, sizeof(a->description), s, 5);
	copy_column(a->revision_id, sizeof(a->revision_id), s, 6);
	return 0;
}

/* 1: found, 0: none, -1: error. */
static int alias_find(struct registry *reg, const char *name, const char *alias,
		      struct alias *out, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_ALIAS_GET, err);
	int r;

	if (!s)
		return -1;
	bind_text(s, 1, name);
	bind_text(s, 2, alias);
	r = step(reg, s, err);
	if (r <= 0)
		return r;
	alias_from_row(s, out);
	return 1;
}

/* ---- open / close ---- */

static int exec_sql(struct registry *reg, const char *sql, struct api_error *err)
{
	char *msg = NULL;

	if (sqlite3_exec(reg->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		api_error_set(err, API_ERR_SERVICE, "registry: %s: %s", sql,
			      msg ? msg : sqlite3_errmsg(reg->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int table_exists(struct registry *reg, const char *table, bool *exists,
			struct api_error *err)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (sqlite3_prepare_v2(reg->db,
			       "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1,
			       &s, NULL) != SQLITE_OK)
		return db_error(reg, "prepare", err);
	bind_text(s, 1, table);
	r = step(reg, s, err);
	sqlite3_finalize(s);
	if (r < 0)
		return -1;
	*exists = r > 0;
	return 0;
}

/* Brings the schema to SCHEMA_VERSION in one transaction: a crash mid-way leaves the old
 * schema, and the next start tries again. */
static int migrate(struct registry *reg, struct api_error *err)
{
	int64_t version = 0;
	bool exists = false;
	int r;

	if (tx_begin(reg, err) < 0)
		return -1;
	r = table_exists(reg, "registry_meta", &exists, err);
	if (r == 0 && exists)
		r = meta_get(reg, "schema_version", &version, err);
	if (r == 0 && version > SCHEMA_VERSION)
		r = api_error_set(err, API_ERR_SERVICE,
				  "registry: schema version %" PRId64 " is newer than this "
				  "laminad understands (%" PRId64 ")",
				  version, SCHEMA_VERSION);
	for (; r == 0 && version < SCHEMA_VERSION; version++) {
		r = exec_sql(reg, migrations[version], err);
		if (r == 0)
			r = meta_put(reg, "schema_version", version + 1, err);
	}
	return tx_end(reg, r, err);
}

/* PRAGMAs that answer with a value; expect is what a success answers, or NULL. */
static int pragma(struct registry *reg, const char *sql, const char *expect,
		  struct api_error *err)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (sqlite3_prepare_v2(reg->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_error(reg, sql, err);
	r = step(reg, s, err);
	if (r > 0 && expect) {
		const char *got = (const char *)sqlite3_column_text(s, 0);

		if (!got || strcasecmp(got, expect) != 0)
			r = api_error_set(err, API_ERR_SERVICE, "registry: %s answered '%s', not '%s'",
					  sql, got ? got : "", expect);
	}
	sqlite3_finalize(s);
	return r < 0 ? -1 : 0;
}

int registry_open(const char *db_path, uint32_t first_uid, struct registry **out,
		  struct api_error *err)
{
	struct registry *reg;
	int fd;

	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	reg->first_uid = first_uid;
	registry_set_arn_prefix(reg, NULL, NULL);

	/* Environment variables hold secrets: create the file 0600 before SQLite does with
	 * its 0644; the -wal and -shm files take the database file's mode. */
	fd = open(db_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		api_error_set(err, API_ERR_SERVICE, "registry: cannot open '%s': %s", db_path,
			      strerror(errno));
		free(reg);
		return -1;
	}
	close(fd);

	if (sqlite3_open_v2(db_path, &reg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		api_error_set(err, API_ERR_SERVICE, "registry: cannot open '%s': %s", db_path,
			      reg->db ? sqlite3_errmsg(reg->db) : "out of memory");
		registry_close(reg);
		return -1;
	}
	sqlite3_extended_result_codes(reg->db, 1);
	sqlite3_busy_timeout(reg->db, BUSY_TIMEOUT_MS);
	/* journal_mode is stored in the file; synchronous and foreign_keys are per
	 * connection and must be set on every open. foreign_keys is a no-op inside a
	 * transaction, so it comes before any. */
	if (pragma(reg, "PRAGMA journal_mode = WAL", "wal", err) < 0 ||
	    exec_sql(reg, "PRAGMA synchronous = FULL", err) < 0 ||
	    exec_sql(reg, "PRAGMA foreign_keys = ON", err) < 0 ||
	    pragma(reg, "PRAGMA foreign_keys", "1", err) < 0 || migrate(reg, err) < 0) {
		registry_close(reg);
		return -1;
	}
	*out = reg;
	return 0;
}

void registry_close(struct registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(reg->stmts[i]);
	sqlite3_close(reg->db);
	free(reg);
}

void registry_set_arn_prefix(struct registry *reg, const char *region, const char *account)
{
	snprintf(reg->region, sizeof(reg->region), "%s", region ? region : "local");
	snprintf(reg->account, sizeof(reg->account), "%s", account ? account : "000000000000");
}

/* ---- functions and versions ---- */

/* The next sandbox uid: first_uid + a counter that only grows, so a deleted function's
 * uid is never given to another (files it left in a shared mount stay unreadable). */
static int allocate_uid(struct registry *reg, uint32_t *uid, struct api_error *err)
{
	int64_t n;

	if (meta_get(reg, "uid_counter", &n, err) < 0)
		return -1;
	for (;; n++) {
		_cleanup_stmt_ sqlite3_stmt *s = NULL;
		int r;

		if ((uint64_t)reg->first_uid + (uint64_t)n > UID_LIMIT)
			return api_error_set(err, API_ERR_SERVICE,
					     "registry: no sandbox uids left above %" PRIu32,
					     reg->first_uid);
		/* A different first_uid on an earlier run may have taken this one. */
		s = stmt(reg, ST_UID_TAKEN, err);
		if (!s)
			return -1;
		sqlite3_bind_int64(s, 1, (int64_t)reg->first_uid + n);
		r = step(reg, s, err);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
	}
	*uid = reg->first_uid + (uint32_t)n;
	return meta_put(reg, "uid_counter", n + 1, err);
}

/* ---- lamina's extra configuration: layers and container images ---- */

bool layer_name_is_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > LAYER_NAME_MAX_LEN)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
	return true;
}

/* "arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION", or lamina's short "NAME:VERSION". */
static int layer_arn_parse(struct registry *reg, const char *arn, char name[LAYER_NAME_MAX_LEN + 1],
			   int64_t *version, struct api_error *err)
{
	char prefix[200];
	const char *rest = arn, *colon;
	char *end;
	long long n;

	snprintf(prefix, sizeof(prefix), "arn:aws:lambda:%s:%s:layer:", reg->region, reg->account);
	if (!strncmp(arn, "arn:", 4)) {
		if (strncmp(arn, prefix, strlen(prefix)))
			goto bad;
		rest = arn + strlen(prefix);
	}
	colon = strrchr(rest, ':');
	if (!colon || colon == rest || (size_t)(colon - rest) > LAYER_NAME_MAX_LEN)
		goto bad;
	memcpy(name, rest, colon - rest);
	name[colon - rest] = '\0';
	errno = 0;
	n = strtoll(colon + 1, &end, 10);
	if (!layer_name_is_valid(name) || !isdigit((unsigned char)colon[1]) || *end || errno || n < 1)
		goto bad;
	*version = n;
	return 0;
bad:
	return api_error_set(err, API_ERR_INVALID,
			     "1 validation error detected: Value '%.*s' at 'layers' failed to "
			     "satisfy constraint: Member must be a layer version ARN "
			     "(%sNAME:VERSION)",
			     QUOTE_MAX, arn, prefix);
}

static void layer_arn_format(const struct registry *reg, char *buf, size_t size, const char *name,
			     int64_t version)
{
	snprintf(buf, size, "arn:aws:lambda:%s:%s:layer:%s:%" PRId64, reg->region, reg->account,
		 name, version);
}

static int layer_from_row(sqlite3_stmt *s, struct layer_version *l)
{
	memset(l, 0, sizeof(*l));
	copy_column(l->name, sizeof(l->name), s, 0);
	l->version = sqlite3_column_int64(s, 1);
	copy_column(l->description, sizeof(l->description), s, 2);
	copy_column(l->code_sha256, sizeof(l->code_sha256), s, 3);
	copy_column(l->code_hex, sizeof(l->code_hex), s, 4);
	l->code_size = sqlite3_column_int64(s, 5);
	copy_column(l->created, sizeof(l->created), s, 6);
	copy_column(l->runtimes, sizeof(l->runtimes), s, 7);
	return 0;
}

/* 1: found, 0: none, -1: error. */
static int layer_find(struct registry *reg, const char *name, int64_t version,
		      struct layer_version *out, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_LAYER_GET, err);
	int r;

	if (!s)
		return -1;
	bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, version);
	r = step(reg, s, err);
	if (r <= 0)
		return r;
	layer_from_row(s, out);
	return 1;
}

/* Layers (array of ARNs) as the version keeps them: [{Arn, CodeSize, CodeSha256, Hex}]. */
static json_t *layers_resolve(struct registry *reg, json_t *arns, struct api_error *err)
{
	_cleanup_json_ json_t *out = json_array();
	char names[LAYERS_PER_FUNCTION_MAX][LAYER_NAME_MAX_LEN + 1];
	size_t i;
	json_t *arn;

	if (!out)
		return api_error_set(err, API_ERR_SERVICE, "out of memory"), NULL;
	if (!json_is_array(arns)) {
		api_error_set(err, API_ERR_INVALID, "Layers must be a list of layer version ARNs");
		return NULL;
	}
	if (json_array_size(arns) > LAYERS_PER_FUNCTION_MAX) {
		api_error_set(err, API_ERR_INVALID, "Cannot reference more than %d layers.",
			      LAYERS_PER_FUNCTION_MAX);
		return NULL;
	}
	json_array_foreach(arns, i, arn) {
		struct layer_version l;
		char full[400];
		int64_t version = 0;
		int r;

		if (!json_is_string(arn)) {
			api_error_set(err, API_ERR_INVALID, "Layers must be a list of layer version ARNs");
			return NULL;
		}
		if (layer_arn_parse(reg, json_string_value(arn), names[i], &version, err) < 0)
			return NULL;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(names[k], names[i])) {
				api_error_set(err, API_ERR_INVALID,
					      "Two different versions of the same layer are not allowed "
					      "to be referenced in the same function. %s is referenced "
					      "twice.",
					      names[i]);
				return NULL;
			}
		layer_arn_format(reg, full, sizeof(full), names[i], version);
		r = layer_find(reg, names[i], version, &l, err);
		if (r < 0)
			return NULL;
		if (r == 0) {
			api_error_set(err, API_ERR_INVALID, "Layer version %s does not exist.", full);
			return NULL;
		}
		if (json_array_append_new(out, json_pack("{s:s, s:I, s:s, s:s}", "Arn", full, "CodeSize",
							 (json_int_t)l.code_size, "CodeSha256",
							 l.code_sha256, "Hex", l.code_hex)) < 0) {
			api_error_set(err, API_ERR_SERVICE, "out of memory");
			return NULL;
		}
	}
	return json_incref(out);
}

/* Applies c's Layers and container image to v->extra (within the caller's transaction). */
static int extra_apply(struct registry *reg, struct function_version *v,
		       const struct function_config *c, bool create, struct api_error *err)
{
	_cleanup_json_ json_t *extra = NULL;
	_cleanup_free_ char *text = NULL;
	bool image;

	if (!c->layers && !c->image && (create || !c->code_hex))
		return 0;
	extra = v->extra[0] ? json_loads(v->extra, 0, NULL) : json_object();
	if (!json_is_object(extra))
		return api_error_set(err, API_ERR_SERVICE, "registry: %s:%s has a damaged configuration",
				     v->name, v->version);
	image = json_is_string(json_object_get(extra, "PackageType")) &&
		!strcmp(json_string_value(json_object_get(extra, "PackageType")), "Image");
	if (!create && c->code_hex && image != !!c->image)
		return api_error_set(err, API_ERR_INVALID,
				     image ? "Please provide ImageUri when updating a function with "
					     "packageType Image."
					   : "Please don't provide ImageUri when updating a function "
					     "with packageType Zip.");
	if (c->image) {
		json_t *k;
		const char *key;

		if (!create && !c->code_hex && !image)
			return api_error_set(err, API_ERR_INVALID,
					     "ImageConfig is only for functions with packageType Image.");
		json_object_foreach(c->image, key, k)
			json_object_set(extra, key, k);
		json_object_set_new(extra, "PackageType", json_string("Image"));
		image = true;
	}
	if (c->layers) {
		json_t *resolved = layers_resolve(reg, c->layers, err);

		if (!resolved)
			return -1;
		json_object_set_new(extra, "Layers", resolved);
	}
	if (image && json_array_size(json_object_get(extra, "Layers")))
		return api_error_set(err, API_ERR_INVALID,
				     "Layers are not supported for functions with packageType Image.");
	if (json_object_size(extra) == 0) {
		v->extra[0] = '\0';	/* as before any layer or image: the same fingerprint */
		return 0;
	}
	text = json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	if (strlen(text) >= sizeof(v->extra))
		return api_error_set(err, API_ERR_INVALID,
				     "The function's layers and image configuration exceed %zu bytes",
				     sizeof(v->extra) - 1);
	snprintf(v->extra, sizeof(v->extra), "%s", text);
	return 0;
}

static int create_locked(struct registry *reg, const char *name, struct function_version *v,
			 struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	_cleanup_free_ char *fp = NULL;
	struct function_row row;
	char created[40];
	int r;

	r = function_find(reg, name, &row, err);
	if (r < 0)
		return -1;
	if (r > 0)
		return api_error_set(err, API_ERR_CONFLICT, "Function already exist: %s", name);
	if (allocate_uid(reg, &v->uid, err) < 0)
		return -1;
	now_timestamp(created, sizeof(created));
	s = stmt(reg, ST_FUNCTION_INSERT, err);
	if (!s)
		return -1;
	bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, v->uid);
	bind_text(s, 3, created);
	if (exec_stmt(reg, s, err) < 0)
		return -1;
	v->function_id = sqlite3_last_insert_rowid(reg->db);
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->version, sizeof(v->version), VERSION_LATEST);
	snprintf(v->last_modified, sizeof(v->last_modified), "%s", created);
	new_revision_id(v->revision_id, sizeof(v->revision_id));
	fp = fingerprint(v);
	if (!fp)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	return version_write(reg, ST_VERSION_INSERT, v, 0, fp, err);
}

int registry_create_function(struct registry *reg, const char *name,
			     const struct function_config *config, struct function_version *out,
			     struct api_error *err)
{
	struct function_version v = {
		.memory_mb = DEFAULT_MEMORY_MB,
		.timeout_s = DEFAULT_TIMEOUT_S,
		.ephemeral_mb = DEFAULT_EPHEMERAL_MB,
	};
	int r;

	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (config_validate(config, true, err) < 0)
		return -1;
	v.environment = json_object();
	if (!v.environment)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	r = config_apply(&v, config, err);
	if (r == 0)
		r = tx_begin(reg, err);
	if (r == 0)
		r = tx_end(reg,
			   extra_apply(reg, &v, config, true, err) < 0 ? -1
								      : create_locked(reg, name, &v, err),
			   err);
	if (r < 0) {
		function_version_clear(&v);
		return -1;
	}
	if (out)
		*out = v;
	else
		function_version_clear(&v);
	return 0;
}

static int update_locked(struct registry *reg, const char *name,
			 const struct function_config *changes, struct function_version *v,
			 struct api_error *err)
{
	_cleanup_free_ char *fp = NULL;

	if (version_require(reg, name, VERSION_LATEST, NULL, v, err) < 0)
		return -1;
	if (config_apply(v, changes, err) < 0 || extra_apply(reg, v, changes, false, err) < 0)
		return -1;
	now_timestamp(v->last_modified, sizeof(v->last_modified));
	new_revision_id(v->revision_id, sizeof(v->revision_id));
	fp = fingerprint(v);
	if (!fp)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	return version_write(reg, ST_LATEST_UPDATE, v, 0, fp, err);
}

int registry_update_latest(struct registry *reg, const char *name,
			   const struct function_config *changes, struct function_version *out,
			   struct api_error *err)
{
	struct function_version v = { 0 };
	int r;

	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (config_validate(changes, false, err) < 0)
		return -1;
	if (tx_begin(reg, err) < 0)
		return -1;
	r = tx_end(reg, update_locked(reg, name, changes, &v, err), err);
	if (r < 0 || !out)
		function_version_clear(&v);
	else
		*out = v;
	return r;
}

int registry_get_version(struct registry *reg, const char *name, const char *version,
			 struct function_version *out, struct api_error *err)
{
	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (!version || (strcmp(version, VERSION_LATEST) != 0 && !name_is_version_number(version)))
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '%.*s' at 'version' failed "
				     "to satisfy constraint: Member must satisfy regular expression "
				     "pattern: (\\$LATEST|[0-9]+)",
				     QUOTE_MAX, version ? version : "");
	return version_require(reg, name, version, version, out, err);
}

int registry_get(struct registry *reg, const char *name, const char *qualifier,
		 struct function_version *out, struct alias *alias_out, struct api_error *err)
{
	struct alias a;
	int r;

	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (!qualifier || !*qualifier)
		return version_require(reg, name, VERSION_LATEST, NULL, out, err);
	if (strcmp(qualifier, VERSION_LATEST) == 0 || name_is_version_number(qualifier))
		return version_require(reg, name, qualifier, qualifier, out, err);
	if (!name_is_valid_alias(qualifier))
		return invalid_qualifier(qualifier, err);
	r = alias_find(reg, name, qualifier, &a, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return function_not_found(reg, name, qualifier, err);
	/* The foreign key keeps the alias' version in place; not finding it is corruption. */
	if (version_require(reg, name, a.version, qualifier, out, err) < 0)
		return -1;
	if (alias_out)
		*alias_out = a;
	return 0;
}

static int publish_locked(struct registry *reg, const char *name, const char *description,
			  struct function_version *v, struct api_error *err)
{
	_cleanup_free_ char *fp = NULL;
	struct function_row row;
	char last[24], revision[40];

	if (function_require(reg, name, &row, err) < 0)
		return -1;
	if (version_require(reg, name, VERSION_LATEST, NULL, v, err) < 0)
		return -1;
	fp = fingerprint(v);
	if (!fp)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");

	/* Lambda compares with the last version published; if that one was deleted since,
	 * a new version is published even when an older one matches. */
	if (row.next_version > 1) {
		_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_VERSION_FINGERPRINT, err);
		int r;

		if (!s)
			return -1;
		snprintf(last, sizeof(last), "%" PRId64, row.next_version - 1);
		sqlite3_bind_int64(s, 1, row.id);
		bind_text(s, 2, last);
		r = step(reg, s, err);
		if (r < 0)
			return -1;
		if (r > 0 && strcmp((const char *)sqlite3_column_text(s, 0), fp) == 0) {
			function_version_clear(v);
			return version_require(reg, name, last, last, v, err);
		}
	}

	snprintf(v->version, sizeof(v->version), "%" PRId64, row.next_version);
	if (description && *description)
		snprintf(v->description, sizeof(v->description), "%s", description);
	/* The version keeps $LATEST's LastModified; it gets its own RevisionId, and
	 * $LATEST's changes too, as Lambda's do on publish. */
	new_revision_id(v->revision_id, sizeof(v->revision_id));
	if (version_write(reg, ST_VERSION_INSERT, v, row.next_version, fp, err) < 0)
		return -1;
	{
		_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_FUNCTION_NEXT_VERSION, err);

		if (!s)
			return -1;
		sqlite3_bind_int64(s, 1, row.id);
		sqlite3_bind_int64(s, 2, row.next_version + 1);
		if (exec_stmt(reg, s, err) < 0)
			return -1;
	}
	{
		_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_LATEST_REVISION, err);

		if (!s)
			return -1;
		new_revision_id(revision, sizeof(revision));
		sqlite3_bind_int64(s, 1, row.id);
		bind_text(s, 2, revision);
		return exec_stmt(reg, s, err);
	}
}

int registry_publish(struct registry *reg, const char *name, const char *description,
		     struct function_version *out, struct api_error *err)
{
	struct function_version v = { 0 };
	int r;

	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (description && check_length("description", description, sizeof(v.description) - 1,
					 err) < 0)
		return -1;
	if (tx_begin(reg, err) < 0)
		return -1;
	r = tx_end(reg, publish_locked(reg, name, description, &v, err), err);
	if (r < 0 || !out)
		function_version_clear(&v);
	else
		*out = v;
	return r;
}

/* "[a, b]": the aliases that route to a version, as Lambda lists them. */
static int aliases_routing_to(struct registry *reg, int64_t function_id, const char *version,
			      char *buf, size_t size, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_ALIASES_ROUTING_TO, err);
	size_t used = 0;
	int r;

	buf[0] = '\0';
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, function_id);
	bind_text(s, 2, version);
	while ((r = step(reg, s, err)) > 0) {
		int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "[",
				 (const char *)sqlite3_column_text(s, 0));

		if (n > 0 && (size_t)n < size - used)
			used += (size_t)n;
	}
	if (r < 0)
		return -1;
	if (used && used + 1 < size)
		strcat(buf, "]");
	return 0;
}

static int delete_locked(struct registry *reg, const char *name, const char *version,
			 struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct function_row row;
	char aliases[400];

	if (function_require(reg, name, &row, err) < 0)
		return -1;
	if (!version) {
		/* Versions and aliases go with it: ON DELETE CASCADE. */
		s = stmt(reg, ST_FUNCTION_DELETE, err);
		if (!s)
			return -1;
		sqlite3_bind_int64(s, 1, row.id);
		return exec_stmt(reg, s, err);
	}
	if (aliases_routing_to(reg, row.id, version, aliases, sizeof(aliases), err) < 0)
		return -1;
	if (aliases[0])
		return api_error_set(err, API_ERR_CONFLICT,
				     "Unable to delete version because the following aliases "
				     "reference it: %s",
				     aliases);
	/* Lambda answers a missing version with success, not ResourceNotFound. */
	s = stmt(reg, ST_VERSION_DELETE, err);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, row.id);
	bind_text(s, 2, version);
	return exec_stmt(reg, s, err);
}

int registry_delete(struct registry *reg, const char *name, const char *qualifier,
		    struct api_error *err)
{
	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (qualifier && *qualifier) {
		if (strcmp(qualifier, VERSION_LATEST) == 0)
			return api_error_set(err, API_ERR_INVALID,
					     "$LATEST version cannot be deleted without deleting the "
					     "function.");
		if (name_is_valid_alias(qualifier))
			return api_error_set(err, API_ERR_INVALID,
					     "Deletion of aliases is not currently supported. Use "
					     "DeleteAlias to delete alias '%s'.",
					     qualifier);
		if (!name_is_version_number(qualifier))
			return invalid_qualifier(qualifier, err);
	} else {
		qualifier = NULL;
	}
	if (tx_begin(reg, err) < 0)
		return -1;
	return tx_end(reg, delete_locked(reg, name, qualifier, err), err);
}

/* Collects the VERSION_SELECT rows of s. */
static int versions_collect(struct registry *reg, sqlite3_stmt *s, struct function_version **out,
			    size_t *n, struct api_error *err)
{
	struct function_version *list = NULL;
	size_t len = 0, cap = 0;
	int r;

	while ((r = step(reg, s, err)) > 0) {
		if (len == cap) {
			size_t new_cap = cap ? cap * 2 : 8;
			struct function_version *grown =
				realloc(list, new_cap * sizeof(*list));

			if (!grown) {
				r = api_error_set(err, API_ERR_SERVICE, "out of memory");
				break;
			}
			list = grown;
			cap = new_cap;
		}
		if (version_from_row(s, &list[len], err) < 0) {
			r = -1;
			break;
		}
		len++;
	}
	if (r < 0) {
		function_versions_free(list, len);
		return -1;
	}
	*out = list;
	*n = len;
	return 0;
}

int registry_list_functions(struct registry *reg, struct function_version **out, size_t *n,
			    struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_LATEST_LIST, err);

	if (!s)
		return -1;
	return versions_collect(reg, s, out, n, err);
}

int registry_list_versions(struct registry *reg, const char *name,
			   struct function_version **out, size_t *n, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct function_row row;

	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (function_require(reg, name, &row, err) < 0)
		return -1;
	s = stmt(reg, ST_VERSION_LIST, err);
	if (!s)
		return -1;
	bind_text(s, 1, name);
	return versions_collect(reg, s, out, n, err);
}

void function_version_clear(struct function_version *v)
{
	if (!v)
		return;
	json_decref(v->environment);
	v->environment = NULL;
}

void function_versions_free(struct function_version *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		function_version_clear(&v[i]);
	free(v);
}

/* ---- aliases ---- */

static int alias_validate(const struct alias *a, struct api_error *err)
{
	if (!name_is_valid_alias(a->name))
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '%.*s' at 'name' failed to "
				     "satisfy constraint: Member must satisfy regular expression "
				     "pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+) and have length 1 to 128",
				     QUOTE_MAX, a->name);
	if (strcmp(a->version, VERSION_LATEST) != 0 && !name_is_version_number(a->version))
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '%.*s' at 'functionVersion' "
				     "failed to satisfy constraint: Member must satisfy regular "
				     "expression pattern: (\\$LATEST|[0-9]+)",
				     QUOTE_MAX, a->version);
	if (check_length("description", a->description, sizeof(a->description) - 1, err) < 0)
		return -1;
	if (!a->additional_version[0])
		return 0;
	if (!name_is_version_number(a->additional_version))
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '{%.*s=%g}' at "
				     "'routingConfig.additionalVersionWeights' failed to satisfy "
				     "constraint: Map keys must satisfy constraint: [Member must "
				     "satisfy regular expression pattern: [0-9]+]",
				     QUOTE_MAX, a->additional_version, a->additional_weight);
	if (!(a->additional_weight >= 0.0 && a->additional_weight <= 1.0))
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '{%s=%g}' at "
				     "'routingConfig.additionalVersionWeights' failed to satisfy "
				     "constraint: Map value must satisfy constraint: [Member must "
				     "have value less than or equal to 1.0, Member must have value "
				     "greater than or equal to 0.0]",
				     a->additional_version, a->additional_weight);
	if (strcmp(a->additional_version, a->version) == 0)
		return api_error_set(err, API_ERR_INVALID,
				     "Invalid function version %s. Function version %s is already "
				     "included in routing configuration.",
				     a->version, a->version);
	if (strcmp(a->version, VERSION_LATEST) == 0)
		return api_error_set(err, API_ERR_INVALID,
				     "$LATEST is not supported for an alias pointing to more than 1 "
				     "version");
	return 0;
}

/* The versions an alias routes to exist. */
static int alias_targets_exist(struct registry *reg, int64_t function_id, const struct alias *a,
			       struct api_error *err)
{
	bool exists;

	if (version_exists(reg, function_id, a->version, &exists, err) < 0)
		return -1;
	if (!exists)
		return function_not_found(reg, a->function_name, a->version, err);
	if (!a->additional_version[0])
		return 0;
	if (version_exists(reg, function_id, a->additional_version, &exists, err) < 0)
		return -1;
	if (!exists)
		return function_not_found(reg, a->function_name, a->additional_version, err);
	return 0;
}

static int alias_write(struct registry *reg, enum stmt_id id, int64_t function_id,
		       const struct alias *a, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, id, err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, function_id);
	bind_text(s, 2, a->name);
	bind_text(s, 3, a->version);
	bind_text(s, 4, a->additional_version[0] ? a->additional_version : NULL);
	sqlite3_bind_double(s, 5, a->additional_version[0] ? a->additional_weight : 0.0);
	bind_text(s, 6, a->description);
	bind_text(s, 7, a->revision_id);
	return exec_stmt(reg, s, err);
}

static int create_alias_locked(struct registry *reg, struct alias *a, struct api_error *err)
{
	struct function_row row;
	struct alias existing;
	int r;

	if (function_require(reg, a->function_name, &row, err) < 0)
		return -1;
	if (alias_targets_exist(reg, row.id, a, err) < 0)
		return -1;
	r = alias_find(reg, a->function_name, a->name, &existing, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		char arn[320];

		format_arn(reg, arn, sizeof(arn), a->function_name, a->name);
		return api_error_set(err, API_ERR_CONFLICT, "Alias already exists: %s", arn);
	}
	new_revision_id(a->revision_id, sizeof(a->revision_id));
	return alias_write(reg, ST_ALIAS_INSERT, row.id, a, err);
}

int registry_create_alias(struct registry *reg, const struct alias *alias, struct alias *out,
			  struct api_error *err)
{
	struct alias a = *alias;
	int r;

	if (!name_is_valid_function(a.function_name))
		return invalid_function_name(a.function_name, err);
	if (!a.additional_version[0])
		a.additional_weight = 0;
	if (alias_validate(&a, err) < 0)
		return -1;
	if (tx_begin(reg, err) < 0)
		return -1;
	r = tx_end(reg, create_alias_locked(reg, &a, err), err);
	if (r == 0 && out)
		*out = a;
	return r;
}

static int update_alias_locked(struct registry *reg, const struct alias *changes,
			       bool clear_routing, struct alias *a, struct api_error *err)
{
	struct function_row row;
	int r;

	if (function_require(reg, changes->function_name, &row, err) < 0)
		return -1;
	r = alias_find(reg, changes->function_name, changes->name, a, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return alias_not_found(reg, changes->function_name, changes->name, err);
	if (changes->version[0])
		snprintf(a->version, sizeof(a->version), "%s", changes->version);
	if (changes->description[0])
		snprintf(a->description, sizeof(a->description), "%s", changes->description);
	/* Routing changes only as a whole, as Lambda's RoutingConfig: a weight alone (with
	 * no version) would be ambiguous, and a zeroed struct must not reset a weight. */
	if (clear_routing) {
		a->additional_version[0] = '\0';
		a->additional_weight = 0;
	} else if (changes->additional_version[0]) {
		if (changes->additional_weight < 0)
			return api_error_set(err, API_ERR_INVALID,
					     "A weight is required for additional version %s",
					     changes->additional_version);
		snprintf(a->additional_version, sizeof(a->additional_version), "%s",
			 changes->additional_version);
		a->additional_weight = changes->additional_weight;
	}
	if (alias_validate(a, err) < 0)
		return -1;
	if (alias_targets_exist(reg, row.id, a, err) < 0)
		return -1;
	new_revision_id(a->revision_id, sizeof(a->revision_id));
	return alias_write(reg, ST_ALIAS_UPDATE, row.id, a, err);
}

int registry_update_alias(struct registry *reg, const struct alias *changes, bool clear_routing,
			  struct alias *out, struct api_error *err)
{
	struct alias a;
	int r;

	if (!name_is_valid_function(changes->function_name))
		return invalid_function_name(changes->function_name, err);
	if (!name_is_valid_alias(changes->name))
		return alias_validate(changes, err);
	if (tx_begin(reg, err) < 0)
		return -1;
	r = tx_end(reg, update_alias_locked(reg, changes, clear_routing, &a, err), err);
	if (r == 0 && out)
		*out = a;
	return r;
}

int registry_get_alias(struct registry *reg, const char *name, const char *alias,
		       struct alias *out, struct api_error *err)
{
	struct function_row row;
	int r;

	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (!name_is_valid_alias(alias))
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '%.*s' at 'name' failed to "
				     "satisfy constraint: Member must satisfy regular expression "
				     "pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
				     QUOTE_MAX, alias ? alias : "");
	r = alias_find(reg, name, alias, out, err);
	if (r < 0)
		return -1;
	if (r > 0)
		return 0;
	if (function_require(reg, name, &row, err) < 0)
		return -1;
	return alias_not_found(reg, name, alias, err);
}

int registry_list_aliases(struct registry *reg, const char *name, struct alias **out, size_t *n,
			  struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct function_row row;
	struct alias *list = NULL;
	size_t len = 0, cap = 0;
	int r;

	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (function_require(reg, name, &row, err) < 0)
		return -1;
	s = stmt(reg, ST_ALIAS_LIST, err);
	if (!s)
		return -1;
	bind_text(s, 1, name);
	while ((r = step(reg, s, err)) > 0) {
		if (len == cap) {
			size_t new_cap = cap ? cap * 2 : 8;
			struct alias *grown = realloc(list, new_cap * sizeof(*list));

			if (!grown) {
				r = api_error_set(err, API_ERR_SERVICE, "out of memory");
				break;
			}
			list = grown;
			cap = new_cap;
		}
		alias_from_row(s, &list[len++]);
	}
	if (r < 0) {
		free(list);
		return -1;
	}
	*out = list;
	*n = len;
	return 0;
}

static int delete_alias_locked(struct registry *reg, const char *name, const char *alias,
			       struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct function_row row;

	if (function_require(reg, name, &row, err) < 0)
		return -1;
	s = stmt(reg, ST_ALIAS_DELETE, err);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, row.id);
	bind_text(s, 2, alias);
	if (exec_stmt(reg, s, err) < 0)
		return -1;
	if (sqlite3_changes(reg->db) == 0)
		return alias_not_found(reg, name, alias, err);
	return 0;
}

int registry_delete_alias(struct registry *reg, const char *name, const char *alias,
			  struct api_error *err)
{
	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (!name_is_valid_alias(alias))
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '%.*s' at 'name' failed to "
				     "satisfy constraint: Member must satisfy regular expression "
				     "pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
				     QUOTE_MAX, alias ? alias : "");
	if (tx_begin(reg, err) < 0)
		return -1;
	return tx_end(reg, delete_alias_locked(reg, name, alias, err), err);
}

/* ---- concurrency, code ---- */

static int put_concurrency_locked(struct registry *reg, const char *name, int reserved,
				  struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct function_row row;

	if (function_require(reg, name, &row, err) < 0)
		return -1;
	s = stmt(reg, ST_FUNCTION_CONCURRENCY, err);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, row.id);
	if (reserved < 0)
		sqlite3_bind_null(s, 2);
	else
		sqlite3_bind_int(s, 2, reserved);
	return exec_stmt(reg, s, err);
}

int registry_put_concurrency(struct registry *reg, const char *name, int reserved,
			     struct api_error *err)
{
	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (reserved < -1)
		return api_error_set(err, API_ERR_INVALID,
				     "1 validation error detected: Value '%d' at "
				     "'reservedConcurrentExecutions' failed to satisfy constraint: "
				     "Member must have value greater than or equal to 0",
				     reserved);
	if (tx_begin(reg, err) < 0)
		return -1;
	return tx_end(reg, put_concurrency_locked(reg, name, reserved, err), err);
}

int registry_get_concurrency(struct registry *reg, const char *name, int *reserved,
			     struct api_error *err)
{
	struct function_row row;

	if (!name_is_valid_function(name))
		return invalid_function_name(name, err);
	if (function_require(reg, name, &row, err) < 0)
		return -1;
	*reserved = row.reserved_concurrency;
	return 0;
}

int registry_code_in_use(struct registry *reg, const char *code_hex, bool *in_use,
			 struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_CODE_IN_USE, err);
	char lower[65];
	int r;

	if (!s)
		return -1;
	snprintf(lower, sizeof(lower), "%s", code_hex ? code_hex : "");
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	bind_text(s, 1, lower);
	r = step(reg, s, err);
	if (r < 0)
		return -1;
	*in_use = r > 0;
	return 0;
}

/* ---- Lambda's JSON shapes ---- */

json_t *function_version_to_json(const struct function_version *v, const char *region,
				 const char *account)
{
	char arn[320];
	bool latest = strcmp(v->version, VERSION_LATEST) == 0;
	json_t *env = v->environment ? json_deep_copy(v->environment) : json_object();

	/* $LATEST is reported under the unqualified ARN, a published version under its own. */
	json_t *j, *extra;

	name_format_arn(arn, sizeof(arn), region, account, v->name, latest ? NULL : v->version);
	j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:s, s:s,"
			 " s:{s:o}, s:{s:I}, s:s, s:s, s:s, s:s, s:[s]}",
			 "FunctionName", v->name, "FunctionArn", arn, "Runtime", v->runtime,
			 "Handler", v->handler, "CodeSize", (json_int_t)v->code_size,
			 "Description", v->description, "Timeout", (json_int_t)v->timeout_s,
			 "MemorySize", (json_int_t)v->memory_mb, "LastModified",
			 v->last_modified, "CodeSha256", v->code_sha256, "Version", v->version,
			 "Environment", "Variables", env, "EphemeralStorage", "Size",
			 (json_int_t)v->ephemeral_mb, "RevisionId", v->revision_id, "State",
			 "Active", "LastUpdateStatus", "Successful", "PackageType", "Zip",
			 "Architectures", "x86_64");
	/* Layers [{Arn, CodeSize}] and, for container images, PackageType Image, ImageUri
	 * and ImageConfigResponse, without Runtime and Handler (as Lambda shows them). */
	extra = j && v->extra[0] ? json_loads(v->extra, 0, NULL) : NULL;
	if (json_is_object(extra)) {
		json_t *layers = json_object_get(extra, "Layers"), *l, *pkg;
		size_t i;

		if (json_array_size(layers)) {
			json_t *out = json_array();

			json_array_foreach(layers, i, l)
				json_array_append_new(out, json_pack("{s:O, s:O}", "Arn",
								     json_object_get(l, "Arn"), "CodeSize",
								     json_object_get(l, "CodeSize")));
			json_object_set_new(j, "Layers", out);
		}
		pkg = json_object_get(extra, "PackageType");
		if (json_is_string(pkg) && !strcmp(json_string_value(pkg), "Image")) {
			json_object_set(j, "PackageType", pkg);
			json_object_del(j, "Runtime");
			json_object_del(j, "Handler");
			if (json_object_get(extra, "ImageUri"))
				json_object_set(j, "ImageUri", json_object_get(extra, "ImageUri"));
			/* Lambda shows the ImageConfig given, not the image's own. */
			if (json_object_get(extra, "ImageConfigOverride"))
				json_object_set_new(j, "ImageConfigResponse",
						    json_pack("{s:O}", "ImageConfig",
							      json_object_get(extra, "ImageConfigOverride")));
		}
	}
	json_decref(extra);
	return j;
}

json_t *alias_to_json(const struct alias *a, const char *region, const char *account)
{
	char arn[320];
	json_t *j;

	name_format_arn(arn, sizeof(arn), region, account, a->function_name, a->name);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "AliasArn", arn, "Name", a->name,
		      "FunctionVersion", a->version, "Description", a->description,
		      "RevisionId", a->revision_id);
	if (j && a->additional_version[0]) {
		json_t *routing = json_pack("{s:{s:f}}", "AdditionalVersionWeights",
					    a->additional_version, a->additional_weight);

		if (!routing || json_object_set_new(j, "RoutingConfig", routing) < 0) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

/* ---- layers ---- */

static int layer_invalid_name(const char *name, struct api_error *err)
{
	return api_error_set(err, API_ERR_INVALID,
			     "1 validation error detected: Value '%.*s' at 'layerName' failed to "
			     "satisfy constraint: Member must satisfy regular expression pattern: "
			     "[a-zA-Z0-9-_]+ (1 to %d characters)",
			     QUOTE_MAX, name, LAYER_NAME_MAX_LEN);
}

static int publish_layer_locked(struct registry *reg, struct layer_version *l,
				struct api_error *err)
{
	int64_t next = 1;
	int r;

	{
		_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_LAYER_NEXT, err);

		if (!s)
			return -1;
		bind_text(s, 1, l->name);
		r = step(reg, s, err);
		if (r < 0)
			return -1;
		if (r > 0)
			next = sqlite3_column_int64(s, 0);
	}
	{
		_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_LAYER_NEXT_PUT, err);

		if (!s)
			return -1;
		bind_text(s, 1, l->name);
		sqlite3_bind_int64(s, 2, next + 1);
		if (exec_stmt(reg, s, err) < 0)
			return -1;
	}
	l->version = next;
	{
		_cleanup_stmt_ sqlite3_stmt *s = stmt(reg, ST_LAYER_INSERT, err);

		if (!s)
			return -1;
		bind_text(s, 1, l->name);
		sqlite3_bind_int64(s, 2, l->version);
		bind_text(s, 3, l->description);
		bind_text(s, 4, l->code_sha256);
		bind_text(s, 5, l->code_hex);
		sqlite3_bind_int64(s, 6, l->code_size);
		bind_text(s, 7, l->created);
		bind_text(s, 8, l->runtimes);
		return exec_stmt(reg, s, err);
	}
}

int registry_publish_layer(struct registry *reg, const char *name, const char *description,
			   json_t *runtimes, const char *code_hex, const char *code_sha256,
			   int64_t code_size, struct layer_version *out, struct api_error *err)
{
	_cleanup_free_ char *rt = NULL;
	struct layer_version l = { 0 };
	struct function_config c = { .code_hex = code_hex, .code_sha256 = code_sha256 };
	char hex[65], b64[45];
	size_t i;
	json_t *e;

	if (!layer_name_is_valid(name))
		return layer_invalid_name(name, err);
	if (description && check_length("description", description, sizeof(l.description) - 1, err) < 0)
		return -1;
	if (code_resolve(&c, hex, b64, err) <= 0)
		return api_error_set(err, API_ERR_INVALID, "Content is required");
	if (runtimes && !json_is_array(runtimes))
		return api_error_set(err, API_ERR_INVALID, "CompatibleRuntimes must be a list of runtimes");
	json_array_foreach(runtimes, i, e)
		if (!json_is_string(e) || !is_runtime_name(json_string_value(e)) || i >= 15)
			return api_error_set(err, API_ERR_INVALID,
					     "CompatibleRuntimes must be a list of at most 15 runtimes");
	rt = runtimes ? json_dumps(runtimes, JSON_COMPACT) : strdup("[]");
	if (!rt || strlen(rt) >= sizeof(l.runtimes))
		return api_error_set(err, API_ERR_INVALID, "CompatibleRuntimes is too long");
	snprintf(l.name, sizeof(l.name), "%s", name);
	snprintf(l.description, sizeof(l.description), "%s", description ? description : "");
	snprintf(l.code_hex, sizeof(l.code_hex), "%s", hex);
	snprintf(l.code_sha256, sizeof(l.code_sha256), "%s", b64);
	snprintf(l.runtimes, sizeof(l.runtimes), "%s", rt);
	l.code_size = code_size;
	now_timestamp(l.created, sizeof(l.created));
	if (tx_begin(reg, err) < 0)
		return -1;
	if (tx_end(reg, publish_layer_locked(reg, &l, err), err) < 0)
		return -1;
	if (out)
		*out = l;
	return 0;
}

int registry_get_layer(struct registry *reg, const char *name, int64_t version,
		       struct layer_version *out, struct api_error *err)
{
	char arn[400];
	int r;

	if (!layer_name_is_valid(name))
		return layer_invalid_name(name, err);
	r = layer_find(reg, name, version, out, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		layer_arn_format(reg, arn, sizeof(arn), name, version);
		return api_error_set(err, API_ERR_NOT_FOUND, "Layer version %s does not exist.", arn);
	}
	return 0;
}

int registry_list_layers(struct registry *reg, const char *name, struct layer_version **out,
			 size_t *n, struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct layer_version *list = NULL;
	size_t len = 0, cap = 0;
	int r;

	if (name && !layer_name_is_valid(name))
		return layer_invalid_name(name, err);
	s = stmt(reg, name ? ST_LAYER_LIST : ST_LAYER_LIST_ALL, err);
	if (!s)
		return -1;
	if (name)
		bind_text(s, 1, name);
	while ((r = step(reg, s, err)) > 0) {
		if (len == cap) {
			struct layer_version *grown = realloc(list, (cap ? cap * 2 : 8) * sizeof(*list));

			if (!grown) {
				r = api_error_set(err, API_ERR_SERVICE, "out of memory");
				break;
			}
			list = grown;
			cap = cap ? cap * 2 : 8;
		}
		layer_from_row(s, &list[len++]);
	}
	if (r < 0) {
		free(list);
		return -1;
	}
	*out = list;
	*n = len;
	return 0;
}

int registry_delete_layer(struct registry *reg, const char *name, int64_t version,
			  struct api_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;

	if (!layer_name_is_valid(name))
		return layer_invalid_name(name, err);
	s = stmt(reg, ST_LAYER_DELETE, err);
	if (!s)
		return -1;
	bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, version);
	return exec_stmt(reg, s, err);
}

json_t *layer_version_to_json(const struct layer_version *l, const char *region,
			      const char *account)
{
	char arn[400], version_arn[420];
	json_t *runtimes = json_loads(l->runtimes[0] ? l->runtimes : "[]", 0, NULL);

	snprintf(arn, sizeof(arn), "arn:aws:lambda:%s:%s:layer:%s", region, account, l->name);
	snprintf(version_arn, sizeof(version_arn), "%s:%" PRId64, arn, l->version);
	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:{s:s, s:I}, s:o}", "LayerArn", arn,
			 "LayerVersionArn", version_arn, "Version", (json_int_t)l->version,
			 "Description", l->description, "CreatedDate", l->created, "Content",
			 "CodeSha256", l->code_sha256, "CodeSize", (json_int_t)l->code_size,
			 "CompatibleRuntimes", runtimes ? runtimes : json_array());
}
