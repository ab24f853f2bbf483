/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void config_defaults(struct daemon_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->region, sizeof(c->region), "local");
	snprintf(c->account, sizeof(c->account), "000000000000");
	c->account_concurrency = 1000;
	c->billing_granularity_ms = 1;
	c->price_per_request = 0.20 / 1e6;
	c->price_per_gb_second = 0.0000166667;
	c->free_requests = 1000000;
	c->free_gb_seconds = 400000;
	c->async_retry_delays_ms[0] = 60000;
	c->async_retry_delays_ms[1] = 120000;
	c->n_async_retry_delays = 2;
	c->max_event_age_s = 6 * 3600;
	c->keep_alive_s = 600;
	c->cpu_proportional_to_memory = true;
	c->host_memory_mb = 0;
	c->min_available_mb = 256;
	c->prewarm_headroom = 1.5;
	c->image_max_ratio = 100;
}

static int want_number(json_t *v, const char *key, double min, double max, double *out,
		       char *errbuf, size_t errlen)
{
	if (!json_is_number(v)) {
		snprintf(errbuf, errlen, "config key '%s' must be a number", key);
		return -1;
	}
	*out = json_number_value(v);
	if (!isfinite(*out) || *out < min || *out > max) {
		snprintf(errbuf, errlen, "config key '%s' must be between %g and %g", key, min, max);
		return -1;
	}
	return 0;
}

int config_load(struct daemon_config *c, const char *path, char *errbuf, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *v;
	const char *key;
	double d;
	int r = -1;

	if (!root) {
		snprintf(errbuf, errlen, "config '%s': %s (line %d)", path, jerr.text, jerr.line);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(errbuf, errlen, "config '%s': expected a JSON object", path);
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "Region") || !strcmp(key, "Account")) {
			const char *s = json_string_value(v);
			bool account = key[0] == 'A';

			if (!s || !s[0] || strlen(s) >= (account ? sizeof(c->account) : sizeof(c->region)) ||
			    (account && strspn(s, "0123456789") != 12) ||
			    (!account && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s))) {
				snprintf(errbuf, errlen, account ? "config key 'Account' must be 12 digits"
								 : "config key 'Region' must be like 'us-east-1'");
				goto out;
			}
			snprintf(account ? c->account : c->region,
				 account ? sizeof(c->account) : sizeof(c->region), "%s", s);
		} else if (!strcmp(key, "AccountConcurrency")) {
			if (want_number(v, key, 1, 100000, &d, errbuf, errlen) < 0)
				goto out;
			c->account_concurrency = (uint32_t)d;
		} else if (!strcmp(key, "BillingGranularityMs")) {
			if (want_number(v, key, 1, 60000, &d, errbuf, errlen) < 0)
				goto out;
			c->billing_granularity_ms = (uint32_t)d;
		} else if (!strcmp(key, "PricePerRequest")) {
			if (want_number(v, key, 0, 1e6, &c->price_per_request, errbuf, errlen) < 0)
				goto out;
		} else if (!strcmp(key, "PricePerGbSecond")) {
			if (want_number(v, key, 0, 1e6, &c->price_per_gb_second, errbuf, errlen) < 0)
				goto out;
		} else if (!strcmp(key, "FreeRequests")) {
			if (want_number(v, key, 0, 1e15, &d, errbuf, errlen) < 0)
				goto out;
			c->free_requests = (uint64_t)d;
		} else if (!strcmp(key, "FreeGbSeconds")) {
			if (want_number(v, key, 0, 1e15, &c->free_gb_seconds, errbuf, errlen) < 0)
				goto out;
		} else if (!strcmp(key, "AsyncRetryDelaysMs")) {
			size_t i;
			json_t *item;

			if (!json_is_array(v) || json_array_size(v) > MAX_RETRY_DELAYS) {
				snprintf(errbuf, errlen, "config key 'AsyncRetryDelaysMs' must be a list of at most %d numbers",
					 MAX_RETRY_DELAYS);
				goto out;
			}
			json_array_foreach(v, i, item) {
				if (want_number(item, key, 0, 86400000, &d, errbuf, errlen) < 0)
					goto out;
				c->async_retry_delays_ms[i] = (uint64_t)d;
			}
			c->n_async_retry_delays = (unsigned)json_array_size(v);
		} else if (!strcmp(key, "MaxEventAgeSeconds")) {
			if (want_number(v, key, 60, 21600, &d, errbuf, errlen) < 0)
				goto out;
			c->max_event_age_s = (uint32_t)d;
		} else if (!strcmp(key, "KeepAliveSeconds")) {
			if (want_number(v, key, 0, 86400, &d, errbuf, errlen) < 0)
				goto out;
			c->keep_alive_s = (uint32_t)d;
		} else if (!strcmp(key, "CpuProportionalToMemory")) {
			if (!json_is_boolean(v)) {
				snprintf(errbuf, errlen, "config key '%s' must be true or false", key);
				goto out;
			}
			c->cpu_proportional_to_memory = json_is_true(v);
		} else if (!strcmp(key, "HostMemoryMB")) {
			if (want_number(v, key, 0, 1 << 30, &d, errbuf, errlen) < 0)
				goto out;
			c->host_memory_mb = (uint64_t)d;
		} else if (!strcmp(key, "MinAvailableMB")) {
			if (want_number(v, key, 0, 1 << 30, &d, errbuf, errlen) < 0)
				goto out;
			c->min_available_mb = (uint64_t)d;
		} else if (!strcmp(key, "PrewarmHeadroom")) {
			if (want_number(v, key, 0, 100, &c->prewarm_headroom, errbuf, errlen) < 0)
				goto out;
		} else if (!strcmp(key, "ImageMaxUnpackedMB")) {
			if (want_number(v, key, 1, 1 << 20, &d, errbuf, errlen) < 0)
				goto out;
			c->image_max_bytes = (uint64_t)d << 20;
		} else if (!strcmp(key, "ImageMaxEntries")) {
			if (want_number(v, key, 1, 10000000, &d, errbuf, errlen) < 0)
				goto out;
			c->image_max_entries = (uint32_t)d;
		} else if (!strcmp(key, "ImageMaxRatio")) {
			if (want_number(v, key, 0, 1000000, &d, errbuf, errlen) < 0)
				goto out;
			c->image_max_ratio = (uint32_t)d;
		} else {
			snprintf(errbuf, errlen, "config '%s': unknown key '%s'", path, key);
			goto out;
		}
	}
	r = 0;
out:
	json_decref(root);
	return r;
}
