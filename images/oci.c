/* SPDX-License-Identifier: MIT */
#include "oci.h"
#include "store.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define JSON_BLOB_MAX (4u << 20) /* index, manifest, config */
#define MAX_LAYERS 128
#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"

struct oci_layout {
	int dir_fd; /* the layout (the source's or the extracted archive's) */
	const struct image_access *access; /* for opens under dir_fd, or NULL */
	char layers[MAX_LAYERS][65];
	size_t n_layers;
	/* Paths made by the layer being applied: whiteouts spare them. */
	char **made;
	size_t made_cap, made_n;
};

static void enter(const struct image_access *a)
{
	if (a && a->enter)
		a->enter(a->ctx);
}

static void leave(const struct image_access *a)
{
	if (a && a->leave)
		a->leave(a->ctx);
}

static bool is_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

/* "sha256:<hex>" → hex. */
static int digest_hex(json_t *digest, char hex[65], struct image_error *err)
{
	const char *d = json_string_value(digest);

	if (!d || strncmp(d, "sha256:", 7) || !is_hex64(d + 7))
		return image_error_refuse(
			err, "OCI image: digest '%.100s' is not sha256:<64 hex digits>",
			d ? d : "(none)");
	memcpy(hex, d + 7, 65);
	return 0;
}

static int open_blob(struct oci_layout *l, const char *hex, struct image_error *err)
{
	char path[100];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
	enter(l->access);
	fd = openat(l->dir_fd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	leave(l->access);
	if (fd < 0)
		return image_error_refuse(err, "OCI image: blob sha256:%s: %s", hex,
					  strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return image_error_refuse(err, "OCI image: blob sha256:%s is not a regular file",
					  hex);
	}
	fcntl(fd, F_SETFL, 0);
	return fd;
}

/* Hashes the whole file at fd and compares with hex; leaves fd at offset 0. */
static int verify_fd(int fd, const char *hex, const char *what, struct image_error *err)
{
	unsigned char buf[65536], md[32];
	char got[65];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ssize_t n;
	unsigned len = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return image_error_set(err, ENOMEM, "sha256");
	}
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	if (n < 0)
		return image_error_set(err, errno, "OCI image: read %s", what);
	for (int i = 0; i < 32; i++)
		snprintf(got + 2 * i, 3, "%02x", md[i]);
	lseek(fd, 0, SEEK_SET);
	if (strcmp(got, hex))
		return image_error_refuse(err, "OCI image: %s does not match its digest sha256:%s",
					  what, hex);
	return 0;
}

static json_t *read_json_fd(int fd, const char *what, struct image_error *err)
{
	char *buf = malloc(JSON_BLOB_MAX + 1);
	size_t len = 0;
	ssize_t n;
	json_error_t jerr;
	json_t *j;

	if (!buf) {
		image_error_set(err, ENOMEM, "OCI image: %s", what);
		return NULL;
	}
	while ((n = read(fd, buf + len, JSON_BLOB_MAX + 1 - len)) > 0 && len < JSON_BLOB_MAX + 1)
		len += n;
	if (n < 0 || len > JSON_BLOB_MAX) {
		free(buf);
		image_error_refuse(err, "OCI image: %s is unreadable or larger than %u bytes", what,
				   JSON_BLOB_MAX);
		return NULL;
	}
	j = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!json_is_object(j)) {
		json_decref(j);
		image_error_refuse(err, "OCI image: %s is not a JSON object: %s", what, jerr.text);
		return NULL;
	}
	return j;
}

static json_t *read_blob_json(struct oci_layout *l, const char *hex, const char *what,
			      struct image_error *err)
{
	int fd = open_blob(l, hex, err);
	json_t *j;

	if (fd < 0)
		return NULL;
	if (verify_fd(fd, hex, what, err) < 0) {
		close(fd);
		return NULL;
	}
	j = read_json_fd(fd, what, err);
	close(fd);
	return j;
}

/* ---- oci-archive: extract the layout's files into scratch ---- */

static int extract_archive(const struct oci_source *src, int scratch_fd, struct image_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int fd, r = 0;

	enter(src->access);
	fd = open(src->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	leave(src->access);
	if (fd < 0) {
		archive_read_free(a);
		return image_error_refuse(err, "cannot open OCI archive '%s': %s", src->path,
					  strerror(errno));
	}
	fcntl(fd, F_SETFL, 0);
	if (mkdirat(scratch_fd, "blobs", 0700) < 0 ||
	    mkdirat(scratch_fd, "blobs/sha256", 0700) < 0) {
		r = image_error_set(err, errno, "OCI archive: scratch directory");
		goto out;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		r = image_error_refuse(err, "OCI archive '%s': %s", src->path,
				       archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		const char *base;
		int out_fd;

		while (name && name[0] == '.' && name[1] == '/')
			name += 2;
		if (!name || archive_entry_filetype(e) != AE_IFREG)
			continue;
		base = !strncmp(name, "blobs/sha256/", 13) ? name + 13 : NULL;
		if (!(base && is_hex64(base)) && strcmp(name, "index.json") &&
		    strcmp(name, "oci-layout"))
			continue; /* nothing else of the archive is read */
		out_fd = openat(scratch_fd, name,
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out_fd < 0) {
			r = errno == EEXIST
				    ? image_error_refuse(err, "OCI archive: duplicate entry '%s'",
							 name)
				    : image_error_set(err, errno, "OCI archive: write '%s'", name);
			goto out;
		}
		r = archive_read_data_into_fd(a, out_fd);
		close(out_fd);
		if (r != ARCHIVE_OK) {
			r = image_error_refuse(err, "OCI archive '%s': %s", src->path,
					       archive_error_string(a));
			goto out;
		}
	}
	r = r == ARCHIVE_EOF ? 0
			     : image_error_refuse(err, "OCI archive '%s': %s", src->path,
						  archive_error_string(a));
out:
	archive_read_free(a);
	close(fd);
	return r;
}

/* ---- index → manifest → config ---- */

static json_t *string_array(json_t *a)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a))
		return NULL;
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return NULL;
	return json_incref(a);
}

static int pick_manifest(struct oci_layout *l, json_t *index, const char *ref, char hex[65],
			 struct image_error *err)
{
	json_t *manifests = json_object_get(index, "manifests"), *m, *chosen = NULL;
	size_t i;

	if (!json_is_array(manifests) || !json_array_size(manifests))
		return image_error_refuse(err, "OCI image: index.json lists no manifests");
	json_array_foreach(manifests, i, m) {
		const char *name = json_string_value(json_object_get(
			json_object_get(m, "annotations"), "org.opencontainers.image.ref.name"));
		const char *digest = json_string_value(json_object_get(m, "digest"));

		if (!ref || (name && !strcmp(name, ref)) || (digest && !strcmp(digest, ref))) {
			if (chosen && !ref)
				return image_error_refuse(
					err, "OCI image: the layout holds several images; "
					     "name one (oci:DIR:TAG or @sha256:DIGEST)");
			if (!chosen)
				chosen = m;
		}
	}
	if (!chosen)
		return image_error_refuse(err, "OCI image: no image named '%s' in the layout", ref);
	if (digest_hex(json_object_get(chosen, "digest"), hex, err) < 0)
		return -1;
	/* A nested index (multi-platform): take its linux/amd64 manifest. */
	for (;;) {
		const char *mt = json_string_value(json_object_get(chosen, "mediaType"));
		json_t *nested;
		bool index_type;
		int r;

		if (!mt || (strcmp(mt, MEDIA_INDEX) && strcmp(mt, MEDIA_DOCKER_LIST)))
			break;
		nested = read_blob_json(l, hex, "image index", err);
		if (!nested)
			return -1;
		chosen = NULL;
		json_array_foreach(json_object_get(nested, "manifests"), i, m) {
			json_t *p = json_object_get(m, "platform");
			const char *os = json_string_value(json_object_get(p, "os"));
			const char *arch = json_string_value(json_object_get(p, "architecture"));

			if (!p || (os && arch && !strcmp(os, "linux") && !strcmp(arch, "amd64"))) {
				chosen = m;
				break;
			}
		}
		r = chosen ? digest_hex(json_object_get(chosen, "digest"), hex, err)
			   : image_error_refuse(err,
						"OCI image: no linux/amd64 image in the index");
		mt = chosen ? json_string_value(json_object_get(chosen, "mediaType")) : NULL;
		index_type = mt && (!strcmp(mt, MEDIA_INDEX) || !strcmp(mt, MEDIA_DOCKER_LIST));
		json_decref(nested);
		if (r < 0)
			return -1;
		if (!index_type)
			break;
		return image_error_refuse(
			err, "OCI image: indexes nested more than once are not supported");
	}
	return 0;
}

int oci_open(const struct oci_source *src, int scratch_fd, struct oci_layout **out,
	     struct oci_result *result, struct image_error *err)
{
	struct oci_layout *l = calloc(1, sizeof(*l));
	json_t *index = NULL, *manifest = NULL, *config = NULL, *layers, *c, *d;
	char config_hex[65];
	size_t i;
	int fd, r = -1;

	memset(result, 0, sizeof(*result));
	if (!l)
		return image_error_set(err, ENOMEM, "OCI image");
	l->dir_fd = -1;
	if (src->archive) {
		if (extract_archive(src, scratch_fd, err) < 0)
			goto out;
		l->dir_fd = fcntl(scratch_fd, F_DUPFD_CLOEXEC, 3);
	} else {
		l->access = src->access;
		enter(l->access);
		l->dir_fd = open(src->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		leave(l->access);
		if (l->dir_fd < 0) {
			image_error_refuse(err, "cannot open OCI image layout '%s': %s", src->path,
					   strerror(errno));
			goto out;
		}
	}
	enter(l->access);
	fd = openat(l->dir_fd, "oci-layout", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	leave(l->access);
	if (fd < 0) {
		image_error_refuse(err, "'%s' is not an OCI image layout (no oci-layout file)",
				   src->path);
		goto out;
	}
	index = read_json_fd(fd, "oci-layout", err);
	close(fd);
	if (!index)
		goto out;
	if (!json_is_string(json_object_get(index, "imageLayoutVersion"))) {
		image_error_refuse(err, "OCI image: oci-layout has no imageLayoutVersion");
		goto out;
	}
	json_decref(index);
	enter(l->access);
	fd = openat(l->dir_fd, "index.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	leave(l->access);
	if (fd < 0) {
		index = NULL;
		image_error_refuse(err, "OCI image layout '%s' has no index.json", src->path);
		goto out;
	}
	index = read_json_fd(fd, "index.json", err);
	close(fd);
	if (!index || pick_manifest(l, index, src->ref, result->manifest_hex, err) < 0)
		goto out;
	manifest = read_blob_json(l, result->manifest_hex, "the image manifest", err);
	if (!manifest)
		goto out;
	if (digest_hex(json_object_get(json_object_get(manifest, "config"), "digest"), config_hex,
		       err) < 0)
		goto out;
	layers = json_object_get(manifest, "layers");
	if (!json_is_array(layers) || json_array_size(layers) > MAX_LAYERS) {
		image_error_refuse(err,
				   "OCI image: the manifest's layers are missing or more than %d",
				   MAX_LAYERS);
		goto out;
	}
	json_array_foreach(layers, i, d) {
		if (digest_hex(json_object_get(d, "digest"), l->layers[i], err) < 0)
			goto out;
	}
	l->n_layers = json_array_size(layers);
	config = read_blob_json(l, config_hex, "the image config", err);
	if (!config)
		goto out;
	c = json_object_get(config, "config");
	result->config = json_object();
	if (string_array(json_object_get(c, "Entrypoint")))
		json_object_set_new(result->config, "EntryPoint", json_object_get(c, "Entrypoint"));
	if (string_array(json_object_get(c, "Cmd")))
		json_object_set_new(result->config, "Command", json_object_get(c, "Cmd"));
	if (json_is_string(json_object_get(c, "WorkingDir")) &&
	    json_string_length(json_object_get(c, "WorkingDir")))
		json_object_set(result->config, "WorkingDirectory",
				json_object_get(c, "WorkingDir"));
	if (string_array(json_object_get(c, "Env")))
		json_object_set_new(result->config, "Env", json_object_get(c, "Env"));
	*out = l;
	l = NULL;
	r = 0;
out:
	json_decref(index);
	json_decref(manifest);
	json_decref(config);
	if (l)
		oci_close(l);
	if (r < 0)
		oci_result_clear(result);
	return r;
}

/* ---- applying layers ---- */

static int openat2_in(int root_fd, const char *path, int flags, struct image_error *err)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int fd = (int)syscall(SYS_openat2, root_fd, path[0] ? path : ".", &how, sizeof(how));

	if (fd < 0 && err)
		image_error_set(err, errno, "OCI layer: open '%s'", path);
	return fd;
}

static bool made_has(struct oci_layout *l, const char *path)
{
	for (size_t i = 0; i < l->made_n; i++)
		if (!strcmp(l->made[i], path))
			return true;
	return false;
}

static int made_add(struct oci_layout *l, const char *path)
{
	if (l->made_n == l->made_cap) {
		size_t cap = l->made_cap ? l->made_cap * 2 : 256;
		char **v = realloc(l->made, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->made = v;
		l->made_cap = cap;
	}
	if (!(l->made[l->made_n] = strdup(path)))
		return -ENOMEM;
	l->made_n++;
	return 0;
}

static void made_clear(struct oci_layout *l)
{
	for (size_t i = 0; i < l->made_n; i++)
		free(l->made[i]);
	l->made_n = 0;
}

/* The parent directory of path inside the root, made (0755) when missing. */
static int parent_dir(int root_fd, char *path, const char **base, struct image_error *err)
{
	char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		*base = path;
		return fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	}
	*slash = '\0';
	*base = slash + 1;
	fd = openat2_in(root_fd, path, O_PATH | O_DIRECTORY, NULL);
	if (fd < 0 && errno == ENOENT) {
		/* Make each missing component, resolved in the root as it goes. */
		for (char *p = path;; p++) {
			if (*p == '/' || !*p) {
				char saved = *p;
				int pfd;

				*p = '\0';
				pfd = openat2_in(root_fd, path, O_PATH | O_DIRECTORY, NULL);
				if (pfd < 0 && errno == ENOENT) {
					const char *b;
					char *ps = strrchr(path, '/');
					int dfd;

					if (ps) {
						*ps = '\0';
						dfd = openat2_in(root_fd, path,
								 O_PATH | O_DIRECTORY, NULL);
						*ps = '/';
						b = ps + 1;
					} else {
						dfd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
						b = path;
					}
					if (dfd >= 0 && mkdirat(dfd, b, 0755) < 0 &&
					    errno != EEXIST) {
						close(dfd);
						dfd = -1;
					}
					if (dfd >= 0)
						close(dfd);
				} else if (pfd >= 0) {
					close(pfd);
				}
				*p = saved;
				if (!saved)
					break;
			}
		}
		fd = openat2_in(root_fd, path, O_PATH | O_DIRECTORY, NULL);
	}
	if (fd < 0)
		image_error_refuse(err, "OCI layer: cannot make the directory of '%s/%s': %s", path,
				   *base, strerror(errno));
	*slash = '/';
	return fd;
}

/* Removes name under dir_fd, whatever it is (never following links). */
static int remove_entry(int dir_fd, const char *name, struct image_error *err)
{
	return image_remove_tree(dir_fd, name, err);
}

/* Empties a directory of what lower layers put there (an opaque whiteout). */
static int empty_dir(struct oci_layout *l, int dir_fd, const char *dir_path,
		     struct image_error *err)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int r = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return image_error_set(err, errno, "OCI layer: read '%s'", dir_path);
	}
	while (r == 0 && (e = readdir(d))) {
		char child[4200];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s%s%s", dir_path, *dir_path ? "/" : "", e->d_name);
		if (!made_has(l, child))
			r = remove_entry(dir_fd, e->d_name, err);
	}
	closedir(d);
	return r;
}

/* path: relative, normalized; no "." or ".." components, no empty ones. */
static int normalize(const char *raw, char *out, size_t size, struct image_error *err)
{
	size_t o = 0;
	const char *p = raw;

	while (*p == '/')
		p++;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = end - p;

		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			return image_error_refuse(
				err, "OCI layer: entry '%.200s' has a '..' component", raw);
		} else {
			if (o + n + 2 > size)
				return image_error_refuse(
					err, "OCI layer: entry '%.200s…' is too long", raw);
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = *end ? end + 1 : end;
	}
	out[o] = '\0';
	for (const unsigned char *c = (const unsigned char *)out; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return image_error_refuse(
				err, "OCI layer: entry '%.200s' has a control character", raw);
	return 0;
}

struct apply_totals {
	uint64_t bytes, max_bytes;
	uint32_t entries, max_entries;
};

static int apply_entry(struct oci_layout *l, struct archive *a, struct archive_entry *e,
		       int root_fd, struct apply_totals *t, struct image_error *err)
{
	char path[4096], hard[4096];
	const char *base;
	mode_t type = archive_entry_filetype(e), mode = archive_entry_perm(e) & 0755;
	const char *hardlink = archive_entry_hardlink(e);
	struct stat st;
	int dir_fd, r = 0;

	if (normalize(archive_entry_pathname(e), path, sizeof(path), err) < 0)
		return -1;
	if (!path[0])
		return 0; /* the root itself */
	if (++t->entries > t->max_entries)
		return image_error_refuse(err, "OCI image: more than %u entries", t->max_entries);
	dir_fd = parent_dir(root_fd, path, &base, err);
	if (dir_fd < 0)
		return -1;
	/* parent_dir cut path at the last slash and restored it; base points into it.
	 */
	if (!strcmp(base, OPAQUE)) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%.*s", (int)(base - path > 0 ? base - path - 1 : 0),
			 path);
		r = empty_dir(l, dir_fd, dir, err);
		goto out;
	}
	if (!strncmp(base, WHITEOUT, strlen(WHITEOUT))) {
		char victim[4096];

		snprintf(victim, sizeof(victim), "%.*s%s", (int)(base - path), path,
			 base + strlen(WHITEOUT));
		if (!made_has(l, victim))
			r = remove_entry(dir_fd, base + strlen(WHITEOUT), err);
		goto out;
	}
	if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		goto out; /* devices, FIFOs, sockets: lamina's /dev is the function's */
	if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (type == AE_IFDIR && !hardlink && S_ISDIR(st.st_mode)) {
			fchmodat(dir_fd, base, mode | 0700, 0);
			r = made_add(l, path) < 0 ? image_error_set(err, ENOMEM, "OCI layer") : 0;
			goto out;
		}
		if (remove_entry(dir_fd, base, err) < 0) {
			r = -1;
			goto out;
		}
	}
	if (hardlink) {
		int target;

		if (normalize(hardlink, hard, sizeof(hard), err) < 0) {
			r = -1;
			goto out;
		}
		target = openat2_in(root_fd, hard, O_PATH, NULL);
		if (target < 0 || fstat(target, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (target >= 0)
				close(target);
			r = image_error_refuse(
				err,
				"OCI layer: hard link '%.200s' to '%.200s', which is not "
				"a regular file already in the image",
				path, hard);
			goto out;
		}
		r = linkat(target, "", dir_fd, base, AT_EMPTY_PATH);
		close(target);
		if (r < 0)
			r = image_error_set(err, errno, "OCI layer: link '%.200s'", path);
	} else if (type == AE_IFDIR) {
		if (mkdirat(dir_fd, base, mode | 0700) < 0)
			r = image_error_set(err, errno, "OCI layer: mkdir '%.200s'", path);
	} else if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);

		if (!target || symlinkat(target, dir_fd, base) < 0)
			r = image_error_set(err, errno ? errno : EINVAL,
					    "OCI layer: symlink '%.200s'", path);
	} else {
		int fd = openat(dir_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0600);
		const void *buf;
		size_t size;
		int64_t offset;

		if (fd < 0) {
			r = image_error_set(err, errno, "OCI layer: create '%.200s'", path);
			goto out;
		}
		for (;;) {
			int rr = archive_read_data_block(a, &buf, &size, &offset);

			if (rr == ARCHIVE_EOF) {
				r = 0;
				break;
			}
			if (rr != ARCHIVE_OK) {
				r = image_error_refuse(err, "OCI layer: '%.200s': %s", path,
						       archive_error_string(a));
				break;
			}
			t->bytes += size;
			if (t->bytes > t->max_bytes) {
				r = image_error_refuse(err,
						       "OCI image: more than %llu bytes unpacked",
						       (unsigned long long)t->max_bytes);
				break;
			}
			if (pwrite(fd, buf, size, offset) != (ssize_t)size) {
				r = image_error_set(err, errno ? errno : EIO,
						    "OCI layer: write '%.200s'", path);
				break;
			}
		}
		if (r == 0 && ftruncate(fd, archive_entry_size(e)) < 0)
			r = image_error_set(err, errno, "OCI layer: '%.200s'", path);
		if (r == 0 && fchmod(fd, mode) < 0)
			r = image_error_set(err, errno, "OCI layer: chmod '%.200s'", path);
		close(fd);
	}
	if (r == 0 && made_add(l, path) < 0)
		r = image_error_set(err, ENOMEM, "OCI layer");
out:
	close(dir_fd);
	return r < 0 ? -1 : 0;
}

/* A directory the sandbox mounts over: real, empty is not required. */
static int mount_point(int root_fd, const char *path, struct image_error *err)
{
	struct stat st;
	char copy[64];
	const char *base;
	int dir_fd, r = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	dir_fd = parent_dir(root_fd, copy, &base, err);
	if (dir_fd < 0)
		return -1;
	if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
		r = remove_entry(dir_fd, base, err);
	if (r == 0 && mkdirat(dir_fd, base, 0755) < 0 && errno != EEXIST)
		r = image_error_set(err, errno, "OCI image: mount point '/%s'", path);
	close(dir_fd);
	return r;
}

static int apply_layer(struct oci_layout *l, size_t i, int root_fd, struct apply_totals *t,
		       struct image_error *err)
{
	struct archive *a;
	struct archive_entry *e;
	char what[100];
	int fd, r;

	snprintf(what, sizeof(what), "layer %zu (sha256:%.12s…)", i + 1, l->layers[i]);
	fd = open_blob(l, l->layers[i], err);
	if (fd < 0)
		return -1;
	if (verify_fd(fd, l->layers[i], what, err) < 0) {
		close(fd);
		return -1;
	}
	a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		r = image_error_refuse(err, "OCI image: %s: %s", what, archive_error_string(a));
		goto out;
	}
	made_clear(l);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if (apply_entry(l, a, e, root_fd, t, err) < 0) {
			char msg[sizeof(err->message)];

			snprintf(msg, sizeof(msg), "%s", err->message);
			snprintf(err->message, sizeof(err->message), "%s: %s", what, msg);
			r = -1;
			goto out;
		}
	}
	r = r == ARCHIVE_EOF
		    ? 0
		    : image_error_refuse(err, "OCI image: %s: %s", what, archive_error_string(a));
out:
	archive_read_free(a);
	close(fd);
	return r;
}

int oci_apply(struct oci_layout *l, int root_fd, uint64_t max_bytes, uint32_t max_entries,
	      struct oci_result *result, struct image_error *err)
{
	struct apply_totals t = {.max_bytes = max_bytes ? max_bytes : OCI_DEFAULT_MAX_BYTES,
				 .max_entries =
					 max_entries ? max_entries : OCI_DEFAULT_MAX_ENTRIES};
	struct stat st;

	for (size_t i = 0; i < l->n_layers; i++)
		if (apply_layer(l, i, root_fd, &t, err) < 0)
			return -1;
	made_clear(l);
	if (mount_point(root_fd, "dev", err) < 0 || mount_point(root_fd, "proc", err) < 0 ||
	    mount_point(root_fd, "tmp", err) < 0)
		return -1;
	if (fstatat(root_fd, "etc", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    mount_point(root_fd, "etc/lamina", err) < 0)
		return -1;
	result->bytes = t.bytes;
	result->entries = t.entries;
	return 0;
}

void oci_close(struct oci_layout *l)
{
	if (!l)
		return;
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	made_clear(l);
	free(l->made);
	free(l);
}

void oci_result_clear(struct oci_result *r)
{
	json_decref(r->config);
	r->config = NULL;
}

bool oci_parse_uri(const char *uri, char *buf, size_t size, struct oci_source *src)
{
	const char *rest;
	char *at, *colon;

	memset(src, 0, sizeof(*src));
	if (!strncmp(uri, "oci-archive:", 12)) {
		src->archive = true;
		rest = uri + 12;
	} else if (!strncmp(uri, "oci:", 4)) {
		rest = uri + 4;
	} else {
		return false;
	}
	snprintf(buf, size, "%s", rest);
	src->path = buf;
	/* PATH@sha256:<hex> or PATH:TAG (a tag has no '/'). */
	at = strstr(buf, "@sha256:");
	if (at) {
		*at = '\0';
		src->ref = at + 1;
		return true;
	}
	colon = strrchr(buf, ':');
	if (colon && !strchr(colon, '/') && colon[1]) {
		*colon = '\0';
		src->ref = colon + 1;
	}
	return true;
}
