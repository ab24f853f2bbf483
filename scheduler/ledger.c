/* SPDX-License-Identifier: MIT */
#include "ledger.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "loop.h"

struct ledger {
	sqlite3 *db;
	sqlite3_stmt *insert;
	struct loop *loop;
	struct loop_timer *timer;
	struct ledger_row *pending;
	size_t n_pending, cap_pending;
};

static const char schema[] =
	/* Rows are appended in time order (rowid), so a batch fills fresh pages at the
	 * table's end instead of touching pages all over a tree keyed by random request
	 * ids. Request ids are unique by construction and each row is queued once, so no
	 * unique index is needed to keep a row from being billed twice. */
	"CREATE TABLE IF NOT EXISTS ledger ("
	"  request_id TEXT NOT NULL,"
	"  function TEXT NOT NULL,"
	"  version TEXT NOT NULL,"
	"  alias TEXT,"
	"  start_ms INTEGER NOT NULL,"
	"  duration_ns INTEGER NOT NULL,"
	"  billed_ms INTEGER NOT NULL,"
	"  memory_mb INTEGER NOT NULL,"
	"  max_memory_bytes INTEGER NOT NULL,"
	"  cpu_ns INTEGER NOT NULL,"
	"  init_ms REAL,"
	"  outcome TEXT NOT NULL,"
	"  exact INTEGER NOT NULL"
	");"
	"CREATE INDEX IF NOT EXISTS ledger_by_function_time ON ledger(function, start_ms);";

int ledger_open(const char *db_path, struct loop *loop, struct ledger **out, struct api_error *err)
{
	struct ledger *l = calloc(1, sizeof(*l));
	char *msg = NULL;

	if (!l)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	l->loop = loop;
	if (sqlite3_open_v2(db_path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(l->db, 2000);
	/* NORMAL in WAL mode: a commit is a write() into the WAL, durable against a crash
	 * of this process (not of the machine) without an fsync per batch. */
	if (sqlite3_exec(l->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL, NULL,
			 &msg) != SQLITE_OK ||
	    sqlite3_exec(l->db, schema, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(l->db,
			       "INSERT INTO ledger VALUES (?1, ?2, ?3, NULLIF(?4, ''), ?5, ?6, ?7,"
			       " ?8, ?9, ?10, ?11, ?12, ?13)",
			       -1, &l->insert, NULL) != SQLITE_OK)
		goto fail;
	*out = l;
	return 0;
fail:
	api_error_set(err, API_ERR_SERVICE, "billing ledger '%s': %s", db_path,
		      msg ? msg : l->db ? sqlite3_errmsg(l->db) : "cannot open");
	sqlite3_free(msg);
	sqlite3_finalize(l->insert);
	sqlite3_close(l->db);
	free(l);
	return -1;
}

int ledger_flush(struct ledger *l)
{
	int rc = SQLITE_OK;

	if (!l->n_pending)
		return 0;
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		log_error("billing ledger: cannot begin a batch: %s (%zu rows kept for the next try)",
			  sqlite3_errmsg(l->db), l->n_pending);
		return -1;
	}
	for (size_t i = 0; i < l->n_pending && rc == SQLITE_OK; i++) {
		const struct ledger_row *r = &l->pending[i];
		sqlite3_stmt *s = l->insert;

		sqlite3_bind_text(s, 1, r->request_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, r->function, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, r->version, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, r->alias, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, r->start_ms);
		sqlite3_bind_int64(s, 6, (sqlite3_int64)r->duration_ns);
		sqlite3_bind_int64(s, 7, (sqlite3_int64)r->billed_ms);
		sqlite3_bind_int64(s, 8, r->memory_mb);
		sqlite3_bind_int64(s, 9, (sqlite3_int64)r->max_memory_bytes);
		sqlite3_bind_int64(s, 10, (sqlite3_int64)r->cpu_ns);
		if (r->init_ms >= 0)
			sqlite3_bind_double(s, 11, r->init_ms);
		else
			sqlite3_bind_null(s, 11);
		sqlite3_bind_text(s, 12, r->outcome, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 13, r->exact);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		sqlite3_reset(s);
	}
	if (rc != SQLITE_OK || sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_error("billing ledger: batch of %zu rows not committed: %s", l->n_pending,
			  sqlite3_errmsg(l->db));
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	l->n_pending = 0;
	return 0;
}

static int64_t flush_timer(struct loop *loop, struct loop_timer *timer, void *data)
{
	struct ledger *l = data;

	(void)loop;
	(void)timer;
	l->timer = NULL;
	if (ledger_flush(l) < 0 && l->n_pending) {
		/* The database is busy or failing: try again later, keep the rows. */
		l->timer = timer;
		return 1000;
	}
	return LOOP_TIMER_DONE;
}

void ledger_record(struct ledger *l, const struct ledger_row *row)
{
	if (l->n_pending == l->cap_pending) {
		size_t cap = l->cap_pending ? l->cap_pending * 2 : 64;
		struct ledger_row *p = realloc(l->pending, cap * sizeof(*p));

		if (!p) {
			log_error("billing ledger: out of memory: invocation %s not billed", row->request_id);
			return;
		}
		l->pending = p;
		l->cap_pending = cap;
	}
	l->pending[l->n_pending++] = *row;
	if (l->n_pending >= LEDGER_BATCH_MAX)
		ledger_flush(l);
	else if (!l->timer)
		l->timer = loop_timer_add(l->loop, LEDGER_FLUSH_MS, flush_timer, l);
}

void ledger_close(struct ledger *l)
{
	if (!l)
		return;
	ledger_flush(l);
	if (l->timer)
		loop_timer_cancel(l->loop, l->timer);
	free(l->pending);
	sqlite3_finalize(l->insert);
	sqlite3_close(l->db);
	free(l);
}

int ledger_bill(struct ledger *l, const char *function, int64_t since_ms,
		const struct daemon_config *c, json_t **out, struct api_error *err)
{
	sqlite3_stmt *s = NULL;
	json_t *functions = json_array(), *prices;
	uint64_t requests = 0, billed_ms = 0;
	/* Integer MB-milliseconds: sums are exact whatever the number of rows. */
	uint64_t mb_ms = 0;
	double gb_s, free_gb_s, free_req, request_cost, compute_cost;
	int rc;

	if (ledger_flush(l) < 0) {
		json_decref(functions);
		return api_error_set(err, API_ERR_SERVICE, "billing ledger: cannot commit pending rows");
	}
	if (sqlite3_prepare_v2(l->db,
			       "SELECT function, COUNT(*), SUM(billed_ms * memory_mb), SUM(duration_ns),"
			       " SUM(billed_ms), SUM(cpu_ns) FROM ledger"
			       " WHERE (?1 IS NULL OR function = ?1) AND (?2 < 0 OR start_ms >= ?2)"
			       " GROUP BY function ORDER BY function",
			       -1, &s, NULL) != SQLITE_OK) {
		json_decref(functions);
		return api_error_set(err, API_ERR_SERVICE, "billing ledger: %s", sqlite3_errmsg(l->db));
	}
	if (function)
		sqlite3_bind_text(s, 1, function, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, since_ms);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t n = (uint64_t)sqlite3_column_int64(s, 1);
		uint64_t fn_mb_ms = (uint64_t)sqlite3_column_int64(s, 2);
		uint64_t fn_billed = (uint64_t)sqlite3_column_int64(s, 4);
		double fn_gb_s = fn_mb_ms / 1024.0 / 1000.0;
		double rq = n * c->price_per_request, comp = fn_gb_s * c->price_per_gb_second;

		json_array_append_new(functions,
				      json_pack("{s:s, s:I, s:f, s:f, s:I, s:f, s:f, s:f, s:f}", "FunctionName",
						(const char *)sqlite3_column_text(s, 0), "Requests", (json_int_t)n,
						"GbSeconds", fn_gb_s, "DurationMs",
						sqlite3_column_int64(s, 3) / 1e6, "BilledDurationMs",
						(json_int_t)fn_billed, "CpuTimeMs", sqlite3_column_int64(s, 5) / 1e6,
						"RequestCost", rq, "ComputeCost", comp, "Cost", rq + comp));
		requests += n;
		mb_ms += fn_mb_ms;
		billed_ms += fn_billed;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		json_decref(functions);
		return api_error_set(err, API_ERR_SERVICE, "billing ledger: %s", sqlite3_errmsg(l->db));
	}
	/* The free tier is a monthly allowance; a bill over any span applies it once. */
	gb_s = mb_ms / 1024.0 / 1000.0;
	free_req = requests < c->free_requests ? (double)requests : (double)c->free_requests;
	free_gb_s = gb_s < c->free_gb_seconds ? gb_s : c->free_gb_seconds;
	request_cost = (requests - free_req) * c->price_per_request;
	compute_cost = (gb_s - free_gb_s) * c->price_per_gb_second;
	prices = json_pack("{s:f, s:f, s:I, s:f, s:I}", "PricePerRequest", c->price_per_request,
			   "PricePerGbSecond", c->price_per_gb_second, "FreeRequests",
			   (json_int_t)c->free_requests, "FreeGbSeconds", c->free_gb_seconds,
			   "BillingGranularityMs", (json_int_t)c->billing_granularity_ms);
	*out = json_pack("{s:o, s:o, s:o, s:{s:I, s:f, s:I, s:f, s:f, s:I, s:f, s:f}}", "Since",
			 since_ms >= 0 ? json_real(since_ms / 1000.0) : json_null(), "Prices", prices,
			 "Functions", functions, "Total", "Requests", (json_int_t)requests, "GbSeconds", gb_s,
			 "BilledDurationMs", (json_int_t)billed_ms, "RequestCost", request_cost, "ComputeCost",
			 compute_cost, "FreeRequestsApplied", (json_int_t)free_req, "FreeGbSecondsApplied",
			 free_gb_s, "Cost", request_cost + compute_cost);
	return *out ? 0 : api_error_set(err, API_ERR_SERVICE, "out of memory");
}
