// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Reports the opening and closing of TCP and unix stream connections, with
// what joins their two ends, into a ring buffer that the Go side reads and
// joins into connections. The programs only read kernel memory and write
// their own maps.
//
// Trampolines (fentry, fexit) are refused on this project's machines (EPERM
// even for root), so everything hangs on BTF tracepoints:
//
//   - inet_sock_set_state: a TCP socket becomes ESTABLISHED (its 4-tuple
//     joins it to the other end) or CLOSE. It often runs in softirq, where
//     no process is current: it reports no pid.
//   - sys_exit of connect, accept and accept4: the process that connected
//     or accepted (current), the fd and its socket, found through the fd
//     table. For a unix socket, connect also reports the server-side
//     socket the kernel made for it (unix_sk(sk)->peer), which accept later
//     returns.
//   - kmem_cache_free: a unix socket of a connection reported here is
//     freed. Each end holds a reference to the other, so both are freed
//     once both are released: the connection's end. Only frees from the
//     unix socket caches are looked at (one comparison), then only the
//     sockets in the tracked map.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "nspid.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";


#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define SOCK_SEQPACKET 5
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define TCP_LISTEN 10

// The system call numbers of the running architecture, set at load (and
// ns_inum, in nspid.h).
const volatile __u32 nr_connect = 0;
const volatile __u32 nr_accept = 0;
const volatile __u32 nr_accept4 = 0;

enum kind {
	KIND_ESTABLISHED = 1, // a TCP socket became ESTABLISHED (addresses set)
	KIND_CLOSE = 2,       // a TCP socket that was connected became CLOSE
	KIND_CONNECT = 3,     // a process connected a socket (pid, fd, inode; unix: peer)
	KIND_ACCEPT = 4,      // a process accepted a socket (pid, fd, inode)
	KIND_FREE = 5,        // a unix socket of a reported connection was freed
};

// event is one record of the ring buffer. sock and peer are kernel
// addresses: the Go side turns them into ordinals at once.
struct event {
	__u64 time;  // CLOCK_BOOTTIME, ns
	__u64 sock;
	__u64 peer;  // unix connect: the server-side socket
	__u64 inode; // the socket's inode, when a process holds it by an fd
	__u64 start; // the process's start, ns after boot
	__u32 pid;   // in the reader's pid namespace; 0 when none or not in it
	__s32 fd;
	__u32 netns;
	__u8 kind;
	__u8 family;
	__u8 state; // the socket's TCP state at the event
	__u8 path_len;
	__u16 sport; // host order
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[16];
	char path[108]; // unix: the server's bound name (sun_path), path_len bytes
};

// Keep the type in the object for bpf2go -type.
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

// Flags of bpf_ringbuf_query and bpf_ringbuf_submit (linux/bpf.h).
#define BPF_RB_AVAIL_DATA 0
#define BPF_RB_NO_WAKEUP 1
#define BPF_RB_FORCE_WAKEUP 2

// WAKE_BYTES is how much must wait in the ring buffer before a record
// wakes the reader; below, the reader finds the records when it next
// looks (it does every 50 ms): one wake-up per record would cost the
// reader more than reading them.
#define WAKE_BYTES (1 << 20)

static __always_inline void submit(struct event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKE_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

// counters are totals since load, read by the Go side.
struct counters {
	__u64 events; // records written
	__u64 lost;   // records dropped: the ring buffer was full
	__u64 untracked; // unix sockets not tracked: the map was full (their end is not seen)
};

const struct counters *unused_counters __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} totals SEC(".maps");

// unix_tracked holds the unix sockets of the connections reported, until
// they are freed.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} unix_tracked SEC(".maps");

// The kmem caches unix sockets come from (stream; dgram and seqpacket),
// learnt from the first connections.
__u64 unix_slab[2] = {};

static __always_inline struct counters *counters(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&totals, &zero);
}

// reserve starts a record of kind about sock, or counts it lost.
static __always_inline struct event *reserve(__u8 kind, __u64 sock)
{
	struct counters *c = counters();
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (c)
			__sync_fetch_and_add(&c->lost, 1);
		return 0;
	}
	if (c)
		__sync_fetch_and_add(&c->events, 1);
	__builtin_memset(e, 0, sizeof(*e));
	e->time = bpf_ktime_get_boot_ns();
	e->fd = -1;
	e->kind = kind;
	e->sock = sock;
	return e;
}

static __always_inline void addresses(struct event *e, struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__be32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__be32 *)e->daddr, sk, __sk_common.skc_daddr);
	}
}

// A TCP socket changed state.
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	__u8 kind;
	if (newstate == TCP_ESTABLISHED)
		kind = KIND_ESTABLISHED;
	else if (newstate == TCP_CLOSE && oldstate != TCP_SYN_SENT && oldstate != TCP_SYN_RECV &&
		 oldstate != TCP_LISTEN && oldstate != TCP_CLOSE)
		kind = KIND_CLOSE;
	else
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	struct event *e = reserve(kind, (__u64)sk);
	if (!e)
		return 0;
	e->state = newstate;
	addresses(e, sk);
	submit(e);
	return 0;
}

// track remembers a unix socket until it is freed, and its cache.
static __always_inline void track(struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u8 one = 1;
	if (bpf_map_update_elem(&unix_tracked, &key, &one, BPF_ANY)) {
		struct counters *c = counters();
		if (c)
			__sync_fetch_and_add(&c->untracked, 1);
	}
	__u64 slab = (__u64)BPF_CORE_READ(sk, __sk_common.skc_prot, slab);
	if (!slab || slab == unix_slab[0] || slab == unix_slab[1])
		return;
	if (!unix_slab[0])
		unix_slab[0] = slab;
	else if (!unix_slab[1])
		unix_slab[1] = slab;
}

// A system call returned: a connect or accept that made a connection.
SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 nr;
	if (bpf_core_field_exists(regs->orig_ax))
		nr = BPF_CORE_READ(regs, orig_ax);
	else
		nr = BPF_CORE_READ(regs, syscallno);
	__u8 kind;
	long fd;
	if (nr == nr_connect) {
		// Non-blocking connects (Go's) return EINPROGRESS.
		if (ret != 0 && ret != -EINPROGRESS)
			return 0;
		kind = KIND_CONNECT;
		if (bpf_core_field_exists(regs->di))
			fd = BPF_CORE_READ(regs, di);
		else
			fd = BPF_CORE_READ(regs, orig_x0);
	} else if (nr == nr_accept || nr == nr_accept4) {
		if (ret < 0)
			return 0;
		kind = KIND_ACCEPT;
		fd = ret;
	} else {
		return 0;
	}
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = 0;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return 0;
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 type = BPF_CORE_READ(sk, sk_type);
	struct sock *peer = 0;
	if (family == AF_UNIX) {
		if (type != SOCK_STREAM && type != SOCK_SEQPACKET)
			return 0;
		if (kind == KIND_CONNECT) {
			peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
			if (!peer)
				return 0;
			track(peer);
		}
		track(sk);
	} else if (family != AF_INET && family != AF_INET6) {
		return 0;
	} else if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP) {
		return 0;
	}
	struct event *e = reserve(kind, (__u64)sk);
	if (!e)
		return 0;
	e->peer = (__u64)peer;
	e->fd = fd;
	e->inode = BPF_CORE_READ(inode, i_ino);
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->pid = ns_pid(BPF_CORE_READ(task, group_leader));
	e->start = BPF_CORE_READ(task, group_leader, start_boottime);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (family == AF_UNIX) {
		e->family = AF_UNIX;
		e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		// The server's name: the listener's, which its accepted
		// sockets share. The client connected to it (peer); the
		// acceptor holds it (sk).
		struct unix_address *addr = BPF_CORE_READ((struct unix_sock *)(peer ? peer : sk), addr);
		if (addr) {
			int len = BPF_CORE_READ(addr, len) - (int)sizeof(unsigned short);
			if (len > 0 && len <= (int)sizeof(e->path)) {
				e->path_len = len;
				bpf_probe_read_kernel(e->path, sizeof(e->path), (void *)addr + bpf_core_field_offset(struct unix_address, name) + sizeof(unsigned short));
			}
		}
	} else {
		addresses(e, sk);
	}
	submit(e);
	return 0;
}

// A slab object was freed: a tracked unix socket's end.
SEC("tp_btf/kmem_cache_free")
int BPF_PROG(on_kmem_cache_free, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	__u64 slab = (__u64)s;
	if (!slab || (slab != unix_slab[0] && slab != unix_slab[1]))
		return 0;
	__u64 key = (__u64)ptr;
	if (bpf_map_delete_elem(&unix_tracked, &key))
		return 0;
	struct event *e = reserve(KIND_FREE, key);
	if (!e)
		return 0;
	e->family = AF_UNIX;
	submit(e);
	return 0;
}
