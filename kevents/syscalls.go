//go:build linux && (amd64 || arm64)

package kevents

import "golang.org/x/sys/unix"

// Why a system call marks its process, as bpf/kevents.c numbers it.
const (
	whyFDs     = 1 // it only opens or closes fds
	whyOther   = 2 // it changes an fd in place, or a socket, or a watch
	whyFcntl   = 3 // fcntl: F_SETFD, F_SETFL and F_DUPFD are fds, the rest nothing
	whyRecvmsg = 4 // recvmsg: fds when control data came (SCM_RIGHTS)
)

// watchedSyscalls maps the system calls that, when they succeed, change
// what a snapshot shows of the calling process (its fds, their flags, its
// sockets' state, an epoll's or an inotify's watches) to why. What does
// not count: reads and writes (a position, a queue), sendmsg (fds in
// flight), recvmmsg, ioctl, and bpf (the Watcher's own Take is one).
func watchedSyscalls() map[int]uint32 {
	fds, other := archSyscalls()
	fds = append(fds,
		unix.SYS_OPENAT, unix.SYS_OPENAT2, unix.SYS_OPEN_BY_HANDLE_AT,
		unix.SYS_SOCKET, unix.SYS_SOCKETPAIR, unix.SYS_ACCEPT, unix.SYS_ACCEPT4,
		unix.SYS_PIPE2, unix.SYS_DUP,
		unix.SYS_EVENTFD2, unix.SYS_EPOLL_CREATE1, unix.SYS_INOTIFY_INIT1, unix.SYS_SIGNALFD4,
		unix.SYS_TIMERFD_CREATE, unix.SYS_MEMFD_CREATE, unix.SYS_PIDFD_OPEN, unix.SYS_PIDFD_GETFD,
		unix.SYS_PERF_EVENT_OPEN, unix.SYS_FANOTIFY_INIT, unix.SYS_IO_URING_SETUP,
		unix.SYS_USERFAULTFD, unix.SYS_CLOSE,
	)
	other = append(other,
		// close_range may only set close-on-exec (CLOSE_RANGE_CLOEXEC)
		unix.SYS_DUP3, unix.SYS_CLOSE_RANGE,
		unix.SYS_CONNECT, unix.SYS_BIND, unix.SYS_LISTEN, unix.SYS_SHUTDOWN,
		unix.SYS_EPOLL_CTL, unix.SYS_INOTIFY_ADD_WATCH, unix.SYS_INOTIFY_RM_WATCH,
		unix.SYS_FANOTIFY_MARK,
	)
	m := make(map[int]uint32, len(fds)+len(other))
	for _, nr := range fds {
		m[nr] = whyFDs
	}
	for _, nr := range other {
		m[nr] = whyOther
	}
	m[unix.SYS_FCNTL] = whyFcntl
	m[unix.SYS_RECVMSG] = whyRecvmsg
	return m
}
