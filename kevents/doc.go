// Package kevents tells which processes changed, from the kernel, as it
// happens: BPF programs on the kernel functions and tracepoints that open,
// close, replace or change an fd (fd_install, close, dup2, fcntl), connect,
// bind, listen on or shut down a socket, and start, exec or end a process
// mark the process in a map that a Watcher drains. The live loop reads
// those processes again instead of looking at every process on every tick,
// so it can tick often and cost nothing at rest.
//
// What the marks do not cover: a file position that moves (read, write,
// lseek), a socket's queues, fds sent in flight over a unix socket, and TCP
// state changes caused by the peer (a FIN, a reset), which happen in no
// process's context: those are counted (Batch.Sockets), and the loop asks
// sock_diag which sockets changed. Its periodic full scan catches the rest.
//
// The programs are compiled ahead of time (bpf/kevents.c, with bpf2go; see
// gen.go) and relocated at load with the running kernel's BTF (CO-RE). They
// need Linux ≥ 5.8 with BTF and the privileges to load tracing programs:
// root, or CAP_BPF and CAP_PERFMON. They only read kernel memory. Pids are
// those of the pid namespace of the process that opened the Watcher.
//
// Outside Linux the package builds, and Open fails with an error wrapping
// [errors.ErrUnsupported].
package kevents
