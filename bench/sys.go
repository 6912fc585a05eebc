//go:build linux

package bench

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/internal/procdir"
)

// Small system helpers of the workload's processes.

func sockaddrString(a unix.Sockaddr) string {
	switch a := a.(type) {
	case *unix.SockaddrUnix:
		return a.Name
	case *unix.SockaddrInet4:
		return fmt.Sprintf("%d.%d.%d.%d:%d", a.Addr[0], a.Addr[1], a.Addr[2], a.Addr[3], a.Port)
	}
	return fmt.Sprint(a)
}

// countFDs counts the calling process's fds: all of them, or only those that
// survive exec (without close-on-exec).
func countFDs(all bool) (int, error) {
	d, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("count fds: %w", err)
	}
	defer unix.Close(d)
	fds, err := procdir.ListNumbers(d, make([]byte, 32<<10), nil)
	if err != nil {
		return 0, fmt.Errorf("count fds: %w", err)
	}
	if all {
		return len(fds) - 1, nil // less the directory itself
	}
	n := 0
	for _, fd := range fds {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			n++
		}
	}
	return n, nil
}

// raiseNOFILE raises the soft fd limit to the hard one.
func raiseNOFILE() error {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
			return fmt.Errorf("setrlimit RLIMIT_NOFILE %d: %w", r.Max, err)
		}
	}
	return nil
}
