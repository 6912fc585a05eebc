//go:build linux

package scan_test

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
)

func TestParseBackend(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want scan.Backend
		ok   bool
	}{
		{"auto", scan.BackendAuto, true},
		{"bpf", scan.BackendBPF, true},
		{"procfs", scan.BackendProcfs, true},
		{"", "", false},
		{"BPF", "", false},
		{"proc", "", false},
	} {
		got, err := scan.ParseBackend(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseBackend(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// Where the iterator cannot be used, bpf fails with the reason and auto
// falls back to procfs, saying why.
func TestBackendFallback(t *testing.T) {
	ctx := context.Background()
	bpf := scan.New(scan.Options{ProcRoot: "testdata/proc", Backend: scan.BackendBPF, NoSockDiag: true, NoKcmp: true})
	if _, err := bpf.Scan(ctx); err == nil || !strings.Contains(err.Error(), "not /proc") {
		t.Errorf("bpf on a fixture tree: error %v, want one about the proc root", err)
	}
	auto := scan.New(scan.Options{ProcRoot: "testdata/proc", Backend: scan.BackendAuto, NoSockDiag: true, NoKcmp: true})
	s, err := auto.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Stats.Scanner != "procfs" || !strings.Contains(s.Stats.ScannerFallback, "not /proc") {
		t.Errorf("auto on a fixture tree: scanner %q, fallback %q", s.Stats.Scanner, s.Stats.ScannerFallback)
	}
	if err := auto.Close(); err != nil {
		t.Error(err)
	}
}

// As root the bpf backend runs, and the scanning process's own table does
// not show the iterator's fds; Close releases them.
func TestBackendBPFSelf(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	sc := scan.New(scan.Options{PIDs: []int{os.Getpid()}, Backend: scan.BackendBPF})
	s := scanWith(t, sc, false)
	if s.Stats.Scanner != "bpf" || s.Stats.Sharing != "bpf" {
		t.Fatalf("scanner %q, sharing %q", s.Stats.Scanner, s.Stats.Sharing)
	}
	for _, n := range s.Nodes {
		if n.Object != nil && strings.HasPrefix(n.Object.Name, "anon_inode:bpf") {
			t.Errorf("the scan shows its own BPF fd: %s", dumpNodes(n))
		}
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l == "anon_inode:bpf-prog" || l == "anon_inode:bpf_link" {
			t.Errorf("fd %s (%s) still open after Close", e.Name(), l)
		}
	}
}

// No kernel address reaches the snapshot: no number in its JSON is in the
// kernel's half of the address space (x86-64 and arm64 put the kernel at
// 0xffff800000000000 and above), in decimal or in hex.
func TestBackendBPFNoAddresses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	// A unix socket pair: each end's record carries the other's sock.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	sc := scan.New(scan.Options{PIDs: []int{os.Getpid()}, Backend: scan.BackendBPF})
	defer sc.Close()
	s := scanWith(t, sc, false)
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	const kernelBase = 0xffff800000000000
	for _, m := range regexp.MustCompile(`0x[0-9a-fA-F]+|[0-9]+`).FindAllString(buf.String(), -1) {
		n, err := strconv.ParseUint(m, 0, 64)
		if err == nil && n >= kernelBase || strings.HasPrefix(strings.ToLower(m), "0xffff") {
			t.Errorf("the snapshot holds %s, which looks like a kernel address", m)
		}
	}
}

// A thread with an fd table of its own (no CLONE_FILES) is read as a
// process of its own: a node with its thread id as pid, tgid its
// process's, joined to it by a thread edge, with the fds of its table.
// The table was copied by unshare(CLONE_FILES): the fds both tables hold
// share their descriptions. Both backends agree (scanPIDs compares them).
func TestOwnFDTableThread(t *testing.T) {
	c := startChild(t, "owntable", childOpts{})
	f := c.ready()
	own, tid := f.FD["thread_sock"], f.Num["tid"]
	dir := "/proc/" + strconv.Itoa(c.pid)
	if l, err := os.Readlink(dir + "/task/" + strconv.Itoa(tid) + "/fd/" + strconv.Itoa(own)); err != nil || !strings.HasPrefix(l, "socket:") {
		t.Fatalf("the thread's fd %d: %q, %v", own, l, err)
	}
	if _, err := os.Readlink(dir + "/fd/" + strconv.Itoa(own)); err == nil {
		t.Fatalf("fd %d of the thread's table is in the process's too", own)
	}
	v := newView(t, scanPIDs(t, c.pid))
	fds := v.fds(c.pid)
	if fds[own] != nil {
		t.Errorf("the process shows fd %d of the thread's own table: %s", own, dumpNodes(fds[own]))
	}
	ents, err := os.ReadDir(dir + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) != len(ents) || v.proc(c.pid).Process.FDCount != len(ents) {
		t.Errorf("the process shows %d fds (fd_count %d), /proc/PID/fd %d", len(fds), v.proc(c.pid).Process.FDCount, len(ents))
	}

	thread := v.proc(tid)
	if thread.Process.TGID != c.pid {
		t.Errorf("thread %d: tgid %d, want %d", tid, thread.Process.TGID, c.pid)
	}
	if got := v.between(v.proc(c.pid).ID, thread.ID, graph.EdgeThread); len(got) != 1 {
		t.Errorf("thread edges from process %d to thread %d: %v", c.pid, tid, got)
	}
	if sock := v.object(tid, own); sock.Socket == nil || sock.Socket.Family != "unix" || len(v.peers(sock.ID)) != 1 {
		t.Errorf("the thread's fd %d: %s", own, dumpNodes(sock))
	}
	threadEnts, err := os.ReadDir(dir + "/task/" + strconv.Itoa(tid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	if got := v.fds(tid); len(got) != len(threadEnts) {
		t.Errorf("the thread shows %d fds, /proc/PID/task/TID/fd %d", len(got), len(threadEnts))
	}
	_, procOFD, _ := v.follow(c.pid, f.FD["ev"])
	_, threadOFD, ev := v.follow(tid, f.FD["ev"])
	if procOFD == nil || threadOFD == nil || procOFD.ID != threadOFD.ID || ev.Object.Name != "anon_inode:[eventfd]" {
		t.Errorf("the eventfd in both tables: descriptions %s and %s, want one", dumpNodes(procOFD), dumpNodes(threadOFD))
	}
}

// The bpf backend shows every process that /proc shows before and after
// the scan, even one the kernel's task iterator does not visit (on the
// project's machines, pid 1: a sandbox's init that /proc lists and every
// orphan's ppid names, but that iter/task never reaches).
func TestBackendBPFEveryProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	before := processStarts(t)
	sc := scan.New(scan.Options{Backend: scan.BackendBPF})
	defer sc.Close()
	s := scanWith(t, sc, true)
	if s.Stats.Scanner != "bpf" {
		t.Skipf("the bpf backend did not run: %s", s.Stats.ScannerFallback)
	}
	after := processStarts(t)
	seen := map[int]uint64{}
	for _, n := range s.Nodes {
		if n.Kind == graph.KindProcess && n.Process.TGID == 0 {
			seen[n.PID] = n.Process.StartTime
		}
	}
	for pid, start := range before {
		if after[pid] != start {
			continue // ended meanwhile, or its pid was taken again
		}
		if got, ok := seen[pid]; !ok || got != start {
			t.Errorf("pid %d (started at %d) is missing from the bpf scan of %d processes", pid, start, len(seen))
		}
	}
}

// processStarts lists /proc: each process's start time by pid.
func processStarts(t *testing.T) map[int]uint64 {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	starts := map[int]uint64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // ended
		}
		// Field 22; the comm in parentheses may hold spaces.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 20 {
			t.Fatalf("/proc/%d/stat: %q", pid, b)
		}
		start, err := strconv.ParseUint(f[19], 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		starts[pid] = start
	}
	return starts
}
