//go:build linux

package scan

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

// With the bpf backend, a rescan of a few processes reads them from /proc
// and makes no dump: the processes it keeps keep the descriptions of the
// last dump, kcmp settles the sharing between them and those read again,
// and the graph is the one a full scan makes. A rescan of many processes
// dumps.
func TestRescanBPFFromProc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	ctx := context.Background()
	s := New(Options{Backend: BackendBPF})
	defer s.Close()
	fromProc := true
	s.fewFDs = func(int, int) bool { return fromProc }

	// The shell holds /etc/hostname on fd 3, which its background sleep
	// shares; a line on its stdin makes it open the file again on fd 5,
	// dup fd 3 to fd 6, and become sleep.
	sh := exec.Command("sh", "-c", "exec 3</etc/hostname; sleep 600 & echo $!; read x; exec 5</etc/hostname 6<&3; echo done; exec sleep 600")
	stdin, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	line := func() string {
		if !lines.Scan() {
			t.Fatalf("the shell ended early: %v", lines.Err())
		}
		return lines.Text()
	}
	bg, err := strconv.Atoi(line())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(bg, syscall.SIGKILL)
		sh.Process.Kill()
		sh.Wait()
	})
	p := sh.Process.Pid

	snap := scanUntil(t, s, func(snap *graph.Snapshot) bool {
		return comm(snap, bg) == "sleep" && slices.Contains(fdsOf(snap, bg), "3:file")
	})
	if snap.Stats.Scanner != "bpf" {
		t.Skipf("the bpf backend did not run: %s", snap.Stats.ScannerFallback)
	}
	shared := ofdOf(t, snap, p, 3)
	if got := ofdOf(t, snap, bg, 3); got != shared {
		t.Fatalf("fd 3 of the shell and of its background sleep: descriptions %s and %s, want one", shared, got)
	}

	stdin.Write([]byte("go\n"))
	if got := line(); got != "done" {
		t.Fatalf("the shell said %q", got)
	}
	for i := 0; readComm(p) != "sleep"; i++ {
		if i == 1000 {
			t.Fatal("the shell never became sleep")
		}
		time.Sleep(10 * time.Millisecond)
	}
	snap, err = s.Rescan(ctx, snap, []int{p})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.lastProcs {
		for _, f := range r.fds {
			if r.pid == p && f.desc != 0 || r.pid == bg && f.desc == 0 {
				t.Errorf("process %d fd %d: description %d from a dump; want none for the process read again (%d), the last dump's for the kept one (%d)",
					r.pid, f.num, f.desc, p, bg)
			}
		}
	}
	if snap.Stats.Sharing != "bpf" {
		t.Errorf("rescan: sharing %q, want bpf", snap.Stats.Sharing)
	}
	for _, fd := range []int{3, 6} {
		if got := ofdOf(t, snap, p, fd); got != shared {
			t.Errorf("shell fd %d: description %s, want %s (fd 3's, shared with the kept process)", fd, got, shared)
		}
	}
	if got := ofdOf(t, snap, bg, 3); got != shared {
		t.Errorf("the kept process's fd 3: description %s, want %s", got, shared)
	}
	if got := ofdOf(t, snap, p, 5); got == shared {
		t.Errorf("fd 5, a second open, shares fd 3's description %s", got)
	}

	full := New(Options{Backend: BackendBPF})
	defer full.Close()
	want, err := full.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The fds of the test, not shared with other processes (whose number
	// changes as parallel tests start and end theirs).
	fds := []string{itoa(p) + ":3", itoa(p) + ":5", itoa(p) + ":6", itoa(bg) + ":3"}
	if d := cmp.Diff(around(want, fds...), around(snap, fds...)); d != "" {
		t.Errorf("the rescan's graph of fds %v differs from a full scan's (-full +rescan):\n%s", fds, d)
	}

	// A rescan of many fds dumps, and gives every fd its description.
	fromProc = false
	if _, err = s.Rescan(ctx, snap, []int{p}); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.lastProcs {
		if r.pid == p && slices.ContainsFunc(r.fds, func(f *fdRec) bool { return f.desc == 0 }) {
			t.Errorf("a rescan that dumps left fds of %d without descriptions", p)
		}
	}
}

func TestFewFDs(t *testing.T) {
	for _, c := range []struct {
		read, total int
		want        bool
	}{
		{8, 65000, true},
		{4000, 65000, true},
		{5000, 65000, false},
		{8, 100, false},
		{0, 0, true},
	} {
		if got := fewFDs(c.read, c.total); got != c.want {
			t.Errorf("fewFDs(%d, %d) = %v, want %v", c.read, c.total, got, c.want)
		}
	}
}

// scanUntil scans the whole machine with s until ok says yes, and returns
// that snapshot.
func scanUntil(t *testing.T, s *Scanner, ok func(*graph.Snapshot) bool) *graph.Snapshot {
	t.Helper()
	for range 100 {
		snap, err := s.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok(snap) {
			return snap
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the processes never settled")
	return nil
}

// comm returns the command name of process pid in s, or "".
func comm(s *graph.Snapshot, pid int) string {
	for _, n := range s.Nodes {
		if n.Kind == graph.KindProcess && n.PID == pid && n.Process != nil {
			return n.Process.Comm
		}
	}
	return ""
}

// readComm returns what /proc says process pid's command name is.
func readComm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// ofdOf returns the ID of the description fd num of process pid leads to.
func ofdOf(t *testing.T, s *graph.Snapshot, pid, num int) string {
	t.Helper()
	for _, n := range s.Nodes {
		if n.Kind == graph.KindFD && n.PID == pid && n.FD != nil && n.FD.Num == num {
			for _, e := range s.EdgesFrom(n.ID) {
				if e.Kind == graph.EdgeOFD {
					return e.To
				}
			}
		}
	}
	t.Fatalf("process %d has no fd %d with a description", pid, num)
	return ""
}

// subgraph is part of a snapshot, sorted.
type subgraph struct {
	Nodes []graph.Node
	Edges []graph.Edge
}

// around returns the nodes of fds (as pid:num), their descriptions and
// objects, and the edges between them.
func around(s *graph.Snapshot, fds ...string) subgraph {
	in := map[string]bool{}
	for _, n := range s.Nodes {
		if n.Kind == graph.KindFD && n.FD != nil && slices.Contains(fds, itoa(n.PID)+":"+itoa(n.FD.Num)) {
			in[n.ID] = true
		}
	}
	for range 2 { // fd → description → object
		for _, e := range s.Edges {
			if in[e.From] && (e.Kind == graph.EdgeOFD || e.Kind == graph.EdgeObject) {
				in[e.To] = true
			}
		}
	}
	var nodes []graph.Node
	for _, n := range s.Nodes {
		if in[n.ID] {
			nodes = append(nodes, *n)
		}
	}
	var edges []graph.Edge
	for _, e := range s.Edges {
		if in[e.From] && in[e.To] {
			edges = append(edges, e)
		}
	}
	slices.SortFunc(nodes, func(a, b graph.Node) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(edges, func(a, b graph.Edge) int {
		return strings.Compare(a.From+" "+a.To+" "+string(a.Kind), b.From+" "+b.To+" "+string(b.Kind))
	})
	return subgraph{nodes, edges}
}
