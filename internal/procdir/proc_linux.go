//go:build linux

package procdir

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// PIDs lists the processes of the proc filesystem at root, in directory
// order.
func PIDs(root string) ([]int, error) {
	d, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("list processes: open %s: %w", root, err)
	}
	defer unix.Close(d)
	pids, err := ListNumbers(d, make([]byte, 32<<10), nil)
	if err != nil {
		return nil, fmt.Errorf("list processes: %s: %w", root, err)
	}
	return pids, nil
}

// ListNumbers appends the numeric entries of the open directory dirfd (the
// pids of /proc, the fd numbers of /proc/PID/fd) to into, in directory
// order, reading the entries with getdents64 into buf.
func ListNumbers(dirfd int, buf []byte, into []int) ([]int, error) {
	for {
		n, err := unix.Getdents(dirfd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return into, err
		}
		if n == 0 {
			return into, nil
		}
		b := buf[:n]
		for len(b) > 0 {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			if len(b) < 19 {
				return into, fmt.Errorf("%w: short dirent", ErrMalformed)
			}
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 19 || reclen > len(b) {
				return into, fmt.Errorf("%w: dirent length %d", ErrMalformed, reclen)
			}
			if v, ok := parseNumber(b[19:reclen]); ok {
				into = append(into, v)
			}
			b = b[reclen:]
		}
	}
}

// StartTime reads the start time of process pid (ParseStartTime) from
// root/PID/stat with one read into buf, which must hold the whole line (a
// few hundred bytes; 1 KiB is plenty).
func StartTime(root string, pid int, buf []byte) (uint64, error) {
	fd, err := unix.Open(path(root, pid, "stat"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("start time of %d: %w", pid, err)
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return 0, fmt.Errorf("start time of %d: %w", pid, err)
	}
	v, err := ParseStartTime(buf[:max(n, 0)])
	if err != nil {
		return 0, fmt.Errorf("start time of %d: %w", pid, err)
	}
	return v, nil
}

// NetNS returns the inode number of the network namespace of process pid,
// which names the namespace (root/PID/ns/net).
func NetNS(root string, pid int) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path(root, pid, "ns/net"), &st); err != nil {
		return 0, fmt.Errorf("network namespace of %d: %w", pid, err)
	}
	return st.Ino, nil
}

// NamespaceAt returns the inode number of namespace ns ("net", "mnt",
// "pid", ...) of the process whose /proc/PID directory is open as procDir.
func NamespaceAt(procDir int, ns string) (uint64, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(procDir, "ns/"+ns, &st, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("%s namespace: %w", ns, err)
		}
		return st.Ino, nil
	}
}

// ThreadNetNS returns the inode number of the network namespace of the
// calling thread (/proc/thread-self/ns/net): the one a netlink socket opened
// now is in.
func ThreadNetNS() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("own network namespace: %w", err)
	}
	return st.Ino, nil
}

// OpenNetNS opens the network namespace of process pid (root/PID/ns/net,
// close-on-exec), for setns(2) or sockdiag.Dial, and returns its fd and
// inode number; the caller closes the fd. The inode tells whether the pid
// still names the process the caller meant.
func OpenNetNS(root string, pid int) (fd int, ino uint64, err error) {
	fd, err = unix.Open(path(root, pid, "ns/net"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("network namespace of %d: %w", pid, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("network namespace of %d: %w", pid, err)
	}
	return fd, st.Ino, nil
}

func path(root string, pid int, name string) string {
	return root + "/" + strconv.Itoa(pid) + "/" + name
}
