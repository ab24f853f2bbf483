/* SPDX-License-Identifier: MIT */
#include "function_extra.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code_store.h"
#include "daemon.h"

static char **strings_of(json_t *a, json_t *b)
{
	size_t n = json_array_size(a) + json_array_size(b), k = 0, i;
	char **out = calloc(n + 1, sizeof(char *));
	json_t *s;

	if (!out)
		return NULL;
	json_array_foreach(a, i, s)
		if (json_is_string(s) && !(out[k++] = strdup(json_string_value(s))))
			goto fail;
	json_array_foreach(b, i, s)
		if (json_is_string(s) && !(out[k++] = strdup(json_string_value(s))))
			goto fail;
	return out;
fail:
	for (i = 0; i < k; i++)
		free(out[i]);
	free(out);
	return NULL;
}

static void strings_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int function_extra_load(struct daemon *d, const struct function_version *v,
			struct function_extra *x, struct api_error *err)
{
	json_t *extra, *layers, *l, *cfg;
	size_t i;

	memset(x, 0, sizeof(*x));
	if (!v->extra[0])
		return 0;
	extra = json_loads(v->extra, 0, NULL);
	if (!json_is_object(extra)) {
		json_decref(extra);
		return api_error_set(err, API_ERR_SERVICE, "%s:%s: damaged configuration", v->name,
				     v->version);
	}
	layers = json_object_get(extra, "Layers");
	/* The same content twice: only its last place counts (it hides the same
	 * files). */
	json_array_foreach(layers, i, l) {
		const char *hex = json_string_value(json_object_get(l, "Hex"));
		bool later = false;

		for (size_t k = i + 1; hex && k < json_array_size(layers); k++)
			later |= !strcmp(hex, json_string_value(json_object_get(
						      json_array_get(layers, k), "Hex"))
						      ?: "");
		if (!hex || later || x->n_layers == LR_OPT_LAYERS_MAX)
			continue;
		snprintf(x->layer_hex[x->n_layers], sizeof(x->layer_hex[0]), "%s", hex);
		code_store_path(d, hex, x->layer_dir[x->n_layers], sizeof(x->layer_dir[0]));
		x->layer_ptr[x->n_layers] = x->layer_dir[x->n_layers];
		code_store_hold(d, hex);
		x->n_layers++;
	}
	if (json_is_string(json_object_get(extra, "PackageType")) &&
	    !strcmp(json_string_value(json_object_get(extra, "PackageType")), "Image")) {
		json_t *over = json_object_get(extra, "ImageConfigOverride");

		/* The image's own, each part overridden by the function's ImageConfig. */
#define IMAGE_PART(k) (json_object_get(over, k) ?: json_object_get(cfg, k))
		cfg = json_object_get(extra, "ImageConfig");
		x->image = true;
		x->argv = strings_of(IMAGE_PART("EntryPoint"), IMAGE_PART("Command"));
		x->env = strings_of(json_object_get(cfg, "Env"), NULL);
		x->cwd = strdup(json_string_value(IMAGE_PART("WorkingDirectory")) ?: "/");
#undef IMAGE_PART
		if (!x->argv || !x->env || !x->cwd) {
			json_decref(extra);
			function_extra_release(d, x);
			return api_error_set(err, API_ERR_SERVICE, "out of memory");
		}
		if (!x->argv[0]) {
			json_decref(extra);
			function_extra_release(d, x);
			return api_error_set(
				err, API_ERR_INVALID,
				"The container image of %s:%s has neither ENTRYPOINT nor "
				"CMD: nothing to run",
				v->name, v->version);
		}
	}
	json_decref(extra);
	return 0;
}

void function_extra_release(struct daemon *d, struct function_extra *x)
{
	for (size_t i = 0; i < x->n_layers; i++)
		code_store_release(d, x->layer_hex[i]);
	x->n_layers = 0;
	strings_free(x->argv);
	strings_free(x->env);
	free(x->cwd);
	x->argv = x->env = NULL;
	x->cwd = NULL;
}

static bool replaceable(const char *kv)
{
	return !strncmp(kv, "PATH=", 5) || !strncmp(kv, "LANG=", 5) ||
	       !strncmp(kv, "LD_LIBRARY_PATH=", 16);
}

int function_extra_env(const struct function_extra *x, char ***env, size_t *n_env)
{
	size_t extra = 0;
	char **grown;

	if (!x->image || !x->env)
		return 0;
	while (x->env[extra])
		extra++;
	grown = realloc(*env, (*n_env + extra + 1) * sizeof(char *));
	if (!grown)
		return -1;
	*env = grown;
	for (size_t i = 0; i < extra; i++) {
		const char *kv = x->env[i], *eq = strchr(kv, '=');
		size_t k;

		if (!eq || eq == kv)
			continue;
		for (k = 0; k < *n_env; k++)
			if (!strncmp((*env)[k], kv, eq - kv + 1))
				break;
		if (k < *n_env && !replaceable(kv))
			continue;
		if (k < *n_env) {
			char *copy = strdup(kv);

			if (!copy)
				return -1;
			free((*env)[k]);
			(*env)[k] = copy;
		} else {
			if (!((*env)[*n_env] = strdup(kv)))
				return -1;
			(*n_env)++;
		}
	}
	(*env)[*n_env] = NULL;
	return 0;
}

void function_extra_spec(const struct function_extra *x, const char *code_dir, struct lr_spec *spec)
{
	if (x->n_layers) {
		spec->opt_layers = x->layer_ptr;
		spec->n_opt_layers = x->n_layers;
	}
	if (x->image) {
		/* The image is the whole root; no lamina runtime or code bind goes in it.
		 */
		spec->root_dir = code_dir;
		spec->code_dir = NULL;
		spec->binds = NULL;
		spec->n_binds = 0;
		spec->argv = (const char *const *)x->argv;
		spec->cwd = x->cwd;
	}
}
