/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_IMAGES_OCI_H
#define LAMINA_IMAGES_OCI_H

/*
 * OCI container images (image-spec v1): an image layout — a directory with
 * oci-layout, index.json and blobs/sha256/<hex>, or a tar of one (podman save
 * --format oci-archive, skopeo copy oci-archive:) — whose manifest's layers are
 * applied in order into an empty directory: the root file system of a
 * container-image function.
 *
 * Every blob read is checked against its digest. Layers are tars (gzip, zstd or
 * none: what libarchive reads). Whiteouts apply to the layers below: ".wh.NAME"
 * removes NAME,
 * ".wh..wh..opq" empties its directory. Refused, naming the entry: ".."
 * components, names with control characters, hard links to anything but a
 * regular file already in the root, more than the limits. Paths are resolved
 * inside the root being built (openat2 RESOLVE_IN_ROOT): a symbolic link in a
 * layer, absolute or not, can never place anything outside it. Device nodes,
 * FIFOs and sockets are skipped (the function gets lamina's own /dev); setuid,
 * setgid and sticky bits and write permission for group and others are dropped;
 * everything is owned by root.
 *
 * Finally the mount points lamina needs are made real directories: /dev, /proc,
 * /tmp, and /etc/lamina (the sandbox's accounts) when /etc is a directory.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "image.h"

/* Lambda's container images: up to 10 GB. */
#define OCI_DEFAULT_MAX_BYTES (10ull << 30)
#define OCI_DEFAULT_MAX_ENTRIES 1000000u

struct oci_source {
	const char *path;		   /* the layout directory or the archive file */
	bool archive;			   /* oci-archive: a tar of the layout */
	const char *ref;		   /* a tag (org.opencontainers.image.ref.name) or
					    * "sha256:<hex>" choosing a manifest; NULL: the only one */
	const struct image_access *access; /* around the source's opens (NULL: none) */
};

struct oci_result {
	char manifest_hex[65]; /* the image's digest: sha256 of its manifest */
	uint64_t bytes;	       /* regular files' bytes in the root */
	uint32_t entries;
	/* {"EntryPoint": [..], "Command": [..], "WorkingDirectory": "..", "Env":
	 * ["K=V"..]} from the image's config (members absent when the image has
	 * none); owned. */
	json_t *config;
};

/*
 * Reads the source's index, manifest and config: fills result->manifest_hex and
 * config (no layer is read). scratch_fd: an empty private directory for an
 * archive's blobs (unused for a directory). Then oci_apply() unpacks into
 * root_fd.
 */
struct oci_layout;
int oci_open(const struct oci_source *src, int scratch_fd, struct oci_layout **out,
	     struct oci_result *result, struct image_error *err);
int oci_apply(struct oci_layout *l, int root_fd, uint64_t max_bytes, uint32_t max_entries,
	      struct oci_result *result, struct image_error *err);
void oci_close(struct oci_layout *l);
void oci_result_clear(struct oci_result *r);

/* "oci-archive:PATH" or "oci:PATH[:tag|@sha256:hex]" → src (strings point into
 * uri or into buf). false if uri is neither. */
bool oci_parse_uri(const char *uri, char *buf, size_t size, struct oci_source *src);

#endif
