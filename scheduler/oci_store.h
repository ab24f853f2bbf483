/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_SCHEDULER_OCI_STORE_H
#define LAMINA_SCHEDULER_OCI_STORE_H

/*
 * Container-image functions: an OCI image layout (a directory, "oci:/abs/dir",
 * or its tarball, "oci-archive:/abs/file.tar", as podman and skopeo write them)
 * unpacked by a child process that reads it with the client's credentials
 * (images/oci.h), into the image store as sha256/<manifest digest>: the
 * function's whole root file system. While the child commits, the digest is
 * held (code_store_hold), so garbage collection cannot take an image found
 * already stored before its version is recorded.
 */

#include <jansson.h>
#include <sys/types.h>

#include "api_error.h"
#include "code_store.h"

struct daemon;

/* image: {"ImageUri", "ImageConfig": {EntryPoint, Command, WorkingDirectory,
 * Env}}, borrowed for the call. */
typedef void (*oci_store_cb)(void *ctx, const struct code_ref *ref, json_t *image,
			     const struct api_error *err);

/* uri: "oci-archive:/abs/file" or "oci:/abs/dir" (optionally ending in
 * "@sha256:<hex>" or ":<tag>" to choose one of several images in the layout's
 * index). */
/* Lambda's ImageConfig parameter ({EntryPoint, Command, WorkingDirectory}, each optional)
 * checked: *out a new reference, or NULL when param is absent or null. */
int oci_image_config_param(json_t *param, json_t **out, struct api_error *err);

int oci_store_put(struct daemon *d, const char *uri, uid_t uid, gid_t gid, oci_store_cb cb,
		  void *ctx, struct api_error *err);

#endif
