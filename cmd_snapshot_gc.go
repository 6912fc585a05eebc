package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// A snapshot's garbage collection. A snapshot lives for one scan: its heap
// only grows until the graph is written, and each collection on the way
// (a dozen with the default GOGC=100 on a host of 65,000 fds) costs CPU and
// leaves freed spans that the process keeps. So the snapshot collects only
// when its heap reaches a soft memory limit sized for the machine, and
// the runtime returns freed memory to stay under it. On the benchmark's
// workload (docs/performance.md), with the bpf scanner: peak RSS 87–90 →
// 75 MiB, wall time 0.74–0.78 → 0.60–0.63 s; with procfs, peak RSS 82–87 →
// 75 MiB for 3% more wall time (a few collections in a row where the build
// holds both the records and the graph, near the limit).
//
// The limit is an estimate from the kernel's count of open file handles.
// Where a machine holds many more fds per handle than the ~2 it assumes
// (thousands of processes sharing inherited fds), the heap outgrows it and
// the runtime collects more often, but never spends more than half the CPU
// on it (its GC CPU limiter) and lets the heap grow past the limit.
const (
	// snapshotHeapBase is the limit's part for a machine with no open files.
	snapshotHeapBase = 24 << 20
	// snapshotHeapPerFile is its part for each open file handle the kernel
	// counts (/proc/sys/fs/file-nr): a scan keeps ~0.7 KiB per fd, and a
	// machine has ~2 fds per handle (inherited and dup'd fds share one).
	snapshotHeapPerFile = 1 << 10
)

// tuneSnapshotGC sets the collector for one snapshot of the machine whose
// proc filesystem is procRoot and returns what restores the settings.
// Settings that GOGC or GOMEMLIMIT give are left alone.
func tuneSnapshotGC(procRoot string) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	files := openFileHandles(procRoot)
	if files < 0 {
		return func() {}
	}
	limit := debug.SetMemoryLimit(snapshotHeapBase + snapshotHeapPerFile*files)
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

// openFileHandles is the number of file handles the kernel has allocated
// (the first field of /proc/sys/fs/file-nr), -1 if it cannot be read. The
// count is the machine's, whatever namespaces the reader is in.
func openFileHandles(procRoot string) int64 {
	b, err := os.ReadFile(filepath.Join(procRoot, "sys/fs/file-nr"))
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
