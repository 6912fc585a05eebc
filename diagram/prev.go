package diagram

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/fdscope/fdscope/graph"
)

// Stability: with Options.Prev, the layout drawn before of the same focus,
// a new layout keeps what did not change where it was, so that a live view
// does not jump.
//
//   - Order: processes in the previous layout come first (the focus before
//     them), in their previous order, new ones after them; in each layer
//     (a process's ports, descriptions, objects) the items that were drawn
//     before keep their previous order among the places they take in the
//     crossing-minimising order, and new items take the others.
//   - Columns: an item drawn before in the same tier (wrapped: the tier of
//     the previous layout this one takes the place of) is anchored at its
//     previous column and only moves right, when the items before it need
//     the room. The items between two anchored ones are placed as near their
//     neighbours' mean as the room between the anchors allows. Nothing is
//     shifted left to close a gap.

// anchor is where a box or port was in the previous layout.
type anchor struct {
	tier, x int
}

func (a anchor) compare(b anchor) int {
	return cmp.Or(cmp.Compare(a.tier, b.tier), cmp.Compare(a.x, b.x))
}

// prevIndex is the previous layout, by ID.
type prevIndex struct {
	at    map[string]anchor   // port, description, object and group IDs
	procs map[string][]anchor // process node ID → its boxes, by tier
	rows  map[int][2]int      // tier → first row of its descriptions and of its objects, from the tier's top
}

// newPrevIndex indexes l, the previous layout of the focus pid; it returns
// nil when there is none or it is of another focus.
func newPrevIndex(l *Layout, pid int) *prevIndex {
	if l == nil || l.Focus != pid {
		return nil
	}
	x := &prevIndex{at: map[string]anchor{}, procs: map[string][]anchor{}, rows: map[int][2]int{}}
	for _, b := range l.Boxes {
		if b.Tier >= 0 && b.Tier < len(l.Tiers) && b.Kind != string(graph.KindProcess) && b.Kind != KindCrowd {
			layer := 1
			if g, err := ParseGroupID(b.ID); b.Kind == string(graph.KindOFD) || err == nil && (g.Kind == GroupOFDs || g.Kind == GroupCrowdOFDs) {
				layer = 0
			}
			r, ok := x.rows[b.Tier]
			if !ok {
				r = [2]int{math.MaxInt, math.MaxInt}
			}
			r[layer] = min(r[layer], b.Rect.Y-l.Tiers[b.Tier].Y)
			x.rows[b.Tier] = r
		}
		if b.Kind == string(graph.KindProcess) || b.Kind == KindCrowd {
			key := b.NodeID
			if b.Kind == KindCrowd {
				key, _, _ = strings.Cut(b.ID, "#") // a crowd drawn again
			}
			x.procs[key] = append(x.procs[key], anchor{b.Tier, b.Rect.X})
			for _, p := range b.Ports {
				x.at[p.ID] = anchor{b.Tier, p.Rect.X}
			}
			continue
		}
		x.at[b.ID] = anchor{b.Tier, b.Rect.X}
	}
	for _, as := range x.procs {
		slices.SortFunc(as, anchor.compare)
	}
	return x
}

// rowsOf returns the first row of the descriptions and of the objects in
// tier t of the previous layout (math.MaxInt for a layer it did not have).
func (x *prevIndex) rowsOf(t int) ([2]int, bool) {
	if x == nil {
		return [2]int{}, false
	}
	r, ok := x.rows[t]
	return r, ok
}

// proc returns where the process was: in the given tier if it was drawn
// there, else where it was first drawn.
func (x *prevIndex) proc(id string, tier int) (anchor, bool) {
	as := x.procs[id]
	if len(as) == 0 {
		return anchor{}, false
	}
	for _, a := range as {
		if a.tier == tier {
			return a, true
		}
	}
	return as[0], true
}

// tierOf returns the first tier the items of a component were drawn in
// before, or -1 when none was (or x is nil).
func (x *prevIndex) tierOf(comp []*item) int {
	t := -1
	if x == nil {
		return t
	}
	for _, it := range comp {
		if a, ok := x.at[it.id]; ok && (t < 0 || a.tier < t) {
			t = a.tier
		}
	}
	return t
}

// keepOrder gives the items of s that were drawn before their previous
// order, in the places the old items take in s; new items keep theirs.
func (x *prevIndex) keepOrder(s []*item) {
	var slots []int
	var old []*item
	for i, it := range s {
		if _, ok := x.at[it.id]; ok {
			slots = append(slots, i)
			old = append(old, it)
		}
	}
	if len(old) < 2 {
		return
	}
	slices.SortStableFunc(old, func(a, b *item) int { return x.at[a.id].compare(x.at[b.id]) })
	for i, it := range old {
		s[slots[i]] = it
	}
}

// stableOrder applies the previous order to the tier's current one: ports
// process by process, then descriptions and objects, each layer first
// re-sorted by barycentre against the layer above so that new items sit
// near what leads into them.
func (t *tier) stableOrder() {
	x := t.m.prev
	var all []*item
	for _, tp := range t.procs {
		x.keepOrder(tp.ports)
		all = append(all, tp.ports...)
	}
	t.L[layerPort] = all
	t.rerank(layerPort)
	for _, layer := range []int{layerOFD, layerObj} {
		t.sortBy(layer, t.up)
		x.keepOrder(t.L[layer])
		t.rerank(layer)
	}
}

// anchored places the items of one layer in order, x[i] ≥ x[i-1] + sep[i]:
// an anchored item (has[i]) at its anchor unless the items before it push
// it right; each run of other items as near to want as it can (isotonic),
// between the item before it and the anchor after it, and from lo when it
// opens the layer. A run with no room between them starts at the item
// before it and pushes the anchor.
func anchored(want []float64, sep []int, at []float64, has []bool, lo float64) []float64 {
	n := len(want)
	out := make([]float64, n)
	for i := 0; i < n; {
		lower := lo
		if i > 0 {
			lower = out[i-1] + float64(sep[i])
		}
		if has[i] {
			out[i] = at[i]
			if i > 0 {
				out[i] = max(at[i], lower)
			}
			i++
			continue
		}
		k := i
		for k < n && !has[k] {
			k++
		}
		xs := isotonic(want[i:k], sep[i:k])
		// In terms of z = x - (sep[i+1] + … + sep[j]), which the run keeps
		// non-decreasing: lower ≤ z ≤ upper.
		span := 0.0
		for j := i + 1; j < k; j++ {
			span += float64(sep[j])
		}
		upper := math.Inf(1)
		if k < n {
			upper = at[k] - float64(sep[k]) - span
		}
		off := 0.0
		for j := i; j < k; j++ {
			if j > i {
				off += float64(sep[j])
			}
			z := xs[j-i] - off
			if upper >= lower {
				z = min(max(z, lower), max(upper, lower))
			} else {
				z = lower
			}
			out[j] = z + off
		}
		i = k
	}
	return out
}
