//go:build linux

package scan

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/fdscope/fdscope/graph"
)

// startHolder starts a process that holds /etc/hostname open on fd 3 and a
// pipe on fd 4, and ends it at cleanup.
func startHolder(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", "exec 3</etc/hostname; exec 4<&0; exec sleep 60")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// fdsOf returns the fd nodes and their objects' kinds of process pid, as
// "fdnum:kind", or nil when the process is not in s.
func fdsOf(s *graph.Snapshot, pid int) []string {
	var proc *graph.Node
	for _, n := range s.Nodes {
		if n.Kind == graph.KindProcess && n.PID == pid {
			proc = n
		}
	}
	if proc == nil {
		return nil
	}
	out := []string{}
	for _, e := range s.EdgesFrom(proc.ID) {
		if e.Kind != graph.EdgeFD {
			continue
		}
		fd := s.Node(e.To)
		for _, o := range s.EdgesFrom(fd.ID) {
			for _, obj := range s.EdgesFrom(o.To) {
				out = append(out, strings.Join([]string{itoa(fd.FD.Num), string(s.Node(obj.To).Kind)}, ":"))
			}
		}
	}
	return out
}

func waitForFD(t *testing.T, s *Scanner, pid int) *graph.Snapshot {
	t.Helper()
	for range 100 {
		snap, err := s.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if settled(snap, pid) {
			return snap
		}
	}
	t.Fatalf("process %d never showed its fds", pid)
	return nil
}

// settled says whether the holder pid is in s as it stays: the shell has
// made its fds and become sleep (before that it can hold fds of its own,
// which a later scan does not find).
func settled(s *graph.Snapshot, pid int) bool {
	for _, n := range s.Nodes {
		if n.Kind == graph.KindProcess && n.PID == pid && n.Process != nil && n.Process.Comm != "sleep" {
			return false
		}
	}
	got := strings.Join(fdsOf(s, pid), " ")
	return strings.Contains(got, "3:file") && strings.Contains(got, "4:pipe")
}

func TestRescan(t *testing.T) {
	ctx := context.Background()
	s := New(Options{})
	a := startHolder(t)
	prev := waitForFD(t, s, a.Process.Pid)
	wantA := fdsOf(prev, a.Process.Pid)

	// A new process is found by a rescan that names no pid; a is kept.
	b := startHolder(t)
	var next *graph.Snapshot
	for range 100 {
		var err error
		if next, err = s.Rescan(ctx, prev, nil); err != nil {
			t.Fatal(err)
		}
		prev = next
		if settled(next, b.Process.Pid) {
			break
		}
	}
	if got := fdsOf(next, b.Process.Pid); len(got) < 2 {
		t.Fatalf("rescan did not find the new process %d: %v", b.Process.Pid, got)
	}
	if got := fdsOf(next, a.Process.Pid); strings.Join(got, " ") != strings.Join(wantA, " ") {
		t.Errorf("kept process %d: fds %v, want %v", a.Process.Pid, got, wantA)
	}

	// An exited process is dropped.
	a.Process.Kill()
	a.Wait()
	next, err := s.Rescan(ctx, next, []int{a.Process.Pid})
	if err != nil {
		t.Fatal(err)
	}
	if got := fdsOf(next, a.Process.Pid); got != nil {
		t.Errorf("exited process %d still in the rescan: %v", a.Process.Pid, got)
	}

	// IDs agree with a full scan by the same scanner.
	full, err := s.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range next.Nodes {
		if n.PID == b.Process.Pid && full.Node(n.ID) == nil {
			t.Errorf("node %s of the rescan is not in the full scan", n.ID)
		}
	}

	// A stale prev means a full scan, not a wrong merge.
	again, err := s.Rescan(ctx, next, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fdsOf(again, b.Process.Pid); len(got) < 2 {
		t.Errorf("rescan with a stale prev lost process %d: %v", b.Process.Pid, got)
	}
}

// TestOnce scans with Options.Once: the graph is the one a scanner that
// keeps its records builds, the records are not kept, and a Rescan after
// it reads every process again.
func TestOnce(t *testing.T) {
	ctx := context.Background()
	a := startHolder(t)
	pid := a.Process.Pid
	want := strings.Join(fdsOf(waitForFD(t, New(Options{}), pid), pid), " ")
	once := New(Options{Once: true})
	snap, err := once.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fdsOf(snap, pid), " "); got != want {
		t.Errorf("process %d with Once: fds %q, want %q", pid, got, want)
	}
	if once.lastProcs != nil {
		t.Errorf("a Once scanner kept the records of %d processes", len(once.lastProcs))
	}
	again, err := once.Rescan(ctx, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fdsOf(again, pid), " "); got != want {
		t.Errorf("process %d in a Rescan after Once: fds %q, want %q", pid, got, want)
	}
}
