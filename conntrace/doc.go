// Package conntrace reports connections as the kernel makes and ends them,
// even those that live for a moment: every TCP connection (IPv4 and IPv6)
// and every unix stream or seqpacket connection, with the process at each
// end (pid, start, command name), the fds and socket inodes by which they
// hold it, the addresses, and when it opened and closed.
//
// BPF programs on BTF tracepoints write one record per event into a ring
// buffer: a TCP socket becoming ESTABLISHED or CLOSE
// (inet_sock_set_state, often in softirq, with no process of its own), the
// return of connect, accept and accept4 (the process that connected or
// accepted, its fd, the socket behind it; for a unix socket also the
// server-side socket the kernel made for it), and the freeing of the unix
// sockets of those connections (kmem_cache_free, filtered to the unix
// socket caches). A Tracer's Run reads them and joins the two ends of each
// connection: a TCP socket to the one whose local address is its remote
// address and the reverse (in the same network namespace), a unix client
// to the socket its connect made. It hands over each connection when both
// ends have closed (Conn).
//
// Trampolines (fentry, fexit) would attach to tcp_v4_connect,
// inet_csk_accept or unix_stream_connect directly, but some kernels refuse
// them (EPERM even for root on this project's machines, where kprobes are
// not built either); BTF tracepoints are allowed.
//
// Kernel addresses (the sockets the records name) never leave the Tracer:
// it numbers the sockets as it meets them, and a Conn holds no address of
// kernel memory.
//
// The programs are compiled ahead of time (bpf/conntrace.c, with bpf2go;
// see gen.go) and relocated at load with the running kernel's BTF (CO-RE).
// They need Linux ≥ 5.8 with BTF, and the privileges to load tracing
// programs: root, or CAP_BPF and CAP_PERFMON. They only read kernel memory.
// Pids are those of the pid namespace of the process that opened the
// Tracer; a process outside it shows as pid 0.
//
// Outside Linux (amd64, arm64) the package builds, and Open fails with an
// error wrapping [errors.ErrUnsupported].
package conntrace
