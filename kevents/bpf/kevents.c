// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Marks the processes whose fds, sockets or program changed, for the live
// loop to read again: one entry per process in a hash map, which the Go
// side drains every tick. The programs only read kernel memory and write
// their own maps; they never change what they observe.
//
// Each hook runs in the context of the process that changed (the return
// of a system call that opened, closed, replaced or changed an fd, or
// connected, bound, listened on or shut down a socket; an exec; an exit),
// except two: a fork marks the child, and a TCP state
// change (tp_btf/inet_sock_set_state, often in softirq, with no process of
// its own) counts in the "sockets" counter, which makes the loop ask
// sock_diag which sockets changed.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "nspid.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_SYSCALL 1024

// marks say why a process was marked. Each is a byte of its own, so that
// two CPUs marking one process for two reasons at once lose neither (no
// read-modify-write; atomic ORs need kernels newer than 5.12).
struct marks {
	__u8 fds;   // fds opened or closed: the fd table shows whether anything changed
	__u8 other; // anything else: a socket, an fd replaced or changed, exec, fork, exit
	__u16 pad;
};

#define WHY_FDS 1
#define WHY_OTHER 2
#define WHY_FCNTL 3   // fcntl: it depends on the command
#define WHY_RECVMSG 4 // recvmsg: fds may have come with control data

#define F_DUPFD 0
#define F_SETFD 2
#define F_SETFL 4
#define F_DUPFD_CLOEXEC 1030

// Keep the type in the object for bpf2go -type.
const struct marks *unused_marks __attribute__((unused));

// changed holds the processes marked since the reader last drained it.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);          // the pid (thread group id) in the reader's namespace
	__type(value, struct marks); // why
} changed SEC(".maps");

// counters are totals since load, read by the Go side.
struct counters {
	__u64 marks;   // processes marked (whether already in changed or not)
	__u64 lost;    // marks dropped because changed was full
	__u64 sockets; // TCP state changes
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} totals SEC(".maps");

// Keep the type in the object for bpf2go -type.
const struct counters *unused_counters __attribute__((unused));

static __always_inline struct counters *counters(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&totals, &zero);
}

// mark records why the process of task changed.
static __always_inline void mark(struct task_struct *task, __u32 why)
{
	struct counters *c = counters();
	if (!c)
		return;
	__u32 tgid = ns_pid(BPF_CORE_READ(task, group_leader));
	if (!tgid)
		return;
	__sync_fetch_and_add(&c->marks, 1);
	struct marks *m = bpf_map_lookup_elem(&changed, &tgid);
	if (m) {
		if (why == WHY_FDS)
			m->fds = 1;
		else
			m->other = 1;
		return;
	}
	struct marks fresh = {.fds = why == WHY_FDS, .other = why != WHY_FDS};
	long err = bpf_map_update_elem(&changed, &tgid, &fresh, BPF_NOEXIST);
	if (err == -7 /* -E2BIG: full */) {
		__sync_fetch_and_add(&c->lost, 1);
	} else if (err) {
		// Another CPU marked it meanwhile.
		m = bpf_map_lookup_elem(&changed, &tgid);
		if (m && why == WHY_FDS)
			m->fds = 1;
		else if (m)
			m->other = 1;
	}
}

static __always_inline void mark_current(__u32 why)
{
	mark((struct task_struct *)bpf_get_current_task(), why);
}

// syscalls are the system calls that change a process's fds or sockets
// (by number; the Go side fills it for the running architecture): open,
// socket, accept, pipe, dup, dup2, close, close_range, fcntl, connect,
// bind, listen, shutdown, epoll_ctl, inotify_add_watch, ... A non-zero
// value: the call counts when it succeeds (returns >= 0), as WHY_FDS (it
// only opens or closes fds), WHY_OTHER, WHY_FCNTL (by its command) or
// WHY_RECVMSG (when control data came).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALL);
	__type(key, __u32);
	__type(value, __u32);
} syscalls SEC(".maps");

// arg1 is a system call's second argument.
static __always_inline unsigned long arg1(struct pt_regs *regs)
{
	if (bpf_core_field_exists(regs->si))
		return BPF_CORE_READ(regs, si);
	return BPF_CORE_READ(regs, regs[1]);
}

// user_msghdr is recvmsg's struct msghdr, as user space lays it out.
struct user_msghdr {
	void *msg_name;
	int msg_namelen;
	void *msg_iov;
	unsigned long msg_iovlen;
	void *msg_control;
	unsigned long msg_controllen;
	unsigned int msg_flags;
};

// Every system call's return, in the calling thread: mark its process if
// the call is one of syscalls and succeeded. (fentry on fd_install and the
// close functions would be narrower, but trampolines are not allowed
// everywhere: this tracepoint is.)
SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	if (ret < 0)
		return 0;
	__u32 nr;
	if (bpf_core_field_exists(regs->orig_ax))
		nr = BPF_CORE_READ(regs, orig_ax);
	else
		nr = BPF_CORE_READ(regs, syscallno);
	if (nr >= MAX_SYSCALL)
		return 0;
	__u32 *whyp = bpf_map_lookup_elem(&syscalls, &nr);
	if (!whyp || !*whyp)
		return 0;
	__u32 why = *whyp;
	if (why == WHY_FCNTL) {
		// Most fcntls only ask (F_GETFL, F_GETFD, locks): count those
		// that set flags or make an fd, as fds only. Go's os.Open sets
		// O_NONBLOCK on every file it opens: a flag set on an fd that
		// stays open shows at the next full scan.
		unsigned long cmd = arg1(regs);
		if (cmd == F_SETFD || cmd == F_SETFL || cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
			why = WHY_FDS;
		else
			return 0;
	} else if (why == WHY_RECVMSG) {
		// Fds received by SCM_RIGHTS come with control data: the kernel
		// has written its length back into the caller's msghdr.
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)arg1(regs)) || !msg.msg_controllen)
			return 0;
		why = WHY_FDS;
	}
	mark_current(why);
	return 0;
}

// A process started: mark the child (it may hold its fds unchanged for
// ever). Threads are not processes.
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	mark(child, WHY_OTHER);
	return 0;
}

// A new program: its close-on-exec fds closed, a new name and command line.
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_sched_process_exec, struct task_struct *task)
{
	mark(task, WHY_OTHER);
	return 0;
}

// A thread or process exited.
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_sched_process_exit, struct task_struct *task)
{
	mark(task, WHY_OTHER);
	return 0;
}

// netns holds the network namespaces (by inode) whose TCP state changes
// count; the Go side fills it with those the scans see. Key 0 present: the
// filter is on (no namespace has inode 0); absent: every change counts.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} netns SEC(".maps");

// A TCP socket changed state: often in softirq, on a packet from the peer,
// where no process is current. Counted when its namespace is one the
// reader watches: a busy container next door does not make it look.
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state, struct sock *sk)
{
	__u32 zero = 0;
	if (bpf_map_lookup_elem(&netns, &zero)) {
		__u32 inum = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		if (!bpf_map_lookup_elem(&netns, &inum))
			return 0;
	}
	struct counters *c = counters();
	if (c)
		__sync_fetch_and_add(&c->sockets, 1);
	return 0;
}
