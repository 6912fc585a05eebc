package diagram

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/fdscope/fdscope/graph"
)

// Placement, one tier at a time:
//
//  1. order: the focus process first, peers by where they connect to it
//     (the focus's later fds nearer, so connections nest instead of
//     crossing); ports, descriptions and objects by barycentre sweeps,
//     keeping the order with the fewest crossings;
//  2. x: each layer is placed as near as its order allows to the mean of
//     its neighbours (an isotonic regression under minimum gaps), sweeping
//     up and down until the columns line up;
//  3. y and routing: edges leave a box's bottom and enter the next layer's
//     top; an edge whose ends do not line up jogs along a track of the
//     channel between the layers, tracks ordered so that edges do not
//     overlap and cross as little as they can. Connections run below the
//     objects, the shorter above the longer so that they nest.

// Geometry, in cells.
const (
	portGap    = 3  // between two ports of a process
	boxGap     = 2  // between two boxes of a kernel layer
	procGap    = 3  // between two process boxes
	bandMargin = 13 // no port edge left of this column: the band labels' room
	tierGap    = 2  // blank rows between tiers
)

// Band labels.
const (
	labelUser   = "user space"
	labelKernel = "kernel space"
)

// tierOut is one placed tier, in tier coordinates (rows from 0).
type tierOut struct {
	width, height int
	sep           int
	boxes         []Box
	edges         []Edge
	labels        []Label
	procs         []*proc
}

// tierProc is a process box in one tier.
type tierProc struct {
	p           *proc
	ports       []*item
	left, right int // border columns
	titleW      int
}

type tier struct {
	m        *model
	saved    map[*item][]*link // conns of items given links to copies, to restore
	index    int               // of the tier in the layout
	prevTier int               // the tier of Options.Prev it takes the place of
	anchors  map[*item]float64 // items drawn in this tier before: their previous column (Options.Prev)
	compRank map[int]int       // component → its place in the tier
	procs    []*tierProc
	L        [3][]*item
	in       map[*item]bool
	links    []*link // port → ofd, ofd → object
	conns    []*link
}

// components splits the model into the parts no link joins, ordered by the
// focus's first fd in each: the units a wrapped diagram is cut into.
// Accepted links do not join: a listener and the sockets accepted from it
// may fall in different tiers (the listener is then drawn again: copyListeners).
func (m *model) components() [][]*item {
	idx := map[*item]int{}
	for i, it := range m.items {
		idx[it] = i
	}
	parent := make([]int, len(m.items))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b *item) {
		ra, rb := find(idx[a]), find(idx[b])
		if ra != rb {
			parent[max(ra, rb)] = min(ra, rb)
		}
	}
	for _, l := range m.links {
		union(l.from, l.to)
	}
	for _, l := range m.conns {
		if l.kind != EdgeAccepted && l.kind != EdgeWatch {
			union(l.from, l.to)
		}
	}
	byRoot := map[int][]*item{}
	var roots []int
	for i, it := range m.items {
		r := find(i)
		if byRoot[r] == nil {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], it)
	}
	focusIdx := map[*item]int{}
	if m.focus != nil {
		for i, p := range m.focus.ports {
			focusIdx[p] = i
		}
	}
	type keyed struct {
		items []*item
		k     [4]int
		id    string
	}
	var comps []keyed
	for n, r := range roots {
		// The components of the focus's own connections first, then the
		// rest of the focus's, each by the focus's first port in it.
		c := keyed{items: byRoot[r], k: [4]int{2, math.MaxInt, math.MaxInt, math.MaxInt}, id: byRoot[r][0].id}
		conn := false
		for _, it := range c.items {
			it.comp = n
			if it.layer != layerPort {
				continue
			}
			conn = conn || m.rel.carries(it)
			if i, ok := focusIdx[it]; ok {
				c.k[0], c.k[1] = 1, min(c.k[1], i)
			}
			c.k[2] = min(c.k[2], it.proc.index)
			c.k[3] = min(c.k[3], it.fds[0])
		}
		if conn {
			c.k[0] = 0
			m.connComp[n] = true
		}
		comps = append(comps, c)
	}
	slices.SortFunc(comps, func(a, b keyed) int {
		for i := range a.k {
			if c := cmp.Compare(a.k[i], b.k[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([][]*item, len(comps))
	for i, c := range comps {
		out[i] = c.items
	}
	return out
}

// placeTier lays out the given components as tier number index. seen
// counts the earlier tiers each process was drawn in; prevTier is the tier
// of Options.Prev this one takes the place of.
func (m *model) placeTier(comps [][]*item, seen map[*proc]int, index, prevTier int) *tierOut {
	t := &tier{m: m, index: index, prevTier: prevTier, in: map[*item]bool{}, compRank: map[int]int{}}
	portsOf := map[*proc][]*item{}
	for i, c := range comps {
		t.compRank[c[0].comp] = i
		for _, it := range c {
			t.in[it] = true
		}
	}
	for _, p := range m.procs {
		for _, port := range p.ports {
			if t.in[port] {
				portsOf[p] = append(portsOf[p], port)
			}
		}
		if portsOf[p] != nil && p.more != nil && seen[p] == 0 {
			t.in[p.more] = true
			portsOf[p] = append(portsOf[p], p.more)
		}
	}
	for _, it := range m.items {
		if t.in[it] && it.layer != layerPort {
			t.L[it.layer] = append(t.L[it.layer], it)
		}
	}
	for _, l := range m.links {
		if t.in[l.from] && t.in[l.to] {
			t.links = append(t.links, l)
		}
	}
	for _, l := range m.conns {
		if t.in[l.from] && t.in[l.to] {
			t.conns = append(t.conns, l)
		}
	}
	copies := t.copyListeners()
	defer t.restoreConns()
	if m.prev != nil {
		for it := range t.in {
			if a, ok := m.prev.at[it.id]; ok && a.tier == prevTier {
				if t.anchors == nil {
					t.anchors = map[*item]float64{}
				}
				t.anchors[it] = float64(a.x)
			}
		}
	}
	t.orderProcs(portsOf)
	t.order()
	if m.prev != nil {
		t.stableOrder()
	}
	t.insertCopies(copies)
	t.placeX()
	return t.route(seen)
}

// copyListeners draws again, in this tier, each listening socket that is
// not in it but has sockets accepted from it in it (wrapping cut them
// apart): a copy of its box, ID "NODE#T" for tier T counted from 1, with
// the accepted links. It returns the copies, in the order of m.conns.
func (t *tier) copyListeners() []*item {
	var copies []*item
	byListener := map[*item]*item{}
	for _, l := range t.m.conns {
		if l.kind != EdgeAccepted || !t.in[l.to] || t.in[l.from] || l.from.layer != layerObj {
			continue
		}
		c := byListener[l.from]
		if c == nil {
			o := l.from
			c = &item{id: o.id + "#" + strconv.Itoa(t.index+1), layer: layerObj, kind: o.kind, class: o.class,
				nodeID: o.nodeID, node: o.node, label: o.label, tip: o.tip, member: o.member, copyOf: o, h: o.h}
			byListener[o] = c
			copies = append(copies, c)
			t.in[c] = true
		}
		cl := &link{from: c, to: l.to, kind: l.kind, labelW: l.labelW}
		c.conns = append(c.conns, cl)
		if t.saved == nil {
			t.saved = map[*item][]*link{}
		}
		if _, ok := t.saved[l.to]; !ok {
			t.saved[l.to] = l.to.conns
			l.to.conns = slices.Clip(l.to.conns)
		}
		l.to.conns = append(l.to.conns, cl)
		t.conns = append(t.conns, cl)
	}
	for _, c := range copies {
		w := 0
		for _, s := range c.label {
			w = max(w, width(s))
		}
		c.w = max(w+4, 2*len(c.conns)+3)
	}
	return copies
}

// restoreConns takes the links to copies of listeners off the model's
// items once the tier is placed.
func (t *tier) restoreConns() {
	for it, conns := range t.saved {
		it.conns = conns
	}
}

// insertCopies puts each copy of a listener in the object layer just left
// of the first socket accepted from it.
func (t *tier) insertCopies(copies []*item) {
	if len(copies) == 0 {
		return
	}
	for _, c := range copies {
		objs := t.L[layerObj]
		at := len(objs)
		for i, it := range objs {
			if slices.ContainsFunc(c.conns, func(l *link) bool { return l.to == it }) {
				at = i
				break
			}
		}
		t.L[layerObj] = slices.Insert(objs, at, c)
	}
	t.rerank(layerObj)
}

// orderProcs puts the focus first, then each peer by the mean position of
// the focus's ports it connects to, the later ones first: a peer of the
// focus's last fd sits nearest, so connections nest.
func (t *tier) orderProcs(portsOf map[*proc][]*item) {
	focusPos := map[int]float64{} // component → mean index of the focus's ports in it
	if f := t.m.focus; f != nil {
		n := map[int]int{}
		for i, port := range portsOf[f] {
			if port.kind != PortMore {
				focusPos[port.comp] += float64(i)
				n[port.comp]++
			}
		}
		for c := range focusPos {
			focusPos[c] /= float64(n[c])
		}
	}
	type keyed struct {
		tp   *tierProc
		bary float64
		has  bool
	}
	var ks []keyed
	for _, p := range t.m.procs {
		ports := portsOf[p]
		if ports == nil {
			continue
		}
		k := keyed{tp: &tierProc{p: p, ports: ports}}
		sum, n := 0.0, 0
		for _, port := range ports {
			if v, ok := focusPos[port.comp]; ok && port.kind != PortMore {
				sum += v
				n++
			}
		}
		if n > 0 {
			k.bary, k.has = sum/float64(n), true
		}
		for _, l := range p.title {
			k.tp.titleW = max(k.tp.titleW, width(l))
		}
		ks = append(ks, k)
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if a.tp.p.focus || b.tp.p.focus {
			return boolCmp(b.tp.p.focus, a.tp.p.focus)
		}
		if x := t.m.prev; x != nil {
			// Processes drawn before keep their order, new ones come after.
			pa, oka := x.proc(a.tp.p.node.ID, t.prevTier)
			pb, okb := x.proc(b.tp.p.node.ID, t.prevTier)
			if oka != okb {
				return boolCmp(okb, oka)
			}
			if c := pa.compare(pb); oka && c != 0 {
				return c
			}
		}
		if c := cmp.Compare(t.m.rel.role(a.tp.p), t.m.rel.role(b.tp.p)); c != 0 {
			return c // connections first and nearest, crowds last
		}
		if a.has != b.has {
			return boolCmp(b.has, a.has)
		}
		if c := cmp.Compare(b.bary, a.bary); c != 0 {
			return c
		}
		return cmp.Compare(a.tp.p.index, b.tp.p.index)
	})
	for _, k := range ks {
		t.procs = append(t.procs, k.tp)
		t.L[layerPort] = append(t.L[layerPort], k.tp.ports...)
	}
}

// up and down return an item's neighbours in the layer above and below.
func (t *tier) up(it *item) []*item {
	var out []*item
	for _, l := range it.in {
		if t.in[l.from] {
			out = append(out, l.from)
		}
	}
	return out
}

func (t *tier) down(it *item) []*item {
	var out []*item
	for _, l := range it.out {
		if t.in[l.to] {
			out = append(out, l.to)
		}
	}
	return out
}

// order sorts the layers to cross as little as possible. Candidates: the
// ports in fd order, the ports grouped by component (fd order of the
// component's first fd), and each step of barycentre sweeps; descriptions
// and objects follow by barycentre. The fewest crossings win, then the
// order nearest to fd order (a diagram reads best with fds in order).
func (t *tier) order() {
	type cand struct {
		L      [3][]*item
		ports  [][]*item
		cross  int
		unsort int
	}
	var best *cand
	consider := func() {
		c := &cand{cross: t.crossings(), unsort: t.unsorted()}
		if best != nil && (c.cross > best.cross || (c.cross == best.cross && c.unsort >= best.unsort)) {
			return
		}
		for i, l := range t.L {
			c.L[i] = slices.Clone(l)
		}
		for _, tp := range t.procs {
			c.ports = append(c.ports, slices.Clone(tp.ports))
		}
		best = c
	}
	follow := func() {
		t.sortBy(layerOFD, t.up)
		t.sortBy(layerObj, t.up)
	}
	t.rerank(layerPort)
	follow()
	consider()
	t.sortPorts(func(it *item) float64 { return float64(t.compRank[it.comp]) })
	follow()
	consider()
	for range 4 {
		if best.cross == 0 {
			break
		}
		t.sortBy(layerOFD, t.down)
		t.sortPorts(func(it *item) float64 { return bary(it, t.down(it)) })
		follow()
		consider()
	}
	t.L = best.L
	for i, tp := range t.procs {
		tp.ports = best.ports[i]
	}
	for l := range t.L {
		t.rerank(l)
	}
}

func (t *tier) rerank(layer int) {
	for i, it := range t.L[layer] {
		it.rank = float64(i)
	}
}

// unsorted counts the pairs of ports of one process out of fd order.
func (t *tier) unsorted() int {
	n := 0
	for _, tp := range t.procs {
		pairs := make([][2]int, len(tp.ports))
		for i, p := range tp.ports {
			pairs[i] = [2]int{i, p.fds[0]}
		}
		n += inversions(pairs)
	}
	return n
}

// bary is the mean rank of an item's neighbours, or its own rank without any.
func bary(it *item, nb []*item) float64 {
	if len(nb) == 0 {
		return it.rank
	}
	s := 0.0
	for _, n := range nb {
		s += n.rank
	}
	return s / float64(len(nb))
}

func (t *tier) sortBy(layer int, nb func(*item) []*item) {
	items := t.L[layer]
	key := make(map[*item]float64, len(items))
	for _, it := range items {
		key[it] = bary(it, nb(it))
	}
	slices.SortStableFunc(items, func(a, b *item) int {
		return cmp.Or(cmp.Compare(key[a], key[b]), cmp.Compare(a.rank, b.rank))
	})
	for i, it := range items {
		it.rank = float64(i)
	}
}

// sortPorts sorts each process's ports by key, fd numbers breaking ties;
// the "more" port stays last.
func (t *tier) sortPorts(keyOf func(*item) float64) {
	var all []*item
	for _, tp := range t.procs {
		key := make(map[*item]float64, len(tp.ports))
		for _, it := range tp.ports {
			key[it] = keyOf(it)
		}
		slices.SortStableFunc(tp.ports, func(a, b *item) int {
			if (a.kind == PortMore) != (b.kind == PortMore) {
				return boolCmp(a.kind == PortMore, b.kind == PortMore)
			}
			return cmp.Or(cmp.Compare(key[a], key[b]), cmp.Compare(a.fds[0], b.fds[0]))
		})
		all = append(all, tp.ports...)
	}
	t.L[layerPort] = all
	for i, it := range all {
		it.rank = float64(i)
	}
}

// crossings counts the crossings of straight lines between consecutive
// layers in the current order.
func (t *tier) crossings() int {
	var n int
	for _, layer := range t.L[:2] {
		var pairs [][2]int
		for _, it := range layer {
			for _, d := range t.down(it) {
				pairs = append(pairs, [2]int{int(it.rank), int(d.rank)})
			}
		}
		n += inversions(pairs)
	}
	return n
}

// inversions counts the pairs (a1, b1), (a2, b2) with a1 < a2 and b1 > b2.
func inversions(pairs [][2]int) int {
	slices.SortFunc(pairs, func(x, y [2]int) int { return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1])) })
	b := make([]int, len(pairs))
	for i, p := range pairs {
		b[i] = p[1]
	}
	tmp := make([]int, len(b))
	var sort func(lo, hi int) int
	sort = func(lo, hi int) int {
		if hi-lo < 2 {
			return 0
		}
		mid := (lo + hi) / 2
		n := sort(lo, mid) + sort(mid, hi)
		i, j, k := lo, mid, lo
		for i < mid && j < hi {
			if b[j] < b[i] {
				n += mid - i
				tmp[k] = b[j]
				j++
			} else {
				tmp[k] = b[i]
				i++
			}
			k++
		}
		k += copy(tmp[k:], b[i:mid])
		copy(tmp[k:], b[j:hi])
		copy(b[lo:hi], tmp[lo:hi])
		return n
	}
	return sort(0, len(b))
}

// seps returns, for each item of a layer, the least distance between its
// left column and the previous item's.
func (t *tier) seps(layer int) []int {
	items := t.L[layer]
	sep := make([]int, len(items))
	if layer != layerPort {
		for i := 1; i < len(items); i++ {
			sep[i] = items[i-1].w + boxGap
			// Room for the label of a connection between neighbours.
			for _, l := range items[i].conns {
				if (l.from == items[i-1] || l.to == items[i-1]) && t.in[l.from] && t.in[l.to] {
					sep[i] = max(sep[i], items[i-1].w+l.labelW+2)
				}
			}
		}
		return sep
	}
	i := 0
	for n, tp := range t.procs {
		span := 0
		for j, p := range tp.ports {
			span += p.w
			if j > 0 {
				span += portGap
			}
		}
		for j := range tp.ports {
			if j > 0 {
				sep[i] = items[i-1].w + portGap
			} else if n > 0 {
				prev := t.procs[n-1]
				extra := 0
				if prevSpan := prev.minSpan(); prev.titleW > prevSpan {
					extra = prev.titleW - prevSpan
				}
				// last port, space, border, gap, border, space, first port
				sep[i] = items[i-1].w + 1 + 1 + procGap + 1 + 1 + extra
			}
			i++
		}
	}
	return sep
}

func (tp *tierProc) minSpan() int {
	span := 0
	for j, p := range tp.ports {
		span += p.w
		if j > 0 {
			span += portGap
		}
	}
	return span
}

// placeX gives every item its column.
func (t *tier) placeX() {
	seps := [3][]int{t.seps(0), t.seps(1), t.seps(2)}
	placed := [3]bool{true, false, false}
	x := 0
	for i, it := range t.L[layerPort] {
		x += seps[0][i]
		it.x = float64(x)
	}
	// With anchors (Options.Prev), old items stay at their previous
	// columns: place returns the columns of a layer given where its items
	// want to be.
	place := func(layer int, want []float64) []float64 { return isotonic(want, seps[layer]) }
	if t.anchors != nil {
		place = func(layer int, want []float64) []float64 {
			items := t.L[layer]
			at, has := make([]float64, len(items)), make([]bool, len(items))
			for i, it := range items {
				at[i], has[i] = t.anchors[it]
			}
			lo := 0.0
			if layer == layerPort {
				// No port's edge left of the band labels.
				lo = float64(bandMargin - (items[0].w-1)/2)
			}
			return anchored(want, seps[layer], at, has, lo)
		}
		ports := t.L[layerPort]
		want := make([]float64, len(ports))
		for i, it := range ports {
			switch a, ok := t.anchors[it]; {
			case ok:
				want[i] = a
			case i > 0:
				want[i] = want[i-1] + float64(seps[0][i])
			default:
				want[i] = float64(bandMargin - (it.w-1)/2)
			}
		}
		for i, x := range place(layerPort, want) {
			ports[i].x = x
		}
	}
	pass := func(layer int) {
		items := t.L[layer]
		if len(items) == 0 {
			return
		}
		want := make([]float64, len(items))
		for i, it := range items {
			sum, n := 0.0, 0
			if layer > 0 && placed[layer-1] {
				for _, u := range t.up(it) {
					sum += u.center()
					n++
				}
			}
			if layer < 2 && placed[layer+1] {
				for _, d := range t.down(it) {
					sum += d.center()
					n++
				}
			}
			if it.copyOf != nil && placed[layer] && i+1 < len(items) {
				// Just left of the first socket accepted from it.
				want[i] = items[i+1].x - float64(seps[layer][i+1])
				continue
			}
			if n == 0 {
				want[i] = it.x
				if !placed[layer] && i > 0 {
					want[i] = items[i-1].x + float64(seps[layer][i])
				}
			} else {
				want[i] = sum/float64(n) - float64(it.w-1)/2
			}
		}
		xs := place(layer, want)
		for i, it := range items {
			it.x = xs[i]
		}
		placed[layer] = true
	}
	pass(layerOFD)
	pass(layerObj)
	for range 8 {
		pass(layerOFD)
		pass(layerPort)
		pass(layerOFD)
		pass(layerObj)
	}
	// Whole columns, gaps kept.
	for l, items := range t.L {
		for i, it := range items {
			it.left = int(math.Round(it.x))
			if i > 0 {
				it.left = max(it.left, items[i-1].left+seps[l][i])
			}
		}
	}
	// Process boxes around their ports, wide enough for their titles.
	prevRight := math.MinInt / 2
	for _, tp := range t.procs {
		first := tp.ports[0]
		if d := prevRight + procGap + 1 - (first.left - 2); d > 0 {
			for _, p := range tp.ports {
				p.left += d
			}
		}
		last := tp.ports[len(tp.ports)-1]
		tp.left = first.left - 2
		tp.right = max(last.left+last.w+1, tp.left+tp.titleW+3)
		prevRight = tp.right
	}
}

// isotonic places items in order as near to want as it can, in the least
// squares sense, keeping x[i] ≥ x[i-1] + sep[i]: pool adjacent violators on
// want[i] - (sep[1] + … + sep[i]).
func isotonic(want []float64, sep []int) []float64 {
	n := len(want)
	off := make([]float64, n)
	for i := 1; i < n; i++ {
		off[i] = off[i-1] + float64(sep[i])
	}
	type block struct {
		sum   float64
		n     int
		start int
	}
	var bs []block
	for i := range n {
		b := block{want[i] - off[i], 1, i}
		for len(bs) > 0 {
			p := bs[len(bs)-1]
			if p.sum/float64(p.n) <= b.sum/float64(b.n) {
				break
			}
			bs = bs[:len(bs)-1]
			b = block{p.sum + b.sum, p.n + b.n, p.start}
		}
		bs = append(bs, b)
	}
	out := make([]float64, n)
	for _, b := range bs {
		mean := b.sum / float64(b.n)
		for i := b.start; i < b.start+b.n; i++ {
			out[i] = mean + off[i]
		}
	}
	return out
}

// spread places n ≥ 1 points, wanted at want (sorted), in [lo, hi], in
// order and distinct, two apart when there is room.
func spread(want []int, lo, hi int) []int {
	n := len(want)
	g := 2
	if (n-1)*2 > hi-lo {
		g = 1
	}
	p := make([]int, n)
	for i, w := range want {
		p[i] = min(max(w, lo), hi)
		if i > 0 && p[i] < p[i-1]+g {
			p[i] = p[i-1] + g
		}
	}
	if p[n-1] > hi {
		p[n-1] = hi
		for i := n - 2; i >= 0; i-- {
			p[i] = min(p[i], p[i+1]-g)
		}
	}
	return p
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }

// interior returns the columns of a box's border where edges may attach:
// not next to a corner.
func interior(it *item) (int, int) { return it.left + 2, it.left + it.w - 3 }

func centerCol(it *item) int { return it.left + (it.w-1)/2 }

// attach chooses the column where each link leaves its source and enters
// its target, and where each connection leaves its two objects.
func (t *tier) attach() {
	// Ports: the column of the label nearest its middle that is above the
	// description, or the middle.
	for _, port := range t.L[layerPort] {
		for _, l := range port.out {
			if !t.in[l.to] {
				continue
			}
			c := centerCol(port)
			lo, hi := interior(l.to)
			lo, hi = max(lo, port.left), min(hi, port.left+port.w-1)
			if lo <= hi {
				c = clamp(c, lo, hi)
			}
			l.sx = c
		}
	}
	// Descriptions: out-links spread over the bottom, each above its
	// object when they overlap.
	for _, it := range t.L[layerOFD] {
		var outs []*link
		for _, l := range it.out {
			if t.in[l.to] {
				outs = append(outs, l)
			}
		}
		if len(outs) == 0 {
			continue
		}
		slices.SortFunc(outs, func(a, b *link) int { return cmp.Or(cmp.Compare(a.to.left, b.to.left), cmp.Compare(a.to.id, b.to.id)) })
		lo, hi := interior(it)
		want := make([]int, len(outs))
		for i, l := range outs {
			tlo, thi := interior(l.to)
			if olo, ohi := max(lo, tlo), min(hi, thi); olo <= ohi {
				want[i] = clamp(centerCol(it), olo, ohi)
			} else {
				want[i] = clamp(centerCol(l.to), lo, hi)
			}
		}
		for i, x := range spread(sortedInts(want), lo, hi) {
			outs[i].sx = x
		}
	}
	// Entries: spread over the top, each below its source when it can.
	for _, layer := range t.L[1:] {
		for _, it := range layer {
			var ins []*link
			for _, l := range it.in {
				if t.in[l.from] {
					ins = append(ins, l)
				}
			}
			if len(ins) == 0 {
				continue
			}
			slices.SortFunc(ins, func(a, b *link) int { return cmp.Or(cmp.Compare(a.sx, b.sx), cmp.Compare(a.from.id, b.from.id)) })
			lo, hi := interior(it)
			want := make([]int, len(ins))
			for i, l := range ins {
				want[i] = clamp(l.sx, lo, hi)
			}
			for i, x := range spread(want, lo, hi) {
				ins[i].tx = x
			}
		}
	}
	// Connections: each object's, spread over its bottom towards the other end.
	for _, it := range t.L[layerObj] {
		type end struct {
			l     *link
			from  bool
			other *item
		}
		var ends []end
		for _, l := range it.conns {
			if !t.in[l.from] || !t.in[l.to] {
				continue
			}
			if l.from == it {
				ends = append(ends, end{l, true, l.to})
			} else {
				ends = append(ends, end{l, false, l.from})
			}
		}
		if len(ends) == 0 {
			continue
		}
		slices.SortFunc(ends, func(a, b end) int {
			return cmp.Or(cmp.Compare(a.other.left, b.other.left), cmp.Compare(a.other.id, b.other.id), cmp.Compare(a.l.kind, b.l.kind))
		})
		lo, hi := interior(it)
		want := make([]int, len(ends))
		for i, e := range ends {
			want[i] = clamp(centerCol(e.other), lo, hi)
		}
		for i, x := range spread(sortedInts(want), lo, hi) {
			if ends[i].from {
				ends[i].l.sx = x
			} else {
				ends[i].l.tx = x
			}
		}
	}
}

func sortedInts(s []int) []int {
	slices.Sort(s)
	return s
}

// jog is an edge's horizontal run in a channel.
type jog struct {
	lo, hi int
	sx, tx int
	track  int
	key    string
}

// assignTracks puts each jog on a track (a row of its channel) so that jogs
// on one track leave a gap between them; a jog leaving a column another
// enters goes above it (or their verticals would overlap), and of two
// overlapping jogs in the same direction the one that starts further in
// goes above (or they would cross). It returns the number of tracks.
func assignTracks(jogs []*jog) int {
	n := len(jogs)
	if n == 0 {
		return 0
	}
	slices.SortFunc(jogs, func(a, b *jog) int {
		return cmp.Or(cmp.Compare(a.lo, b.lo), cmp.Compare(a.hi, b.hi), cmp.Compare(a.key, b.key))
	})
	above := make([][]int, n) // above[i]: jogs that must be on a later track than i
	pending := make([]int, n)
	for i, a := range jogs {
		for j, b := range jogs {
			if i == j || a.hi < b.lo || b.hi < a.lo {
				continue
			}
			first := false
			switch {
			case a.sx == b.tx && a.sx != a.tx:
				first = true
			case b.sx == a.tx && b.sx != b.tx:
				first = false
			case a.sx < a.tx && b.sx < b.tx: // both right
				first = a.sx > b.sx || (a.sx == b.sx && a.tx < b.tx)
			case a.sx > a.tx && b.sx > b.tx: // both left
				first = a.sx < b.sx || (a.sx == b.sx && a.tx > b.tx)
			default:
				continue
			}
			if first {
				above[i] = append(above[i], j)
				pending[j]++
			}
		}
	}
	done := make([]bool, n)
	left := n
	track := 0
	for left > 0 {
		var avail []int
		for i := range jogs {
			if !done[i] && pending[i] == 0 {
				avail = append(avail, i)
			}
		}
		if len(avail) == 0 { // a cycle: release the jog held back by fewest
			best := -1
			for i := range jogs {
				if !done[i] && (best < 0 || pending[i] < pending[best]) {
					best = i
				}
			}
			pending[best] = 0
			avail = []int{best}
		}
		lastHi := math.MinInt / 2
		var placed []int
		for _, i := range avail {
			if jogs[i].lo >= lastHi+2 {
				jogs[i].track = track
				lastHi = jogs[i].hi
				placed = append(placed, i)
			}
		}
		for _, i := range placed {
			done[i] = true
			left--
			for _, j := range above[i] {
				pending[j]--
			}
		}
		track++
	}
	return track
}

// route places the tier's rows, routes every edge and writes the tier out.
func (t *tier) route(seen map[*proc]int) *tierOut {
	t.attach()
	out := &tierOut{}
	titleLines := 1
	for _, tp := range t.procs {
		titleLines = max(titleLines, len(tp.p.title))
		out.procs = append(out.procs, tp.p)
	}
	r := &rows{procH: titleLines + 3}
	r.procBottom = r.procH - 1
	r.user, r.sep, r.kernel = r.procH, r.procH+1, r.procH+2
	out.sep = r.sep

	// The two channels between the layers, each with its jogs' tracks;
	// the layers' rows as routing needs, plus Headroom; with a previous
	// layout, where they were unless routing needs more.
	jogOf := map[*link]*jog{}
	kA := assignTracks(t.channelJogs(layerPort, jogOf))
	kB := assignTracks(t.channelJogs(layerOFD, jogOf))
	prevRows, hasPrev := t.m.prev.rowsOf(t.prevTier)
	rowAt := func(need, was int) int {
		if hasPrev && need <= was && was != math.MaxInt {
			return was
		}
		return need + t.m.opts.Headroom
	}
	r.ofd = rowAt(r.kernel+kA+2, prevRows[0])
	r.ofdBottom = r.ofd + layerHeight(t.L[layerOFD]) - 1
	r.obj = rowAt(r.ofdBottom+max(kB, 1)+2, prevRows[1])
	r.objBottom = r.obj + layerHeight(t.L[layerObj]) - 1
	height := r.objBottom + 1
	if len(t.L[layerOFD]) == 0 {
		height = r.kernel + 1
	} else if len(t.L[layerObj]) == 0 {
		height = r.ofdBottom + 1
	}
	crs, nTracks := t.connTracks()
	if nTracks > 0 {
		height = r.connRow(nTracks-1) + 1
	}

	edges := append(t.linkEdges(r, jogOf), connEdges(r, crs)...)
	boxes := t.boxes(r, seen)
	out.width = shiftRight(boxes, edges, t.anchors != nil)
	out.height = height
	out.boxes, out.edges = boxes, edges
	out.labels = []Label{{Kind: "band", Text: labelUser, X: 0, Y: r.user}, {Kind: "band", Text: labelKernel, X: 0, Y: r.kernel}}
	return out
}

// rows are the rows of a tier's bands, from its top.
type rows struct {
	procH, procBottom int // process boxes: their height, their bottom row
	user, sep, kernel int // the band labels and the user space / kernel space line
	ofd, ofdBottom    int // the descriptions' top row, and the bottom of the tallest
	obj, objBottom    int // the objects'
}

// connRow is the row of the given track of the connections below the objects.
func (r *rows) connRow(track int) int { return r.objBottom + 2 + 2*track }

// layerHeight is the height of the tallest item of a layer.
func layerHeight(items []*item) int {
	h := 0
	for _, it := range items {
		h = max(h, it.h)
	}
	return h
}

// channelJogs returns the jogs of the links that leave the given layer
// (ports: channel A, descriptions: channel B) and do not go straight down,
// and notes each in jogOf.
func (t *tier) channelJogs(from int, jogOf map[*link]*jog) []*jog {
	var jogs []*jog
	for _, l := range t.links {
		if l.from.layer == from && l.sx != l.tx {
			j := &jog{lo: min(l.sx, l.tx), hi: max(l.sx, l.tx), sx: l.sx, tx: l.tx, key: l.from.id + ">" + l.to.id}
			jogs = append(jogs, j)
			jogOf[l] = j
		}
	}
	return jogs
}

// connRoute is a connection and its run below the objects.
type connRoute struct {
	l *link
	j *jog
}

// connTracks gives each connection a track below the objects, nested: the
// shorter above, no two closer than two columns on one track. It returns
// the connections in that order and how many tracks they take.
func (t *tier) connTracks() ([]*connRoute, int) {
	var crs []*connRoute
	for _, l := range t.conns {
		j := &jog{lo: min(l.sx, l.tx), hi: max(l.sx, l.tx), sx: l.sx, tx: l.tx, key: l.from.id + ">" + l.to.id}
		crs = append(crs, &connRoute{l: l, j: j})
	}
	slices.SortFunc(crs, func(a, b *connRoute) int {
		return cmp.Or(cmp.Compare(a.j.hi-a.j.lo, b.j.hi-b.j.lo), cmp.Compare(a.j.lo, b.j.lo), cmp.Compare(a.j.key, b.j.key))
	})
	var tracks [][]*jog
	for _, cr := range crs {
		tr := 0
		for ; tr < len(tracks); tr++ {
			free := true
			for _, o := range tracks[tr] {
				if !(cr.j.hi+2 <= o.lo || o.hi+2 <= cr.j.lo) {
					free = false
					break
				}
			}
			if free {
				break
			}
		}
		if tr == len(tracks) {
			tracks = append(tracks, nil)
		}
		tracks[tr] = append(tracks[tr], cr.j)
		cr.j.track = tr
	}
	return crs, len(tracks)
}

// linkEdges draws the links between the layers: down from the port or
// description, along its jog's track when it has one, down into the box.
func (t *tier) linkEdges(r *rows, jogOf map[*link]*jog) []Edge {
	var edges []Edge
	for _, l := range t.links {
		var sy, ty, trackRow int
		if l.from.layer == layerPort {
			sy, ty = r.procBottom, r.ofd
			if j := jogOf[l]; j != nil {
				trackRow = r.kernel + 1 + j.track
			}
		} else {
			sy, ty = r.ofd+l.from.h-1, r.obj
			if j := jogOf[l]; j != nil {
				trackRow = r.ofdBottom + 1 + j.track
			}
		}
		pts := []Point{{l.sx, sy}}
		if l.sx != l.tx {
			pts = append(pts, Point{l.sx, trackRow}, Point{l.tx, trackRow})
		}
		pts = append(pts, Point{l.tx, ty})
		edges = append(edges, Edge{Kind: l.kind, From: l.from.id, To: l.to.id, Arrow: true, Points: pts})
	}
	return edges
}

// connEdges draws the connections below the objects on their tracks, each
// labelled where its track is free of deeper connections' verticals.
func connEdges(r *rows, crs []*connRoute) []Edge {
	var edges []Edge
	for _, cr := range crs {
		l := cr.l
		row := r.connRow(cr.j.track)
		e := Edge{Kind: l.kind, From: l.from.id, To: l.to.id, Arrow: l.kind == EdgeAccepted || l.kind == EdgeWatch,
			Points: []Point{{l.sx, r.obj + l.from.h - 1}, {l.sx, row}, {l.tx, row}, {l.tx, r.obj + l.to.h - 1}}}
		left, right := l.from, l.to
		if l.tx < l.sx {
			left, right = right, left
		}
		e.Label = l.label(nodeOr(left), nodeOr(right))
		e.Title = e.Label
		e.Activity = l.act
		if l.kind == EdgeWatch {
			e.Title = watchTitle(nodeOr(l.from), nodeOr(l.to))
		}
		// The longest run of the track free of deeper connections' verticals.
		var blocked []int
		for _, o := range crs {
			if o.j.track > cr.j.track {
				for _, x := range []int{o.l.sx, o.l.tx} {
					if x > cr.j.lo && x < cr.j.hi {
						blocked = append(blocked, x)
					}
				}
			}
		}
		slices.Sort(blocked)
		bestLo, bestLen, prev := 0, 0, cr.j.lo
		for _, x := range append(blocked, cr.j.hi) {
			if n := x - prev - 1; n > bestLen {
				bestLo, bestLen = prev+1, n
			}
			prev = x
		}
		if w := min(width(e.Label), bestLen-2); w >= min(width(e.Label), 6) && w > 0 {
			e.LabelRect = &Rect{X: bestLo + (bestLen-w)/2, Y: row, W: w, H: 1}
		}
		edges = append(edges, e)
	}
	return edges
}

// boxes makes the boxes of the tier: processes (and crowds) with their
// ports, then the descriptions and the objects.
func (t *tier) boxes(r *rows, seen map[*proc]int) []Box {
	var boxes []Box
	for _, tp := range t.procs {
		p := tp.p
		b := Box{ID: p.node.ID, NodeID: p.node.ID, Kind: string(graph.KindProcess), Class: "process", Focus: p.focus,
			PID: p.node.PID, Label: p.title, Title: p.tip, Rect: Rect{X: tp.left, Y: 0, W: tp.right - tp.left + 1, H: r.procH}}
		if p.crowd != nil {
			b.NodeID, b.Kind, b.Class, b.Expand = "", KindCrowd, "crowd", p.node.ID
			for _, n := range p.crowd {
				b.Members = append(b.Members, n.ID)
			}
			slices.Sort(b.Members)
		}
		if k := seen[p]; k > 0 {
			b.ID += "#" + strconv.Itoa(k+1)
		}
		for _, port := range tp.ports {
			pt := Port{ID: port.id, Kind: port.kind, FDs: []int{}, NodeIDs: []string{}, Label: port.label[0], Title: port.tip,
				Rect: Rect{X: port.left, Y: r.procH - 2, W: port.w, H: 1}, Expand: expandOf(port.id)}
			if port.kind != PortMore && port.kind != PortNone {
				pt.FDs, pt.NodeIDs = slices.Clone(port.fds), slices.Clone(port.fdIDs)
			}
			b.Ports = append(b.Ports, pt)
		}
		boxes = append(boxes, b)
	}
	for _, ly := range [][2]int{{layerOFD, r.ofd}, {layerObj, r.obj}} {
		for _, it := range t.L[ly[0]] {
			b := Box{ID: it.id, NodeID: it.nodeID, Kind: it.kind, Class: it.class, Label: slices.Clone(it.label), Title: it.tip,
				Rect: Rect{X: it.left, Y: ly[1], W: it.w, H: it.h}, Members: it.member, Expand: expandOf(it.id)}
			if it.copyOf != nil {
				b.Title = "drawn again for the sockets accepted from it\n" + b.Title
			}
			boxes = append(boxes, b)
		}
	}
	return boxes
}

// shiftRight moves a tier's boxes and edges right so that no port's edge
// crosses the band labels and nothing is left of column 0 (only right,
// when anchored: items drawn before stay where they were), names the
// edges, and returns the tier's width.
func shiftRight(boxes []Box, edges []Edge, anchored bool) int {
	minX, minPort := math.MaxInt, math.MaxInt
	for _, b := range boxes {
		minX = min(minX, b.Rect.X)
	}
	for _, e := range edges {
		for _, p := range e.Points {
			minX = min(minX, p.X)
		}
		if e.Kind == EdgeOFD {
			minPort = min(minPort, e.Points[0].X)
		}
	}
	shift := -minX
	if anchored {
		shift = max(shift, 0)
	}
	if minPort != math.MaxInt {
		shift = max(shift, bandMargin-minPort)
	}
	w := width(labelKernel)
	for i := range boxes {
		b := &boxes[i]
		b.Rect.X += shift
		for j := range b.Ports {
			b.Ports[j].Rect.X += shift
		}
		w = max(w, b.Rect.X+b.Rect.W)
	}
	for i := range edges {
		e := &edges[i]
		e.ID = e.Kind + ":" + e.From + ">" + e.To
		for j := range e.Points {
			e.Points[j].X += shift
			w = max(w, e.Points[j].X+1)
		}
		if e.LabelRect != nil {
			e.LabelRect.X += shift
		}
	}
	return w
}

// watchTitle says what a watch edge stands for.
func watchTitle(watcher, watched *graph.Node) string {
	what := "watch"
	if watcher.Object != nil && watcher.AnonType != "" {
		what = watcher.AnonType + " watch"
	}
	return what + ": " + watcher.ID + " watches " + watched.ID
}

func nodeOr(it *item) *graph.Node {
	if it.node != nil {
		return it.node
	}
	return &graph.Node{ID: it.id, Kind: graph.KindUnknown}
}
