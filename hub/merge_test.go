package hub

import (
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
)

func sock(host string, inode uint64, proto, state, local, remote string) *graph.Node {
	return &graph.Node{ID: host + "/" + graph.SocketID(inode), Kind: graph.KindSocket, Object: &graph.Object{Inode: inode,
		Socket: &graph.Socket{Family: graph.FamilyInet, Protocol: proto, State: state, Local: local, Remote: remote}}}
}

func viewOf(host string, nodes ...*graph.Node) *view {
	return newView(host, graph.New(nodes, nil, graph.Stats{}))
}

func TestCrossPeers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		views []*view
		want  int
	}{
		{"tcp across hosts", []*view{
			viewOf("a", sock("a", 1, "tcp", "established", "10.0.0.1:40000", "10.0.0.2:80")),
			viewOf("b", sock("b", 2, "tcp", "established", "10.0.0.2:80", "10.0.0.1:40000"))}, 1},
		{"udp across hosts, v4-mapped v6", []*view{
			viewOf("a", sock("a", 1, "udp", "established", "[::ffff:10.0.0.1]:5353", "10.0.0.2:53")),
			viewOf("b", sock("b", 2, "udp", "established", "10.0.0.2:53", "10.0.0.1:5353"))}, 1},
		{"tcp and udp do not match", []*view{
			viewOf("a", sock("a", 1, "tcp", "established", "10.0.0.1:5353", "10.0.0.2:53")),
			viewOf("b", sock("b", 2, "udp", "established", "10.0.0.2:53", "10.0.0.1:5353"))}, 0},
		{"loopback never crosses hosts", []*view{
			viewOf("a", sock("a", 1, "tcp", "established", "127.0.0.1:40000", "127.0.0.1:80")),
			viewOf("b", sock("b", 2, "tcp", "established", "127.0.0.1:80", "127.0.0.1:40000"))}, 0},
		{"same host is the agent's business", []*view{
			viewOf("a", sock("a", 1, "tcp", "established", "10.0.0.1:40000", "10.0.0.2:80"),
				sock("a", 2, "tcp", "established", "10.0.0.2:80", "10.0.0.1:40000"))}, 0},
		{"ambiguous: two hosts behind one address", []*view{
			viewOf("a", sock("a", 1, "tcp", "established", "10.0.0.1:40000", "10.0.0.2:80")),
			viewOf("b", sock("b", 2, "tcp", "established", "10.0.0.2:80", "10.0.0.1:40000")),
			viewOf("c", sock("c", 3, "tcp", "established", "10.0.0.2:80", "10.0.0.1:40000"))}, 0},
		{"listening and unconnected sockets", []*view{
			viewOf("a", sock("a", 1, "tcp", "listen", "10.0.0.1:80", "0.0.0.0:0")),
			viewOf("b", sock("b", 2, "udp", "", "0.0.0.0:0", "10.0.0.1:80"))}, 0},
		{"garbage addresses", []*view{
			viewOf("a", sock("a", 1, "tcp", "established", "x", "10.0.0.2:80")),
			viewOf("b", sock("b", 2, "tcp", "established", "10.0.0.2:80", "x"))}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := crossPeers(tc.views)
			if len(got) != tc.want {
				t.Fatalf("got %v, want %d edges", got, tc.want)
			}
			for _, e := range got {
				if e.Kind != graph.EdgePeer || e.From >= e.To {
					t.Errorf("bad edge %v", e)
				}
			}
		})
	}
}

func TestMergeKeepsTheContract(t *testing.T) {
	// Host names where "a.b/" sorts before "a/": the merge must still sort.
	views := []*view{
		viewOf("a", sock("a", 1, "tcp", "established", "10.0.0.1:40000", "10.0.0.2:80")),
		viewOf("a.b", sock("a.b", 2, "tcp", "established", "10.0.0.2:80", "10.0.0.1:40000")),
	}
	views[1] = views[1].markDown(nil, time.Unix(0, 0))
	s := merge(views, time.Unix(100, 0))
	if !graph.Equal(s, graph.New(s.Nodes, s.Edges, s.Stats)) {
		t.Errorf("merged graph is not sorted: %v", s.Nodes)
	}
	if len(s.Edges) != 1 || len(s.Stats.Errors) != 1 || !s.Stats.StartedAt.Equal(time.Unix(100, 0)) {
		t.Errorf("edges %v, stats %+v", s.Edges, s.Stats)
	}
}
