/* SPDX-License-Identifier: MIT */
#include "logs.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Lines gather here and go to the file in batches (logs_flush; main.c says when). */
#define LOGS_BUFFER (64u << 10)

struct function_log {
	char name[72];
	int fd;
	uint32_t generation;
	uint64_t size;
	char buf[LOGS_BUFFER];
	size_t buf_len;
	struct function_log *next;
	struct function_log *next_dirty;
	bool dirty;
};

struct logs {
	char dir[4096];
	struct function_log *open;
	struct function_log *dirty;
};

int logs_open(const char *dir, struct logs **out)
{
	struct logs *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	snprintf(l->dir, sizeof(l->dir), "%s", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int r = -errno;
		free(l);
		return r;
	}
	*out = l;
	return 0;
}

static void rotate(struct logs *l, struct function_log *f);

static void flush_one(struct logs *l, struct function_log *f)
{
	size_t off = 0;

	while (off < f->buf_len && f->fd >= 0) {
		ssize_t n = write(f->fd, f->buf + off, f->buf_len - off);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;	/* a full disk loses log lines, never the daemon */
		}
		off += n;
		f->size += n;
	}
	f->buf_len = 0;
	if (f->size >= LOGS_FILE_MAX)
		rotate(l, f);
}

bool logs_pending(const struct logs *l)
{
	return l->dirty != NULL;
}

void logs_flush(struct logs *l)
{
	while (l->dirty) {
		struct function_log *f = l->dirty;

		l->dirty = f->next_dirty;
		f->next_dirty = NULL;
		f->dirty = false;
		flush_one(l, f);
	}
}

void logs_close(struct logs *l)
{
	if (!l)
		return;
	logs_flush(l);
	while (l->open) {
		struct function_log *f = l->open;

		l->open = f->next;
		close(f->fd);
		free(f);
	}
	free(l);
}

/* The newest generation present for function, or 0 if none. */
static uint32_t newest_generation(const char *fdir, uint32_t *oldest)
{
	DIR *d = opendir(fdir);
	struct dirent *e;
	uint32_t newest = 0, low = UINT32_MAX;

	if (!d) {
		*oldest = 0;
		return 0;
	}
	while ((e = readdir(d))) {
		char *end;
		unsigned long g = strtoul(e->d_name, &end, 10);

		if (end != e->d_name && !strcmp(end, ".log")) {
			if (g > newest)
				newest = (uint32_t)g;
			if (g < low)
				low = (uint32_t)g;
		}
	}
	closedir(d);
	*oldest = low == UINT32_MAX ? 0 : low;
	return newest;
}

static int open_generation(struct logs *l, struct function_log *f)
{
	char path[4300];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/%u.log", l->dir, f->name, f->generation);
	f->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return -errno;
	f->size = fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static struct function_log *get_log(struct logs *l, const char *function)
{
	struct function_log *f, **pp;
	char fdir[4200];
	uint32_t oldest;

	for (pp = &l->open; (f = *pp); pp = &f->next) {
		if (!strcmp(f->name, function)) {
			/* Most recently used first. */
			*pp = f->next;
			f->next = l->open;
			l->open = f;
			return f;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	snprintf(f->name, sizeof(f->name), "%s", function);
	snprintf(fdir, sizeof(fdir), "%s/%s", l->dir, function);
	mkdir(fdir, 0700);
	f->generation = newest_generation(fdir, &oldest);
	if (f->generation == 0)
		f->generation = 1;
	if (open_generation(l, f) < 0) {
		free(f);
		return NULL;
	}
	f->next = l->open;
	l->open = f;
	return f;
}

static void rotate(struct logs *l, struct function_log *f)
{
	char old[4300];

	close(f->fd);
	/* Keep the current generation and the one before it. */
	if (f->generation > 1) {
		snprintf(old, sizeof(old), "%s/%s/%u.log", l->dir, f->name, f->generation - 1);
		unlink(old);
	}
	f->generation++;
	if (open_generation(l, f) < 0)
		f->fd = -1;
}

void logs_write(struct logs *l, const char *function, const char *request_id, const char *msg,
		size_t len)
{
	struct function_log *f = get_log(l, function);
	struct timespec ts;
	char head[96];
	int n;

	if (!f || f->fd < 0)
		return;
	if (len > LOGS_LINE_MAX)
		len = LOGS_LINE_MAX;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(head, sizeof(head), "%lld %s ",
		     (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
		     request_id && request_id[0] ? request_id : "-");
	if (f->buf_len + n + len + 1 > sizeof(f->buf))
		flush_one(l, f);
	if (n + len + 1 > sizeof(f->buf)) {
		/* Longer than the buffer: straight to the file. */
		struct iovec iov[3] = { { head, (size_t)n }, { (void *)msg, len }, { "\n", 1 } };

		if (writev(f->fd, iov, 3) > 0)
			f->size += n + len + 1;
		return;
	}
	memcpy(f->buf + f->buf_len, head, n);
	memcpy(f->buf + f->buf_len + n, msg, len);
	f->buf[f->buf_len + n + len] = '\n';
	f->buf_len += n + len + 1;
	if (!f->dirty) {
		f->dirty = true;
		f->next_dirty = l->dirty;
		l->dirty = f;
	}
}

void logs_writef(struct logs *l, const char *function, const char *request_id, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	logs_write(l, function, request_id, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

json_t *logs_read(struct logs *l, const char *function, const char *request_id, uint64_t *token,
		  size_t limit)
{
	json_t *events = json_array();
	char fdir[4200];
	uint32_t oldest, newest, gen;
	uint64_t offset;

	logs_flush(l);
	snprintf(fdir, sizeof(fdir), "%s/%s", l->dir, function);
	newest = newest_generation(fdir, &oldest);
	if (!newest)
		return events;
	gen = (uint32_t)(*token >> 32);
	offset = *token & 0xffffffffu;
	if (gen < oldest || *token == 0) {
		gen = oldest;
		offset = 0;
	}
	while (gen <= newest && json_array_size(events) < limit) {
		char path[4300], *line = NULL;
		size_t cap = 0;
		ssize_t n;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%u.log", fdir, gen);
		f = fopen(path, "re");
		if (!f || fseeko(f, (off_t)offset, SEEK_SET) < 0) {
			if (f)
				fclose(f);
			gen++;
			offset = 0;
			continue;
		}
		while (json_array_size(events) < limit && (n = getline(&line, &cap, f)) > 0) {
			char *rid, *msg;
			long long ms;

			if (line[n - 1] != '\n')
				break;	/* a line still being written */
			offset += n;
			line[n - 1] = '\0';
			ms = strtoll(line, &rid, 10);
			if (*rid != ' ')
				continue;
			rid++;
			msg = strchr(rid, ' ');
			if (!msg)
				continue;
			*msg++ = '\0';
			if (request_id && request_id[0] && strcmp(rid, request_id))
				continue;
			json_t *ev = json_pack("{s:I, s:s}", "Timestamp", (json_int_t)ms, "Message", msg);
			if (strcmp(rid, "-"))
				json_object_set_new(ev, "RequestId", json_string(rid));
			json_array_append_new(events, ev);
		}
		free(line);
		fclose(f);
		if (json_array_size(events) >= limit || gen == newest)
			break;
		gen++;
		offset = 0;
	}
	*token = ((uint64_t)gen << 32) | offset;
	return events;
}

void logs_remove(struct logs *l, const char *function)
{
	struct function_log *f, **pp;
	char cmd[4400];

	logs_flush(l);
	for (pp = &l->open; (f = *pp); pp = &f->next) {
		if (!strcmp(f->name, function)) {
			*pp = f->next;
			close(f->fd);
			free(f);
			break;
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", l->dir, function);
	if (system(cmd) != 0) {
		/* Logs of a deleted function are harmless if they stay. */
	}
}
