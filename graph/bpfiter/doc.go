// Package bpfiter reads every process and every open fd of the machine in
// one pass inside the kernel, with two BPF iterators that write
// fixed-size records:
//
//   - iter/task (bpf/task.c): one record per process, with what
//     /proc/PID/stat, status and ns/ say of it: pid and ppid in the
//     reader's pid namespace, comm, uid, euid and gid, start time, thread
//     count, the network, mount and pid namespace inodes, whether it is a
//     kernel thread; and one per thread whose fd table is not its
//     process's (Task.OwnFDTables).
//   - iter/task_file (bpf/taskfile.c): one record per fd of every
//     process's table and of every thread's own table (File.TID): the open
//     file description's identity, its flags, mode and position, the
//     mount, the inode's number, device and mode, an anon inode's name, and
//     for sockets their family and type and, for unix sockets, the peer and
//     the fds in flight.
//
// Iterator.Dump reads both at once. Two fds share one open file
// description exactly when they name the same struct file, so the records
// settle sharing without kcmp(2), and a unix socket's peer is known in
// every network namespace without entering it. Kernel addresses never
// leave this package: a dump numbers the struct files and socks it meets
// (Desc, Sock, Peer) and returns the numbers. What the iterators do not
// read: a process's cmdline (user memory), cgroup path, cwd, root and exe
// (paths), and the fdinfo lines of eventfds, epolls, inotify instances and
// the like; graph/scan reads those from /proc.
//
// The programs are compiled ahead of time (bpf/, with bpf2go; see gen.go)
// against a small header of the kernel types they read (bpf/vmlinux.h),
// and relocated at load with the running kernel's BTF (CO-RE). They need
// Linux ≥ 5.8 with BTF (/sys/kernel/btf/vmlinux) and the privileges to
// load tracing programs: root, or CAP_BPF and CAP_PERFMON. They only read.
// The iterators walk the processes of the reader's pid namespace, and
// report their pids as that namespace numbers them.
//
// Outside Linux the package builds, and Open fails with an error wrapping
// [errors.ErrUnsupported].
package bpfiter
