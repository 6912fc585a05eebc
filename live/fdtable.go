package live

import (
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// FDTables fingerprints fd tables. A Loop with Events reads a process
// that only opened or closed fds again only when its fingerprint changed
// since it last looked: a file opened and closed between two ticks leaves
// the table as it was. ProcFDTables is one.
type FDTables interface {
	// Fingerprint returns a hash of the fd numbers of the process pid and
	// what each names; false when they cannot be read (the process is
	// gone, or denied).
	Fingerprint(pid int) (uint64, bool)
}

// ProcFDTables fingerprints fd tables from a proc filesystem: a listing
// of /proc/PID/fd and a readlink of each fd, what lsof's floor costs.
type ProcFDTables struct {
	root string
	buf  []byte
}

// NewProcFDTables returns fingerprints of the proc filesystem at root
// ("/proc" if empty). It is not safe for concurrent use.
func NewProcFDTables(root string) *ProcFDTables {
	if root == "" {
		root = "/proc"
	}
	return &ProcFDTables{root: root, buf: make([]byte, 4096)}
}

// Fingerprint implements FDTables.
func (t *ProcFDTables) Fingerprint(pid int) (uint64, bool) {
	dir, err := os.Open(filepath.Join(t.root, strconv.Itoa(pid), "fd"))
	if err != nil {
		return 0, false
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return 0, false
	}
	slices.Sort(names)
	dirfd := int(dir.Fd())
	h := fnv.New64a()
	for _, name := range names {
		n, err := unix.Readlinkat(dirfd, name, t.buf)
		if err != nil {
			continue // closed meanwhile: its close marks the process again
		}
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(t.buf[:n])
		h.Write([]byte{0})
	}
	return h.Sum64(), true
}
