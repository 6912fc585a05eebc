// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// An iter/task program: one fixed-size record per process of the reader's
// pid namespace, with what /proc/PID/stat, status and ns/ would tell the
// graph (pid, parent, comm, credentials, start time, namespaces, threads),
// and one more per thread whose fd table is not its process's (it did not
// share it: CLONE_FILES unset, or unshare(CLONE_FILES)). It only reads
// kernel memory and writes no kernel address.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pidns.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TASK_OWN_FILES 1 // a thread with its own fd table, not a process
#define TASK_KTHREAD 2   // a kernel thread: /proc shows a longer comm
#define PF_KTHREAD 0x00200000

// task_record is what one process (or thread with its own table) makes;
// the Go side reads it as taskTaskRecord.
struct task_record {
	__u64 start;    // the process's start_boottime, in ns
	__u32 pid;      // the process, in the reader's pid namespace
	__u32 tid;      // the thread (pid for the process's record)
	__u32 ppid;     // the parent process in that namespace, 0 if outside it
	__u32 uid;      // the real, effective uid and the real gid, as the
	__u32 euid;     // init user namespace numbers them
	__u32 gid;
	__u32 threads;  // signal->nr_threads
	__u32 netns;    // namespace inodes, 0 where the task has none (exiting)
	__u32 mntns;
	__u32 pidns;
	__u32 flags;    // TASK_OWN_FILES, TASK_KTHREAD
	char comm[16];
};

const struct task_record *unused_task_record __attribute__((unused));

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct task_record r = {};

	if (!task)
		return 0;
	// Pointers are read with BPF_CORE_READ (probe reads), not as loads
	// through the BTF-typed task: the verifier takes ~1 ms over each such
	// load in an iter/task program, and a scan loads this one every time.
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	if (task->pid != task->tgid) {
		// A thread makes a record only when its fd table is its own
		// (a zombie leader has none: then /proc/PID/fd is empty).
		struct files_struct *files = BPF_CORE_READ(task, files);
		struct files_struct *lfiles = BPF_CORE_READ(leader, files);
		if (!files || !lfiles || files == lfiles)
			return 0;
		r.flags = TASK_OWN_FILES;
	}

	void *ns = 0;
	int level = reader_level(&ns);
	r.pid = pid_nr_in(BPF_CORE_READ(leader, thread_pid), level, ns);
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	r.tid = pid_nr_in(pid, level, ns);
	if (!r.pid || !r.tid)
		return 0;
	r.start = BPF_CORE_READ(leader, start_boottime);
	if (r.flags) {
		bpf_seq_write(seq, &r, sizeof(r));
		return 0;
	}

	// /proc/PID/stat's ppid: the real parent's process, 0 when it is
	// outside the namespace.
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	if (parent)
		r.ppid = pid_nr_in(BPF_CORE_READ(parent, group_leader, thread_pid), level, ns);
	const struct cred *cred = BPF_CORE_READ(task, cred);
	r.uid = BPF_CORE_READ(cred, uid.val);
	r.euid = BPF_CORE_READ(cred, euid.val);
	r.gid = BPF_CORE_READ(cred, gid.val);
	r.threads = BPF_CORE_READ(task, signal, nr_threads);
	bpf_probe_read_kernel(r.comm, sizeof(r.comm), task->comm);
	if (task->flags & PF_KTHREAD)
		r.flags |= TASK_KTHREAD;

	struct nsproxy *nsp = BPF_CORE_READ(task, nsproxy);
	if (nsp) {
		r.netns = BPF_CORE_READ(nsp, net_ns, ns.inum);
		r.mntns = BPF_CORE_READ(nsp, mnt_ns, ns.inum);
	}
	// /proc/PID/ns/pid is the namespace the process's pid was made in:
	// the deepest of its pid's numbers.
	__u32 plevel = BPF_CORE_READ(pid, level);
	if (plevel < MAX_PID_NS_LEVEL) {
		struct upid up = {};
		bpf_probe_read_kernel(&up, sizeof(up), (void *)pid + bpf_core_field_offset(struct pid, numbers) + plevel * sizeof(struct upid));
		struct pid_namespace *pns = up.ns;
		r.pidns = BPF_CORE_READ(pns, ns.inum);
	}

	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
