/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel's pid structs as nspid.h reads them: only the fields used.
 * Include it inside a program's preserve_access_index region (its
 * vmlinux.h), so that CO-RE relocates every field.
 */
#ifndef FDSCOPE_BPF_PIDTYPES_H
#define FDSCOPE_BPF_PIDTYPES_H

struct ns_common {
	unsigned int inum;
};

struct pid_namespace {
	struct ns_common ns;
};

struct upid {
	int nr;
	struct pid_namespace *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

#endif
