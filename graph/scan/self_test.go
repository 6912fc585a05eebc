//go:build linux

package scan_test

import (
	"context"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
)

// TestScanLeavesOutItsOwnFDs checks that the directories a scan holds open
// while it reads its own process (/proc/PID, its fd and fdinfo, and those
// of other processes) are not in the graph: two scans of a process at rest
// see the same fds, and fd_count counts them. A whole-machine scan holds
// two directories of up to a batch of processes open at once, so both ways
// are scanned. The proc root the scan opens first stays, with the same
// number every time.
func TestScanLeavesOutItsOwnFDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts scan.Options
	}{
		{"alone", scan.Options{PIDs: []int{os.Getpid()}}},
		{"whole machine", scan.Options{}},
		// bpf where it loads (root): its socket dumps run beside the dump.
		{"alone, auto", scan.Options{PIDs: []int{os.Getpid()}, Backend: scan.BackendAuto}},
		{"whole machine, auto", scan.Options{Backend: scan.BackendAuto}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scan.New(tc.opts)
			t.Cleanup(func() { s.Close() })
			first := ownFDs(t, s)
			second := ownFDs(t, s)
			if !maps.Equal(first, second) {
				t.Errorf("two scans of this process at rest differ:\nfirst:  %v\nsecond: %v", first, second)
			}
			for fd, name := range first {
				if strings.HasPrefix(name, "/proc/") {
					t.Errorf("fd %d: the scan's own directory %s", fd, name)
				}
			}
		})
	}
}

// ownFDs scans and returns the test process's fds, each with what it leads
// to, after checking that fd_count counts exactly those.
func ownFDs(t *testing.T, s *scan.Scanner) map[int]string {
	t.Helper()
	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var proc *graph.Node
	for _, n := range snap.Nodes {
		if n.Kind == graph.KindProcess && n.PID == os.Getpid() {
			proc = n
		}
	}
	if proc == nil {
		t.Fatalf("no process %d in the scan", os.Getpid())
	}
	fds := map[int]string{}
	for _, e := range snap.EdgesFrom(proc.ID) {
		if e.Kind != graph.EdgeFD {
			continue
		}
		fd := snap.Node(e.To)
		name := ""
		for _, o := range snap.EdgesFrom(fd.ID) { // fd → ofd → object
			for _, x := range snap.EdgesFrom(o.To) {
				if x.Kind == graph.EdgeObject {
					name = snap.Node(x.To).Name
				}
			}
		}
		fds[fd.FD.Num] = name
	}
	if proc.FDCount != len(fds) {
		t.Errorf("fd_count %d, but %d fds: %v", proc.FDCount, len(fds), fds)
	}
	return fds
}
