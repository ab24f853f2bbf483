/* SPDX-License-Identifier: MIT */
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../runtime/sandbox.h"
#include "code_store.h"
#include "function_extra.h"
#include "daemon.h"
#include "ledger.h"
#include "log.h"
#include "logs.h"
#include "loop.h"
#include "metering.h"
#include "names.h"
#include "request_id.h"
#include "runtime_api.h"
#include "runtimes.h"
#include "scaling.h"
#include "stats.h"

/* Lambda gives a function's init this long before the invocation itself counts. */
#define INIT_ALLOWANCE_MS 10000
#define MAX_CONNS_PER_INSTANCE 16
#define OUTPUT_LINE_MAX 8192
/* 1,769 MB of memory buys one full CPU, as on Lambda. */
#define MB_PER_CPU 1769

enum instance_state {
	INSTANCE_NEW,		/* being set up */
	INSTANCE_STARTING,	/* spawned, has not asked for its first event */
	INSTANCE_IDLE,		/* holding GET /next */
	INSTANCE_BUSY,		/* running an invocation */
	INSTANCE_RETURNING,	/* answered; will ask for the next event */
	INSTANCE_DYING,		/* killed; waiting for its end */
};

struct fn_state;
struct pool;
struct instance;

struct invocation {
	struct functions *f;
	struct pool *pool;
	struct instance *inst;
	char request_id[37];
	char invoked_arn[256];		/* as the caller named it: unqualified, version or alias */
	bool unreserved;		/* counted in the account's shared pool */
	char *payload;
	size_t payload_len;
	uint64_t arrived_ns;
	uint64_t started_ns;
	int64_t started_wall_ms;
	const char *error_type;		/* the failure's errorType, for the ledger */
	struct loop_timer *timer;
	invoke_done_cb cb;
	void *ctx;
	struct invocation *next;	/* in the pool's queue */
};

struct output {
	char buf[OUTPUT_LINE_MAX];
	size_t len;
};

struct instance {
	struct functions *f;
	struct pool *pool;
	struct lr_sandbox *sb;
	int pidfd;
	int listen_fd;
	int out_fd[2];			/* stdout, stderr */
	struct output out[2];
	struct rapi_conn *conns[MAX_CONNS_PER_INSTANCE];
	struct rapi_conn *next_conn;	/* holds GET /next */
	enum instance_state state;
	struct invocation *current;
	uint64_t spawned_ns;
	double init_ms;			/* reported with the first invocation */
	bool report_init;
	struct loop_timer *idle_timer;
	struct metering_probe probe;
	uint64_t commit_bytes;		/* host memory admitted for it (admission.c's unit) */
	char log_stream[96];
	struct instance *prev, *next;	/* pool->instances */
	struct instance *idle_next;	/* pool->idle */
};

struct pool {
	struct fn_state *fn;
	struct function_version v;
	const struct language_runtime *runtime;
	struct version_stats *stats;
	char code_dir[PATH_MAX];
	struct function_extra extra;	/* layers at /opt; a container image's root */
	char runtime_dir[PATH_MAX];
	char **env;			/* shared part of every instance's environment */
	size_t n_env;
	struct instance *instances;
	struct instance *idle;		/* LIFO: the warmest first */
	struct invocation *queue_head, *queue_tail;
	unsigned n_queued, n_instances;
	unsigned n_starting;		/* will ask for a first event */
	unsigned n_returning;		/* answered; will ask for the next event */
	bool retired;
	struct pool *next;
};

struct fn_state {
	struct functions *f;
	char name[NAME_MAX_LEN + 1];
	int netns_fd;
	int reserved;			/* -1: none */
	bool reserved_loaded;
	unsigned inflight;
	struct pool *pools;
	struct fn_state *next;
};

struct pending_report {
	char function[NAME_MAX_LEN + 1];
	char request_id[37];
	double duration_ms, init_ms;
	uint64_t billed_ms, max_memory_mb;
	uint32_t memory_mb;
	bool approximate;
};

struct functions {
	struct daemon *d;
	struct fn_state *fns;
	int own_netns_fd;
	unsigned n_instances;
	unsigned inflight;
	unsigned inflight_unreserved;
	uint64_t sum_reserved;
	uint64_t committed_bytes;	/* host memory admitted for live instances */
	uint64_t budget_bytes;		/* HostMemoryMB, or 90% of MemTotal */
	struct pending_report *reports;	/* END/REPORT lines to write (report_later) */
	size_t n_reports, cap_reports;
	struct loop_timer *prewarm_timer;
};

static const struct rapi_handlers handlers;

/* Instances that will ask for an event soon: queued invocations wait for these rather
 * than start more. A runtime that answers and at once asks for the next event leaves a
 * window in which a new invocation must not start a second instance. */
static unsigned pool_coming(const struct pool *pool)
{
	return pool->n_starting + pool->n_returning;
}

static void instance_set_state(struct instance *inst, enum instance_state state)
{
	struct pool *pool = inst->pool;

	if (inst->state == INSTANCE_STARTING)
		pool->n_starting--;
	else if (inst->state == INSTANCE_RETURNING)
		pool->n_returning--;
	if (state == INSTANCE_STARTING)
		pool->n_starting++;
	else if (state == INSTANCE_RETURNING)
		pool->n_returning++;
	inst->state = state;
}

static void instance_kill(struct instance *inst);
static void instance_destroy(struct instance *inst);
static int instance_spawn(struct pool *pool, struct api_error *err);
static void pool_dispatch(struct pool *pool);
static void pool_maybe_free(struct pool *pool);

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t prewarm_tick(struct loop *loop, struct loop_timer *timer, void *data);

/* ---- functions and pools ---- */

int functions_new(struct daemon *d, struct functions **out)
{
	struct functions *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->d = d;
	f->own_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (f->own_netns_fd < 0) {
		int r = -errno;
		free(f);
		return r;
	}
	f->budget_bytes = d->config.host_memory_mb ? d->config.host_memory_mb << 20
						  : scaling_mem_total() / 10 * 9;
	if (d->config.prewarm_headroom > 0)
		f->prewarm_timer = loop_timer_add(d->loop, SCALING_TICK_MS, prewarm_tick, f);
	*out = f;
	return 0;
}

static struct fn_state *fn_get(struct functions *f, const char *name, bool create)
{
	struct fn_state *fn;

	for (fn = f->fns; fn; fn = fn->next)
		if (!strcmp(fn->name, name))
			return fn;
	if (!create)
		return NULL;
	fn = calloc(1, sizeof(*fn));
	if (!fn)
		return NULL;
	snprintf(fn->name, sizeof(fn->name), "%s", name);
	fn->f = f;
	fn->netns_fd = -1;
	fn->reserved = -1;
	fn->next = f->fns;
	f->fns = fn;
	return fn;
}

static void pool_free(struct pool *pool)
{
	if (pool->code_dir[0])
		code_store_release(pool->fn->f->d, pool->v.code_hex);
	function_extra_release(pool->fn->f->d, &pool->extra);
	for (size_t i = 0; i < pool->n_env; i++)
		free(pool->env[i]);
	free(pool->env);
	function_version_clear(&pool->v);
	free(pool);
}

static int env_add(struct pool *pool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int env_add(struct pool *pool, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	pool->env[pool->n_env++] = s;
	return 0;
}

/* The environment every instance of this version gets (DESIGN.md "Inside an instance"). */
static int pool_build_env(struct pool *pool, const struct daemon_config *c)
{
	const struct function_version *v = &pool->v;
	const char *key;
	json_t *value;
	size_t n = 16 + json_object_size(v->environment);
	int r = 0;

	pool->env = calloc(n + 1, sizeof(char *));
	if (!pool->env)
		return -ENOMEM;
	r |= env_add(pool, "PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin");
	r |= env_add(pool, "LANG=en_US.UTF-8");
	r |= env_add(pool, "TZ=:UTC");
	r |= env_add(pool, "LD_LIBRARY_PATH=/var/task/lib:/opt/lib");
	r |= env_add(pool, "AWS_REGION=%s", c->region);
	r |= env_add(pool, "AWS_DEFAULT_REGION=%s", c->region);
	r |= env_add(pool, "AWS_EXECUTION_ENV=%s", pool->runtime->execution_env);
	r |= env_add(pool, "AWS_LAMBDA_FUNCTION_NAME=%s", v->name);
	r |= env_add(pool, "AWS_LAMBDA_FUNCTION_VERSION=%s", v->version);
	r |= env_add(pool, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%u", v->memory_mb);
	r |= env_add(pool, "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", v->name);
	r |= env_add(pool, "_HANDLER=%s", v->handler);
	r |= env_add(pool, "LAMBDA_TASK_ROOT=/var/task");
	r |= env_add(pool, "LAMBDA_RUNTIME_DIR=/var/runtime");
	/* Reserved names were refused at deploy: the function's own cannot shadow these. */
	json_object_foreach(v->environment, key, value) {
		if (json_is_string(value))
			r |= env_add(pool, "%s=%s", key, json_string_value(value));
	}
	return r ? -ENOMEM : 0;
}

static struct pool *pool_get(struct functions *f, struct fn_state *fn,
			     const struct function_version *v, struct api_error *err)
{
	struct daemon *d = f->d;
	struct pool *pool;

	for (pool = fn->pools; pool; pool = pool->next)
		if (!pool->retired && !strcmp(pool->v.version, v->version) &&
		    !strcmp(pool->v.revision_id, v->revision_id))
			return pool;
	pool = calloc(1, sizeof(*pool));
	if (!pool) {
		api_error_set(err, API_ERR_SERVICE, "out of memory");
		return NULL;
	}
	pool->fn = fn;
	pool->v = *v;
	pool->v.environment = json_deep_copy(v->environment ? v->environment : json_object());
	pool->runtime = runtime_find(v->runtime);
	if (!pool->runtime) {
		api_error_set(err, API_ERR_INVALID, "runtime '%s' is not supported here (supported: %s)",
			      v->runtime, runtime_names());
		pool_free(pool);
		return NULL;
	}
	pool->stats = stats_get(d->stats, v->name, v->version);
	code_store_path(d, v->code_hex, pool->code_dir, sizeof(pool->code_dir));
	code_store_hold(d, v->code_hex);	/* released by pool_free */
	if (pool->runtime->dir)
		snprintf(pool->runtime_dir, sizeof(pool->runtime_dir), "%s/%s", d->runtimes_dir,
			 pool->runtime->dir);
	if (function_extra_load(d, v, &pool->extra, err) < 0) {
		pool_free(pool);
		return NULL;
	}
	if (pool_build_env(pool, &d->config) < 0 ||
	    function_extra_env(&pool->extra, &pool->env, &pool->n_env) < 0) {
		api_error_set(err, API_ERR_SERVICE, "out of memory");
		pool_free(pool);
		return NULL;
	}
	pool->next = fn->pools;
	fn->pools = pool;
	return pool;
}

/* A retired pool goes once its last instance and invocation are gone. */
static void pool_maybe_free(struct pool *pool)
{
	struct pool **pp;

	if (!pool->retired || pool->instances || pool->queue_head)
		return;
	for (pp = &pool->fn->pools; *pp; pp = &(*pp)->next) {
		if (*pp == pool) {
			*pp = pool->next;
			break;
		}
	}
	pool_free(pool);
}

/* ---- invocations ---- */

static void invocation_free(struct invocation *inv)
{
	if (inv->timer)
		loop_timer_cancel(inv->f->d->loop, inv->timer);
	free(inv->payload);
	free(inv);
}

static void queue_remove(struct pool *pool, struct invocation *inv)
{
	struct invocation **pp;

	for (pp = &pool->queue_head; *pp; pp = &(*pp)->next) {
		if (*pp == inv) {
			*pp = inv->next;
			if (pool->queue_tail == inv) {
				pool->queue_tail = NULL;
				for (struct invocation *i = pool->queue_head; i; i = i->next)
					pool->queue_tail = i;
			}
			pool->n_queued--;
			return;
		}
	}
}

static struct invocation *queue_pop(struct pool *pool)
{
	struct invocation *inv = pool->queue_head;

	if (!inv)
		return NULL;
	pool->queue_head = inv->next;
	if (!pool->queue_head)
		pool->queue_tail = NULL;
	pool->n_queued--;
	inv->next = NULL;
	return inv;
}

/* The alias an invocation came through: the qualifier of its ARN when that is neither
 * a version nor $LATEST. */
static void alias_of(const char *arn, char *alias, size_t size)
{
	const char *q = arn;

	alias[0] = '\0';
	/* arn:aws:lambda:region:account:function:name:qualifier */
	for (int colons = 0; colons < 7 && q; colons++) {
		q = strchr(q, ':');
		if (q)
			q++;
	}
	if (q && *q && strcmp(q, "$LATEST") && strspn(q, "0123456789") != strlen(q))
		snprintf(alias, size, "%s", q);
}

/* Bills a finished invocation and feeds what it used to the version's statistics. */
static void account(struct invocation *inv, const struct invocation_result *res)
{
	struct pool *pool = inv->pool;
	struct daemon *d = inv->f->d;
	struct ledger_row row = {
		.start_ms = inv->started_wall_ms,
		.duration_ns = res->duration_ns,
		.billed_ms = res->billed_duration_ms,
		.memory_mb = res->memory_size_mb,
		.max_memory_bytes = res->max_memory_used_bytes,
		.cpu_ns = res->cpu_ns,
		.init_ms = res->init_duration_ms,
		.exact = res->exact,
	};
	struct invocation_figures fig = {
		.duration_ns = res->duration_ns,
		.cpu_ns = res->cpu_ns,
		.peak_bytes = res->max_memory_used_bytes,
		.billed_ms = res->billed_duration_ms,
		.memory_mb = res->memory_size_mb,
		.error = res->function_error != NULL,
		.cold = res->init_duration_ms >= 0,
	};

	memcpy(row.request_id, inv->request_id, sizeof(row.request_id));
	snprintf(row.function, sizeof(row.function), "%s", pool->v.name);
	snprintf(row.version, sizeof(row.version), "%s", pool->v.version);
	alias_of(inv->invoked_arn, row.alias, sizeof(row.alias));
	snprintf(row.outcome, sizeof(row.outcome), "%s",
		 !res->function_error ? "Success" : inv->error_type ? inv->error_type : res->function_error);
	if (d->ledger)
		ledger_record(d->ledger, &row);
	if (pool->stats)
		stats_completed(pool->stats, &fig);
}

/* END and REPORT lines wait until the invoker's reply has gone out (before_sleep):
 * formatting them is not worth a microsecond of anybody's latency. */
static void report_later(struct functions *f, const char *function, const struct invocation_result *res)
{
	struct pending_report *r;

	if (f->n_reports == f->cap_reports) {
		size_t cap = f->cap_reports ? f->cap_reports * 2 : 64;
		struct pending_report *p = realloc(f->reports, cap * sizeof(*p));

		if (!p)
			return;	/* a lost log line, not a lost invocation */
		f->reports = p;
		f->cap_reports = cap;
	}
	r = &f->reports[f->n_reports++];
	snprintf(r->function, sizeof(r->function), "%s", function);
	snprintf(r->request_id, sizeof(r->request_id), "%s", res->request_id);
	r->duration_ms = res->duration_ms;
	r->billed_ms = res->billed_duration_ms;
	r->memory_mb = res->memory_size_mb;
	r->max_memory_mb = (res->max_memory_used_bytes + (1 << 20) - 1) >> 20;
	r->init_ms = res->init_duration_ms;
	r->approximate = res->measured && !res->exact;
}

void functions_write_reports(struct functions *f)
{
	for (size_t i = 0; i < f->n_reports; i++) {
		const struct pending_report *r = &f->reports[i];
		char init[48] = "";

		if (r->init_ms >= 0)
			snprintf(init, sizeof(init), "\tInit Duration: %.2f ms", r->init_ms);
		logs_writef(f->d->logs, r->function, r->request_id, "END RequestId: %s", r->request_id);
		logs_writef(f->d->logs, r->function, r->request_id,
			    "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %" PRIu64
			    " ms\tMemory Size: %u MB\tMax Memory Used: %" PRIu64 " MB%s%s",
			    r->request_id, r->duration_ms, r->billed_ms, r->memory_mb, r->max_memory_mb, init,
			    r->approximate ? "\t(approximate)" : "");
	}
	f->n_reports = 0;
}

/* Calls the invoker back with the result, writes END and REPORT, frees inv. */
static void invocation_complete(struct invocation *inv, const char *function_error,
				const char *payload, size_t len)
{
	struct functions *f = inv->f;
	struct pool *pool = inv->pool;
	struct fn_state *fn = pool->fn;
	struct instance *inst = inv->inst;
	struct invocation_result res = {
		.function_error = function_error,
		.payload = payload,
		.payload_len = len,
		.request_id = inv->request_id,
		.executed_version = pool->v.version,
		.memory_size_mb = pool->v.memory_mb,
		.init_duration_ms = -1,
	};
	uint64_t granularity = f->d->config.billing_granularity_ms;
	struct metered m = { .exact = false };

	if (inst && inv->started_ns) {
		metering_end(f->d->metering, inst->sb, &inst->probe, loop_now_ns(), &m);
		if (inst->report_init) {
			res.init_duration_ms = inst->init_ms;
			inst->report_init = false;
		}
	}
	res.measured = inst && inv->started_ns;
	res.duration_ns = m.duration_ns;
	res.duration_ms = m.duration_ns / 1e6;
	res.cpu_ns = m.cpu_ns;
	res.cpu_time_ms = m.cpu_ns / 1e6;
	res.max_memory_used_bytes = m.peak_bytes;
	res.page_faults = m.page_faults;
	res.ctx_switches = m.ctx_switches;
	res.forks = m.forks;
	res.exits = m.exits;
	res.oom_kills = m.oom_kills;
	res.exact = m.exact;
	/* Billed: the duration rounded up to the granularity (1 ms by default). */
	res.billed_duration_ms = ((m.duration_ns + 999999) / 1000000 + granularity - 1) / granularity * granularity;
	if (res.billed_duration_ms == 0)
		res.billed_duration_ms = granularity;
	report_later(f, fn->name, &res);
	if (res.measured)
		account(inv, &res);
	if (res.measured) {
		/* From now on the instance is charged what its version measurably uses (or
		 * its own peak, if higher) instead of what it was admitted at. */
		uint64_t charge = pool->stats ? scaling_instance_bytes(pool->stats, pool->v.memory_mb) : 0;

		if (m.peak_bytes > charge)
			charge = m.peak_bytes;
		if (inst->state != INSTANCE_DYING) {
			f->committed_bytes = f->committed_bytes - inst->commit_bytes + charge;
			inst->commit_bytes = charge;
		}
	}
	if (inst && inst->current == inv)
		inst->current = NULL;
	fn->inflight--;
	f->inflight--;
	if (inv->unreserved)
		f->inflight_unreserved--;
	inv->cb(inv->ctx, &res);
	invocation_free(inv);
	pool_maybe_free(pool);
}

static void invocation_fail(struct invocation *inv, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void invocation_fail(struct invocation *inv, const char *type, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	json_t *body;
	char *text;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	inv->error_type = type;
	body = json_pack("{s:s, s:s}", "errorType", type, "errorMessage", message);
	text = json_dumps(body, JSON_COMPACT);
	logs_writef(inv->f->d->logs, inv->pool->fn->name, inv->request_id, "%s", message);
	invocation_complete(inv, "Unhandled", text, strlen(text));
	free(text);
	json_decref(body);
}

static int64_t invocation_timed_out(struct loop *loop, struct loop_timer *timer, void *data)
{
	struct invocation *inv = data;
	struct pool *pool = inv->pool;
	struct instance *inst = inv->inst;

	(void)loop;
	(void)timer;
	inv->timer = NULL;	/* freed by the loop on return */
	if (inst) {
		/* The whole instance goes: what it was doing cannot be trusted to stop. */
		inst->current = NULL;
		instance_kill(inst);
	} else {
		queue_remove(pool, inv);
		/* An init that never answers: stop one of the starting instances. */
		if (pool_coming(pool) > pool->n_queued) {
			for (struct instance *i = pool->instances; i; i = i->next)
				if (i->state == INSTANCE_STARTING) {
					instance_kill(i);
					break;
				}
		}
	}
	invocation_fail(inv, "Sandbox.Timedout", "RequestId: %s Error: Task timed out after %u.00 seconds",
			inv->request_id, pool->v.timeout_s);
	return LOOP_TIMER_DONE;
}

/* ---- instances ---- */

static void instance_set_idle_timer(struct instance *inst);

/* The CPU share MemorySize buys: 1,769 MB is one CPU, never below the kernel's floor. */
static uint32_t cpu_share(uint32_t memory_mb)
{
	uint32_t millis = (uint32_t)((uint64_t)memory_mb * 1000 / MB_PER_CPU);

	return millis < 10 ? 10 : millis;
}


static void deliver(struct instance *inst, struct invocation *inv)
{
	struct functions *f = inst->f;
	struct pool *pool = inst->pool;
	uint64_t timeout_ms = (uint64_t)pool->v.timeout_s * 1000;
	struct rapi_conn *c = inst->next_conn;

	if (inst->idle_timer) {
		loop_timer_cancel(f->d->loop, inst->idle_timer);
		inst->idle_timer = NULL;
	}
	inst->next_conn = NULL;
	instance_set_state(inst, INSTANCE_BUSY);
	inst->current = inv;
	inv->inst = inst;
	inv->started_ns = loop_now_ns();
	inv->started_wall_ms = (int64_t)realtime_ms();
	metering_begin(f->d->metering, inst->sb, &inst->probe, inv->started_ns);
	/* The event first; the book-keeping while the instance wakes up. */
	if (rapi_send_event(c, inv->request_id, (uint64_t)inv->started_wall_ms + timeout_ms, inv->invoked_arn, inv->payload,
			    inv->payload_len) < 0) {
		logs_writef(f->d->logs, pool->fn->name, inv->request_id, "START RequestId: %s Version: %s",
			    inv->request_id, pool->v.version);
		inst->current = NULL;
		instance_kill(inst);
		invocation_fail(inv, "Runtime.ExitError",
				"RequestId: %s Error: the runtime closed its connection", inv->request_id);
		return;
	}
	metering_event_sent(f->d->metering, inst->sb, &inst->probe);
	logs_writef(f->d->logs, pool->fn->name, inv->request_id, "START RequestId: %s Version: %s",
		    inv->request_id, pool->v.version);
	if (inv->timer)
		loop_timer_cancel(f->d->loop, inv->timer);
	inv->timer = loop_timer_add(f->d->loop, (int64_t)timeout_ms, invocation_timed_out, inv);
	free(inv->payload);
	inv->payload = NULL;
}

static void idle_remove(struct instance *inst)
{
	struct instance **pp;

	for (pp = &inst->pool->idle; *pp; pp = &(*pp)->idle_next) {
		if (*pp == inst) {
			*pp = inst->idle_next;
			inst->idle_next = NULL;
			return;
		}
	}
}

static void instance_kill(struct instance *inst)
{
	if (inst->state == INSTANCE_DYING)
		return;
	if (inst->state == INSTANCE_IDLE)
		idle_remove(inst);
	instance_set_state(inst, INSTANCE_DYING);
	if (inst->idle_timer) {
		loop_timer_cancel(inst->f->d->loop, inst->idle_timer);
		inst->idle_timer = NULL;
	}
	/* Its memory is as good as free for admission: it ends within milliseconds. */
	inst->f->committed_bytes -= inst->commit_bytes;
	inst->commit_bytes = 0;
	/* Its end arrives on the pidfd; clean-up happens there. */
	lr_sandbox_kill(inst->sb, false, NULL);
}

static int64_t instance_idle_expired(struct loop *loop, struct loop_timer *timer, void *data)
{
	struct instance *inst = data;

	(void)loop;
	(void)timer;
	inst->idle_timer = NULL;
	log_debug("instance of %s:%s idle for %us: stopping", inst->pool->v.name,
		  inst->pool->v.version, inst->f->d->config.keep_alive_s);
	instance_kill(inst);
	return LOOP_TIMER_DONE;
}

static void instance_set_idle_timer(struct instance *inst)
{
	struct daemon *d = inst->f->d;

	if (inst->idle_timer)
		loop_timer_cancel(d->loop, inst->idle_timer);
	inst->idle_timer = loop_timer_add(d->loop, (int64_t)d->config.keep_alive_s * 1000,
					  instance_idle_expired, inst);
}

static void on_next(struct instance *inst, struct rapi_conn *c)
{
	struct pool *pool = inst->pool;

	if (inst->state == INSTANCE_DYING)
		return;
	if (inst->state == INSTANCE_STARTING) {
		inst->init_ms = (loop_now_ns() - inst->spawned_ns) / 1e6;
		inst->report_init = true;
		/* Init ran at full speed; invocations get the CPU share their memory buys. */
		if (inst->f->d->config.cpu_proportional_to_memory)
			lr_sandbox_set_cpu(inst->sb, cpu_share(pool->v.memory_mb), NULL);
	}
	if (inst->current) {
		/* Asked for more without answering: the invocation gets nothing back. */
		struct invocation *inv = inst->current;

		inst->current = NULL;
		invocation_fail(inv, "Runtime.NoResponse",
				"RequestId: %s Error: the runtime asked for the next event without answering this one",
				inv->request_id);
	}
	inst->next_conn = c;
	instance_set_state(inst, INSTANCE_IDLE);
	/* Accepted invocations are served, by a retired version or while draining too. */
	if (pool->queue_head) {
		deliver(inst, queue_pop(pool));
		return;
	}
	if (pool->retired || inst->f->d->draining) {
		instance_kill(inst);
		return;
	}
	inst->idle_next = pool->idle;
	pool->idle = inst;
	instance_set_idle_timer(inst);
}

static void instance_output(struct loop *loop, int fd, unsigned events, void *data);

/* What the handler printed before answering belongs to this invocation: read it
 * before the answer closes the invocation (the pipe and the API socket are separate
 * fds, and epoll may report the socket first). */
static void drain_output(struct instance *inst)
{
	struct pollfd pfd[2] = { { .fd = inst->out_fd[0], .events = POLLIN },
				 { .fd = inst->out_fd[1], .events = POLLIN } };

	/* One poll for both pipes instead of a read that fails on each: they are
	 * usually empty. */
	if (poll(pfd, 2, 0) <= 0)
		return;
	for (int s = 0; s < 2; s++)
		if (inst->out_fd[s] >= 0 && (pfd[s].revents & (POLLIN | POLLHUP | POLLERR)))
			instance_output(inst->f->d->loop, inst->out_fd[s], LOOP_READ, inst);
}

static void on_response(struct instance *inst, const char *request_id, const char *body,
			size_t len, bool too_large)
{
	struct invocation *inv = inst->current;

	if (!inv || strcmp(inv->request_id, request_id)) {
		log_debug("instance answered unknown request '%s'", request_id);
		return;
	}
	drain_output(inst);
	instance_set_state(inst, INSTANCE_RETURNING);
	if (too_large) {
		invocation_fail(inv, "Function.ResponseSizeTooLarge",
				"Response payload size exceeded maximum allowed payload size (6291556 bytes).");
		return;
	}
	invocation_complete(inv, NULL, body, len);
}

static void on_error(struct instance *inst, const char *request_id, const char *body, size_t len,
		     bool handled)
{
	struct invocation *inv = inst->current;
	json_t *parsed;

	if (!inv || strcmp(inv->request_id, request_id))
		return;
	drain_output(inst);
	instance_set_state(inst, INSTANCE_RETURNING);
	parsed = len ? json_loadb(body, len, JSON_ALLOW_NUL, NULL) : NULL;
	if (!parsed) {
		invocation_fail(inv, "Unknown", "RequestId: %s Error: the runtime reported an error without details",
				inv->request_id);
		return;
	}
	json_decref(parsed);
	invocation_complete(inv, handled ? "Handled" : "Unhandled", body, len);
}

static void on_init_error(struct instance *inst, const char *body, size_t len)
{
	struct pool *pool = inst->pool;
	struct invocation *inv = pool->queue_head;
	json_t *parsed = json_loadb(body, len, JSON_ALLOW_NUL, NULL);

	if (inst->state != INSTANCE_STARTING)
		return;
	instance_kill(inst);
	/* The invocation that waited for this init gets its error, as on Lambda. */
	if (inv && pool->n_queued > pool_coming(pool)) {
		queue_remove(pool, inv);
		if (parsed)
			invocation_complete(inv, "Unhandled", body, len);
		else
			invocation_fail(inv, "Runtime.Unknown", "RequestId: %s Error: init failed", inv->request_id);
	}
	json_decref(parsed);
}

static void on_conn_closed(struct instance *inst, struct rapi_conn *c)
{
	for (int i = 0; i < MAX_CONNS_PER_INSTANCE; i++)
		if (inst->conns[i] == c)
			inst->conns[i] = NULL;
	if (inst->next_conn == c) {
		/* It cannot receive an event any more: of no use. */
		inst->next_conn = NULL;
		instance_kill(inst);
	}
	rapi_conn_free(c);
}

static const struct rapi_handlers handlers = {
	.next = on_next,
	.response = on_response,
	.error = on_error,
	.init_error = on_init_error,
	.closed = on_conn_closed,
};

static bool instance_add_conn(struct instance *inst, int fd)
{
	for (int i = 0; i < MAX_CONNS_PER_INSTANCE; i++) {
		if (!inst->conns[i]) {
			inst->conns[i] = rapi_conn_new(inst->f->d->loop, inst, fd, &handlers);
			return inst->conns[i] != NULL;
		}
	}
	return false;
}

static void instance_accept(struct loop *loop, int fd, unsigned events, void *data)
{
	struct instance *inst = data;

	(void)loop;
	(void)events;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c < 0)
			return;
		if (!instance_add_conn(inst, c))
			close(c);
	}
}

static void instance_output(struct loop *loop, int fd, unsigned events, void *data)
{
	struct instance *inst = data;
	int stream = fd == inst->out_fd[0] ? 0 : 1;
	struct output *o = &inst->out[stream];
	const char *rid = inst->current ? inst->current->request_id : NULL;

	(void)events;
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = read(fd, o->buf + o->len, sizeof(o->buf) - o->len);
		size_t start = 0;

		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			/* EOF: the instance is going; what is left is a last line. */
			if (o->len)
				logs_write(inst->f->d->logs, inst->pool->fn->name, rid, o->buf, o->len);
			o->len = 0;
			loop_unwatch(loop, fd);
			close(fd);
			inst->out_fd[stream] = -1;
			return;
		}
		o->len += n;
		for (char *nl; (nl = memchr(o->buf + start, '\n', o->len - start));) {
			logs_write(inst->f->d->logs, inst->pool->fn->name, rid, o->buf + start,
				   nl - (o->buf + start));
			start = nl - o->buf + 1;
		}
		if (start == 0 && o->len == sizeof(o->buf)) {
			/* A line longer than the buffer: log it in pieces. */
			logs_write(inst->f->d->logs, inst->pool->fn->name, rid, o->buf, o->len);
			start = o->len;
		}
		memmove(o->buf, o->buf + start, o->len - start);
		o->len -= start;
	}
}

static const char *signal_text(int sig)
{
	switch (sig) {
	case SIGKILL:
		return "killed";
	case SIGSEGV:
		return "segmentation fault";
	case SIGABRT:
		return "aborted";
	case SIGBUS:
		return "bus error";
	case SIGTERM:
		return "terminated";
	default:
		return strsignal(sig);
	}
}

static void instance_exited(struct loop *loop, int fd, unsigned events, void *data)
{
	struct instance *inst = data;
	struct pool *pool = inst->pool;
	struct lr_result res = { 0 };
	struct invocation *inv = inst->current;
	bool was_starting = inst->state == INSTANCE_STARTING;
	bool was_returning = inst->state == INSTANCE_RETURNING;

	(void)loop;
	(void)fd;
	(void)events;
	if (lr_sandbox_reap(inst->sb, &res, NULL) == -EAGAIN)
		return;
	if (inst->state == INSTANCE_IDLE)
		idle_remove(inst);
	instance_set_state(inst, INSTANCE_DYING);
	inst->current = NULL;
	if (inv) {
		if (res.reason == LR_END_OOM)
			invocation_fail(inv, "Runtime.OutOfMemory",
					"RequestId: %s Error: Runtime exited with error: signal: killed",
					inv->request_id);
		else if (res.reason == LR_END_EXIT)
			invocation_fail(inv, "Runtime.ExitError",
					"RequestId: %s Error: Runtime exited with error: exit status %d",
					inv->request_id, res.exit_code);
		else
			invocation_fail(inv, "Runtime.ExitError",
					"RequestId: %s Error: Runtime exited with error: signal: %s",
					inv->request_id, signal_text(res.signal));
	} else if ((was_starting || was_returning) && pool->queue_head &&
		   pool->n_queued > pool_coming(pool)) {
		/* Died before taking the invocation that waited for it: that one gets the
		 * error (a crash at init, as on Lambda). */
		struct invocation *waiting = queue_pop(pool);

		invocation_fail(waiting, res.reason == LR_END_OOM ? "Runtime.OutOfMemory" : "Runtime.ExitError",
				"RequestId: %s Error: Runtime exited during init with %s %d",
				waiting->request_id, res.reason == LR_END_EXIT ? "exit status" : "signal",
				res.reason == LR_END_EXIT ? res.exit_code : res.signal);
	}
	instance_destroy(inst);
	pool_dispatch(pool);
	pool_maybe_free(pool);
}

static void instance_destroy(struct instance *inst)
{
	struct functions *f = inst->f;
	struct pool *pool = inst->pool;

	if (inst->state == INSTANCE_IDLE)
		idle_remove(inst);
	if (inst->idle_timer)
		loop_timer_cancel(f->d->loop, inst->idle_timer);
	for (int i = 0; i < MAX_CONNS_PER_INSTANCE; i++)
		rapi_conn_free(inst->conns[i]);
	for (int s = 0; s < 2; s++) {
		if (inst->out_fd[s] >= 0) {
			/* Drain what it wrote before it died. */
			instance_output(f->d->loop, inst->out_fd[s], LOOP_READ, inst);
			if (inst->out_fd[s] >= 0) {
				loop_unwatch(f->d->loop, inst->out_fd[s]);
				close(inst->out_fd[s]);
			}
		}
	}
	if (inst->listen_fd >= 0) {
		loop_unwatch(f->d->loop, inst->listen_fd);
		close(inst->listen_fd);
	}
	loop_unwatch(f->d->loop, inst->pidfd);
	metering_untrack(f->d->metering, &inst->probe);
	f->committed_bytes -= inst->commit_bytes;
	lr_sandbox_free(inst->sb);
	if (inst->prev)
		inst->prev->next = inst->next;
	else
		pool->instances = inst->next;
	if (inst->next)
		inst->next->prev = inst->prev;
	pool->n_instances--;
	f->n_instances--;
	free(inst);
}

/* Each function runs under a uid (= gid) of its own, from the registry. */
static uint32_t fn_uid(const struct fn_state *fn, const struct pool *pool)
{
	(void)fn;
	return pool->v.uid;
}

/* A listener on 127.0.0.1 inside the function's network namespace, for runtimes that
 * speak the API at AWS_LAMBDA_RUNTIME_API. Created from here: the socket stays in the
 * namespace it was made in. */
static int listen_in_netns(struct functions *f, int netns_fd, uint16_t *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int fd, r = 0;

	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
		r = -errno;
	if (setns(f->own_netns_fd, CLONE_NEWNET) < 0)
		abort();	/* never serve clients from a function's namespace */
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	*port = ntohs(addr.sin_port);
	return fd;
}

static int instance_spawn(struct pool *pool, struct api_error *err)
{
	struct fn_state *fn = pool->fn;
	struct functions *f = fn->f;
	struct daemon *d = f->d;
	struct instance *inst;
	int sv[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	const char **envp = NULL;
	struct lr_error lerr = { 0 };
	struct lr_bind runtime_bind;
	struct lr_fd_map api_fd;
	struct lr_spec spec;
	struct stat api_st = { 0 };
	char uuid[37], api_env[64], fd_env[32], stream_env[160], day[16];
	uint16_t port = 0;
	time_t now = time(NULL);
	struct tm tm;
	int r;

	if (fn->netns_fd < 0) {
		/* One empty network namespace per function: its instances share loopback,
		 * no other function's instance can reach it. */
		fn->netns_fd = lr_netns_create(&lerr);
		if (fn->netns_fd < 0)
			return api_error_set(err, API_ERR_SERVICE, "%s", lerr.message);
	}
	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	inst->f = f;
	inst->pool = pool;
	inst->pidfd = inst->listen_fd = inst->out_fd[0] = inst->out_fd[1] = -1;
	inst->probe.slot = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		r = api_error_set(err, API_ERR_SERVICE, "instance set-up: %s", strerror(errno));
		goto fail;
	}
	r = listen_in_netns(f, fn->netns_fd, &port);
	if (r < 0) {
		r = api_error_set(err, API_ERR_SERVICE, "runtime API listener: %s", strerror(-r));
		goto fail;
	}
	inst->listen_fd = r;

	request_id_new(uuid);
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y/%m/%d", &tm);
	snprintf(inst->log_stream, sizeof(inst->log_stream), "%s/[%s]%.32s", day, pool->v.version, uuid);
	snprintf(api_env, sizeof(api_env), "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%u", port);
	snprintf(fd_env, sizeof(fd_env), "LAMINA_RUNTIME_FD=3");
	snprintf(stream_env, sizeof(stream_env), "AWS_LAMBDA_LOG_STREAM_NAME=%s", inst->log_stream);
	envp = calloc(pool->n_env + 4, sizeof(char *));
	if (!envp) {
		r = api_error_set(err, API_ERR_SERVICE, "out of memory");
		goto fail;
	}
	memcpy(envp, pool->env, pool->n_env * sizeof(char *));
	envp[pool->n_env] = api_env;
	envp[pool->n_env + 1] = fd_env;
	envp[pool->n_env + 2] = stream_env;

	api_fd = (struct lr_fd_map){ .source = sv[1], .target = 3 };
	runtime_bind = (struct lr_bind){ .source = pool->runtime_dir, .target = "/var/runtime" };
	spec = (struct lr_spec){
		.argv = pool->runtime->argv,
		.envp = envp,
		.code_dir = pool->code_dir,
		.binds = pool->runtime->dir ? &runtime_bind : NULL,
		.n_binds = pool->runtime->dir ? 1 : 0,
		.hostname = "localhost",
		.uid = fn_uid(fn, pool),
		.gid = fn_uid(fn, pool),
		.memory_bytes = (uint64_t)pool->v.memory_mb << 20,
		.pids_max = 1024,
		/* Unlimited during init, as Lambda boosts it; the share applies from the
		 * first event on (on_next). */
		.cpu_millis = 0,
		.tmp_bytes = (uint64_t)pool->v.ephemeral_mb << 20,
		.net = LR_NET_JOIN,
		.netns_fd = fn->netns_fd,
		.stdio = { -1, out[1], errp[1] },
		.fds = &api_fd,
		.n_fds = 1,
	};
	function_extra_spec(&pool->extra, pool->code_dir, &spec);
	fstat(sv[1], &api_st);
	inst->spawned_ns = loop_now_ns();
	r = lr_sandbox_spawn(d->runtime, &spec, &inst->sb, &lerr);
	free(envp);
	envp = NULL;
	close(sv[1]);
	close(out[1]);
	close(errp[1]);
	sv[1] = out[1] = errp[1] = -1;
	if (r < 0) {
		r = api_error_set(err, API_ERR_SERVICE, "cannot start an instance: %s", lerr.message);
		goto fail;
	}
	inst->pidfd = lr_sandbox_pidfd(inst->sb);
	{
		char label[NAME_MAX_LEN + 32];

		snprintf(label, sizeof(label), "%s:%s", pool->v.name, pool->v.version);
		metering_track(d->metering, inst->sb, api_st.st_ino, port, label, &inst->probe);
	}
	inst->commit_bytes = scaling_instance_bytes(pool->stats, pool->v.memory_mb);
	f->committed_bytes += inst->commit_bytes;
	inst->out_fd[0] = out[0];
	inst->out_fd[1] = errp[0];
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	instance_set_state(inst, INSTANCE_STARTING);
	inst->next = pool->instances;
	if (pool->instances)
		pool->instances->prev = inst;
	pool->instances = inst;
	pool->n_instances++;
	f->n_instances++;
	if (!instance_add_conn(inst, sv[0]) ||
	    loop_watch(d->loop, inst->listen_fd, LOOP_READ, instance_accept, inst) < 0 ||
	    loop_watch(d->loop, out[0], LOOP_READ, instance_output, inst) < 0 ||
	    loop_watch(d->loop, errp[0], LOOP_READ, instance_output, inst) < 0 ||
	    loop_watch(d->loop, inst->pidfd, LOOP_READ, instance_exited, inst) < 0) {
		/* Without its watches the instance is unusable: end it now. */
		instance_kill(inst);
		return api_error_set(err, API_ERR_SERVICE, "cannot watch the new instance");
	}
	log_debug("instance of %s:%s started (pid %d)", pool->v.name, pool->v.version,
		  (int)lr_sandbox_pid(inst->sb));
	return 0;
fail:
	free(envp);
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (inst->listen_fd >= 0)
		close(inst->listen_fd);
	free(inst);
	return r;
}

/* Starts instances for queued invocations that no starting instance will take. */
static void pool_dispatch(struct pool *pool)
{
	while (pool->queue_head && pool->idle) {
		struct instance *inst = pool->idle;

		pool->idle = inst->idle_next;
		inst->idle_next = NULL;
		deliver(inst, queue_pop(pool));
	}
	while (pool->n_queued > pool_coming(pool)) {
		struct api_error err = { 0 };

		if (instance_spawn(pool, &err) < 0) {
			struct invocation *inv = pool->queue_tail;

			queue_remove(pool, inv);
			invocation_fail(inv, "Runtime.Unknown", "RequestId: %s Error: %s", inv->request_id,
					err.message);
		}
	}
}

/* ---- the API ---- */

static bool over_concurrency(struct functions *f, struct fn_state *fn, struct api_error *err)
{
	const struct daemon_config *c = &f->d->config;

	if (fn->reserved >= 0) {
		if (fn->inflight >= (unsigned)fn->reserved) {
			api_error_set(err, API_ERR_THROTTLED,
				      "Rate Exceeded. (ReservedFunctionConcurrentInvocationLimitExceeded: %s has %d reserved)",
				      fn->name, fn->reserved);
			return true;
		}
		return false;
	}
	/* Functions without a reservation share what the reservations leave. */
	if (f->inflight_unreserved + f->sum_reserved >= c->account_concurrency) {
		api_error_set(err, API_ERR_THROTTLED,
			      "Rate Exceeded. (ConcurrentInvocationLimitExceeded: account limit %u)",
			      c->account_concurrency);
		return true;
	}
	return false;
}

/* Stops the longest-idle instance anywhere, to make room. */
static bool reap_one_idle(struct functions *f)
{
	for (struct fn_state *fn = f->fns; fn; fn = fn->next)
		for (struct pool *p = fn->pools; p; p = p->next)
			if (p->idle) {
				struct instance *last = p->idle;

				while (last->idle_next)
					last = last->idle_next;
				instance_kill(last);
				return true;
			}
	return false;
}

static struct host_memory host_memory(const struct functions *f)
{
	return (struct host_memory){
		.budget_bytes = f->budget_bytes,
		.min_available_bytes = f->d->config.min_available_mb << 20,
		.committed_bytes = f->committed_bytes,
		.available_bytes = scaling_mem_available(loop_now_ns()),
	};
}

/* May the pool start one more instance? Under pressure, idle instances anywhere are
 * stopped first (scaling.h). */
static bool admit_instance(struct functions *f, struct pool *pool, struct api_error *err)
{
	uint64_t bytes = scaling_instance_bytes(pool->stats, pool->v.memory_mb);
	struct host_memory h = host_memory(f);

	while (!scaling_admit(&h, bytes)) {
		if (!reap_one_idle(f)) {
			api_error_set(err, API_ERR_THROTTLED,
				      "Rate Exceeded. (host memory: %llu MB committed of %llu MB, %llu MB available; "
				      "an instance of %s needs %llu MB)",
				      (unsigned long long)(h.committed_bytes >> 20),
				      (unsigned long long)(h.budget_bytes >> 20),
				      (unsigned long long)(h.available_bytes >> 20), pool->v.name,
				      (unsigned long long)((bytes + (1 << 20) - 1) >> 20));
			return false;
		}
		h = host_memory(f);
	}
	return true;
}

static unsigned pool_live_instances(const struct pool *pool)
{
	unsigned n = 0;

	for (const struct instance *i = pool->instances; i; i = i->next)
		n += i->state != INSTANCE_DYING;
	return n;
}

/* Keeps Little's-law many instances of each busy version started (scaling.h). */
static int64_t prewarm_tick(struct loop *loop, struct loop_timer *timer, void *data)
{
	struct functions *f = data;
	const struct daemon_config *c = &f->d->config;
	uint64_t now = loop_now_ns();

	(void)loop;
	(void)timer;
	if (f->d->draining) {
		f->prewarm_timer = NULL;
		return LOOP_TIMER_DONE;
	}
	for (struct fn_state *fn = f->fns; fn; fn = fn->next) {
		for (struct pool *p = fn->pools; p; p = p->next) {
			unsigned target, live, started = 0;

			if (p->retired || !p->stats || !p->stats->measured ||
			    now - p->stats->rate_at_ns > SCALING_QUIET_NS)
				continue;
			target = scaling_prewarm_target(stats_rate(p->stats, now), p->stats->mean_duration_ms,
							c->prewarm_headroom);
			if (fn->reserved >= 0 && target > (unsigned)fn->reserved)
				target = (unsigned)fn->reserved;
			live = pool_live_instances(p);
			/* A few per tick: a rising rate is followed within ticks, not in a storm. */
			while (live + started < target && started < 4 && f->n_instances < c->account_concurrency) {
				struct host_memory h = host_memory(f);
				struct api_error err = { 0 };

				if (!scaling_admit(&h, scaling_instance_bytes(p->stats, p->v.memory_mb)) ||
				    instance_spawn(p, &err) < 0)
					break;
				started++;
			}
			if (started)
				log_debug("pre-warmed %u instance(s) of %s:%s (target %u)", started, p->v.name,
					  p->v.version, target);
		}
	}
	return SCALING_TICK_MS;
}

int functions_invoke(struct functions *f, const struct function_version *v, const char *invoked_arn,
		     char *payload, size_t payload_len, invoke_done_cb cb, void *ctx,
		     char request_id[37], struct api_error *err)
{
	struct daemon *d = f->d;
	struct fn_state *fn;
	struct pool *pool;
	struct invocation *inv;

	if (d->draining) {
		free(payload);
		return api_error_set(err, API_ERR_SERVICE, "laminad is shutting down");
	}
	fn = fn_get(f, v->name, true);
	if (!fn) {
		free(payload);
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	}
	if (!fn->reserved_loaded) {
		int reserved = -1;

		registry_get_concurrency(d->registry, v->name, &reserved, NULL);
		functions_set_reserved(f, v->name, reserved);
	}
	if (over_concurrency(f, fn, err)) {
		struct version_stats *vs = stats_get(d->stats, v->name, v->version);

		if (vs)
			stats_throttled(vs);
		free(payload);
		return -1;
	}
	pool = pool_get(f, fn, v, err);
	if (!pool) {
		free(payload);
		return -1;
	}
	if (pool->stats)
		stats_arrival(pool->stats, loop_now_ns());
	/* No instance will take it: one must start, if the host can hold it. */
	if (!pool->idle && pool->n_queued >= pool_coming(pool) && !admit_instance(f, pool, err)) {
		if (pool->stats)
			stats_throttled(pool->stats);
		free(payload);
		pool_maybe_free(pool);
		return -1;
	}
	inv = calloc(1, sizeof(*inv));
	if (!inv) {
		free(payload);
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	}
	inv->f = f;
	inv->pool = pool;
	inv->payload = payload;
	inv->payload_len = payload_len;
	inv->cb = cb;
	inv->ctx = ctx;
	inv->arrived_ns = loop_now_ns();
	snprintf(inv->invoked_arn, sizeof(inv->invoked_arn), "%s", invoked_arn);
	request_id_new(inv->request_id);
	memcpy(request_id, inv->request_id, 37);
	fn->inflight++;
	f->inflight++;
	inv->unreserved = fn->reserved < 0;
	if (inv->unreserved)
		f->inflight_unreserved++;

	if (pool->idle) {
		struct instance *inst = pool->idle;

		pool->idle = inst->idle_next;
		inst->idle_next = NULL;
		deliver(inst, inv);
		return 0;
	}
	if (f->n_instances >= d->config.account_concurrency)
		reap_one_idle(f);
	/* Waits for an instance: its init and its run together get the timeout plus
	 * Lambda's init allowance. */
	inv->timer = loop_timer_add(d->loop, (int64_t)v->timeout_s * 1000 + INIT_ALLOWANCE_MS,
				    invocation_timed_out, inv);
	if (pool->queue_tail)
		pool->queue_tail->next = inv;
	else
		pool->queue_head = inv;
	pool->queue_tail = inv;
	pool->n_queued++;
	pool_dispatch(pool);
	return 0;
}

static void pool_retire(struct pool *pool)
{
	pool->retired = true;
	while (pool->idle)
		instance_kill(pool->idle);
	for (struct instance *i = pool->instances; i; i = i->next)
		if (i->state == INSTANCE_STARTING && !pool->queue_head)
			instance_kill(i);
}

void functions_retire(struct functions *f, const char *function, const char *version)
{
	struct fn_state *fn = fn_get(f, function, false);

	if (!fn)
		return;
	for (struct pool *p = fn->pools, *next; p; p = next) {
		next = p->next;
		if (!version || !strcmp(p->v.version, version)) {
			pool_retire(p);
			pool_maybe_free(p);
		}
	}
}

void functions_forget(struct functions *f, const char *function)
{
	struct fn_state *fn = fn_get(f, function, false);

	if (!fn)
		return;
	functions_retire(f, function, NULL);
	/* Pools still finishing an invocation outlive the function's statistics. */
	for (struct pool *p = fn->pools; p; p = p->next)
		p->stats = NULL;
	stats_forget(f->d->stats, function);
	functions_set_reserved(f, function, -1);
	fn->reserved_loaded = false;
}

void functions_set_reserved(struct functions *f, const char *function, int reserved)
{
	struct fn_state *fn = fn_get(f, function, true);

	if (!fn)
		return;
	/* Invocations in flight stay counted where they started (inv->unreserved). */
	if (fn->reserved_loaded && fn->reserved >= 0)
		f->sum_reserved -= fn->reserved;
	if (reserved >= 0)
		f->sum_reserved += reserved;
	fn->reserved = reserved;
	fn->reserved_loaded = true;
}

void functions_counts(const struct functions *f, const char *function, const char *version,
		      struct pool_counts *out)
{
	memset(out, 0, sizeof(*out));
	for (const struct fn_state *fn = f->fns; fn; fn = fn->next) {
		if (function && strcmp(fn->name, function))
			continue;
		for (const struct pool *p = fn->pools; p; p = p->next) {
			if (version && strcmp(p->v.version, version))
				continue;
			for (const struct instance *i = p->instances; i; i = i->next) {
				out->instances++;
				out->idle += i->state == INSTANCE_IDLE;
				out->busy += i->state == INSTANCE_BUSY || i->state == INSTANCE_RETURNING;
				out->starting += i->state == INSTANCE_STARTING;
			}
			out->queued += p->n_queued;
		}
	}
}

uint64_t functions_committed_bytes(const struct functions *f)
{
	return f->committed_bytes;
}

uint64_t functions_budget_bytes(const struct functions *f)
{
	return f->budget_bytes;
}

unsigned functions_instance_count(const struct functions *f)
{
	return f->n_instances;
}

unsigned functions_inflight_count(const struct functions *f)
{
	return f->inflight;
}

void functions_free(struct functions *f)
{
	if (!f)
		return;
	if (f->prewarm_timer)
		loop_timer_cancel(f->d->loop, f->prewarm_timer);
	functions_write_reports(f);
	for (struct fn_state *fn = f->fns, *next_fn; fn; fn = next_fn) {
		next_fn = fn->next;
		for (struct pool *p = fn->pools, *next_p; p; p = next_p) {
			next_p = p->next;
			while (p->queue_head) {
				struct invocation *inv = queue_pop(p);

				invocation_fail(inv, "Runtime.Unknown", "RequestId: %s Error: laminad stopped",
						inv->request_id);
			}
			while (p->instances) {
				struct instance *inst = p->instances;

				if (inst->current) {
					struct invocation *inv = inst->current;

					inst->current = NULL;
					invocation_fail(inv, "Runtime.Unknown",
							"RequestId: %s Error: laminad stopped", inv->request_id);
				}
				instance_set_state(inst, INSTANCE_DYING);
				instance_destroy(inst);	/* lr_sandbox_free kills and waits */
			}
			pool_free(p);
		}
		if (fn->netns_fd >= 0)
			close(fn->netns_fd);
		free(fn);
	}
	functions_write_reports(f);	/* of the invocations failed just above */
	free(f->reports);
	close(f->own_netns_fd);
	free(f);
}
