package graph

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestNewIndexed builds one graph, big enough for the parallel sorts and
// with duplicate nodes and edges, both by IDs (New) and by indexes
// (NewIndexed), and compares the snapshots.
func TestNewIndexed(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 3} {
		runtime.GOMAXPROCS(procs)
		r := rand.New(rand.NewPCG(5, uint64(procs)))
		for _, n := range []int{0, 1, 10, 3 * minParallelSort} {
			var nodes []*Node
			for i := range n {
				nodes = append(nodes, &Node{ID: fmt.Sprintf("fd:%d:%d", r.IntN(500), i), Kind: KindFD})
			}
			for i := range min(n, 100) { // later nodes with an ID replace the earlier ones
				nodes = append(nodes, &Node{ID: nodes[(7*i)%n].ID, Kind: KindOFD})
			}
			var byIndex []IndexEdge
			var byID []Edge
			kinds := []EdgeKind{EdgeFD, EdgeOFD, EdgePeer, EdgeAccepted}
			for range 2 * len(nodes) {
				from, to := int32(r.IntN(len(nodes))), int32(r.IntN(len(nodes)))
				kind := kinds[r.IntN(len(kinds))]
				byIndex = append(byIndex, IndexEdge{From: from, To: to, Kind: kind})
				byID = append(byID, Edge{From: nodes[from].ID, To: nodes[to].ID, Kind: kind})
			}
			want := New(nodes, byID, Stats{})
			got := NewIndexed(slices.Clone(nodes), byIndex, Stats{})
			if !slices.Equal(got.Nodes, want.Nodes) {
				t.Fatalf("GOMAXPROCS %d, %d nodes: nodes differ from New's", procs, len(nodes))
			}
			if !slices.Equal(got.Edges, want.Edges) {
				t.Fatalf("GOMAXPROCS %d, %d nodes: %d edges, New has %d (or they differ)", procs, len(nodes), len(got.Edges), len(want.Edges))
			}
			if got.Stats.Errors == nil || got.Stats.MissingFeatures == nil {
				t.Fatal("nil lists in stats")
			}
		}
	}
}

// TestNewIndexedManyKinds takes the path for more edge kinds than a packed
// key holds.
func TestNewIndexedManyKinds(t *testing.T) {
	nodes := []*Node{{ID: "b"}, {ID: "a"}, {ID: "c"}}
	var edges []IndexEdge
	for i := range 20 {
		edges = append(edges, IndexEdge{From: int32(i % 3), To: int32((i + 1) % 3), Kind: EdgeKind(fmt.Sprintf("k%02d", i))})
	}
	s := NewIndexed(nodes, edges, Stats{})
	if len(s.Edges) != 20 || s.Edges[0] != (Edge{From: "a", To: "c", Kind: "k01"}) {
		t.Fatalf("edges %v", s.Edges)
	}
}
