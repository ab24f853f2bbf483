/* SPDX-License-Identifier: MIT */
#include "request_id.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static unsigned char pool[4096];
static size_t pool_left;

void request_id_new(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	char *p = out;

	if (pool_left < sizeof(b)) {
		if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool))
			abort();	/* the kernel's CSPRNG does not fail once initialised */
		pool_left = sizeof(pool);
	}
	memcpy(b, pool + sizeof(pool) - pool_left, sizeof(b));
	pool_left -= sizeof(b);
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	*p = '\0';
}
