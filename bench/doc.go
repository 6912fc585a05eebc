//go:build linux

// Package bench measures a full fdscope snapshot against lsof and ss on a
// synthetic workload that it builds itself.
//
// # The workload
//
// The benchmark re-executes its own binary. `fdscope bench worker --init`
// becomes the init of fresh pid, mount and network namespaces (started by
// `unshare --pid --fork --kill-child --mount-proc --net`); it brings lo up and
// starts the workers (`fdscope bench worker --id N`), which build the
// workload's file descriptors: unix socket pairs, unix connections across
// processes through named and abstract listeners and through SCM_RIGHTS,
// loopback TCP connections between processes, pipes shared by groups of
// processes started from one parent (their open file descriptions are shared
// exactly as after fork), dup'd fds, regular files opened twice, eventfds,
// epolls and fds in flight on a unix socket. Plan derives every count from
// one scale factor, so that the benchmark, the init and the workers agree.
//
// Once built, every worker and then the init exec the holder, cat, which
// keeps the fds (none is close-on-exec) with one thread, as a forked C
// server would: lsof lists every fd once per thread, so multi-threaded Go
// workers would cost it several times more (Plan.Threaded keeps them, to
// show that).
//
// # Ending
//
// Every process the benchmark starts ends with it. The init's holder reads
// the benchmark's pipe and exits when it closes, also when the benchmark dies;
// the kernel then kills every process of the pid namespace. unshare kills
// the init when it dies (--kill-child) and dies with the benchmark
// (Pdeathsig). Workload.Stop kills what is left by pid.
//
// # The measurement
//
// Each tool runs as a child of `nsenter --target INIT --pid --mount --net`,
// so that it sees the workload alone, whatever else runs on the machine.
// Wall time comes from the monotonic clock; CPU time (user + system) and
// peak RSS come from the rusage that wait4 reports for nsenter, which
// includes the tool it waited for. The floor (`fdscope bench floor`) lists
// /proc, lists each /proc/PID/fd and readlinks every fd, and does nothing
// else. Every tool runs once to warm up, then Config.Runs times, round-robin;
// the result holds medians.
package bench
