/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_FUNCTION_EXTRA_H
#define LAMINA_SCHEDULER_FUNCTION_EXTRA_H

/*
 * What a version's extra configuration (registry.h: function_version.extra)
 * means for its instances: the layers' store directories, merged read-only at
 * /opt, and for a container image, its root file system, command, working
 * directory and environment. Loaded once per pool; the layers' images are held
 * while it lives.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "../runtime/sandbox.h"
#include "api_error.h"
#include "registry.h"

struct daemon;

struct function_extra {
	char layer_hex[LR_OPT_LAYERS_MAX][65]; /* held */
	char layer_dir[LR_OPT_LAYERS_MAX][PATH_MAX];
	const char *layer_ptr[LR_OPT_LAYERS_MAX];
	size_t n_layers;
	bool image;  /* the code is the root file system */
	char **argv; /* EntryPoint + Command; NULL-terminated */
	char *cwd;
	char **env; /* the image's Env ("K=V"), NULL-terminated */
};

int function_extra_load(struct daemon *d, const struct function_version *v,
			struct function_extra *x, struct api_error *err);
void function_extra_release(struct daemon *d, struct function_extra *x);
/* Adds the image's Env to a pool's environment: the image's PATH, LANG and
 * LD_LIBRARY_PATH replace lamina's defaults; any other name already set stays.
 */
int function_extra_env(const struct function_extra *x, char ***env, size_t *n_env);
/* Points spec at the layers, or at the image's root, command and directory. */
void function_extra_spec(const struct function_extra *x, const char *code_dir,
			 struct lr_spec *spec);

#endif
