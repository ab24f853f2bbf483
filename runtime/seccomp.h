/* SPDX-License-Identifier: MIT */
#ifndef LAMINA_RUNTIME_SECCOMP_H
#define LAMINA_RUNTIME_SECCOMP_H

#include <linux/filter.h>

#include "error.h"

/*
 * The sandbox's syscall policy, compiled once in the parent into a classic BPF program;
 * the child only installs it (no allocation after fork).
 */
int syscall_filter_compile(struct sock_fprog *prog, struct lr_error *err);
void syscall_filter_free(struct sock_fprog *prog);

/* Installs prog on the calling thread; sets no_new_privs first. Async-signal-safe. */
int syscall_filter_install(const struct sock_fprog *prog);

#endif
