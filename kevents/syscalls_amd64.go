//go:build linux

package kevents

import "golang.org/x/sys/unix"

// archSyscalls are the older system calls amd64 has and arm64 has not:
// those that only open fds, and the others.
func archSyscalls() (fds, other []int) {
	return []int{
			unix.SYS_OPEN, unix.SYS_CREAT, unix.SYS_PIPE,
			unix.SYS_EVENTFD, unix.SYS_EPOLL_CREATE, unix.SYS_INOTIFY_INIT, unix.SYS_SIGNALFD,
		},
		[]int{unix.SYS_DUP2}
}
