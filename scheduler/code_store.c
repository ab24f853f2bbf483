/* SPDX-License-Identifier: MIT */
#include "code_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"

struct snapshot_job {
	struct daemon *daemon;
	pid_t pid;
	int pipe_fd;
	char out[512];
	size_t out_len;
	code_store_cb cb;
	void *ctx;
};

/* ---- the child: copy, hash, report one line ---- */

struct walk {
	EVP_MD_CTX *tree;	/* hash of the canonical listing */
	uid_t uid;
	gid_t gid;
	int64_t bytes;
	unsigned files;
	char error[400];
};

static void as_client(const struct walk *w)
{
	setfsgid(w->gid);
	setfsuid(w->uid);
}

static void as_daemon(void)
{
	setfsuid(0);
	setfsgid(0);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int copy_file(struct walk *w, int src_dir, int dst_dir, const char *name, mode_t mode,
		     const char *rel)
{
	unsigned char digest[EVP_MAX_MD_SIZE], buf[65536];
	unsigned len;
	EVP_MD_CTX *file = EVP_MD_CTX_new();
	int in, out, r = -1;
	ssize_t n;

	as_client(w);
	in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	as_daemon();
	if (in < 0) {
		snprintf(w->error, sizeof(w->error), "cannot read '%s': %s", rel, strerror(errno));
		EVP_MD_CTX_free(file);
		return -1;
	}
	/* Executable for everyone if executable for anyone; never setuid. */
	out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		     (mode & 0111) ? 0555 : 0444);
	if (out < 0) {
		snprintf(w->error, sizeof(w->error), "cannot store '%s': %s", rel, strerror(errno));
		goto done;
	}
	EVP_DigestInit_ex(file, EVP_sha256(), NULL);
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		w->bytes += n;
		if ((uint64_t)w->bytes > CODE_MAX_BYTES) {
			snprintf(w->error, sizeof(w->error),
				 "code is larger than the maximum of %llu bytes unpacked",
				 CODE_MAX_BYTES);
			goto done;
		}
		EVP_DigestUpdate(file, buf, n);
		if (write(out, buf, n) != n) {
			snprintf(w->error, sizeof(w->error), "cannot store '%s': %s", rel, strerror(errno));
			goto done;
		}
	}
	if (n < 0) {
		snprintf(w->error, sizeof(w->error), "cannot read '%s': %s", rel, strerror(errno));
		goto done;
	}
	EVP_DigestFinal_ex(file, digest, &len);
	EVP_DigestUpdate(w->tree, (mode & 0111) ? "x" : "f", 1);
	EVP_DigestUpdate(w->tree, rel, strlen(rel) + 1);
	EVP_DigestUpdate(w->tree, digest, len);
	r = 0;
done:
	if (out >= 0)
		close(out);
	close(in);
	EVP_MD_CTX_free(file);
	return r;
}

static int copy_dir(struct walk *w, int src_dir, int dst_dir, const char *rel)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *dir;
	int fd, r = 0;

	as_client(w);
	fd = openat(src_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	as_daemon();
	if (fd < 0 || !(dir = fdopendir(fd))) {
		snprintf(w->error, sizeof(w->error), "cannot read directory '%s': %s", rel[0] ? rel : ".",
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), entry_cmp);
	for (size_t i = 0; i < n && r == 0; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
		if (++w->files > CODE_MAX_FILES) {
			snprintf(w->error, sizeof(w->error), "code has more than %d files", CODE_MAX_FILES);
			r = -1;
			break;
		}
		as_client(w);
		r = fstatat(src_dir, names[i], &st, AT_SYMLINK_NOFOLLOW);
		as_daemon();
		if (r < 0) {
			snprintf(w->error, sizeof(w->error), "cannot read '%s': %s", path, strerror(errno));
			break;
		}
		if (S_ISREG(st.st_mode)) {
			r = copy_file(w, src_dir, dst_dir, names[i], st.st_mode, path);
		} else if (S_ISDIR(st.st_mode)) {
			int sub_src, sub_dst;

			as_client(w);
			sub_src = openat(src_dir, names[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			as_daemon();
			if (sub_src < 0 || mkdirat(dst_dir, names[i], 0755) < 0 ||
			    (sub_dst = openat(dst_dir, names[i], O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
				snprintf(w->error, sizeof(w->error), "cannot copy directory '%s': %s", path,
					 strerror(errno));
				if (sub_src >= 0)
					close(sub_src);
				r = -1;
				break;
			}
			EVP_DigestUpdate(w->tree, "d", 1);
			EVP_DigestUpdate(w->tree, path, strlen(path) + 1);
			r = copy_dir(w, sub_src, sub_dst, path);
			close(sub_src);
			fchmod(sub_dst, 0555);
			close(sub_dst);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t len = readlinkat(src_dir, names[i], target, sizeof(target) - 1);

			if (len < 0 || (target[len] = '\0', symlinkat(target, dst_dir, names[i]) < 0)) {
				snprintf(w->error, sizeof(w->error), "cannot copy link '%s': %s", path,
					 strerror(errno));
				r = -1;
				break;
			}
			EVP_DigestUpdate(w->tree, "l", 1);
			EVP_DigestUpdate(w->tree, path, strlen(path) + 1);
			EVP_DigestUpdate(w->tree, target, len + 1);
		} else {
			snprintf(w->error, sizeof(w->error),
				 "'%s' is not a regular file, directory or symbolic link", path);
			r = -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static int remove_tree(const char *path)
{
	char cmd[PATH_MAX + 32];

	/* Staging dirs are ours and read-only by design: chmod first. */
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", path, path);
	return system(cmd);
}

static void child_snapshot(const struct daemon *d, const char *dir, uid_t uid, gid_t gid, int out_fd)
{
	struct walk w = { .uid = uid, .gid = gid };
	unsigned char digest[EVP_MAX_MD_SIZE];
	char staging[PATH_MAX], final[PATH_MAX], hex[65], b64[64];
	unsigned len;
	int src, dst;
	FILE *out = fdopen(out_fd, "w");

	/* The client's supplementary groups decide access too. */
	if (uid != 0) {
		struct passwd *pw = getpwuid(uid);
		gid_t groups[256];
		int ngroups = 256;

		if (pw && getgrouplist(pw->pw_name, gid, groups, &ngroups) >= 0)
			setgroups(ngroups, groups);
		else
			setgroups(1, &gid);
	}
	w.tree = EVP_MD_CTX_new();
	EVP_DigestInit_ex(w.tree, EVP_sha256(), NULL);
	snprintf(staging, sizeof(staging), "%s/tmp/stage-%d", d->images_dir, (int)getpid());
	remove_tree(staging);
	as_client(&w);
	src = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	as_daemon();
	if (src < 0) {
		fprintf(out, "error cannot open code directory '%s': %s\n", dir, strerror(errno));
		_exit(1);
	}
	if (mkdir(staging, 0755) < 0 || (dst = open(staging, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(out, "error cannot create '%s': %s\n", staging, strerror(errno));
		_exit(1);
	}
	if (copy_dir(&w, src, dst, "") < 0) {
		remove_tree(staging);
		fprintf(out, "error %s\n", w.error);
		_exit(1);
	}
	EVP_DigestFinal_ex(w.tree, digest, &len);
	for (unsigned i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	EVP_EncodeBlock((unsigned char *)b64, digest, len);
	snprintf(final, sizeof(final), "%s/sha256/%s", d->images_dir, hex);
	chmod(staging, 0555);
	/* Same content already stored: keep the one there. */
	if (rename(staging, final) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY) {
			fprintf(out, "error cannot store code: %s\n", strerror(errno));
			remove_tree(staging);
			_exit(1);
		}
		remove_tree(staging);
	}
	fprintf(out, "ok %s %s %lld\n", hex, b64, (long long)w.bytes);
	fflush(out);
	_exit(0);
}

/* ---- the parent ---- */

static void job_finish(struct snapshot_job *job)
{
	struct api_error err = { .type = API_ERR_INVALID };
	struct code_ref ref = { 0 };
	long long size;
	int status;

	loop_unwatch(job->daemon->loop, job->pipe_fd);
	close(job->pipe_fd);
	waitpid(job->pid, &status, 0);
	job->out[job->out_len] = '\0';
	if (sscanf(job->out, "ok %64s %47s %lld", ref.hex, ref.sha256_b64, &size) == 3) {
		ref.size = size;
		job->cb(job->ctx, &ref, NULL);
	} else {
		char *nl = strchr(job->out, '\n');

		if (nl)
			*nl = '\0';
		if (!strncmp(job->out, "error ", 6))
			snprintf(err.message, sizeof(err.message), "%s", job->out + 6);
		else
			snprintf(err.message, sizeof(err.message), "storing the code failed (status %d)",
				 status);
		job->cb(job->ctx, NULL, &err);
	}
	free(job);
}

static void job_readable(struct loop *loop, int fd, unsigned events, void *data)
{
	struct snapshot_job *job = data;
	ssize_t n;

	(void)loop;
	(void)events;
	n = read(fd, job->out + job->out_len, sizeof(job->out) - 1 - job->out_len);
	if (n > 0) {
		job->out_len += n;
		if (job->out_len < sizeof(job->out) - 1)
			return;
	} else if (n < 0 && errno == EINTR) {
		return;
	}
	job_finish(job);
}

int code_store_snapshot(struct daemon *d, const char *dir, uid_t uid, gid_t gid, code_store_cb cb,
			void *ctx, struct api_error *err)
{
	struct snapshot_job *job;
	int fds[2];
	pid_t pid;

	if (dir[0] != '/')
		return api_error_set(err, API_ERR_INVALID, "Code.Directory '%s' must be an absolute path",
				     dir);
	job = calloc(1, sizeof(*job));
	if (!job || pipe2(fds, O_CLOEXEC) < 0) {
		free(job);
		return api_error_set(err, API_ERR_SERVICE, "cannot start storing code: %s",
				     strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		free(job);
		return api_error_set(err, API_ERR_SERVICE, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(fds[0]);
		signal(SIGTERM, SIG_DFL);
		child_snapshot(d, dir, uid, gid, fds[1]);
		_exit(1);
	}
	close(fds[1]);
	job->daemon = d;
	job->pid = pid;
	job->pipe_fd = fds[0];
	job->cb = cb;
	job->ctx = ctx;
	if (loop_watch(d->loop, fds[0], LOOP_READ, job_readable, job) < 0) {
		/* Cannot wait asynchronously: wait here instead. */
		job_finish(job);
	}
	return 0;
}

void code_store_path(const struct daemon *d, const char *hex, char *buf, size_t size)
{
	snprintf(buf, size, "%s/sha256/%s", d->images_dir, hex);
}
