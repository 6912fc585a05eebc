// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// An iter/task_file program: one fixed-size record per open fd of every
// process of the reader's pid namespace, and of every thread there whose
// fd table is its own, written to the iterator's seq_file. It only reads kernel memory: the task, file and inode through
// the BTF-typed pointers the iterator hands over (plain loads, which the
// verifier checks; ~12% faster than probe reads), the rest with
// bpf_probe_read_kernel. The kernel addresses it writes (struct file,
// struct sock) are identities that the Go side maps to ordinals and never
// lets out of the process.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pidns.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_UNIX 1
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define O_CLOEXEC 02000000
#define ANON_INODE_FS_MAGIC 0x09041934
#define ANON_NAME_LEN 24

// record is what one fd makes; the Go side reads it as bpfRecord.
struct record {
	__u64 file;      // the struct file: equal for fds sharing a description
	__u64 sock;      // a socket's struct sock, 0 otherwise
	__u64 peer;      // a unix socket's peer struct sock, 0 if none
	__u64 ino;       // file_inode(file)->i_ino
	__s64 pos;       // f_pos
	__u64 peer_ino;  // the inode of a unix socket's peer, 0 if unknown
	__u64 start;     // the process's start_boottime, in ns
	__u32 pid;       // the process, in the reader's pid namespace
	__u32 fd;
	__u32 flags;     // f_flags, with O_CLOEXEC when the fd has it, as fdinfo shows
	__u32 mode;      // f_mode (FMODE_*)
	__u32 dev;       // the superblock's kernel dev_t (major<<20 | minor)
	__u32 rdev;      // i_rdev
	__u32 magic;     // the superblock's s_magic
	__s32 mnt_id;    // the mount's id, as fdinfo's mnt_id
	__u32 in_flight; // a unix socket's fds in flight (fdinfo's scm_fds)
	__u16 i_mode;
	__u16 family;    // a socket's family, 0 otherwise
	__u16 sock_type; // a socket's type
	__u16 pad;
	__u32 tid;       // the thread whose own fd table this is; pid for the process's
	char anon_name[ANON_NAME_LEN]; // an anon inode's name ("[eventfd]"), NUL-terminated
};

// Keep the type in the object for bpf2go -type.
const struct record *unused_record __attribute__((unused));

SEC("iter/task_file")
int dump_task_file(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct record r = {};

	if (!task || !file)
		return 0;
	// Threads share their process's table unless they unshared it
	// (CLONE_FILES not set): read the process's, as /proc/PID/fd shows
	// it, and the table of a thread that has its own.
	void *ns = 0;
	int level = reader_level(&ns);
	if (task->pid == task->tgid) {
		r.pid = r.tid = pid_nr_in(task->thread_pid, level, ns);
		r.start = task->start_boottime;
	} else {
		struct task_struct *leader = task->group_leader;
		struct files_struct *lfiles = leader->files;
		if (!lfiles || task->files == lfiles)
			return 0;
		r.pid = pid_nr_in(BPF_CORE_READ(leader, thread_pid), level, ns);
		r.tid = pid_nr_in(task->thread_pid, level, ns);
		r.start = leader->start_boottime;
	}
	if (!r.pid || !r.tid)
		return 0;
	r.fd = ctx->fd;

	r.file = (__u64)file;
	r.flags = file->f_flags;
	r.mode = file->f_mode;
	r.pos = file->f_pos;

	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned long word = 0;
	unsigned long *coe = BPF_CORE_READ(fdt, close_on_exec);
	bpf_probe_read_kernel(&word, sizeof(word), coe + r.fd / (8 * sizeof(word)));
	if (word & (1UL << (r.fd % (8 * sizeof(word)))))
		r.flags |= O_CLOEXEC;

	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	r.mnt_id = BPF_CORE_READ(mnt, mnt_id);

	struct inode *inode = file->f_inode;
	r.ino = inode->i_ino;
	r.i_mode = inode->i_mode;
	r.rdev = inode->i_rdev;
	r.dev = inode->i_sb->s_dev;
	r.magic = inode->i_sb->s_magic;
	if (r.magic == ANON_INODE_FS_MAGIC) {
		const unsigned char *name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
		bpf_probe_read_kernel_str(r.anon_name, sizeof(r.anon_name), name);
	}

	if ((r.i_mode & S_IFMT) == S_IFSOCK) {
		struct socket *sock = BPF_CORE_READ(file, private_data);
		struct sock *sk = BPF_CORE_READ(sock, sk);
		r.sock_type = BPF_CORE_READ(sock, type);
		if (sk) {
			r.sock = (__u64)sk;
			r.family = BPF_CORE_READ(sk, __sk_common.skc_family);
			if (r.family == AF_UNIX) {
				struct unix_sock *u = (void *)sk;
				struct sock *peer = BPF_CORE_READ(u, peer);
				r.in_flight = BPF_CORE_READ(u, scm_stat.nr_fds.counter);
				if (peer) {
					r.peer = (__u64)peer;
					r.peer_ino = BPF_CORE_READ(peer, sk_socket, file, f_inode, i_ino);
				}
			}
		}
	}

	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
