//go:build !linux

package procdir

import (
	"errors"
	"fmt"
	"runtime"
)

// errNeedsLinux is every reading function's error outside Linux.
var errNeedsLinux = fmt.Errorf("procdir: fdscope needs Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)

// PIDs fails outside Linux.
func PIDs(root string) ([]int, error) { return nil, errNeedsLinux }

// ListNumbers fails outside Linux.
func ListNumbers(dirfd int, buf []byte, into []int) ([]int, error) { return into, errNeedsLinux }

// StartTime fails outside Linux.
func StartTime(root string, pid int, buf []byte) (uint64, error) { return 0, errNeedsLinux }

// NetNS fails outside Linux.
func NetNS(root string, pid int) (uint64, error) { return 0, errNeedsLinux }

// NamespaceAt fails outside Linux.
func NamespaceAt(procDir int, ns string) (uint64, error) { return 0, errNeedsLinux }

// ThreadNetNS fails outside Linux.
func ThreadNetNS() (uint64, error) { return 0, errNeedsLinux }

// OpenNetNS fails outside Linux.
func OpenNetNS(root string, pid int) (fd int, ino uint64, err error) { return -1, 0, errNeedsLinux }
