package graph

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func proc(pid int, comm string) *Node {
	return &Node{ID: ProcessID(pid, 1), Kind: KindProcess, PID: pid, Process: &Process{Comm: comm}}
}

func fdNode(pid, n int, cloexec bool) *Node {
	return &Node{ID: FDID(pid, 1, n), Kind: KindFD, PID: pid, FD: &FD{Num: n, CloExec: cloexec}}
}

func sock(ino uint64, state string) *Node {
	return &Node{ID: SocketID(ino), Kind: KindSocket, Object: &Object{Inode: ino, Name: SocketID(ino), Socket: &Socket{Family: "unix", State: state}}}
}

func TestDiff(t *testing.T) {
	p1, p2 := proc(1, "init"), proc(2, "sh")
	s10, s10b := sock(10, "listen"), sock(10, "close")
	e := func(from, to *Node, k EdgeKind) Edge { return Edge{From: from.ID, To: to.ID, Kind: k} }
	tests := []struct {
		name     string
		old, new *Snapshot
		want     *Changes
	}{
		{
			name: "both empty",
			old:  New(nil, nil, Stats{}), new: New(nil, nil, Stats{}),
			want: &Changes{NodesAdded: []*Node{}, NodesChanged: []*Node{}, NodesRemoved: []string{}, EdgesAdded: []Edge{}, EdgesRemoved: []Edge{}},
		},
		{
			name: "nil old is empty",
			old:  nil, new: New([]*Node{p1}, nil, Stats{}),
			want: &Changes{NodesAdded: []*Node{p1}, NodesChanged: []*Node{}, NodesRemoved: []string{}, EdgesAdded: []Edge{}, EdgesRemoved: []Edge{}},
		},
		{
			name: "process starts with a child edge",
			old:  New([]*Node{p1}, nil, Stats{}),
			new:  New([]*Node{p1, p2}, []Edge{e(p1, p2, EdgeChild)}, Stats{}),
			want: &Changes{NodesAdded: []*Node{p2}, NodesChanged: []*Node{}, NodesRemoved: []string{}, EdgesAdded: []Edge{e(p1, p2, EdgeChild)}, EdgesRemoved: []Edge{}},
		},
		{
			name: "process exits",
			old:  New([]*Node{p1, p2}, []Edge{e(p1, p2, EdgeChild)}, Stats{}),
			new:  New([]*Node{p1}, nil, Stats{}),
			want: &Changes{NodesAdded: []*Node{}, NodesChanged: []*Node{}, NodesRemoved: []string{p2.ID}, EdgesAdded: []Edge{}, EdgesRemoved: []Edge{e(p1, p2, EdgeChild)}},
		},
		{
			name: "socket changes state",
			old:  New([]*Node{p1, s10}, nil, Stats{}),
			new:  New([]*Node{p1, s10b}, nil, Stats{}),
			want: &Changes{NodesAdded: []*Node{}, NodesChanged: []*Node{s10b}, NodesRemoved: []string{}, EdgesAdded: []Edge{}, EdgesRemoved: []Edge{}},
		},
		{
			name: "equal content in new pointers is no change",
			old:  New([]*Node{proc(1, "a"), sock(10, "listen")}, nil, Stats{}),
			new:  New([]*Node{proc(1, "a"), sock(10, "listen")}, nil, Stats{Processes: 9}),
			want: &Changes{NodesAdded: []*Node{}, NodesChanged: []*Node{}, NodesRemoved: []string{}, EdgesAdded: []Edge{}, EdgesRemoved: []Edge{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.old, tt.new)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("Diff (-want +got):\n%s", d)
			}
			if got.Empty() != (len(tt.want.NodesAdded)+len(tt.want.NodesChanged)+len(tt.want.NodesRemoved)+len(tt.want.EdgesAdded)+len(tt.want.EdgesRemoved) == 0) {
				t.Errorf("Empty() = %v", got.Empty())
			}
			if applied := Apply(tt.old, got); !Equal(applied, tt.new) {
				t.Errorf("Apply(old, Diff(old, new)) != new")
			}
		})
	}
}

func TestNodeEqual(t *testing.T) {
	a := &Node{ID: "x", Kind: KindOFD, OFD: &OFD{Mode: "r", Flags: []string{"O_RDONLY"}, Pos: 1}}
	b := &Node{ID: "x", Kind: KindOFD, OFD: &OFD{Mode: "r", Flags: []string{"O_RDONLY"}, Pos: 1}}
	if !a.Equal(b) {
		t.Error("equal ofds reported different")
	}
	b.OFD.Pos = 2
	if a.Equal(b) {
		t.Error("ofds with different positions reported equal")
	}
	b.OFD.Pos, b.OFD.Flags = 1, []string{"O_RDONLY", "O_APPEND"}
	if a.Equal(b) {
		t.Error("ofds with different flags reported equal")
	}
	if sock(1, "listen").Equal(sock(1, "established")) {
		t.Error("sockets in different states reported equal")
	}
	if !sock(1, "listen").Equal(sock(1, "listen")) {
		t.Error("equal sockets reported different")
	}
	if proc(1, "a").Equal(fdNode(1, 0, false)) {
		t.Error("process equal to fd")
	}
}

// randomSnapshot builds a snapshot of up to n processes, each with a few
// fds and sockets, some of them connected.
func randomSnapshot(r *rand.Rand, n int) *Snapshot {
	var nodes []*Node
	var edges []Edge
	for pid := 1; pid <= n; pid++ {
		if r.IntN(3) == 0 {
			continue
		}
		p := proc(pid, "c"+strconv.Itoa(r.IntN(2)))
		nodes = append(nodes, p)
		for fd := range r.IntN(4) {
			f := fdNode(pid, fd, r.IntN(2) == 0)
			s := sock(uint64(pid*10+fd), []string{"listen", "established"}[r.IntN(2)])
			nodes = append(nodes, f, s)
			edges = append(edges, Edge{From: p.ID, To: f.ID, Kind: EdgeFD}, Edge{From: f.ID, To: s.ID, Kind: EdgeObject})
			if r.IntN(2) == 0 {
				edges = append(edges, Edge{From: s.ID, To: SocketID(uint64(r.IntN(n * 10))), Kind: EdgePeer})
			}
		}
	}
	return New(nodes, edges, Stats{})
}

// TestDiffApplyProperty checks on random snapshot pairs that applying the
// diff of two snapshots to the first gives the second, and that a diff
// survives a JSON round trip.
func TestDiffApplyProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		old, new := randomSnapshot(r, 12), randomSnapshot(r, 12)
		d := Diff(old, new)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Changes
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := Apply(old, &back); !Equal(got, new) {
			t.Fatalf("case %d: Apply(old, Diff(old, new)) != new\ndiff: %s", i, b)
		}
		if !Diff(new, new).Empty() {
			t.Fatalf("case %d: Diff(s, s) not empty", i)
		}
	}
}

func TestNodeJSONRoundTrip(t *testing.T) {
	nodes := []*Node{
		{ID: "proc:1:2", Kind: KindProcess, PID: 1, NetNS: 4026531840, Error: "fd table: permission denied",
			Process: &Process{PPID: 0, Comm: "init", Cmdline: "/sbin/init", User: "root", StartTime: 2}},
		fdNode(1, 0, true),
		{ID: "ofd:1:2:0", Kind: KindOFD, OFD: &OFD{Mode: "rw", Flags: []string{"O_RDWR"}, Sharers: 2}},
		{ID: SocketID(5), Kind: KindSocket, NetNS: 7, Object: &Object{Inode: 5, Name: "socket:[5]", Socket: &Socket{Family: "inet", Local: "127.0.0.1:1"}}},
		{ID: "anon:eventfd:ofd:1:2:3", Kind: KindAnon, Object: &Object{Inode: 26, Name: "anon_inode:[eventfd]", AnonType: "eventfd"}},
	}
	for _, n := range nodes {
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var back Node
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !n.Equal(&back) {
			t.Errorf("round trip of %s lost facts: %+v", b, back)
		}
	}
	// fd 0 and cloexec false must still be present: they are facts.
	b, _ := json.Marshal(fdNode(1, 0, false))
	var m map[string]any
	json.Unmarshal(b, &m)
	if _, ok := m["fd"]; !ok {
		t.Errorf("fd 0 omitted from %s", b)
	}
	if _, ok := m["cloexec"]; !ok {
		t.Errorf("cloexec omitted from %s", b)
	}
}

func TestSnapshotLookups(t *testing.T) {
	p1 := proc(1, "a")
	f := fdNode(1, 3, false)
	s := New([]*Node{f, p1, p1}, []Edge{{From: p1.ID, To: f.ID, Kind: EdgeFD}, {From: p1.ID, To: f.ID, Kind: EdgeFD}, {From: p1.ID, To: "missing", Kind: EdgeFD}}, Stats{})
	if len(s.Nodes) != 2 || len(s.Edges) != 1 {
		t.Fatalf("New kept %d nodes and %d edges, want 2 and 1", len(s.Nodes), len(s.Edges))
	}
	if s.Node(f.ID) != f || s.Node("nope") != nil {
		t.Error("Node lookup wrong")
	}
	if got := s.EdgesFrom(p1.ID); len(got) != 1 || got[0].To != f.ID {
		t.Errorf("EdgesFrom = %v", got)
	}
	if got := s.CountKinds(); got[KindProcess] != 1 || got[KindFD] != 1 {
		t.Errorf("CountKinds = %v", got)
	}
	if s.Stats.Errors == nil || s.Stats.MissingFeatures == nil {
		t.Error("nil slices in stats")
	}
}

func TestNewOwnedMatchesNew(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		s := randomSnapshot(r, 12)
		if len(s.Nodes) == 0 {
			continue
		}
		// Shuffled, with duplicate nodes and edges and edges to no node.
		nodes := append(append([]*Node{}, s.Nodes...), s.Nodes[:len(s.Nodes)/2]...)
		edges := append(append([]Edge{}, s.Edges...), s.Edges[:len(s.Edges)/2]...)
		edges = append(edges, Edge{From: "nowhere", To: s.Nodes[0].ID, Kind: EdgePeer})
		r.Shuffle(len(nodes), func(a, b int) { nodes[a], nodes[b] = nodes[b], nodes[a] })
		r.Shuffle(len(edges), func(a, b int) { edges[a], edges[b] = edges[b], edges[a] })
		want := New(nodes, edges, s.Stats)
		got := NewOwned(nodes, edges, s.Stats)
		if !Equal(got, want) || len(got.Edges) != len(want.Edges) || len(got.Nodes) != len(want.Nodes) {
			t.Fatalf("case %d: NewOwned differs from New", i)
		}
	}
}
