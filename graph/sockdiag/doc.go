// Package sockdiag is a NETLINK_SOCK_DIAG client: it dumps the sockets of one
// network namespace, family by family, as the kernel reports them (the
// interface behind ss(8)), so that fdscope can resolve socket inodes to
// addresses, states and peers.
//
// A [Conn] is bound to one network namespace. Each dump method ([Conn.Unix],
// [Conn.Inet], [Conn.Netlink], [Conn.Packet], [Conn.Vsock]) sends one dump
// request, reads every part of the multipart reply and decodes it into plain
// structs keyed by socket inode. Socket inodes are unique only within a
// network namespace's view of the socket filesystem, so callers key sockets
// by (netns, inode).
//
// # Streaming
//
// The dump methods are built on a lower layer that callers may use
// directly: a [Request] ([UnixRequest], [InetRequest]) says what to dump and
// which attributes to ask for, and [Conn.Each] sends it and hands over every
// reply message as it is received, as a view of the connection's receive
// buffer. [ParseUnixReply] and [ParseInetReply] read the fixed part of a
// reply in place and [Attrs] walks its attributes, so that a caller that
// needs a few facts of every socket (fdscope's live probe, every second, on
// hosts with tens of thousands of sockets) allocates nothing per socket.
//
// The layouts decoded here are those of the Linux uapi headers
// include/uapi/linux/sock_diag.h, unix_diag.h, inet_diag.h, netlink_diag.h,
// packet_diag.h and vm_sockets_diag.h. Decoding is kept apart from I/O: the
// decoders take the reply messages and never panic on malformed input; a
// malformed message is reported as an error wrapping [ErrMalformed] that
// names the dump, the message index and its byte offset, and the other
// messages are still decoded.
//
// # Network namespaces
//
// sock_diag only ever reports the sockets of the network namespace that the
// netlink socket itself was created in. [Dial] with a negative fd uses the
// namespace of the calling thread, which needs no privilege. Dial with the fd
// of another namespace (an open /proc/PID/ns/net or /proc/PID/task/TID/ns/net)
// creates the netlink socket inside that namespace with setns(2) on a
// dedicated, locked OS thread (see the NetNS field of
// github.com/mdlayher/netlink.Config), which needs CAP_SYS_ADMIN both in the
// caller's user namespace and in the user namespace that owns the target
// network namespace; opening another process's ns/net file also needs ptrace
// read access to that process. Once dialled, the Conn keeps reporting that
// namespace, whatever thread uses it.
//
// # Privileges per family
//
// Unix, inet, netlink, packet and vsock dumps need no privilege in the
// caller's own namespace. Some details are reported only to privileged
// callers (for example the socket mark and filters need CAP_NET_ADMIN); this
// package does not request them.
//
// # Kernel support
//
// Each family is served by its own kernel module (unix_diag, inet_diag with
// tcp_diag/udp_diag/raw_diag, netlink_diag, packet_diag, vsock_diag). When the
// kernel has no handler for a family or protocol it answers ENOENT, which the
// dump methods report as an error wrapping [ErrNotSupported].
package sockdiag
