// Package bpfiter reads every open fd of the machine in one pass inside
// the kernel, with a BPF iterator (iter/task_file) that writes one
// fixed-size record per fd: the open file description's identity, its
// flags, mode and position, the mount, the inode's number, device and
// mode, and for sockets their family and type and, for unix sockets, the
// peer and the fds in flight.
//
// Two fds share one open file description exactly when they name the same
// struct file, so the records settle sharing without kcmp(2), and a unix
// socket's peer is known in every network namespace without entering it.
// Kernel addresses never leave this package: a dump numbers the struct
// files and socks it meets (Desc, Sock, Peer) and returns the numbers.
//
// The program is compiled ahead of time (bpf/taskfile.c, with bpf2go; see
// gen.go) and relocated at load with the running kernel's BTF (CO-RE). It
// needs Linux ≥ 5.8 with BTF (/sys/kernel/btf/vmlinux) and the privileges
// to load tracing programs: root, or CAP_BPF and CAP_PERFMON. It only
// reads. The iterator walks the processes of the reader's pid namespace,
// and reports their pids as that namespace numbers them; a thread whose fd
// table is not its leader's is not read (as /proc/PID/fd shows the
// leader's).
//
// Outside Linux the package builds, and Open fails with an error wrapping
// [errors.ErrUnsupported].
package bpfiter
