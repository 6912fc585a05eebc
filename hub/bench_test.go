package hub

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
)

// syntheticHost is a host of procs processes with fds fds each, every
// fd a TCP socket connected to the next host (hosts in a ring), in the
// host's name space, as an agent's view holds it.
func syntheticHost(h, hosts, procs, fds int) *view {
	host := fmt.Sprintf("node-%02d", h)
	prefix := host + "/"
	var nodes []*graph.Node
	var edges []graph.Edge
	for p := range procs {
		pid := 1000 + p
		pr := prefix + graph.ProcessID(pid, 1)
		nodes = append(nodes, &graph.Node{ID: pr, Kind: graph.KindProcess, PID: pid,
			Process: &graph.Process{Comm: "app", StartTime: 1, FDCount: fds, Host: host}})
		for fd := range fds {
			f, o := prefix+graph.FDID(pid, 1, fd), prefix+graph.OFDID(pid, 1, fd)
			inode := uint64(p*fds + fd + 1)
			port := 10000 + p*fds + fd
			local := fmt.Sprintf("10.0.%d.%d:%d", h/250, h%250+1, port)
			next := (h + 1) % hosts
			remote := fmt.Sprintf("10.0.%d.%d:%d", next/250, next%250+1, 80)
			if h%2 == 1 { // odd hosts serve the even ones' clients
				prev := (h + hosts - 1) % hosts
				local = fmt.Sprintf("10.0.%d.%d:%d", h/250, h%250+1, 80)
				remote = fmt.Sprintf("10.0.%d.%d:%d", prev/250, prev%250+1, port)
			}
			s := prefix + graph.SocketID(inode)
			nodes = append(nodes,
				&graph.Node{ID: f, Kind: graph.KindFD, PID: pid, FD: &graph.FD{Num: fd}},
				&graph.Node{ID: o, Kind: graph.KindOFD, OFD: &graph.OFD{Mode: "rw", Sharers: 1}},
				&graph.Node{ID: s, Kind: graph.KindSocket, Object: &graph.Object{Inode: inode, Socket: &graph.Socket{
					Family: graph.FamilyInet, Protocol: "tcp", State: "established", Local: local, Remote: remote}}})
			edges = append(edges, graph.Edge{From: pr, To: f, Kind: graph.EdgeFD},
				graph.Edge{From: f, To: o, Kind: graph.EdgeOFD}, graph.Edge{From: o, To: s, Kind: graph.EdgeObject})
		}
	}
	return newView(host, graph.New(nodes, edges, graph.Stats{Processes: procs, FDs: procs * fds}))
}

// BenchmarkMerge: 50 agents of 10,000 fds each (100 processes × 100 TCP
// sockets, each connected to a process on a neighbour host): the cost of
// one merge, and the heap the agents' graphs take.
func BenchmarkMerge(b *testing.B) {
	const hosts = 50
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	views := make([]*view, hosts)
	for h := range views {
		views[h] = syntheticHost(h, hosts, 100, 100)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	var s *graph.Snapshot
	for b.Loop() {
		s = merge(views, time.Now())
	}
	peers := 0
	for _, e := range s.Edges {
		if e.Kind == graph.EdgePeer {
			peers++
		}
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/hosts/(1<<20), "MiB/agent")
	b.ReportMetric(float64(len(s.Nodes)), "nodes")
	b.ReportMetric(float64(peers), "cross-peers")
}

// BenchmarkFanOut: one agent's change (a process with 100 fds comes or
// goes) reaching the merged graph's Store: the agent's Apply, the merge,
// and the Store's diff against the previous version, which is what every
// browser is then sent (one diff, shared).
func BenchmarkFanOut(b *testing.B) {
	const hosts = 50
	views := make([]*view, hosts)
	for h := range views {
		views[h] = syntheticHost(h, hosts, 100, 100)
	}
	store := live.NewStore(0)
	store.Publish(merge(views, time.Now()))
	small, big := views[7].snap, syntheticHost(7, hosts, 101, 100).snap
	grow, shrink := graph.Diff(small, big), graph.Diff(big, small)
	for i := 0; b.Loop(); i++ {
		d := grow
		if i%2 == 1 {
			d = shrink
		}
		views[7] = newView(views[7].host, graph.Apply(views[7].snap, d))
		store.Publish(merge(views, time.Now()))
	}
}
