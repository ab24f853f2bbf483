/* SPDX-License-Identifier: MIT */
#include "code_store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../images/image.h"
#include "../images/store.h"
#include "client_fs.h"
#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "registry.h"
#include "worker.h"

#define PROGRESS_INTERVAL_NS 100000000ll	/* 10 updates a second at most */

struct hold {
	char hex[65];
	unsigned count;
};

struct code_store {
	struct daemon *daemon;
	struct image_store *store;
	unsigned jobs;		/* unpacking children in flight */
	bool gc_pending;
	pid_t purge_pid;	/* deleting the trash, or 0 */
	int purge_fd;
	struct hold *holds;
	size_t n_holds, cap_holds;
};

struct put_job {
	struct code_store *cs;
	pid_t pid;
	int pipe_fd;
	char out[640];
	size_t out_len;
	code_store_cb cb;
	void *ctx;
};

/* ---- limits ---- */

static void limits_of(const struct daemon *d, struct image_limits *l)
{
	image_limits_default(l);
	if (d->config.image_max_bytes)
		l->max_bytes = d->config.image_max_bytes;
	if (d->config.image_max_entries)
		l->max_entries = d->config.image_max_entries;
	l->max_ratio = d->config.image_max_ratio;
}

/* ---- the child: unpack as the client, report one line ---- */

struct child {
	struct client_fs fs;
	int progress_fd;
	struct timespec last;
	uint64_t total;
};

static void progress_write(struct child *c, uint64_t done, uint64_t total, bool force)
{
	struct timespec now;
	char line[64];
	int n;

	if (c->progress_fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && (now.tv_sec - c->last.tv_sec) * 1000000000ll + (now.tv_nsec - c->last.tv_nsec) <
			      PROGRESS_INTERVAL_NS)
		return;
	c->last = now;
	n = snprintf(line, sizeof(line), "%llu %llu\n", (unsigned long long)done,
		     (unsigned long long)total);
	/* Non-blocking: a client that does not read loses updates, never stalls us. */
	if (write(c->progress_fd, line, n) < 0 && errno == EPIPE) {
		close(c->progress_fd);
		c->progress_fd = -1;
	}
}

static void progress_report(void *ctx, uint64_t done, uint64_t total)
{
	struct child *c = ctx;

	c->total = total;
	progress_write(c, done, total, false);
}

/* The client's FIFO, opened as the client: anything else is ignored. */
static int open_progress(struct child *c, const char *path)
{
	struct stat st;
	int fd;

	if (!path || path[0] != '/')
		return -1;
	client_fs_enter(&c->fs);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	client_fs_leave(&c->fs);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe base64, padding optional, whitespace ignored. */
static unsigned char *b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), o = 0;
	unsigned char *out = malloc(n / 4 * 3 + 3);
	unsigned acc = 0;
	int bits = 0;

	if (!out)
		return NULL;
	for (; *s; s++) {
		int v;

		if (*s == '=' || *s == '\n' || *s == '\r' || *s == ' ')
			continue;
		if ((v = b64_value(*s)) < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (acc >> bits) & 0xff;
		}
	}
	*len = o;
	return out;
}

__attribute__((noreturn)) static void child_fail(FILE *out, const struct image_error *ierr,
						 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void child_fail(FILE *out, const struct image_error *ierr, const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "error %d ", ierr ? ierr->refused : 1);
	if (ierr && !fmt) {
		fputs(ierr->message, out);
	} else {
		va_start(ap, fmt);
		vfprintf(out, fmt, ap);
		va_end(ap);
	}
	fputc('\n', out);
	fflush(out);
	_exit(1);
}

static void child_put(struct code_store *cs, const struct code_source *src, uid_t uid, gid_t gid,
		      int out_fd)
{
	struct child c = { .fs = { uid, gid }, .progress_fd = -1 };
	struct image_access access = { .enter = client_fs_enter, .leave = client_fs_leave, .ctx = &c.fs };
	struct image_progress progress = { .report = progress_report, .ctx = &c };
	struct image_source is = { .name = src->path, .dir_fd = -1, .archive_fd = -1, .access = &access };
	struct image_listing listing = { 0 };
	struct image_error ierr = { 0 };
	struct image_limits limits;
	char staging[PATH_MAX];
	int staging_fd;
	bool existed;
	FILE *out = fdopen(out_fd, "w");
	struct stat st;

	if (!out)
		_exit(1);
	client_fs_adopt_groups(&c.fs);
	limits_of(cs->daemon, &limits);
	c.progress_fd = open_progress(&c, src->progress_fifo);
	switch (src->kind) {
	case CODE_DIRECTORY:
		client_fs_enter(&c.fs);
		is.dir_fd = open(src->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		client_fs_leave(&c.fs);
		if (is.dir_fd < 0)
			child_fail(out, NULL, "cannot open code directory '%s': %s", src->path,
				   strerror(errno));
		break;
	case CODE_IMAGE_FILE:
		client_fs_enter(&c.fs);
		/* O_NONBLOCK: a FIFO must not hang us; the type is checked next. */
		is.archive_fd = open(src->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		client_fs_leave(&c.fs);
		if (is.archive_fd < 0)
			child_fail(out, NULL, "cannot open image file '%s': %s", src->path,
				   strerror(errno));
		if (fstat(is.archive_fd, &st) < 0 || !S_ISREG(st.st_mode))
			child_fail(out, NULL, "image file '%s' is not a regular file", src->path);
		fcntl(is.archive_fd, F_SETFL, 0);
		break;
	case CODE_ZIP_FILE:
		is.name = "Code.ZipFile";
		is.data = b64_decode(src->zip_base64, &is.len);
		if (!is.data)
			child_fail(out, NULL, "Code.ZipFile is not valid base64");
		break;
	}
	if (image_store_stage(cs->store, staging, sizeof(staging), &staging_fd, &ierr) < 0)
		child_fail(out, &ierr, NULL);
	if (image_unpack(&is, staging_fd, &limits, &progress, &listing, &ierr) < 0) {
		close(staging_fd);
		image_store_discard(cs->store, staging);
		child_fail(out, &ierr, NULL);
	}
	close(staging_fd);
	if (image_store_commit(cs->store, staging, listing.digest.hex, &existed, &ierr) < 0) {
		image_store_discard(cs->store, staging);
		child_fail(out, &ierr, NULL);
	}
	progress_write(&c, c.total, c.total, true);
	fprintf(out, "ok %s %s %llu\n", listing.digest.hex, listing.digest.b64,
		(unsigned long long)listing.bytes);
	fflush(out);
	_exit(0);
}

/* ---- holds and collection (in the loop) ---- */

static struct hold *hold_find(struct code_store *cs, const char *hex)
{
	for (size_t i = 0; i < cs->n_holds; i++)
		if (!strcmp(cs->holds[i].hex, hex))
			return &cs->holds[i];
	return NULL;
}

static bool in_use(void *ctx, const char *hex)
{
	struct code_store *cs = ctx;
	struct api_error err = { 0 };
	bool used = true;

	if (hold_find(cs, hex))
		return true;
	/* In doubt (the registry failed), it stays. */
	if (registry_code_in_use(cs->daemon->registry, hex, &used, &err) < 0) {
		log_warn("image %s kept: %s", hex, err.message);
		return true;
	}
	return used;
}

static void purge_done(struct loop *loop, int fd, unsigned events, void *data);

static void purge_start(struct code_store *cs)
{
	struct image_error ierr = { 0 };
	int fds[2];
	pid_t pid;

	if (cs->purge_pid || !image_store_has_garbage(cs->store))
		return;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_warn("cannot delete unused images: %s", strerror(errno));
		return;
	}
	pid = worker_fork(fds);
	if (pid < 0) {
		log_warn("cannot delete unused images: fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)	/* if it dies with the daemon, the next one finishes the deletion */
		_exit(image_store_purge(cs->store, &ierr) < 0 ? 1 : 0);
	cs->purge_pid = pid;
	cs->purge_fd = fds[0];
	if (loop_watch(cs->daemon->loop, fds[0], LOOP_READ, purge_done, cs) < 0) {
		/* Cannot wait asynchronously: wait here. */
		purge_done(cs->daemon->loop, fds[0], 0, cs);
	}
}

static void purge_done(struct loop *loop, int fd, unsigned events, void *data)
{
	struct code_store *cs = data;
	int status = 0;

	(void)events;
	loop_unwatch(loop, fd);
	close(fd);
	waitpid(cs->purge_pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		log_warn("deleting unused images failed (status %d): the next start retries", status);
	cs->purge_pid = 0;
	cs->purge_fd = -1;
	/* More may have been marked meanwhile. */
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		purge_start(cs);
}

static void gc_run(struct code_store *cs)
{
	struct image_error ierr = { 0 };
	unsigned moved = 0;

	cs->gc_pending = false;
	if (image_store_collect(cs->store, in_use, cs, &moved, &ierr) < 0)
		log_warn("image garbage collection: %s", ierr.message);
	if (moved)
		log_info("%u unused image(s) collected", moved);
	purge_start(cs);
}

void code_store_collect(struct daemon *d)
{
	struct code_store *cs = d->code_store;

	if (!cs)
		return;
	cs->gc_pending = true;
	if (!cs->jobs)
		gc_run(cs);
}

void code_store_hold(struct daemon *d, const char *hex)
{
	struct code_store *cs = d->code_store;
	struct hold *h;

	if (!cs || !hex || !*hex)
		return;
	if ((h = hold_find(cs, hex))) {
		h->count++;
		return;
	}
	if (cs->n_holds == cs->cap_holds) {
		size_t cap = cs->cap_holds ? cs->cap_holds * 2 : 16;
		struct hold *v = realloc(cs->holds, cap * sizeof(*v));

		if (!v) {
			/* Without the hold the image might go while running: collect no more. */
			log_error("out of memory holding image %s: collection stops", hex);
			cs->jobs++;
			return;
		}
		cs->holds = v;
		cs->cap_holds = cap;
	}
	h = &cs->holds[cs->n_holds++];
	snprintf(h->hex, sizeof(h->hex), "%s", hex);
	h->count = 1;
}

void code_store_release(struct daemon *d, const char *hex)
{
	struct code_store *cs = d->code_store;
	struct hold *h;

	if (!cs || !hex || !(h = hold_find(cs, hex)))
		return;
	if (--h->count)
		return;
	*h = cs->holds[--cs->n_holds];
	if (!d->draining)
		code_store_collect(d);
}

/* ---- the parent's side of a put ---- */

static void job_finish(struct put_job *job)
{
	struct code_store *cs = job->cs;
	struct api_error err = { .type = API_ERR_INVALID };
	struct code_ref ref = { 0 };
	long long size;
	int status, refused;

	loop_unwatch(cs->daemon->loop, job->pipe_fd);
	close(job->pipe_fd);
	waitpid(job->pid, &status, 0);
	job->out[job->out_len] = '\0';
	if (sscanf(job->out, "ok %64s %47s %lld", ref.hex, ref.sha256_b64, &size) == 3) {
		bool used = true;

		ref.size = size;
		job->cb(job->ctx, &ref, NULL);
		/* Stored, then not used (the create failed): garbage. */
		if (registry_code_in_use(cs->daemon->registry, ref.hex, &used, NULL) == 0 && !used)
			cs->gc_pending = true;
	} else {
		char *nl = strchr(job->out, '\n'), *msg;

		if (nl)
			*nl = '\0';
		if (sscanf(job->out, "error %d ", &refused) == 1 && (msg = strchr(job->out + 6, ' '))) {
			snprintf(err.message, sizeof(err.message), "%s", msg + 1);
		} else {
			err.type = API_ERR_SERVICE;
			snprintf(err.message, sizeof(err.message), "storing the code failed (status %d)",
				 status);
		}
		job->cb(job->ctx, NULL, &err);
	}
	free(job);
	if (--cs->jobs == 0 && cs->gc_pending)
		gc_run(cs);
}

static void job_readable(struct loop *loop, int fd, unsigned events, void *data)
{
	struct put_job *job = data;
	ssize_t n;

	(void)loop;
	(void)events;
	n = read(fd, job->out + job->out_len, sizeof(job->out) - 1 - job->out_len);
	if (n > 0) {
		job->out_len += n;
		if (job->out_len < sizeof(job->out) - 1)
			return;
	} else if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
		return;
	}
	job_finish(job);
}

int code_store_parse(json_t *code, struct code_source *out, struct api_error *err)
{
	static const char *const usage =
		"Code must be {\"Directory\": \"/absolute/dir\"}, {\"ImageFile\": \"/absolute/file.zip\"} "
		"(.zip, .tar or .tar.gz) or {\"ZipFile\": \"<base64>\"}";
	const char *dir, *file, *zip;
	json_t *fifo;
	int n;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(code))
		return api_error_set(err, API_ERR_INVALID, "%s", usage);
	dir = json_string_value(json_object_get(code, "Directory"));
	file = json_string_value(json_object_get(code, "ImageFile"));
	zip = json_string_value(json_object_get(code, "ZipFile"));
	n = !!dir + !!file + !!zip;
	if (n != 1)
		return api_error_set(err, API_ERR_INVALID, "%s%s", usage,
				     n > 1 ? ": give exactly one of them" : "");
	fifo = json_object_get(code, "ProgressFifo");
	if (fifo && !json_is_string(fifo))
		return api_error_set(err, API_ERR_INVALID, "Code.ProgressFifo must be an absolute path");
	out->progress_fifo = json_string_value(fifo);
	if (dir) {
		out->kind = CODE_DIRECTORY;
		out->path = dir;
	} else if (file) {
		out->kind = CODE_IMAGE_FILE;
		out->path = file;
	} else {
		out->kind = CODE_ZIP_FILE;
		out->zip_base64 = zip;
		out->path = "Code.ZipFile";
	}
	if (out->kind != CODE_ZIP_FILE && out->path[0] != '/')
		return api_error_set(err, API_ERR_INVALID, "Code.%s '%s' must be an absolute path",
				     dir ? "Directory" : "ImageFile", out->path);
	return 0;
}

int code_store_put(struct daemon *d, const struct code_source *src, uid_t uid, gid_t gid,
		   code_store_cb cb, void *ctx, struct api_error *err)
{
	struct code_store *cs = d->code_store;
	struct put_job *job;
	pid_t pid;
	int fds[2];

	if (!cs)
		return api_error_set(err, API_ERR_SERVICE, "the image store is not open");
	if (src->kind != CODE_ZIP_FILE && (!src->path || src->path[0] != '/'))
		return api_error_set(err, API_ERR_INVALID, "Code.%s '%s' must be an absolute path",
				     src->kind == CODE_DIRECTORY ? "Directory" : "ImageFile",
				     src->path ? src->path : "");
	job = calloc(1, sizeof(*job));
	if (!job || pipe2(fds, O_CLOEXEC) < 0) {
		free(job);
		return api_error_set(err, API_ERR_SERVICE, "cannot start storing code: %s",
				     strerror(errno));
	}
	pid = worker_fork(fds);
	if (pid < 0) {
		free(job);
		return api_error_set(err, API_ERR_SERVICE, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		child_put(cs, src, uid, gid, fds[1]);
		_exit(1);
	}
	cs->jobs++;
	job->cs = cs;
	job->pid = pid;
	job->pipe_fd = fds[0];
	job->cb = cb;
	job->ctx = ctx;
	if (loop_watch(d->loop, fds[0], LOOP_READ, job_readable, job) < 0) {
		/* Cannot wait asynchronously: wait here instead. */
		while (job->out_len < sizeof(job->out) - 1) {
			ssize_t n = read(fds[0], job->out + job->out_len, sizeof(job->out) - 1 - job->out_len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			job->out_len += n;
		}
		job_finish(job);
	}
	return 0;
}

int code_store_snapshot(struct daemon *d, const char *dir, uid_t uid, gid_t gid, code_store_cb cb,
			void *ctx, struct api_error *err)
{
	struct code_source src = { .kind = CODE_DIRECTORY, .path = dir };

	return code_store_put(d, &src, uid, gid, cb, ctx, err);
}

void code_store_path(const struct daemon *d, const char *hex, char *buf, size_t size)
{
	snprintf(buf, size, "%s/sha256/%s", d->images_dir, hex);
}

/* ---- open and close ---- */

int code_store_open(struct daemon *d, struct api_error *err)
{
	struct code_store *cs = calloc(1, sizeof(*cs));
	struct image_error ierr = { 0 };
	unsigned restored = 0;

	if (!cs)
		return api_error_set(err, API_ERR_SERVICE, "out of memory");
	cs->daemon = d;
	cs->purge_fd = -1;
	if (image_store_open(d->images_dir, &cs->store, &ierr) < 0) {
		free(cs);
		return api_error_set(err, API_ERR_SERVICE, "%s", ierr.message);
	}
	d->code_store = cs;
	/* What the last daemon left: staging dirs, a collection cut short. */
	if (image_store_recover(cs->store, in_use, cs, &restored, &ierr) < 0)
		log_warn("image store recovery: %s", ierr.message);
	if (restored)
		log_warn("restored %u image(s) still in use from the trash", restored);
	/* References a crash dropped before their images went. */
	code_store_collect(d);
	return 0;
}

void code_store_close(struct daemon *d)
{
	struct code_store *cs = d->code_store;

	if (!cs)
		return;
	if (cs->purge_pid) {
		/* The next start finishes the deletion. */
		kill(cs->purge_pid, SIGKILL);
		waitpid(cs->purge_pid, NULL, 0);
		if (cs->purge_fd >= 0) {
			loop_unwatch(d->loop, cs->purge_fd);
			close(cs->purge_fd);
		}
	}
	image_store_free(cs->store);
	free(cs->holds);
	free(cs);
	d->code_store = NULL;
}
