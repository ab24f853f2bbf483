/* SPDX-License-Identifier: MIT */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

int cgroup_write(int dir_fd, const char *file, const char *value, struct lr_error *err)
{
	/* O_TRUNC as a shell's '>' does: ignored by cgroupfs, right for a fake tree. */
	_cleanup_close_ int fd = openat(dir_fd, file, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(value);

	if (fd < 0)
		return lr_error_set(err, errno, "open cgroup file '%s'", file);
	if (write(fd, value, len) != (ssize_t)len)
		return lr_error_set(err, errno ? errno : EIO, "write '%s' to cgroup file '%s'",
				    value, file);
	return 0;
}

int cgroup_read(int dir_fd, const char *file, char *buf, size_t size, struct lr_error *err)
{
	_cleanup_close_ int fd = openat(dir_fd, file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return lr_error_set(err, errno, "open cgroup file '%s'", file);
	n = read(fd, buf, size - 1);
	if (n < 0)
		return lr_error_set(err, errno, "read cgroup file '%s'", file);
	buf[n] = '\0';
	return (int)n;
}

int cgroup_read_key(int dir_fd, const char *file, const char *key, uint64_t *value,
		    struct lr_error *err)
{
	char buf[4096];
	size_t key_len = strlen(key);
	int r = cgroup_read(dir_fd, file, buf, sizeof(buf), err);

	if (r < 0)
		return r;
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, key_len) == 0 && line[key_len] == ' ') {
			*value = strtoull(line + key_len + 1, NULL, 10);
			return 0;
		}
	}
	*value = 0;	/* older kernels lack some keys: treat as never happened */
	return 0;
}

int cgroup_read_u64(int dir_fd, const char *file, uint64_t *value, struct lr_error *err)
{
	char buf[64];
	int r = cgroup_read(dir_fd, file, buf, sizeof(buf), err);

	if (r < 0)
		return r;
	errno = 0;
	*value = strtoull(buf, NULL, 10);
	if (errno)
		return lr_error_set(err, errno, "parse cgroup file '%s'", file);
	return 0;
}

static bool path_exists(const char *root, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return access(path, F_OK) == 0;
}

int cgroup_detect(const char *root, const struct cgroup_backend **out, struct lr_error *err)
{
	char path[512], controllers[512] = "";
	FILE *f;

	/* A pure v2 mount: the root itself is a cgroup2 hierarchy with the controllers. */
	snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(controllers, sizeof(controllers), f))
			controllers[0] = '\0';
		fclose(f);
		if (strstr(controllers, "memory") && strstr(controllers, "pids") &&
		    strstr(controllers, "cpu")) {
			*out = &cgroup_backend_v2;
			return 0;
		}
	}
	if (path_exists(root, "memory/memory.limit_in_bytes") && path_exists(root, "pids/cgroup.procs") &&
	    path_exists(root, "cpu/cpu.cfs_quota_us")) {
		*out = &cgroup_backend_v1_hybrid;
		return 0;
	}
	return lr_error_invalid(err, ENOTSUP,
				"no usable cgroup hierarchy under '%s': need cgroup v2 with memory, "
				"pids and cpu, or v1 memory, pids and cpu controllers",
				root);
}

/* mkdir -p of parent under one hierarchy; on v2, also delegates the controllers down. */
static int manager_open_parent(struct cgroup_manager *m, enum cgroup_dir d, struct lr_error *err)
{
	const char *dir = m->backend->dir_path[d];
	bool delegate = m->backend == &cgroup_backend_v2;
	char path[768], *p;

	snprintf(path, sizeof(path), "%s/%s/%s", m->root, dir, m->parent);
	p = path + strlen(m->root) + 1 + strlen(dir);
	for (;;) {
		char *slash = strchr(p + 1, '/');

		if (delegate) {
			/* Enabling a controller already on is a no-op write; an error here
			 * (a v2 root managed by someone else) shows at the first limit. */
			char ctl[800];
			*p = '\0';
			snprintf(ctl, sizeof(ctl), "%s/cgroup.subtree_control", path);
			int fd = open(ctl, O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (write(fd, "+memory +pids +cpu", 18) < 0) { /* reported later */ }
				close(fd);
			}
			*p = '/';
		}
		if (slash)
			*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return lr_error_set(err, errno, "create cgroup '%s'", path);
		if (!slash)
			break;
		*slash = '/';
		p = slash;
	}
	if (m->parent_fd[d] >= 0)
		close(m->parent_fd[d]);
	m->parent_fd[d] = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (m->parent_fd[d] < 0)
		return lr_error_set(err, errno, "open cgroup '%s'", path);
	if (delegate) {
		_cleanup_close_ int fd = openat(m->parent_fd[d], "cgroup.subtree_control",
						O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "+memory +pids +cpu", 18) < 0)
			return lr_error_set(err, errno, "enable memory, pids, cpu controllers in '%s'",
					    path);
	}
	return 0;
}

int cgroup_manager_init(struct cgroup_manager *m, const char *root, const char *parent,
			bool remove_parent, struct lr_error *err)
{
	int r;

	memset(m, 0, sizeof(*m));
	for (int d = 0; d < CGROUP_DIR_COUNT; d++)
		m->parent_fd[d] = -1;
	if (!parent[0] || parent[0] == '/' || strstr(parent, ".."))
		return lr_error_invalid(err, EINVAL,
					"cgroup parent '%s' must be a relative path without '..'",
					parent);
	if (snprintf(m->root, sizeof(m->root), "%s", root) >= (int)sizeof(m->root) ||
	    snprintf(m->parent, sizeof(m->parent), "%s", parent) >= (int)sizeof(m->parent))
		return lr_error_invalid(err, ENAMETOOLONG, "cgroup path too long");
	m->remove_parent = remove_parent;
	r = cgroup_detect(root, &m->backend, err);
	if (r < 0)
		return r;
	for (int d = 0; d < CGROUP_DIR_COUNT; d++) {
		const char *dir = m->backend->dir_path[d];
		char probe[300];

		if (!dir)
			continue;
		/* The unified tree of a hybrid host is optional: without it the sandbox
		 * is still killed as a whole through its pid namespace. */
		snprintf(probe, sizeof(probe), "%s/cgroup.procs", dir[0] ? dir : ".");
		if (d == CGROUP_DIR_UNIFIED && m->backend != &cgroup_backend_v2 &&
		    !path_exists(root, probe))
			continue;
		r = manager_open_parent(m, d, err);
		if (r < 0) {
			cgroup_manager_fini(m);
			return r;
		}
	}
	return 0;
}

void cgroup_manager_fini(struct cgroup_manager *m)
{
	for (int d = 0; d < CGROUP_DIR_COUNT; d++) {
		if (m->parent_fd[d] < 0)
			continue;
		close(m->parent_fd[d]);
		m->parent_fd[d] = -1;
		if (m->remove_parent) {
			char path[768];

			/* Fails with EBUSY while another runtime still has sandboxes there. */
			snprintf(path, sizeof(path), "%s/%s/%s", m->root, m->backend->dir_path[d],
				 m->parent);
			rmdir(path);
		}
	}
}

static void cgroup_remove_dirs(struct cgroup *cg, int upto)
{
	struct cgroup_manager *m = cg->manager;

	for (int d = 0; d < upto; d++) {
		if (cg->procs_fd[d] >= 0)
			close(cg->procs_fd[d]);
		cg->procs_fd[d] = -1;
		if (cg->dir_fd[d] < 0)
			continue;
		close(cg->dir_fd[d]);
		cg->dir_fd[d] = -1;
		/* A v1 cgroup whose last task is still exiting refuses rmdir for a moment. */
		for (int tries = 0; tries < 500; tries++) {
			if (unlinkat(m->parent_fd[d], cg->name, AT_REMOVEDIR) == 0 || errno == ENOENT)
				break;
			if (errno != EBUSY)
				break;
			nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
		}
	}
}

int cgroup_create(struct cgroup_manager *m, struct cgroup **out, struct lr_error *err)
{
	struct cgroup *cg = calloc(1, sizeof(*cg));
	int r = 0;

	if (!cg)
		return lr_error_set(err, ENOMEM, "allocate cgroup");
	cg->manager = m;
	cg->peak_fd = -1;
	cg->cpu_stat_fd = -1;
	snprintf(cg->name, sizeof(cg->name), "sbx-%d-%lu", (int)getpid(), m->next_id++);
	for (int d = 0; d < CGROUP_DIR_COUNT; d++)
		cg->dir_fd[d] = cg->procs_fd[d] = -1;
	for (int d = 0; d < CGROUP_DIR_COUNT; d++) {
		if (m->parent_fd[d] < 0)
			continue;
		r = mkdirat(m->parent_fd[d], cg->name, 0755);
		if (r < 0 && errno == ENOENT) {
			/* Another runtime removed the shared parent as it emptied: recreate. */
			r = manager_open_parent(m, d, err);
			if (r < 0)
				goto fail;
			r = mkdirat(m->parent_fd[d], cg->name, 0755);
		}
		if (r < 0 && errno != EEXIST) {
			r = lr_error_set(err, errno, "create cgroup '%s/%s/%s'",
					 m->backend->dir_path[d], m->parent, cg->name);
			goto fail;
		}
		cg->dir_fd[d] = openat(m->parent_fd[d], cg->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cg->dir_fd[d] < 0) {
			r = lr_error_set(err, errno, "open cgroup '%s'", cg->name);
			goto fail;
		}
		cg->procs_fd[d] = openat(cg->dir_fd[d], "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (cg->procs_fd[d] < 0) {
			r = lr_error_set(err, errno, "open '%s/cgroup.procs'", cg->name);
			goto fail;
		}
	}
	*out = cg;
	return 0;
fail:
	cgroup_remove_dirs(cg, CGROUP_DIR_COUNT);
	free(cg);
	return r;
}

int cgroup_apply(struct cgroup *cg, const struct cgroup_limits *limits, struct lr_error *err)
{
	const struct cgroup_backend *b = cg->manager->backend;

	/* A pooled cgroup usually serves the same function again: same limits. */
	if (!cg->limits_valid || memcmp(&cg->limits, limits, sizeof(*limits))) {
		int r = b->set_limits(cg, limits, err);

		cg->limits_valid = r == 0;
		if (r < 0)
			return r;
		cg->limits = *limits;
	}
	return b->begin(cg, err);
}

int cgroup_attach(struct cgroup *cg, pid_t pid, struct lr_error *err)
{
	char value[16];
	int n = snprintf(value, sizeof(value), "%d", (int)pid);

	for (int d = 0; d < CGROUP_DIR_COUNT; d++) {
		if (cg->procs_fd[d] >= 0 && write(cg->procs_fd[d], value, n) != n)
			return lr_error_set(err, errno, "move pid %d into cgroup '%s'", (int)pid,
					    cg->name);
	}
	return 0;
}

int cgroup_enter_self(const struct cgroup *cg)
{
	/* "0" names the writer, in v1 and v2 alike. */
	for (int d = 0; d < CGROUP_DIR_COUNT; d++) {
		if (cg->procs_fd[d] >= 0 && write(cg->procs_fd[d], "0", 1) != 1)
			return -errno;
	}
	return 0;
}

int cgroup_kill(struct cgroup *cg, struct lr_error *err)
{
	return cg->manager->backend->kill(cg, err);
}

int cgroup_stats(struct cgroup *cg, struct cgroup_stats *stats, struct lr_error *err)
{
	int r = cg->manager->backend->stats(cg, stats, err);

	/* cpu.stat is a core file of every v2 cgroup, controllers or not: the unified
	 * cgroup gives CPU time on both backends. */
	uint64_t peak;

	if (r < 0)
		return r;
	return cgroup_usage(cg, &peak, &stats->cpu_usec, err);
}

int cgroup_reset_peak(struct cgroup *cg, struct lr_error *err)
{
	return cg->manager->backend->reset_peak(cg, err);
}

int cgroup_set_cpu(struct cgroup *cg, uint32_t cpu_millis, struct lr_error *err)
{
	int r = cg->manager->backend->set_cpu(cg, cpu_millis, err);

	if (r == 0)
		cg->limits.cpu_millis = cpu_millis;
	else
		cg->limits_valid = false;
	return r;
}

int cgroup_pread_key(int fd, const char *key, uint64_t *value)
{
	char buf[1024];
	size_t key_len = strlen(key);
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, key_len) == 0 && line[key_len] == ' ') {
			*value = strtoull(line + key_len + 1, NULL, 10);
			return 0;
		}
	}
	*value = 0;
	return 0;
}

int cgroup_usage(struct cgroup *cg, uint64_t *peak, uint64_t *cpu_usec, struct lr_error *err)
{
	int r = peak ? cg->manager->backend->read_peak(cg, peak, err) : 0;

	*cpu_usec = 0;
	if (r < 0 || cg->dir_fd[CGROUP_DIR_UNIFIED] < 0)
		return r;
	if (cg->cpu_stat_fd < 0) {
		cg->cpu_stat_fd = openat(cg->dir_fd[CGROUP_DIR_UNIFIED], "cpu.stat", O_RDONLY | O_CLOEXEC);
		if (cg->cpu_stat_fd < 0)
			return lr_error_set(err, errno, "open cgroup file 'cpu.stat'");
	}
	r = cgroup_pread_key(cg->cpu_stat_fd, "usage_usec", cpu_usec);
	return r < 0 ? lr_error_set(err, -r, "read cgroup file 'cpu.stat'") : 0;
}

int cgroup_usage_peak(struct cgroup *cg, uint64_t *peak, struct lr_error *err)
{
	return cg->manager->backend->read_peak(cg, peak, err);
}

bool cgroup_is_empty(struct cgroup *cg)
{
	for (int d = 0; d < CGROUP_DIR_COUNT; d++) {
		char buf[16];

		if (cg->dir_fd[d] < 0)
			continue;
		if (cgroup_read(cg->dir_fd[d], "cgroup.procs", buf, sizeof(buf), NULL) != 0)
			return false;
	}
	return true;
}

int cgroup_destroy(struct cgroup *cg, struct lr_error *err)
{
	(void)err;
	if (!cg)
		return 0;
	if (cg->peak_fd >= 0)
		close(cg->peak_fd);
	if (cg->cpu_stat_fd >= 0)
		close(cg->cpu_stat_fd);
	cgroup_remove_dirs(cg, CGROUP_DIR_COUNT);
	free(cg);
	return 0;
}

/* The runtime that made "sbx-<pid>-<n>" is gone when <pid> no longer exists. */
static bool owner_is_gone(const char *name)
{
	char *end;
	long pid;

	if (strncmp(name, "sbx-", 4) != 0)
		return false;
	pid = strtol(name + 4, &end, 10);
	if (end == name + 4 || *end != '-' || pid <= 0)
		return false;
	return pid != getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static void kill_members(int dir_fd)
{
	/* A few rounds: a member may fork while we read. The pid namespace's init
	 * dying takes the rest with it, so this converges at once in practice. */
	for (int round = 0; round < 50; round++) {
		char buf[4096];
		int n = cgroup_read(dir_fd, "cgroup.procs", buf, sizeof(buf), NULL);

		if (n <= 0)
			return;
		for (char *p = buf; *p;) {
			long pid = strtol(p, &p, 10);

			if (pid > 0)
				kill((pid_t)pid, SIGKILL);
			while (*p == '\n')
				p++;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 2 * 1000 * 1000 }, NULL);
	}
}

int cgroup_sweep(struct cgroup_manager *m, unsigned *removed, struct lr_error *err)
{
	*removed = 0;
	for (int d = 0; d < CGROUP_DIR_COUNT; d++) {
		int fd;
		DIR *dir;
		struct dirent *e;

		if (m->parent_fd[d] < 0)
			continue;
		fd = openat(m->parent_fd[d], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return lr_error_set(err, errno, "open cgroup '%s'", m->parent);
		dir = fdopendir(fd);
		if (!dir) {
			close(fd);
			return lr_error_set(err, errno, "read cgroup '%s'", m->parent);
		}
		while ((e = readdir(dir))) {
			int leaf;

			if (e->d_type != DT_DIR || !owner_is_gone(e->d_name))
				continue;
			leaf = openat(m->parent_fd[d], e->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (leaf < 0)
				continue;
			if (d == CGROUP_DIR_UNIFIED)
				cgroup_write(leaf, "cgroup.kill", "1", NULL);
			kill_members(leaf);
			close(leaf);
			for (int tries = 0; tries < 500; tries++) {
				if (unlinkat(m->parent_fd[d], e->d_name, AT_REMOVEDIR) == 0) {
					(*removed)++;
					break;
				}
				if (errno != EBUSY)
					break;
				nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
			}
		}
		closedir(dir);
	}
	return 0;
}
