/* SPDX-License-Identifier: MIT */
#include "rootfs.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/openat2.h>
#include <unistd.h>

/* What of the host's /etc a language runtime needs: the loader, name service, time
 * zone, TLS roots and the runtimes' own configuration. Nothing with accounts or keys. */
static const char *const curated_etc[] = {
	"alternatives", "ssl", "ca-certificates", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
	"nsswitch.conf", "resolv.conf", "host.conf", "gai.conf", "protocols", "services",
	"localtime", "timezone", "mime.types", "os-release", "debian_version",
	"java-17-openjdk", "python3", "python3.11", "mono",
};

/* On merged-/usr hosts these are symlinks into /usr and are recreated as such. */
static const char *const usr_links[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

static const char *arena_dup(struct rootfs_plan *plan, const char *s, size_t len)
{
	char *p;

	if (plan->arena_used + len + 1 > sizeof(plan->arena))
		return NULL;
	p = plan->arena + plan->arena_used;
	memcpy(p, s, len);
	p[len] = '\0';
	plan->arena_used += len + 1;
	return p;
}

static int add_op(struct rootfs_plan *plan, struct rootfs_op op, struct lr_error *err)
{
	if (plan->n_ops == ROOTFS_MAX_OPS)
		return lr_error_invalid(err, E2BIG, "too many mounts in the sandbox's root");
	/* A NULL here is a string that did not fit the arena. */
	if (!op.target || ((op.kind == ROOTFS_SYMLINK || op.kind == ROOTFS_BIND) && !op.source))
		return lr_error_invalid(err, ENAMETOOLONG, "sandbox root plan: path too long");
	plan->ops[plan->n_ops++] = op;
	return 0;
}

static int add_mkdir(struct rootfs_plan *plan, const char *target, mode_t mode,
		     struct lr_error *err)
{
	return add_op(plan, (struct rootfs_op){ .kind = ROOTFS_MKDIR, .target = target, .mode = mode },
		      err);
}

static int add_file(struct rootfs_plan *plan, const char *target, const char *data,
		    struct lr_error *err)
{
	return add_op(plan,
		      (struct rootfs_op){ .kind = ROOTFS_FILE, .target = target, .data = data,
					  .data_len = data ? strlen(data) : 0, .mode = 0444 },
		      err);
}

static int add_bind(struct rootfs_plan *plan, const char *source, const char *target,
		    struct lr_error *err)
{
	return add_op(plan, (struct rootfs_op){ .kind = ROOTFS_BIND, .source = source, .target = target },
		      err);
}

static int add_host_entry(struct rootfs_plan *plan, const char *host_path, const char *target,
			  struct lr_error *err)
{
	struct stat st;
	int r;

	if (lstat(host_path, &st) < 0)
		return 0;	/* what the host lacks, the sandbox lacks too */
	if (S_ISLNK(st.st_mode)) {
		char link[PATH_MAX];
		ssize_t n = readlink(host_path, link, sizeof(link) - 1);

		if (n < 0)
			return lr_error_set(err, errno, "readlink '%s'", host_path);
		return add_op(plan,
			      (struct rootfs_op){ .kind = ROOTFS_SYMLINK,
						  .source = arena_dup(plan, link, n),
						  .target = arena_dup(plan, target, strlen(target)) },
			      err);
	}
	target = arena_dup(plan, target, strlen(target));
	host_path = arena_dup(plan, host_path, strlen(host_path));
	if (S_ISDIR(st.st_mode))
		r = add_mkdir(plan, target, 0755, err);
	else if (S_ISREG(st.st_mode))
		r = add_file(plan, target, NULL, err);
	else
		return 0;
	if (r < 0)
		return r;
	return add_bind(plan, host_path, target, err);
}

int rootfs_plan_base(struct rootfs_plan *plan, struct lr_error *err)
{
	static const char *const dirs[] = { "usr", "etc", "etc/lamina", "var", "var/task",
					     "var/runtime", "opt", "tmp", "proc", "dev" };
	static const struct {
		const char *name;
		unsigned major, minor;
	} devices[] = { { "dev/null", 1, 3 }, { "dev/zero", 1, 5 }, { "dev/full", 1, 7 },
			{ "dev/random", 1, 8 }, { "dev/urandom", 1, 9 } };
	static const char *const links[][2] = {
		/* Accounts are the sandbox's own, mounted per sandbox at /etc/lamina. */
		{ "lamina/passwd", "etc/passwd" }, { "lamina/group", "etc/group" },
		{ "/proc/self/fd", "dev/fd" }, { "/proc/self/fd/0", "dev/stdin" },
		{ "/proc/self/fd/1", "dev/stdout" }, { "/proc/self/fd/2", "dev/stderr" },
	};
	int r;

	memset(plan, 0, sizeof(*plan));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		r = add_mkdir(plan, dirs[i], 0755, err);
		if (r < 0)
			return r;
	}
	r = add_bind(plan, "/usr", "usr", err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(usr_links) / sizeof(usr_links[0]); i++) {
		char host[64];

		snprintf(host, sizeof(host), "/%s", usr_links[i]);
		r = add_host_entry(plan, host, usr_links[i], err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < sizeof(curated_etc) / sizeof(curated_etc[0]); i++) {
		char host[128], target[128];

		snprintf(host, sizeof(host), "/etc/%s", curated_etc[i]);
		snprintf(target, sizeof(target), "etc/%s", curated_etc[i]);
		r = add_host_entry(plan, host, target, err);
		if (r < 0)
			return r;
	}
	r = add_file(plan, "etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n", err);
	for (size_t i = 0; r == 0 && i < 2; i++)
		r = add_op(plan, (struct rootfs_op){ .kind = ROOTFS_SYMLINK, .source = links[i][0],
						     .target = links[i][1] },
			   err);
	/* Everything so far, the root itself included, becomes read-only at once. */
	if (r == 0)
		r = add_op(plan, (struct rootfs_op){ .kind = ROOTFS_READONLY, .target = ".", .flags = 1 },
			   err);
	if (r == 0)
		r = add_op(plan,
			   (struct rootfs_op){ .kind = ROOTFS_TMPFS, .target = "dev",
					       .data = "size=64k,nr_inodes=64,mode=755",
					       .flags = MS_NOSUID | MS_NOEXEC },
			   err);
	for (size_t i = 0; r == 0 && i < sizeof(devices) / sizeof(devices[0]); i++)
		r = add_op(plan,
			   (struct rootfs_op){ .kind = ROOTFS_DEVNODE, .target = devices[i].name,
					       .mode = S_IFCHR | 0666,
					       .dev = makedev(devices[i].major, devices[i].minor) },
			   err);
	for (size_t i = 2; r == 0 && i < sizeof(links) / sizeof(links[0]); i++)
		r = add_op(plan, (struct rootfs_op){ .kind = ROOTFS_SYMLINK, .source = links[i][0],
						     .target = links[i][1] },
			   err);
	if (r == 0)
		r = add_op(plan, (struct rootfs_op){ .kind = ROOTFS_READONLY, .target = "dev" }, err);
	return r;
}

/* ---- per sandbox, in the caller: detached mounts the child attaches ---- */

static int attach_add(struct rootfs_mounts *m, int fd, const char *target, struct lr_error *err)
{
	if (m->n == ROOTFS_MAX_ATTACH) {
		close(fd);
		return lr_error_invalid(err, E2BIG, "too many mounts for one sandbox");
	}
	m->attach[m->n].fd = fd;
	snprintf(m->attach[m->n].target, sizeof(m->attach[m->n].target), "%s", target);
	m->n++;
	return 0;
}

/* A read-only, recursive copy of a host directory, not yet attached anywhere. */
static int clone_tree(struct rootfs_mounts *m, const char *source, const char *target,
		      struct lr_error *err)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	};
	int fd = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);

	if (fd < 0)
		return lr_error_set(err, errno, "clone mount of '%s'", source);
	if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
		int r = lr_error_set(err, errno, "make '%s' read-only", source);
		close(fd);
		return r;
	}
	return attach_add(m, fd, target, err);
}

/* Directories merged read-only at target, the last one on top: an overlay with only
 * lower layers (read-only by construction), not yet attached anywhere. */
static int overlay_tree(struct rootfs_mounts *m, const char *const *layers, size_t n,
			const char *target, struct lr_error *err)
{
	int fs, mnt, r;

	if (n > LR_OPT_LAYERS_MAX)
		return lr_error_invalid(err, E2BIG, "too many layers for '%s' (%zu, at most %d)", target,
					n, LR_OPT_LAYERS_MAX);
	fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return lr_error_set(err, errno, "fsopen overlay for '%s'", target);
	/* "lowerdir+" (Linux 6.8) takes each path as it is; older kernels get the one
	 * "lowerdir" list, top first, with ':' and '\\' escaped. */
	for (size_t i = n; i-- > 0;) {
		if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", layers[i], 0) == 0)
			continue;
		if (errno == EINVAL && i == n - 1) {
			char list[LR_OPT_LAYERS_MAX * (PATH_MAX + 1) * 2];
			size_t used = 0;

			for (size_t k = n; k-- > 0;) {
				for (const char *c = layers[k]; *c && used + 3 < sizeof(list); c++) {
					if (*c == ':' || *c == '\\')
						list[used++] = '\\';
					list[used++] = *c;
				}
				if (k && used + 1 < sizeof(list))
					list[used++] = ':';
			}
			list[used] = '\0';
			if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", list, 0) == 0)
				break;
		}
		r = lr_error_set(err, errno, "overlay layer '%s' for '%s'", layers[i], target);
		close(fs);
		return r;
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		r = lr_error_set(err, errno, "create the overlay for '%s'", target);
		close(fs);
		return r;
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	close(fs);
	if (mnt < 0)
		return lr_error_set(err, errno, "fsmount the overlay for '%s'", target);
	return attach_add(m, mnt, target, err);
}

/* Whether root has dir as a real directory (no symbolic link on the way). */
static bool root_has_dir(const char *root, const char *dir)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV };
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

	if (rfd < 0)
		return false;
	fd = (int)syscall(SYS_openat2, rfd, dir, &how, sizeof(how));
	close(rfd);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int write_at(int dir, const char *name, const char *data, struct lr_error *err)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	size_t len = strlen(data);
	ssize_t n;

	if (fd < 0)
		return lr_error_set(err, errno, "create sandbox '%s'", name);
	n = write(fd, data, len);
	close(fd);
	if (n != (ssize_t)len)
		return lr_error_set(err, errno ? errno : EIO, "write sandbox '%s'", name);
	return 0;
}

/* /etc/lamina: the sandbox's passwd and group, naming its own uid and gid, so that
 * getpwuid() answers (Java's user.name, Python's getpass). Returns a detached mount. */
static int accounts_tree(uid_t uid, gid_t gid, struct lr_error *err)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					      MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
	char passwd[256], group[128];
	int fs, mnt, r;

	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return lr_error_set(err, errno, "fsopen tmpfs");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "size", "16k", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		r = lr_error_set(err, errno, "create tmpfs for /etc/lamina");
		close(fs);
		return r;
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	close(fs);
	if (mnt < 0)
		return lr_error_set(err, errno, "fsmount for /etc/lamina");
	snprintf(passwd, sizeof(passwd),
		 "root:x:0:0:root:/root:/usr/sbin/nologin\n"
		 "sbx_user:x:%u:%u:sandbox:/tmp:/usr/sbin/nologin\n"
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		 (unsigned)uid, (unsigned)gid);
	snprintf(group, sizeof(group), "root:x:0:\nsbx_user:x:%u:\nnogroup:x:65534:\n", (unsigned)gid);
	r = write_at(mnt, "passwd", passwd, err);
	if (r == 0)
		r = write_at(mnt, "group", group, err);
	if (r == 0 && mount_setattr(mnt, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		r = lr_error_set(err, errno, "make /etc/lamina read-only");
	if (r < 0) {
		close(mnt);
		return r;
	}
	return mnt;
}

void rootfs_accounts_cache_init(struct rootfs_accounts_cache *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < ROOTFS_ACCOUNTS_CACHE; i++)
		c->slot[i].fd = -1;
}

void rootfs_accounts_cache_fini(struct rootfs_accounts_cache *c)
{
	for (int i = 0; i < ROOTFS_ACCOUNTS_CACHE; i++)
		if (c->slot[i].fd >= 0)
			close(c->slot[i].fd);
	rootfs_accounts_cache_init(c);
}

static int accounts_clone(struct rootfs_accounts_cache *c, struct rootfs_mounts *m, uid_t uid,
			  gid_t gid, struct lr_error *err)
{
	int i, fd;

	for (i = 0; i < ROOTFS_ACCOUNTS_CACHE; i++)
		if (c->slot[i].fd >= 0 && c->slot[i].uid == uid && c->slot[i].gid == gid)
			break;
	if (i == ROOTFS_ACCOUNTS_CACHE) {
		int made = accounts_tree(uid, gid, err);

		if (made < 0)
			return made;
		i = (int)(c->next++ % ROOTFS_ACCOUNTS_CACHE);
		if (c->slot[i].fd >= 0)
			close(c->slot[i].fd);
		c->slot[i].fd = made;
		c->slot[i].uid = uid;
		c->slot[i].gid = gid;
	}
	/* A clone keeps the read-only flag; the sandbox cannot change its mounts. */
	fd = open_tree(c->slot[i].fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (fd < 0)
		return lr_error_set(err, errno, "clone /etc/lamina");
	return attach_add(m, fd, "/etc/lamina", err);
}

int rootfs_prepare(const struct rootfs_sandbox *sb, struct rootfs_accounts_cache *cache,
		   struct rootfs_mounts *m, struct lr_error *err)
{
	int r = 0;

	memset(m, 0, sizeof(*m));
	m->root_fd = -1;
	if (sb->root_dir) {
		struct mount_attr attr = {
			.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
		};

		m->root_fd = open_tree(AT_FDCWD, sb->root_dir,
				       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (m->root_fd < 0)
			return lr_error_set(err, errno, "clone mount of root '%s'", sb->root_dir);
		m->custom_root = true;
		if (mount_setattr(m->root_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
			r = lr_error_set(err, errno, "make root '%s' read-only", sb->root_dir);
			rootfs_release(m);
			return r;
		}
	}
	for (size_t i = 0; r == 0 && i < sb->n_binds; i++) {
		/* The base has a mount point for each: /var/runtime. */
		if (strcmp(sb->binds[i].target, "/var/runtime"))
			return lr_error_invalid(err, EINVAL, "bind target '%s' must be /var/runtime",
						sb->binds[i].target);
	}
	if (sb->code_dir)
		r = clone_tree(m, sb->code_dir, "/var/task", err);
	if (r == 0 && sb->opt_dir)
		r = clone_tree(m, sb->opt_dir, "/opt", err);
	else if (r == 0 && sb->n_opt_layers == 1)
		r = clone_tree(m, sb->opt_layers[0], "/opt", err);
	else if (r == 0 && sb->n_opt_layers > 1)
		r = overlay_tree(m, sb->opt_layers, sb->n_opt_layers, "/opt", err);
	for (size_t i = 0; r == 0 && i < sb->n_binds; i++)
		r = clone_tree(m, sb->binds[i].source, sb->binds[i].target, err);
	/* A custom root gets the accounts where it has room for them. */
	if (r == 0 && (!sb->root_dir || root_has_dir(sb->root_dir, "etc/lamina")))
		r = accounts_clone(cache, m, sb->uid, sb->gid, err);
	if (r == 0)
		snprintf(m->tmp_options, sizeof(m->tmp_options), "size=%" PRIu64 ",mode=1777",
			 sb->tmp_bytes);
	if (r < 0)
		rootfs_release(m);
	return r;
}

void rootfs_release(struct rootfs_mounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->attach[i].fd >= 0)
			close(m->attach[i].fd);
	m->n = 0;
	if (m->custom_root && m->root_fd >= 0)
		close(m->root_fd);
	m->custom_root = false;
	m->root_fd = -1;
}

/* Child side: replaces the template copy's root with the custom one, keeping /dev. */
static int enter_custom_root(const struct rootfs_mounts *m, int *failed)
{
	int dev;

	*failed = ROOTFS_FAILED_DEV;
	dev = open_tree(AT_FDCWD, "/dev", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (dev < 0)
		return -errno;
	*failed = ROOTFS_FAILED_ROOT;
	/* Stacked on '/', entered through its fd (a path walk from '/' would still start
	 * below it), then pivoted into as build_root does; the template's tree goes. */
	if (move_mount(m->root_fd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
	    fchdir(m->root_fd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		int r = -errno;

		close(dev);
		return r;
	}
	/* After the pivot: every path, a symbolic link of the image's included, resolves
	 * inside the new root. */
	*failed = ROOTFS_FAILED_DEV;
	if (move_mount(dev, "", AT_FDCWD, "/dev", MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		int r = -errno;

		close(dev);
		return r;
	}
	close(dev);
	*failed = -1;
	return 0;
}

/* ---- child side: no allocation, no stdio ---- */

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= n;
	}
	return 0;
}

static int run_op(const struct rootfs_op *op)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	};
	int fd, r;

	switch (op->kind) {
	case ROOTFS_MKDIR:
		if (mkdir(op->target, op->mode) < 0 && errno != EEXIST)
			return -errno;
		return 0;
	case ROOTFS_SYMLINK:
		return symlink(op->source, op->target) < 0 ? -errno : 0;
	case ROOTFS_FILE:
		fd = open(op->target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, op->mode);
		if (fd < 0)
			return -errno;
		r = write_all(fd, op->data, op->data_len);
		close(fd);
		return r;
	case ROOTFS_BIND:
		return mount(op->source, op->target, NULL, MS_BIND | MS_REC, NULL) < 0 ? -errno : 0;
	case ROOTFS_TMPFS:
		return mount("tmpfs", op->target, "tmpfs", op->flags, op->data) < 0 ? -errno : 0;
	case ROOTFS_DEVNODE:
		return mknod(op->target, op->mode, op->dev) < 0 ? -errno : 0;
	case ROOTFS_READONLY:
		if (!op->flags)
			attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
		return mount_setattr(AT_FDCWD, op->target, op->flags ? AT_RECURSIVE : 0, &attr,
				     sizeof(attr)) < 0
			       ? -errno
			       : 0;
	}
	return -EINVAL;
}

static int build_root(const struct rootfs_plan *plan, int *failed_op)
{
	int fs_fd, mnt_fd, r;

	*failed_op = -1;
	/* Modes in the plan are meant exactly (devices 0666); the caller's umask is not. */
	umask(0);
	/* Nothing the sandbox mounts may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	/* The new root: a small tmpfs stacked over '/', so host paths stay reachable for
	 * the bind sources until pivot_root, and no host directory is needed to stage it. */
	fs_fd = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs_fd < 0)
		return -errno;
	if (fsconfig(fs_fd, FSCONFIG_SET_STRING, "size", "256k", 0) < 0 ||
	    fsconfig(fs_fd, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		r = -errno;
		close(fs_fd);
		return r;
	}
	mnt_fd = fsmount(fs_fd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	close(fs_fd);
	if (mnt_fd < 0)
		return -errno;
	if (move_mount(mnt_fd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0 || fchdir(mnt_fd) < 0) {
		r = -errno;
		close(mnt_fd);
		return r;
	}
	close(mnt_fd);
	for (size_t i = 0; i < plan->n_ops; i++) {
		r = run_op(&plan->ops[i]);
		if (r < 0) {
			*failed_op = (int)i;
			return r;
		}
	}
	/* Swap roots and drop every reference to the host's tree. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -errno;
	if (umount2(".", MNT_DETACH) < 0)
		return -errno;
	if (chdir("/") < 0)
		return -errno;
	umask(022);
	return 0;
}

/* ---- the template: the base tree, built once, copied by every sandbox ---- */

int rootfs_template_create(const struct rootfs_plan *base, struct lr_error *err)
{
	int report[2], hold[2], r, ns_fd;
	struct {
		int error;
		int op;
	} result = { 0, -1 };
	char path[64];
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) < 0)
		return lr_error_set(err, errno, "pipe");
	if (pipe2(hold, O_CLOEXEC) < 0) {
		r = lr_error_set(err, errno, "pipe");
		close(report[0]);
		close(report[1]);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = lr_error_set(err, errno, "fork for the template mount namespace");
		goto out;
	}
	if (pid == 0) {
		char byte;

		/* A mount namespace of its own whose root becomes the base tree; it lives on
		 * through the fd the parent opens, after this process ends. */
		close(report[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWNS) < 0)
			result.error = errno;
		else
			result.error = -build_root(base, &result.op);
		if (write(report[1], &result, sizeof(result)) != sizeof(result))
			_exit(1);
		/* Stay until the parent holds the namespace. */
		if (read(hold[0], &byte, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(report[1]);
	report[1] = -1;
	close(hold[0]);
	hold[0] = -1;
	if (read(report[0], &result, sizeof(result)) != sizeof(result)) {
		r = lr_error_invalid(err, EIO, "the template mount namespace's builder died");
		goto reap;
	}
	if (result.error) {
		if (result.op >= 0)
			r = lr_error_set(err, result.error, "build the sandbox root: '%s'%s%s",
					 base->ops[result.op].target, base->ops[result.op].source ? " from " : "",
					 base->ops[result.op].source ? base->ops[result.op].source : "");
		else
			r = lr_error_set(err, result.error, "build the sandbox root");
		goto reap;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	r = ns_fd < 0 ? lr_error_set(err, errno, "open the template mount namespace") : ns_fd;
reap:
	close(hold[1]);
	hold[1] = -1;
	waitpid(pid, NULL, 0);
out:
	for (int i = 0; i < 2; i++) {
		if (report[i] >= 0)
			close(report[i]);
		if (hold[i] >= 0)
			close(hold[i]);
	}
	return r;
}

int rootfs_enter(int template_ns, const struct rootfs_mounts *m, int *failed)
{
	*failed = -1;
	/* A copy of the template: the base tree, already private, read-only and pivoted;
	 * the host's tree is not in it. */
	if (setns(template_ns, CLONE_NEWNS) < 0 || unshare(CLONE_NEWNS) < 0 || chdir("/") < 0)
		return -errno;
	if (m->custom_root) {
		int r = enter_custom_root(m, failed);

		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < m->n; i++) {
		if (move_mount(m->attach[i].fd, "", AT_FDCWD, m->attach[i].target,
			       MOVE_MOUNT_F_EMPTY_PATH) < 0) {
			*failed = (int)i;
			return -errno;
		}
	}
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, m->tmp_options) < 0) {
		*failed = ROOTFS_FAILED_TMP;
		return -errno;
	}
	/* After the pid namespace: this proc shows the sandbox's processes only. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		*failed = ROOTFS_FAILED_PROC;
		return -errno;
	}
	return 0;
}
