package graph

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestSortParallel sorts lists long enough to be split, on 1 to 5
// goroutines (an odd number of chunks carries one through a round), and
// compares with one sort.
func TestSortParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	r := rand.New(rand.NewPCG(1, 2))
	for _, procs := range []int{1, 2, 3, 4, 5} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, minParallelSort - 1, 2 * minParallelSort, 5*minParallelSort + 7} {
			s := make([]uint64, n)
			for i := range s {
				s[i] = r.Uint64N(uint64(n) + 1) // with repeats
			}
			want := slices.Clone(s)
			slices.Sort(want)
			sortParallel(s, slices.Sort, cmp.Compare[uint64])
			if !slices.Equal(s, want) {
				t.Fatalf("GOMAXPROCS %d, %d items: not sorted as slices.Sort sorts", procs, n)
			}
		}
	}
}

// TestNewLargeSorted builds a snapshot big enough for the parallel sorts,
// with edges to missing nodes and duplicates, and checks it against the
// string comparisons it replaces.
func TestNewLargeSorted(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(3)
	r := rand.New(rand.NewPCG(3, 4))
	const n = 3 * minParallelSort
	var nodes []*Node
	for i := range n {
		nodes = append(nodes, &Node{ID: fmt.Sprintf("fd:%d:%d", r.IntN(500), i), Kind: KindFD})
	}
	for i := range 100 { // later nodes with an ID replace the earlier ones
		nodes = append(nodes, &Node{ID: nodes[7*i].ID, Kind: KindOFD})
	}
	var edges []Edge
	kinds := []EdgeKind{EdgeFD, EdgeOFD, EdgePeer}
	for range 2 * n {
		from, to := nodes[r.IntN(n)].ID, nodes[r.IntN(n)].ID
		if r.IntN(20) == 0 {
			to = "missing"
		}
		edges = append(edges, Edge{From: from, To: to, Kind: kinds[r.IntN(len(kinds))]})
	}
	s := New(nodes, edges, Stats{})
	if !slices.IsSortedFunc(s.Nodes, compareNodes) || len(s.Nodes) != n {
		t.Fatal("nodes not sorted by ID, or duplicates kept")
	}
	for i := range 100 {
		if got := s.Node(nodes[7*i].ID); got == nil || got.Kind != KindOFD {
			t.Fatalf("node %s: the later node did not replace the earlier one", nodes[7*i].ID)
		}
	}
	rank := idRanks{map[string]int32{}}
	rank.setAll(s.Nodes)
	if want := sortEdgesByID(edges, rank); !slices.Equal(s.Edges, want) {
		t.Fatalf("edges: %d, want %d sorted by (from, kind, to)", len(s.Edges), len(want))
	}
}
