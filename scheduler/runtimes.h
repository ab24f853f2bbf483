/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_RUNTIMES_H
#define LAMINA_SCHEDULER_RUNTIMES_H

/* The language runtimes an instance can run: how to start each one's bootstrap. */

struct language_runtime {
	const char *name;		/* Lambda's identifier: python3.11, nodejs20.x, java17, … */
	const char *dir;		/* its directory under the runtimes dir, bound at /var/runtime;
					 * NULL: none (provided: the code is the runtime) */
	const char *const argv[4];	/* the bootstrap command inside the instance */
	const char *execution_env;	/* AWS_EXECUTION_ENV */
};

/* NULL for a runtime lamina does not have. */
const struct language_runtime *runtime_find(const char *name);
/* "python3.11, nodejs20.x, java17, dotnet, go, provided" for error messages. */
const char *runtime_names(void);

#endif
