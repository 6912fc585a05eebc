package graph

import (
	"cmp"
	"slices"
)

// Changes is what changed from one snapshot to the next. Its slices are sorted
// (nodes by ID, edges by from, kind, to) and never nil, so that its JSON form
// holds no null.
type Changes struct {
	NodesAdded   []*Node  `json:"nodes_added"`
	NodesChanged []*Node  `json:"nodes_changed"` // the new version of each changed node
	NodesRemoved []string `json:"nodes_removed"`
	EdgesAdded   []Edge   `json:"edges_added"`
	EdgesRemoved []Edge   `json:"edges_removed"`
}

// Empty reports whether the diff changes nothing.
func (d *Changes) Empty() bool {
	return len(d.NodesAdded) == 0 && len(d.NodesChanged) == 0 && len(d.NodesRemoved) == 0 &&
		len(d.EdgesAdded) == 0 && len(d.EdgesRemoved) == 0
}

// Diff returns the changes that turns old into new. Either may be nil, which
// stands for an empty snapshot. Both are walked once, in order: the cost is
// linear in their size.
func Diff(old, new *Snapshot) *Changes {
	if old == nil {
		old = &Snapshot{}
	}
	if new == nil {
		new = &Snapshot{}
	}
	d := &Changes{
		NodesAdded: []*Node{}, NodesChanged: []*Node{}, NodesRemoved: []string{},
		EdgesAdded: []Edge{}, EdgesRemoved: []Edge{},
	}
	i, j := 0, 0
	for i < len(old.Nodes) || j < len(new.Nodes) {
		switch {
		case j == len(new.Nodes) || (i < len(old.Nodes) && old.Nodes[i].ID < new.Nodes[j].ID):
			d.NodesRemoved = append(d.NodesRemoved, old.Nodes[i].ID)
			i++
		case i == len(old.Nodes) || new.Nodes[j].ID < old.Nodes[i].ID:
			d.NodesAdded = append(d.NodesAdded, new.Nodes[j])
			j++
		default:
			if !old.Nodes[i].Equal(new.Nodes[j]) {
				d.NodesChanged = append(d.NodesChanged, new.Nodes[j])
			}
			i++
			j++
		}
	}
	i, j = 0, 0
	for i < len(old.Edges) || j < len(new.Edges) {
		var c int
		switch {
		case j == len(new.Edges):
			c = -1
		case i == len(old.Edges):
			c = 1
		default:
			c = compareEdges(old.Edges[i], new.Edges[j])
		}
		switch {
		case c < 0:
			d.EdgesRemoved = append(d.EdgesRemoved, old.Edges[i])
			i++
		case c > 0:
			d.EdgesAdded = append(d.EdgesAdded, new.Edges[j])
			j++
		default:
			i++
			j++
		}
	}
	return d
}

// Apply returns the snapshot that results from applying d to s; s is not
// modified. Edges that touch a removed node go with it. The stats are
// carried over from s: a diff does not describe them.
func Apply(s *Snapshot, d *Changes) *Snapshot {
	if s == nil {
		s = &Snapshot{}
	}
	removed := make(map[string]bool, len(d.NodesRemoved))
	for _, id := range d.NodesRemoved {
		removed[id] = true
	}
	replaced := make(map[string]*Node, len(d.NodesChanged))
	for _, n := range d.NodesChanged {
		replaced[n.ID] = n
	}
	nodes := make([]*Node, 0, len(s.Nodes)+len(d.NodesAdded))
	for _, n := range s.Nodes {
		if removed[n.ID] {
			continue
		}
		if r := replaced[n.ID]; r != nil {
			n = r
		}
		nodes = append(nodes, n)
	}
	nodes = append(nodes, d.NodesAdded...)

	gone := make(map[Edge]bool, len(d.EdgesRemoved))
	for _, e := range d.EdgesRemoved {
		gone[e] = true
	}
	edges := make([]Edge, 0, len(s.Edges)+len(d.EdgesAdded))
	for _, e := range s.Edges {
		if !gone[e] {
			edges = append(edges, e)
		}
	}
	edges = append(edges, d.EdgesAdded...)
	return New(nodes, edges, s.Stats)
}

// Equal reports whether two snapshots hold the same nodes and edges; stats
// are not compared.
func Equal(a, b *Snapshot) bool {
	return slices.EqualFunc(a.Nodes, b.Nodes, (*Node).Equal) && slices.Equal(a.Edges, b.Edges)
}

func sortNodes(ns []*Node) {
	slices.SortFunc(ns, func(a, b *Node) int { return cmp.Compare(a.ID, b.ID) })
}
