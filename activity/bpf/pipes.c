// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// An iter/task_file program that writes one record per fd of a pipe or
// FIFO: its inode and the bytes waiting in it (the lengths of the buffers
// between the ring's tail and head). The fill level of a pipe is known
// only to the kernel: user space could ask with FIONREAD on an fd of the
// pipe, which only its holders have. It only reads.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define S_IFMT 00170000
#define S_IFIFO 0010000
// MAX_SLOTS bounds the buffers summed: a pipe holds 16 by default
// (F_SETPIPE_SZ can give it more, whose bytes are then counted short).
#define MAX_SLOTS 64

// pipe_record is what one fd of a pipe makes; the Go side reads it as
// pipesPipeRecord.
struct pipe_record {
	__u64 ino;
	__u32 bytes;   // waiting to be read
	__u32 slots;   // buffers in use
	__u32 readers; // open read ends
	__u32 writers; // open write ends
};

// Keep the type in the object for bpf2go -type.
const struct pipe_record *unused_pipe_record __attribute__((unused));

SEC("iter/task_file")
int dump_pipes(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	if (!task || !file || task->pid != task->tgid)
		return 0;
	struct inode *inode = file->f_inode;
	if ((inode->i_mode & S_IFMT) != S_IFIFO)
		return 0;
	struct pipe_inode_info *pipe = BPF_CORE_READ(inode, i_pipe);
	if (!pipe)
		return 0;
	struct pipe_record r = {.ino = inode->i_ino};
	__u32 head = BPF_CORE_READ(pipe, head);
	__u32 tail = BPF_CORE_READ(pipe, tail);
	__u32 mask = BPF_CORE_READ(pipe, ring_size) - 1;
	struct pipe_buffer *bufs = BPF_CORE_READ(pipe, bufs);
	r.readers = BPF_CORE_READ(pipe, readers);
	r.writers = BPF_CORE_READ(pipe, writers);
	r.slots = head - tail;
	// The ring's stride is the kernel's size of a buffer, not the local
	// declaration's (CO-RE relocates the size too).
	__u32 stride = bpf_core_type_size(struct pipe_buffer);
	for (__u32 i = 0; i < MAX_SLOTS && i < r.slots; i++) {
		struct pipe_buffer *b = (void *)bufs + ((tail + i) & mask) * stride;
		r.bytes += BPF_CORE_READ(b, len);
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
