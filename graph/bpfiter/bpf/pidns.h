/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pid a task has in the reader's pid namespace, as pid_nr_ns() gives
 * it: the iterators walk the namespace of the task reading them, which is
 * current.
 */
#ifndef FDSCOPE_PIDNS_H
#define FDSCOPE_PIDNS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define MAX_PID_NS_LEVEL 32

// reader_level is the depth of the reader's pid namespace, and *ns the
// namespace; -1 when it is deeper than any kernel allows.
static __always_inline int reader_level(void **ns)
{
	struct task_struct *reader = (void *)bpf_get_current_task();
	struct pid *pid = BPF_CORE_READ(reader, thread_pid);
	__u32 level = BPF_CORE_READ(pid, level);
	if (level >= MAX_PID_NS_LEVEL)
		return -1;
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), (void *)pid + bpf_core_field_offset(struct pid, numbers) + level * sizeof(struct upid));
	*ns = up.ns;
	return level;
}

// pid_nr_in is pid's number in the namespace ns at depth level, 0 when
// pid is not in it.
static __always_inline __u32 pid_nr_in(struct pid *pid, int level, void *ns)
{
	if (!pid || level < 0 || level > BPF_CORE_READ(pid, level))
		return 0;
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), (void *)pid + bpf_core_field_offset(struct pid, numbers) + level * sizeof(struct upid));
	return up.ns == ns ? up.nr : 0;
}

#endif
