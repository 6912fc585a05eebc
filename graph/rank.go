package graph

import (
	"runtime"
	"sync"
)

// idRanks maps node IDs to indexes. A busy host's snapshot has some 10⁵
// nodes, and filling one map with their IDs takes one core tens of
// milliseconds, so the IDs are spread over one map per core by their last
// bytes, and each map is filled on its own goroutine.
type idRanks []map[string]int32

// newIDRanks returns an empty idRanks for n IDs.
func newIDRanks(n int) idRanks {
	p := max(1, min(runtime.GOMAXPROCS(0), n/minParallelSort))
	r := make(idRanks, p)
	for i := range r {
		r[i] = make(map[string]int32, n/p+n/(4*p))
	}
	return r
}

// shard returns the index of the map that holds id.
func (r idRanks) shard(id string) int {
	if len(r) == 1 || id == "" {
		return 0
	}
	h := uint(id[len(id)-1])
	if len(id) > 1 {
		h = h*31 + uint(id[len(id)-2])
	}
	return int(h % uint(len(r)))
}

// get returns id's index.
func (r idRanks) get(id string) (int32, bool) {
	i, ok := r[r.shard(id)][id]
	return i, ok
}

// setAll maps each node's ID to its index in nodes; of nodes with one ID,
// the last wins.
func (r idRanks) setAll(nodes []*Node) {
	if len(r) == 1 {
		for i, n := range nodes {
			r[0][n.ID] = int32(i)
		}
		return
	}
	var wg sync.WaitGroup
	for k, m := range r {
		wg.Go(func() {
			for i, n := range nodes {
				if r.shard(n.ID) == k {
					m[n.ID] = int32(i)
				}
			}
		})
	}
	wg.Wait()
}
