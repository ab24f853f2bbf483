/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_DAEMON_H
#define LAMINA_SCHEDULER_DAEMON_H

/* laminad's top-level state, owned by main() and shared by every module. */

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct loop;
struct registry;
struct server;
struct lr_runtime;
struct functions;
struct logs;
struct ledger;
struct metering;
struct stats;
struct metrics_http;
struct code_store;

struct daemon {
	struct loop *loop;
	struct daemon_config config;
	struct registry *registry;
	struct lr_runtime *runtime;
	struct server *server;
	struct functions *functions;	/* instances, pools and invocations (instance.c) */
	struct logs *logs;
	struct ledger *ledger;		/* billing: one row per invocation */
	struct metering *metering;	/* eBPF probes, or cgroup accounting */
	struct stats *stats;		/* per-version measurements */
	struct metrics_http *metrics_http;	/* --metrics ADDR:PORT */
	struct code_store *code_store;	/* function images (code_store.c) */
	uint64_t started_ns;
	char state_dir[PATH_MAX - 64];
	char images_dir[PATH_MAX];	/* <state>/images */
	char logs_dir[PATH_MAX];	/* <state>/logs */
	char runtimes_dir[PATH_MAX];	/* language runtimes' bootstraps */
	uint32_t first_uid;		/* functions' uids start here */
	uint64_t registry_generation;	/* bumped by every change: invalidates caches */
	bool draining;			/* SIGTERM: no new invocations */
};

#endif
