package live

import (
	"testing"

	"github.com/fdscope/fdscope/graph"
	"github.com/google/go-cmp/cmp"
)

// twoPeers is a snapshot where pid 10 holds socket:[5], joined by a peer
// edge to socket:[6] held by pid 20, and pid 30 holds socket:[7] alone.
func twoPeers() *graph.Snapshot {
	var nodes []*graph.Node
	var edges []graph.Edge
	hold := func(pid, fd int, ino uint64) {
		p := graph.ProcessID(pid, 1)
		f := graph.FDID(pid, 1, fd)
		o := graph.OFDID(pid, 1, fd)
		s := graph.SocketID(ino)
		nodes = append(nodes,
			&graph.Node{ID: p, Kind: graph.KindProcess, PID: pid, Process: &graph.Process{StartTime: 1}},
			&graph.Node{ID: f, Kind: graph.KindFD, PID: pid, FD: &graph.FD{Num: fd}},
			&graph.Node{ID: o, Kind: graph.KindOFD, OFD: &graph.OFD{Mode: "rw"}},
			&graph.Node{ID: s, Kind: graph.KindSocket, Object: &graph.Object{Inode: ino, Socket: &graph.Socket{Family: "unix"}}})
		edges = append(edges, graph.Edge{From: p, To: f, Kind: graph.EdgeFD}, graph.Edge{From: f, To: o, Kind: graph.EdgeOFD},
			graph.Edge{From: o, To: s, Kind: graph.EdgeObject})
	}
	hold(10, 3, 5)
	hold(20, 4, 6)
	hold(30, 3, 7)
	edges = append(edges, graph.Edge{From: graph.SocketID(5), To: graph.SocketID(6), Kind: graph.EdgePeer})
	return graph.New(nodes, edges, graph.Stats{})
}

func TestChangedPIDs(t *testing.T) {
	procs := map[int]ProcState{10: {1, 4}, 20: {1, 5}, 30: {1, 4}}
	probe := func(socks map[uint64]uint64, change func(map[int]ProcState)) *Probe {
		p := &Probe{Procs: map[int]ProcState{}, Sockets: socks}
		for k, v := range procs {
			p.Procs[k] = v
		}
		if change != nil {
			change(p.Procs)
		}
		return p
	}
	base := probe(map[uint64]uint64{5: 1, 6: 1, 7: 1}, nil)
	snap := twoPeers()
	for _, tt := range []struct {
		name string
		cur  *Probe
		want []int
	}{
		{"nothing", probe(map[uint64]uint64{5: 1, 6: 1, 7: 1}, nil), nil},
		{"a socket's queue", probe(map[uint64]uint64{5: 2, 6: 1, 7: 1}, nil), []int{10, 20}},
		{"a lone socket's state", probe(map[uint64]uint64{5: 1, 6: 1, 7: 9}, nil), []int{30}},
		{"a new socket is left to the fd counts", probe(map[uint64]uint64{5: 1, 6: 1, 7: 1, 8: 1}, nil), nil},
		{"an fd count", probe(map[uint64]uint64{5: 1, 6: 1, 7: 1}, func(p map[int]ProcState) { p[20] = ProcState{1, 6} }), []int{10, 20}},
		{"an exit", probe(map[uint64]uint64{5: 1, 6: 1, 7: 1}, func(p map[int]ProcState) { delete(p, 30) }), []int{30}},
		{"a reused pid", probe(map[uint64]uint64{5: 1, 6: 1, 7: 1}, func(p map[int]ProcState) { p[30] = ProcState{2, 4} }), []int{30}},
		{"a new process", probe(map[uint64]uint64{5: 1, 6: 1, 7: 1}, func(p map[int]ProcState) { p[40] = ProcState{3, 3} }), []int{40}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, changedPIDs(base, tt.cur, snap, 0)); d != "" {
				t.Errorf("changedPIDs (-want +got):\n%s", d)
			}
		})
	}
	// The server itself (pid 20) is left out: its own fd count, its
	// sockets, and its being the far end of a changed connection.
	for _, tt := range []struct {
		name string
		cur  *Probe
		want []int
	}{
		{"its fd count", probe(map[uint64]uint64{5: 1, 6: 1, 7: 1}, func(p map[int]ProcState) { p[20] = ProcState{1, 6} }), []int{}},
		{"its socket", probe(map[uint64]uint64{5: 1, 6: 2, 7: 1}, nil), []int{}}, // the far end sees its own socket change
		{"its peer's fd count", probe(map[uint64]uint64{5: 1, 6: 1, 7: 1}, func(p map[int]ProcState) { p[10] = ProcState{1, 5} }), []int{10}},
		{"another process", probe(map[uint64]uint64{5: 1, 6: 1, 7: 9}, nil), []int{30}},
	} {
		got := changedPIDs(base, tt.cur, snap, 20)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("changedPIDs, self 20, %s (-want +got):\n%s", tt.name, d)
		}
	}
	if got := changedPIDs(nil, base, snap, 0); got != nil {
		t.Errorf("without an old probe: %v", got)
	}
}
