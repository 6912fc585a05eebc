package graph

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
)

// IndexEdge is an edge whose ends are named by their indexes in a list of
// nodes, as NewIndexed takes them.
type IndexEdge struct {
	From, To int32
	Kind     EdgeKind
}

// NewIndexed builds a Snapshot from nodes in any order and edges that name
// their ends by index in nodes. It is New for a builder that knows where it
// put each node: joining the edges to the sorted nodes then takes no ID
// lookups (a busy host's snapshot has some 10⁵ of each, and mapping their
// IDs is most of what New does). A later node with the same ID replaces an
// earlier one, and the edges of either end at the one kept; duplicate
// edges collapse into one. Every edge end must be an index of nodes.
//
// The caller hands nodes and edges over and must not use them afterwards.
func NewIndexed(nodes []*Node, edges []IndexEdge, stats Stats) *Snapshot {
	kinds := indexEdgeKinds(edges)
	if len(nodes) >= 1<<28 || len(kinds) > 16 {
		es := make([]Edge, len(edges))
		for i, e := range edges {
			es[i] = Edge{From: nodes[e.From].ID, To: nodes[e.To].ID, Kind: e.Kind}
		}
		return newSnapshot(nodes, es, stats, true)
	}
	out, rank := sortIndexed(nodes)
	keys := indexEdgeKeys(edges, kinds, rank)
	sortParallel(keys, slices.Sort, cmp.Compare[uint64])
	keys = slices.Compact(keys)
	es := make([]Edge, len(keys))
	for i, key := range keys {
		es[i] = Edge{From: out[key>>32].ID, To: out[key&(1<<28-1)].ID, Kind: kinds[key>>28&15]}
	}
	return &Snapshot{Nodes: out, Edges: es, Stats: stats.withEmptyLists()}
}

// sortIndexed returns nodes sorted by ID, of nodes with one ID the last
// only, and each index's place among them (its rank).
func sortIndexed(nodes []*Node) (out []*Node, rank []int32) {
	order := make([]prefixKey, len(nodes))
	for i, n := range nodes {
		order[i] = newPrefixKey(n.ID, int32(i))
	}
	byID := func(a, b prefixKey) int {
		if a.hi != b.hi {
			return cmp.Compare(a.hi, b.hi)
		}
		if a.lo != b.lo {
			return cmp.Compare(a.lo, b.lo)
		}
		return cmp.Or(strings.Compare(pastPrefix(nodes[a.i].ID), pastPrefix(nodes[b.i].ID)), cmp.Compare(a.i, b.i))
	}
	sortParallel(order, func(s []prefixKey) { slices.SortFunc(s, byID) }, byID)
	rank = make([]int32, len(nodes))
	out = make([]*Node, 0, len(nodes))
	for k := 0; k < len(order); {
		j := k + 1
		for j < len(order) && nodes[order[j].i].ID == nodes[order[k].i].ID {
			j++
		}
		r := int32(len(out))
		for _, o := range order[k:j] {
			rank[o.i] = r
		}
		out = append(out, nodes[order[j-1].i])
		k = j
	}
	return out, rank
}

// prefixKey is an ID's first 16 bytes as two big-endian integers, padded
// with zeros, beside the index of its node. Comparing the integers
// compares the prefixes as strings do (IDs hold no zero bytes, and a
// prefix sorts before the longer string), so only IDs with one prefix —
// one process's fds — are compared as strings, and from byte 16 on. The
// sort of a busy host's 10⁵ IDs takes a third of the time.
type prefixKey struct {
	hi, lo uint64
	i      int32
}

func newPrefixKey(id string, i int32) prefixKey {
	var b [16]byte
	copy(b[:], id)
	return prefixKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), i}
}

// pastPrefix returns id from its 17th byte on.
func pastPrefix(id string) string { return id[min(16, len(id)):] }

// indexEdgeKinds returns the distinct kinds of edges, sorted.
func indexEdgeKinds(edges []IndexEdge) []EdgeKind {
	var kinds []EdgeKind
	for i, e := range edges {
		if i > 0 && e.Kind == edges[i-1].Kind {
			continue // edges come in runs of one kind
		}
		if !slices.Contains(kinds, e.Kind) {
			kinds = append(kinds, e.Kind)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// indexEdgeKeys packs each edge into one integer that sorts as the edge
// does by (from, kind, to): its ends' ranks and its kind's index in kinds.
// Chunks of edges are packed in parallel.
func indexEdgeKeys(edges []IndexEdge, kinds []EdgeKind, rank []int32) []uint64 {
	keys := make([]uint64, len(edges))
	pack := func(lo, hi int) {
		var last EdgeKind
		k := -1
		for i, e := range edges[lo:hi] {
			if k < 0 || e.Kind != last {
				k, _ = slices.BinarySearch(kinds, e.Kind)
				last = e.Kind
			}
			keys[lo+i] = uint64(rank[e.From])<<32 | uint64(k)<<28 | uint64(rank[e.To])
		}
	}
	inParallel(len(edges), pack)
	return keys
}
