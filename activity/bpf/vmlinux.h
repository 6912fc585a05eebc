/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types pipes.c reads, as the kernel's BPF selftests
 * declare them: only the fields used, each struct marked
 * preserve_access_index so that CO-RE relocations find the fields by name
 * in the running kernel's BTF, wherever they are (head and tail sit in an
 * anonymous struct of a union since 6.14; the relocation finds them there).
 */
#ifndef FDSCOPE_ACTIVITY_VMLINUX_H
#define FDSCOPE_ACTIVITY_VMLINUX_H

#include "types.h"

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	u64 session_id;
	u64 seq_num;
};

struct task_struct {
	int pid;
	int tgid;
};

struct pipe_buffer {
	unsigned int len;
};

struct pipe_inode_info {
	unsigned int head;
	unsigned int tail;
	unsigned int ring_size;
	unsigned int readers;
	unsigned int writers;
	struct pipe_buffer *bufs;
};

struct inode {
	umode_t i_mode;
	unsigned long i_ino;
	struct pipe_inode_info *i_pipe;
};

struct file {
	struct inode *f_inode;
};

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	u32 fd;
	struct file *file;
};

#pragma clang attribute pop

#endif
