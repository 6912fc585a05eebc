//go:build linux

package scan

import (
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The hot path reads /proc with raw *at syscalls on directory fds: os.Open
// and os.Readlink build a path per call, register each file with the
// runtime's poller and allocate, which costs more than the kernel's work.

// openDir opens name relative to dirfd as a directory.
func openDir(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// readFileAt reads the whole of name relative to dirfd into buf, growing it
// as needed up to max bytes, and returns the bytes read and the buffer for
// reuse. /proc files report a size of 0, so the read goes until EOF.
func readFileAt(dirfd int, name string, buf []byte, max int) ([]byte, []byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, buf, err
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(buf) {
			if len(buf) >= max {
				return buf[:n], buf, fmt.Errorf("%w: %s is larger than %d bytes", ErrParse, name, max)
			}
			grown := make([]byte, 2*len(buf)+4096)
			copy(grown, buf[:n])
			buf = grown
		}
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, buf, err
		}
		if m == 0 {
			return buf[:n], buf, nil
		}
		n += m
	}
}

// readlinkAt returns the target of the symlink name relative to dirfd.
func readlinkAt(dirfd int, name string, buf []byte) (string, error) {
	for {
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n == len(buf) {
			return "", fmt.Errorf("%w: link %s longer than %d bytes", ErrParse, name, len(buf))
		}
		return string(buf[:n]), nil
	}
}

// statAt stats what name relative to dirfd leads to, following the link.
func statAt(dirfd int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dirfd, name, st, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

// kcmpFile compares two fds with kcmp(2) KCMP_FILE: 0 when they share one
// open file description, 1 or 2 as an ordering otherwise.
func kcmpFile(pid1, fd1, pid2, fd2 int) (int, error) {
	const kcmpFileType = 0 // KCMP_FILE
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), kcmpFileType, uintptr(fd1), uintptr(fd2), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// kcmpFiles reports whether tasks pid1 and pid2 share one fd table, with
// kcmp(2) KCMP_FILES.
func kcmpFiles(pid1, pid2 int) (bool, error) {
	const kcmpFilesType = 2 // KCMP_FILES
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), kcmpFilesType, 0, 0, 0)
	if errno != 0 {
		return false, errno
	}
	return r == 0, nil
}

// kcmpEpollTarget compares fd num of process pid with the file that epoll
// fd epfd of the same process watches under target number tfd, with kcmp(2)
// KCMP_EPOLL_TFD: 0 when they are the same file.
func kcmpEpollTarget(pid, num, epfd, tfd int) (int, error) {
	const kcmpEpollTFD = 7 // KCMP_EPOLL_TFD
	slot := struct{ efd, tfd, toff uint32 }{uint32(epfd), uint32(tfd), 0}
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(pid), kcmpEpollTFD, uintptr(num), uintptr(unsafe.Pointer(&slot)), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// gone reports whether err means the process or fd no longer exists.
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EBADF)
}

// denied reports whether err means access was refused.
func denied(err error) bool {
	return errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)
}

func itoa(n int) string { return strconv.Itoa(n) }
