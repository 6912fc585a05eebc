/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ns_pid: a task's pid in the pid namespace whose inode the Go side sets in
 * ns_inum at load (the reader's: /proc/self/ns/pid), for programs that run
 * in the context of any process (tracepoints). The including program
 * declares struct task_struct (thread_pid) and includes pidtypes.h, both
 * preserve_access_index.
 */
#ifndef FDSCOPE_BPF_NSPID_H
#define FDSCOPE_BPF_NSPID_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define NSPID_MAX_LEVEL 32

// The reader's pid namespace (the inode of /proc/self/ns/pid), set at
// load: pids are as it numbers them, and tasks it cannot see have none.
const volatile __u32 ns_inum = 0;

// ns_pid returns task's pid in the reader's pid namespace, 0 if the task
// is not in it. The reader's namespace is one of the task's: the one at
// some level from the root (0) to the task's own.
static __always_inline __u32 ns_pid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	if (!pid)
		return 0;
	__u32 top = BPF_CORE_READ(pid, level);
	void *numbers = (void *)pid + bpf_core_field_offset(struct pid, numbers);
	for (__u32 level = 0; level < NSPID_MAX_LEVEL; level++) {
		if (level > top)
			break;
		struct upid up = {};
		bpf_probe_read_kernel(&up, sizeof(up), numbers + level * sizeof(struct upid));
		if (BPF_CORE_READ(up.ns, ns.inum) == ns_inum)
			return up.nr;
	}
	return 0;
}

#endif
