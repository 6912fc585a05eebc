/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types conntrace.c reads, as the kernel's BPF selftests
 * declare them: only the fields used, each struct marked
 * preserve_access_index so that CO-RE relocations find the fields by name
 * in the running kernel's BTF, wherever they are (anonymous unions and
 * structs of the kernel's own layout are looked through by name).
 */
#ifndef FDSCOPE_CONNTRACE_VMLINUX_H
#define FDSCOPE_CONNTRACE_VMLINUX_H

#include "types.h"

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

#include "pidtypes.h"

struct file;

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *group_leader;
	struct pid *thread_pid;
	struct files_struct *files;
	u64 start_boottime;
};

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
};

struct file {
	struct inode *f_inode;
	void *private_data;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct in6_addr {
	union {
		__u8 u6_addr8[16];
	} in6_u;
};

struct kmem_cache;

struct proto {
	struct kmem_cache *slab;
};

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct proto *skc_prot;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct socket;

struct sock {
	struct sock_common __sk_common;
	struct socket *sk_socket;
	u16 sk_protocol;
	u16 sk_type;
};

struct socket {
	short type;
	struct file *file;
	struct sock *sk;
};

struct sockaddr_un {
	unsigned short sun_family;
	char sun_path[108];
};

struct unix_address {
	int len;
	struct sockaddr_un name[0];
};

struct unix_sock {
	struct sock sk;
	struct unix_address *addr;
	struct sock *peer;
};

// The registers of a system call at its return: its number is in orig_ax
// on x86-64 and syscallno on arm64; its first argument in di on x86-64 and
// orig_x0 on arm64 (x0 then holds the return value). The program asks
// which the kernel has.
struct pt_regs {
	unsigned long orig_ax;
	unsigned long di;
	int syscallno;
	unsigned long orig_x0;
};

#pragma clang attribute pop

#endif
