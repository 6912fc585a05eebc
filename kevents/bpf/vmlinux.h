/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types kevents.c reads, as the kernel's BPF selftests
 * declare them: only the fields used, each struct marked
 * preserve_access_index so that CO-RE relocations find the fields by name
 * in the running kernel's BTF, wherever they are.
 */
#ifndef FDSCOPE_KEVENTS_VMLINUX_H
#define FDSCOPE_KEVENTS_VMLINUX_H

#include "types.h"

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

#include "pidtypes.h"

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *group_leader;
	struct pid *thread_pid;
};

// The registers of a system call: its number is in orig_ax on x86-64 and
// syscallno on arm64, its second argument in si and regs[1]; the program
// asks which the kernel has.
struct pt_regs {
	unsigned long orig_ax;
	unsigned long si;
	int syscallno;
	unsigned long regs[31];
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	possible_net_t skc_net;
};

struct sock {
	struct sock_common __sk_common;
};

struct file;
struct linux_binprm;

#pragma clang attribute pop

#endif
