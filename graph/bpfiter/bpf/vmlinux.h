/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types taskfile.c and task.c read, as the kernel's BPF selftests
 * declare them: only the fields used, each struct marked
 * preserve_access_index so that libbpf-style CO-RE relocations find the
 * fields by name in the running kernel's BTF, wherever they are.
 */
#ifndef FDSCOPE_VMLINUX_H
#define FDSCOPE_VMLINUX_H

#include "types.h"

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
	int counter;
} atomic_t;

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	u64 session_id;
	u64 seq_num;
};

struct upid {
	int nr;
	void *ns;
};

typedef struct {
	unsigned int val;
} kuid_t;

typedef struct {
	unsigned int val;
} kgid_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
};

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

struct mnt_namespace {
	struct ns_common ns;
};

struct pid_namespace {
	struct ns_common ns;
};

struct nsproxy {
	struct mnt_namespace *mnt_ns;
	struct net *net_ns;
};

struct signal_struct {
	int nr_threads;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct fdtable {
	unsigned int max_fds;
	unsigned long *close_on_exec;
};

struct files_struct {
	struct fdtable *fdt;
};

struct task_struct {
	unsigned int flags;
	int pid;
	int tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct pid *thread_pid;
	u64 start_boottime;
	const struct cred *cred;
	char comm[16];
	struct files_struct *files;
	struct nsproxy *nsproxy;
	struct signal_struct *signal;
};

struct super_block {
	dev_t s_dev;
	unsigned long s_magic;
};

struct inode {
	umode_t i_mode;
	unsigned long i_ino;
	dev_t i_rdev;
	struct super_block *i_sb;
};

struct vfsmount {
	void *mnt_root;
};

struct mount {
	struct vfsmount mnt;
	int mnt_id;
};

struct qstr {
	const unsigned char *name;
};

struct dentry {
	struct qstr d_name;
};

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct file {
	struct path f_path;
	struct inode *f_inode;
	fmode_t f_mode;
	unsigned int f_flags;
	loff_t f_pos;
	void *private_data;
};

struct sock_common {
	unsigned short skc_family;
};

struct sock {
	struct sock_common __sk_common;
	struct socket *sk_socket;
};

struct socket {
	short type;
	struct file *file;
	struct sock *sk;
};

struct scm_stat {
	atomic_t nr_fds;
};

struct unix_sock {
	struct sock sk;
	struct sock *peer;
	struct scm_stat scm_stat;
};

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	u32 fd;
	struct file *file;
};

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
};

#pragma clang attribute pop

#endif
