/* SPDX-License-Identifier: MIT */
#include "oci_store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../images/image.h"
#include "../images/oci.h"
#include "../images/store.h"
#include "client_fs.h"
#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "worker.h"

#define OUT_MAX (256u << 10)

struct oci_job {
	struct daemon *d;
	pid_t pid;
	int fd;
	char *out;
	size_t len;
	char held[65];
	char uri[PATH_MAX];
	oci_store_cb cb;
	void *ctx;
};

/* ---- the child: reads as the client, writes the store as the daemon ---- */

__attribute__((noreturn)) static void child_fail(int fd, const struct image_error *ierr)
{
	dprintf(fd, "error %d %s\n", ierr->refused ? 1 : 0, ierr->message);
	_exit(1);
}

static void child_main(struct daemon *d, const char *uri, uid_t uid, gid_t gid, int fd)
{
	struct client_fs c = {uid, gid};
	struct image_access access = {.enter = client_fs_enter, .leave = client_fs_leave, .ctx = &c};
	struct image_error ierr = {0};
	struct oci_result result = {0};
	struct oci_source src;
	struct image_store *store = NULL;
	struct oci_layout *layout = NULL;
	char pathbuf[PATH_MAX], scratch[PATH_MAX], staging[PATH_MAX];
	int scratch_fd = -1, staging_fd = -1;
	bool existed = false;
	char ack, *config;

	client_fs_adopt_groups(&c);
	if (!oci_parse_uri(uri, pathbuf, sizeof(pathbuf), &src) || src.path[0] != '/') {
		image_error_refuse(
			&ierr, "ImageUri '%.200s' must be oci-archive:/abs/file or oci:/abs/dir",
			uri);
		child_fail(fd, &ierr);
	}
	src.access = &access;
	if (image_store_open(d->images_dir, &store, &ierr) < 0 ||
	    image_store_stage(store, scratch, sizeof(scratch), &scratch_fd, &ierr) < 0)
		child_fail(fd, &ierr);
	if (oci_open(&src, scratch_fd, &layout, &result, &ierr) < 0)
		goto fail;
	/* The daemon holds the digest before anything is committed or found
	 * committed. */
	dprintf(fd, "hold %s\n", result.manifest_hex);
	if (read(fd, &ack, 1) != 1)
		_exit(1);
	if (!image_store_has(store, result.manifest_hex)) {
		if (image_store_stage(store, staging, sizeof(staging), &staging_fd, &ierr) < 0 ||
		    oci_apply(layout, staging_fd, 0, 0, &result, &ierr) < 0 ||
		    image_store_commit(store, staging, result.manifest_hex, &existed, &ierr) < 0)
			goto fail;
	}
	image_store_discard(store, scratch);
	config = json_dumps(result.config, JSON_COMPACT);
	dprintf(fd, "ok %s %llu %s\n", result.manifest_hex, (unsigned long long)result.bytes,
		config ? config : "{}");
	_exit(0);
fail:
	if (staging_fd >= 0)
		image_store_discard(store, staging);
	image_store_discard(store, scratch);
	child_fail(fd, &ierr);
}

/* ---- the daemon's side ---- */

static void job_finish(struct oci_job *job)
{
	struct api_error err = {.type = API_ERR_INVALID};
	struct code_ref ref = {0};
	char *line = job->out, *nl;
	unsigned long long bytes;
	int status = 0, refused = 0, consumed = 0;

	loop_unwatch(job->d->loop, job->fd);
	close(job->fd);
	waitpid(job->pid, &status, 0);
	/* The last line is the outcome. */
	while ((nl = strchr(line, '\n')) && nl[1])
		line = nl + 1;
	if (nl)
		*nl = '\0';
	if (sscanf(line, "ok %64s %llu %n", ref.hex, &bytes, &consumed) == 2 && consumed) {
		json_t *config = json_loads(line + consumed, 0, NULL);
		json_t *image = json_pack("{s:s, s:o}", "ImageUri", job->uri, "ImageConfig",
					  json_is_object(config) ? config : json_object());

		struct image_digest digest;

		ref.size = (int64_t)bytes;
		if (image_digest_parse_hex(ref.hex, &digest))
			snprintf(ref.sha256_b64, sizeof(ref.sha256_b64), "%s", digest.b64);
		job->cb(job->ctx, &ref, image, NULL);
		json_decref(image);
	} else {
		if (sscanf(line, "error %d %n", &refused, &consumed) == 1 && consumed) {
			snprintf(err.message, sizeof(err.message), "%s", line + consumed);
			if (!refused)
				err.type = API_ERR_SERVICE;
		} else {
			err.type = API_ERR_SERVICE;
			snprintf(err.message, sizeof(err.message),
				 "storing the container image failed (status %d)", status);
		}
		job->cb(job->ctx, NULL, NULL, &err);
	}
	/* Recorded by the callback (or not at all): collection may now judge it. */
	if (job->held[0])
		code_store_release(job->d, job->held);
	free(job->out);
	free(job);
}

static void job_readable(struct loop *loop, int fd, unsigned events, void *data)
{
	struct oci_job *job = data;
	ssize_t n;
	char *hold;

	(void)loop;
	(void)events;
	n = read(fd, job->out + job->len, OUT_MAX - 1 - job->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		job->len += n;
		job->out[job->len] = '\0';
		hold = strstr(job->out, "hold ");
		if (hold && !job->held[0] && strchr(hold, '\n')) {
			char ack = 'k';

			snprintf(job->held, sizeof(job->held), "%.64s", hold + 5);
			code_store_hold(job->d, job->held);
			if (write(fd, &ack, 1) != 1)
				log_warn("OCI image unpacking: cannot acknowledge: %s",
					 strerror(errno));
		}
		if (job->len < OUT_MAX - 1)
			return;
	}
	job_finish(job);
}

int oci_store_put(struct daemon *d, const char *uri, uid_t uid, gid_t gid, oci_store_cb cb,
		  void *ctx, struct api_error *err)
{
	struct oci_source src;
	struct oci_job *job;
	char buf[PATH_MAX];
	pid_t pid;
	int fds[2];

	if (!oci_parse_uri(uri, buf, sizeof(buf), &src) || src.path[0] != '/')
		return api_error_set(err, API_ERR_INVALID,
				     "ImageUri '%.200s' must be oci-archive:/absolute/file.tar or "
				     "oci:/absolute/dir (an OCI image layout)",
				     uri);
	job = calloc(1, sizeof(*job));
	if (job)
		job->out = malloc(OUT_MAX);
	if (!job || !job->out || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
		if (job)
			free(job->out);
		free(job);
		return api_error_set(err, API_ERR_SERVICE, "cannot start storing the image: %s",
				     strerror(errno));
	}
	pid = worker_fork(fds);
	if (pid < 0) {
		free(job->out);
		free(job);
		return api_error_set(err, API_ERR_SERVICE, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		child_main(d, uri, uid, gid, fds[1]);
		_exit(1);
	}
	job->d = d;
	job->pid = pid;
	job->fd = fds[0];
	job->cb = cb;
	job->ctx = ctx;
	job->out[0] = '\0';
	snprintf(job->uri, sizeof(job->uri), "%s", uri);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	if (loop_watch(d->loop, fds[0], LOOP_READ, job_readable, job) < 0) {
		kill(pid, SIGKILL);
		job_finish(job);
	}
	return 0;
}

int oci_image_config_param(json_t *param, json_t **out, struct api_error *err)
{
	static const char *const lists[] = {"EntryPoint", "Command"};
	const char *key;
	json_t *v;

	*out = NULL;
	if (!param || json_is_null(param))
		return 0;
	if (!json_is_object(param))
		return api_error_set(
			err, API_ERR_INVALID,
			"ImageConfig must be {\"EntryPoint\": [..], \"Command\": [..], "
			"\"WorkingDirectory\": \"/dir\"}");
	json_object_foreach(param, key, v) {
		bool list = !strcmp(key, lists[0]) || !strcmp(key, lists[1]);
		size_t i;
		json_t *s;

		if (!list && strcmp(key, "WorkingDirectory"))
			return api_error_set(err, API_ERR_INVALID,
					     "ImageConfig has an unknown member '%.100s'", key);
		if (!list && (!json_is_string(v) || json_string_length(v) > 1000))
			return api_error_set(
				err, API_ERR_INVALID,
				"ImageConfig.WorkingDirectory must be a path (a string)");
		if (list && (!json_is_array(v) || json_array_size(v) > 1500))
			return api_error_set(err, API_ERR_INVALID,
					     "ImageConfig.%s must be a list of strings", key);
		json_array_foreach(list ? v : NULL, i, s)
			if (!json_is_string(s) ||
			    strlen(json_string_value(s)) != json_string_length(s))
				return api_error_set(err, API_ERR_INVALID,
						     "ImageConfig.%s must be a list of strings",
						     key);
	}
	*out = json_deep_copy(param);
	return *out ? 0 : api_error_set(err, API_ERR_SERVICE, "out of memory");
}
