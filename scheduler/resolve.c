/* SPDX-License-Identifier: MIT */
#include "resolve.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "names.h"

#define CACHE_SLOTS 1024	/* a power of two; cleared whole when it fills */

struct entry {
	char *key;		/* "name\0qualifier\0" */
	size_t key_len;
	struct resolved r;
};

static struct entry cache[CACHE_SLOTS];
static unsigned cache_used;
static uint64_t cache_generation;

static void entry_clear(struct entry *e)
{
	free(e->key);
	e->key = NULL;
	function_version_clear(&e->r.v);
}

void resolve_cache_free(void)
{
	for (unsigned i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].key)
			entry_clear(&cache[i]);
	cache_used = 0;
}

static uint64_t hash(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
	return h;
}

const struct resolved *resolve_function(struct daemon *d, const char *function_name,
					const char *qualifier, struct api_error *err)
{
	const struct daemon_config *c = &d->config;
	size_t nlen = strlen(function_name), qlen = qualifier ? strlen(qualifier) : 0;
	size_t len = nlen + qlen + 2;
	char key[NAME_MAX_LEN * 4 + QUALIFIER_MAX_LEN + 256];
	struct function_ref ref;
	struct entry *e;
	uint64_t h = 0;

	if (cache_generation != d->registry_generation) {
		resolve_cache_free();
		cache_generation = d->registry_generation;
	}
	if (len <= sizeof(key)) {
		memcpy(key, function_name, nlen + 1);
		if (qlen)
			memcpy(key + nlen + 1, qualifier, qlen);
		key[nlen + 1 + qlen] = '\0';
		h = hash(key, len);
		for (unsigned probe = 0; probe < CACHE_SLOTS; probe++) {
			e = &cache[(h + probe) & (CACHE_SLOTS - 1)];
			if (!e->key)
				break;
			if (e->key_len == len && !memcmp(e->key, key, len))
				return &e->r;
		}
	}
	/* Miss: parse and look up, then remember. */
	if (name_parse_ref(function_name, qualifier, c->region, c->account, &ref, err) < 0)
		return NULL;
	if (cache_used >= CACHE_SLOTS / 2 || len > sizeof(key))
		resolve_cache_free();
	if (len > sizeof(key))
		return NULL;	/* unreachable: names are bounded by parsing above */
	for (unsigned probe = 0;; probe++) {
		e = &cache[(h + probe) & (CACHE_SLOTS - 1)];
		if (!e->key)
			break;
	}
	memset(&e->r, 0, sizeof(e->r));
	if (registry_get(d->registry, ref.name, ref.qualifier, &e->r.v, &e->r.alias, err) < 0) {
		function_version_clear(&e->r.v);
		return NULL;
	}
	e->r.has_alias = e->r.alias.name[0] != '\0';
	/* Lambda hands the runtime the ARN the caller used: unqualified stays so. */
	name_format_arn(e->r.invoked_arn, sizeof(e->r.invoked_arn), c->region, c->account, ref.name,
			ref.qualifier[0] ? ref.qualifier : NULL);
	e->key = malloc(len);
	if (!e->key) {
		function_version_clear(&e->r.v);
		api_error_set(err, API_ERR_SERVICE, "out of memory");
		return NULL;
	}
	memcpy(e->key, key, len);
	e->key_len = len;
	cache_used++;
	return &e->r;
}
