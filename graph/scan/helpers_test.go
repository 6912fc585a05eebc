//go:build linux

package scan_test

// Helpers for the live tests: re-executed child processes (the test binary
// itself, with FDSCOPE_TEST_CHILD naming the role it plays), scanning, and
// queries over a snapshot.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
)

// childEnv names the role a re-executed test binary plays; see roles_test.go.
const childEnv = "FDSCOPE_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role, os.Args[1:]))
	}
	code := m.Run()
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// cleanups run when every test has ended.
var cleanups []func()

// facts is what a child reports on its "ready" line: its pid, the fd
// numbers it holds, the inodes fstat(2) gives for them, and other strings
// (addresses, paths).
type facts struct {
	PID int               `json:"pid"`
	FD  map[string]int    `json:"fd,omitempty"`
	Ino map[string]uint64 `json:"ino,omitempty"`
	Str map[string]string `json:"str,omitempty"`
	Num map[string]int    `json:"num,omitempty"` // other numbers: ports, pids
}

func newFacts() facts {
	return facts{FD: map[string]int{}, Ino: map[string]uint64{}, Str: map[string]string{}, Num: map[string]int{}}
}

// merge adds g's entries to f (g wins) and returns f.
func (f facts) merge(g facts) facts {
	for k, v := range g.FD {
		f.FD[k] = v
	}
	for k, v := range g.Ino {
		f.Ino[k] = v
	}
	for k, v := range g.Str {
		f.Str[k] = v
	}
	for k, v := range g.Num {
		f.Num[k] = v
	}
	return f
}

// childOpts configure startChild.
type childOpts struct {
	args   []string   // the role's arguments
	prefix []string   // a command that execs the binary, e.g. {"unshare", "-n"}
	extra  []*os.File // become fds 3, 4, ... of the child
}

// child is a running re-executed test binary. It exits when its stdin closes.
type child struct {
	t      testing.TB
	role   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *lockedBuffer
	pid    int
	facts  facts // everything reported so far
}

// startChild starts the test binary in the given role. The child is ended in
// t.Cleanup: its stdin is closed, and it is killed by pid if it has not
// exited 5 s later.
func startChild(t testing.TB, role string, o childOpts) *child {
	t.Helper()
	argv := append(slices.Clone(o.prefix), os.Args[0])
	argv = append(argv, o.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+role)
	cmd.ExtraFiles = o.extra
	cmd.WaitDelay = 2 * time.Second
	c := &child{t: t, role: role, cmd: cmd, lines: make(chan string, 16), stderr: &lockedBuffer{}, facts: newFacts()}
	cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatalf("child %s: %v", role, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("child %s: %v", role, err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("child %s: start %q: %v", role, argv, err)
	}
	c.pid = cmd.Process.Pid
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(c.stop)
	return c
}

// stop closes the child's stdin and waits for it; a child that has not
// exited after 5 s is killed (by its pid, through os.Process).
func (c *child) stop() {
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.t.Logf("child %s (pid %d) did not exit on EOF; killing it", c.role, c.pid)
		c.cmd.Process.Kill()
		<-done
	}
}

// ready waits for the child's next "ready {facts}" line and returns all the
// facts reported so far.
func (c *child) ready() facts {
	c.t.Helper()
	timeout := time.After(60 * time.Second) // a bound for a loaded machine
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("child %s (pid %d) exited before ready; stderr:\n%s", c.role, c.pid, c.stderr)
			}
			rest, found := strings.CutPrefix(line, "ready ")
			if !found {
				c.t.Logf("child %s: %s", c.role, line)
				continue
			}
			f := newFacts()
			if err := json.Unmarshal([]byte(rest), &f); err != nil {
				c.t.Fatalf("child %s: bad ready line %q: %v", c.role, line, err)
			}
			c.facts.PID = f.PID
			return c.facts.merge(f)
		case <-timeout:
			c.t.Fatalf("child %s (pid %d): no ready line after 60 s; stderr:\n%s", c.role, c.pid, c.stderr)
		}
	}
}

// step tells the child to go on to its next step and waits until it is ready.
func (c *child) step() facts {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, "next\n"); err != nil {
		c.t.Fatalf("child %s: %v; stderr:\n%s", c.role, err, c.stderr)
	}
	return c.ready()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// scanPIDs scans the given processes (the whole machine when none are given),
// fails the test on an error, and checks the snapshot's consistency.
//
// Given processes other than the test's own, which are at rest, it also
// scans them with the bpf backend where it can load (as root) and fails
// the test when the two graphs differ: every scenario that uses scanPIDs
// checks that the backends agree.
func scanPIDs(t testing.TB, pids ...int) *graph.Snapshot {
	t.Helper()
	s := scanWith(t, scan.New(scan.Options{PIDs: pids}), len(pids) == 0)
	if len(pids) > 0 && !slices.Contains(pids, os.Getpid()) {
		compareBackends(t, s, pids)
	}
	return s
}

// compareBackends scans pids with the bpf backend and fails the test when
// the graph differs from the procfs backend's. Without the privileges to
// load the iterator (not root) it does nothing. A scenario that moved
// between the scans (parallel tests touch shared files) is scanned again:
// the graphs are compared only when procfs scans before and after the bpf
// one agree.
func compareBackends(t testing.TB, procfs *graph.Snapshot, pids []int) {
	t.Helper()
	sc := scan.New(scan.Options{PIDs: pids, Backend: scan.BackendAuto})
	defer sc.Close()
	for range 5 {
		got := scanWith(t, sc, false)
		if got.Stats.Scanner != string(scan.BackendBPF) {
			if os.Geteuid() == 0 {
				t.Errorf("as root, the auto backend fell back to %s: %s", got.Stats.Scanner, got.Stats.ScannerFallback)
			}
			return
		}
		if got.Stats.Sharing != "bpf" {
			t.Errorf("bpf scan: sharing %q, want bpf", got.Stats.Sharing)
		}
		again := scanWith(t, scan.New(scan.Options{PIDs: pids}), false)
		if !cmp.Equal(procfs.Nodes, again.Nodes) || !cmp.Equal(procfs.Edges, again.Edges) {
			procfs = again // not at rest: try again
			continue
		}
		diffBackends(t, procfs, got)
		return
	}
	t.Logf("processes %v never at rest between scans: backends not compared", pids)
}

// diffBackends fails the test where the bpf backend's graph differs from
// procfs's.
func diffBackends(t testing.TB, procfs, bpf *graph.Snapshot) {
	t.Helper()
	if d := cmp.Diff(procfs.Nodes, bpf.Nodes); d != "" {
		t.Errorf("the bpf backend's nodes differ from procfs's (-procfs +bpf):\n%s", d)
	}
	if d := cmp.Diff(procfs.Edges, bpf.Edges); d != "" {
		t.Errorf("the bpf backend's edges differ from procfs's (-procfs +bpf):\n%s", d)
	}
}

// scanWith runs one scan of sc, fails the test on an error, and checks the
// snapshot's consistency (full: sc scans the whole machine).
func scanWith(t testing.TB, sc *scan.Scanner, full bool) *graph.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sc.Scan(ctx)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	checkConsistent(t, s, full)
	return s
}

// view answers questions about one snapshot and fails its test with the
// relevant nodes printed when the answer is not there.
type view struct {
	t  testing.TB
	s  *graph.Snapshot
	in map[string][]graph.Edge // edges by their To
}

func newView(t testing.TB, s *graph.Snapshot) *view {
	v := &view{t: t, s: s, in: make(map[string][]graph.Edge)}
	for _, e := range s.Edges {
		v.in[e.To] = append(v.in[e.To], e)
	}
	return v
}

// node returns the node with the given ID, failing the test if there is none.
func (v *view) node(id string) *graph.Node {
	v.t.Helper()
	n := v.s.Node(id)
	if n == nil {
		v.t.Fatalf("no node %q in the snapshot", id)
	}
	return n
}

// proc returns the process node of pid, failing the test if there is none.
func (v *view) proc(pid int) *graph.Node {
	v.t.Helper()
	var found []*graph.Node
	for _, n := range v.s.Nodes {
		if n.Kind == graph.KindProcess && n.PID == pid {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		v.t.Fatalf("want one process node with pid %d, got %d: %s", pid, len(found), dumpNodes(found...))
	}
	return found[0]
}

// fds returns the fd nodes of the process with the given pid, by fd number.
func (v *view) fds(pid int) map[int]*graph.Node {
	v.t.Helper()
	p := v.proc(pid)
	m := make(map[int]*graph.Node)
	for _, e := range v.out(p.ID, graph.EdgeFD) {
		n := v.node(e.To)
		if n.FD == nil {
			v.t.Fatalf("fd edge %v leads to a node without fd details: %s", e, dumpNodes(n))
		}
		m[n.Num] = n
	}
	return m
}

// fd returns fd number num of process pid.
func (v *view) fd(pid, num int) *graph.Node {
	v.t.Helper()
	fds := v.fds(pid)
	n := fds[num]
	if n == nil {
		v.t.Fatalf("process %d has no fd %d in the snapshot; its fds: %v", pid, num, slices.Sorted(maps.Keys(fds)))
	}
	return n
}

// follow returns fd num of pid, its open file description and its object.
func (v *view) follow(pid, num int) (fd, ofd, obj *graph.Node) {
	v.t.Helper()
	fd = v.fd(pid, num)
	ofd = v.one(fd.ID, graph.EdgeOFD)
	obj = v.one(ofd.ID, graph.EdgeObject)
	return fd, ofd, obj
}

// object returns the object behind fd num of pid.
func (v *view) object(pid, num int) *graph.Node {
	v.t.Helper()
	_, _, obj := v.follow(pid, num)
	return obj
}

// one returns the node at the end of the only edge of the given kind from id.
func (v *view) one(id string, kind graph.EdgeKind) *graph.Node {
	v.t.Helper()
	es := v.out(id, kind)
	if len(es) != 1 {
		v.t.Fatalf("want one %q edge from %s, got %v\n%s", kind, id, es, v.around(id))
	}
	return v.node(es[0].To)
}

// out returns the edges of the given kind that leave id.
func (v *view) out(id string, kind graph.EdgeKind) []graph.Edge {
	var es []graph.Edge
	for _, e := range v.s.EdgesFrom(id) {
		if e.Kind == kind {
			es = append(es, e)
		}
	}
	return es
}

// into returns the edges of the given kind that end at id.
func (v *view) into(id string, kind graph.EdgeKind) []graph.Edge {
	var es []graph.Edge
	for _, e := range v.in[id] {
		if e.Kind == kind {
			es = append(es, e)
		}
	}
	return es
}

// peers returns the IDs joined to id by a peer edge, in either direction.
func (v *view) peers(id string) []string {
	var ids []string
	for _, e := range v.out(id, graph.EdgePeer) {
		ids = append(ids, e.To)
	}
	for _, e := range v.into(id, graph.EdgePeer) {
		ids = append(ids, e.From)
	}
	slices.Sort(ids)
	return ids
}

// between returns the edges of the given kind between a and b, in either direction.
func (v *view) between(a, b string, kind graph.EdgeKind) []graph.Edge {
	var es []graph.Edge
	for _, e := range v.s.Edges {
		if e.Kind == kind && (e.From == a && e.To == b || e.From == b && e.To == a) {
			es = append(es, e)
		}
	}
	return es
}

// edgesOfKind returns every edge of the given kind.
func (v *view) edgesOfKind(kind graph.EdgeKind) []graph.Edge {
	var es []graph.Edge
	for _, e := range v.s.Edges {
		if e.Kind == kind {
			es = append(es, e)
		}
	}
	return es
}

// around prints the nodes with the given IDs and every edge that touches them.
func (v *view) around(ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "  node %s\n", dumpNodes(v.s.Node(id)))
		for _, e := range v.s.EdgesFrom(id) {
			fmt.Fprintf(&b, "    -%s-> %s\n", e.Kind, e.To)
		}
		for _, e := range v.in[id] {
			fmt.Fprintf(&b, "    <-%s- %s\n", e.Kind, e.From)
		}
	}
	return b.String()
}

// dumpNodes prints nodes as JSON, one a line.
func dumpNodes(ns ...*graph.Node) string {
	var lines []string
	for _, n := range ns {
		if n == nil {
			lines = append(lines, "<nil>")
			continue
		}
		b, err := json.Marshal(n)
		if err != nil {
			lines = append(lines, fmt.Sprintf("%+v", *n))
			continue
		}
		lines = append(lines, string(b))
	}
	return strings.Join(lines, "\n  ")
}

// checkConsistent checks what every snapshot must satisfy: sorted unique
// node IDs, sorted unique edges whose ends are nodes, edges joining the
// right kinds of node, one peer edge per pair (from < to), every fd with
// exactly one ofd and every ofd with one object, sharers counting the fds
// that share a description (exactly, when the whole machine was scanned),
// and stats that agree with the nodes.
func checkConsistent(t testing.TB, s *graph.Snapshot, full bool) {
	t.Helper()
	var problems []string
	bad := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for i, n := range s.Nodes {
		if n == nil || n.ID == "" || n.Kind == "" {
			bad("node %d has no ID or kind: %s", i, dumpNodes(n))
			continue
		}
		if i > 0 && s.Nodes[i-1] != nil && s.Nodes[i-1].ID >= n.ID {
			bad("nodes not sorted or duplicated: %q then %q", s.Nodes[i-1].ID, n.ID)
		}
		details := 0
		for _, set := range []bool{n.Process != nil, n.FD != nil, n.OFD != nil, n.Object != nil} {
			if set {
				details++
			}
		}
		want := map[graph.Kind]bool{graph.KindProcess: n.Process != nil, graph.KindFD: n.FD != nil, graph.KindOFD: n.OFD != nil}
		if ok, known := want[n.Kind]; (known && !ok) || (!known && n.Object == nil) || details != 1 {
			bad("node %s of kind %s has the wrong details: %s", n.ID, n.Kind, dumpNodes(n))
		}
	}
	v := newView(t, s)
	peerPairs := map[[2]string]bool{}
	for i, e := range s.Edges {
		if i > 0 {
			p := s.Edges[i-1]
			if c := strings.Compare(p.From, e.From); c > 0 || c == 0 && (p.Kind > e.Kind || p.Kind == e.Kind && p.To >= e.To) {
				bad("edges not sorted or duplicated: %v then %v", p, e)
			}
		}
		from, to := s.Node(e.From), s.Node(e.To)
		if from == nil || to == nil {
			bad("edge %v has an end that is not a node", e)
			continue
		}
		kindsOK := true
		switch e.Kind {
		case graph.EdgeFD:
			kindsOK = from.Kind == graph.KindProcess && to.Kind == graph.KindFD && from.PID == to.PID
		case graph.EdgeOFD:
			kindsOK = from.Kind == graph.KindFD && to.Kind == graph.KindOFD
		case graph.EdgeObject:
			kindsOK = from.Kind == graph.KindOFD && to.Kind.IsObject()
		case graph.EdgePeer:
			kindsOK = from.Kind.IsObject() && to.Kind.IsObject()
			if e.From >= e.To {
				bad("peer edge %v is not from < to", e)
			}
			if peerPairs[[2]string{e.To, e.From}] {
				bad("two peer edges between %s and %s", e.From, e.To)
			}
			peerPairs[[2]string{e.From, e.To}] = true
		case graph.EdgeAccepted:
			kindsOK = from.Kind == graph.KindSocket && to.Kind == graph.KindSocket
		case graph.EdgeChild:
			kindsOK = from.Kind == graph.KindProcess && to.Kind == graph.KindProcess
		case graph.EdgeThread:
			kindsOK = from.Kind == graph.KindProcess && to.Kind == graph.KindProcess && to.Process.TGID == from.PID
		case graph.EdgeCwd, graph.EdgeRoot, graph.EdgeExe:
			kindsOK = from.Kind == graph.KindProcess && to.Kind.IsObject()
		case graph.EdgeWatch:
			kindsOK = from.Kind.IsObject() || from.Kind == graph.KindOFD
		default:
			bad("edge %v has an unknown kind", e)
		}
		if !kindsOK {
			bad("edge %v joins a %s to a %s", e, from.Kind, to.Kind)
		}
	}
	counts := s.CountKinds()
	objects := 0
	for _, n := range s.Nodes {
		if n != nil && n.Kind.IsObject() {
			objects++
		}
		if n == nil {
			continue
		}
		switch n.Kind {
		case graph.KindFD:
			if in := v.into(n.ID, graph.EdgeFD); len(in) != 1 {
				bad("fd %s has %d fd edges into it, want 1", n.ID, len(in))
			}
			procErr := ""
			if in := v.into(n.ID, graph.EdgeFD); len(in) == 1 {
				if p := s.Node(in[0].From); p != nil {
					procErr = p.Error
				}
			}
			if out := v.out(n.ID, graph.EdgeOFD); len(out) != 1 && procErr == "" && n.Error == "" {
				bad("fd %s has %d ofd edges, want 1 (neither it nor its process has an error)", n.ID, len(out))
			}
		case graph.KindOFD:
			in := len(v.into(n.ID, graph.EdgeOFD))
			if out := v.out(n.ID, graph.EdgeObject); len(out) > 1 || len(out) == 0 && n.Error == "" {
				bad("ofd %s has %d object edges, want 1 (or none, with an error saying why)", n.ID, len(out))
			}
			if in == 0 {
				bad("ofd %s is held by no fd", n.ID)
			}
			if full && n.Sharers != in || !full && n.Sharers < in {
				bad("ofd %s has sharers %d but %d fds lead to it", n.ID, n.Sharers, in)
			}
		}
	}
	st := s.Stats
	for _, c := range []struct {
		name      string
		stat, got int
	}{
		{"processes", st.Processes, counts[graph.KindProcess]},
		{"fds", st.FDs, counts[graph.KindFD]},
		{"ofds", st.OFDs, counts[graph.KindOFD]},
		{"sockets", st.Sockets, counts[graph.KindSocket]},
		{"objects", st.Objects, objects},
	} {
		if c.stat != c.got {
			bad("stats.%s = %d, but the snapshot has %d such nodes", c.name, c.stat, c.got)
		}
	}
	if st.Sharing != "kcmp" && st.Sharing != "heuristic" && st.Sharing != "bpf" {
		bad("stats.sharing = %q, want kcmp, bpf or heuristic", st.Sharing)
	}
	if (st.Sharing == "bpf") != (st.Scanner == "bpf") || st.Scanner != "bpf" && st.Scanner != "procfs" {
		bad("stats.scanner = %q with sharing %q", st.Scanner, st.Sharing)
	}
	if st.MissingFeatures == nil || st.Errors == nil {
		bad("stats.missing_features or stats.errors is nil (JSON null)")
	}
	if len(problems) > 0 {
		t.Errorf("inconsistent snapshot (%d nodes, %d edges, stats %+v):\n  %s", len(s.Nodes), len(s.Edges), st, strings.Join(problems, "\n  "))
	}
}
