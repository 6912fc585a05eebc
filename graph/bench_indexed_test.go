package graph

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkNewIndexed builds a snapshot the size of the bench workload's
// (120,000 nodes, 180,000 edges) from nodes in the order a scan makes them.
func BenchmarkNewIndexed(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var nodes []*Node
	for range 500 {
		pid, start := 1000+r.IntN(30000), 6_000_000+r.IntN(100000)
		nodes = append(nodes, &Node{ID: ProcessID(pid, uint64(start)), Kind: KindProcess})
		for fd := range 120 {
			nodes = append(nodes, &Node{ID: OFDID(pid, uint64(start), fd), Kind: KindOFD}, &Node{ID: FDID(pid, uint64(start), fd), Kind: KindFD})
		}
	}
	for range 22000 {
		nodes = append(nodes, &Node{ID: SocketID(uint64(20_000_000 + r.IntN(10_000_000))), Kind: KindSocket})
	}
	var edges []IndexEdge
	for i := range nodes {
		edges = append(edges, IndexEdge{From: int32(i), To: int32(r.IntN(len(nodes))), Kind: EdgeFD})
		if i%2 == 0 {
			edges = append(edges, IndexEdge{From: int32(i), To: int32(r.IntN(len(nodes))), Kind: EdgeOFD})
		}
	}
	for b.Loop() {
		NewIndexed(slices.Clone(nodes), slices.Clone(edges), Stats{})
	}
}
