// Package kevents tells which processes changed, from the kernel, as it
// happens: BPF programs on BTF tracepoints — the return of every system
// call that opens, closes, replaces or changes an fd (open, socket, accept,
// dup2, close, fcntl, a recvmsg that brought fds, ...) or connects, binds,
// listens on or shuts down a socket, and a process's start, exec and end —
// mark the process in a map that a Watcher drains, with why: for opening or
// closing fds only (its fd table then shows whether anything changed), or
// for more. The live loop reads
// those processes again instead of looking at every process on every tick,
// so it can tick often and cost nothing at rest.
//
// What the marks do not cover: a file position that moves (read, write,
// lseek), a socket's queues, fds sent in flight over a unix socket, and TCP
// state changes caused by the peer (a FIN, a reset), which happen in no
// process's context: those are counted (Batch.Sockets), and the loop asks
// sock_diag which sockets changed. Its periodic full scan catches the rest.
//
// The programs attach to tp_btf/sys_exit, sched_process_fork, _exec,
// _exit and inet_sock_set_state, not to fentry on fd_install and the close
// functions, which would be narrower: some kernels refuse trampolines
// (fentry, fexit and LSM programs fail with EPERM even for root on this
// project's machines) and others lack kprobes. The cost is a few loads and
// an array lookup on the return of every system call of the machine.
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
