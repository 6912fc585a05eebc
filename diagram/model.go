package diagram

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fdscope/fdscope/graph"
)

// The model is the focus subgraph reduced to what is drawn: processes with
// their ports, and items in two kernel layers (open file descriptions and
// objects) joined by links. Grouping and collapsing happen here; placement
// (place.go) only sees items.

// Layers of items.
const (
	layerPort = 0
	layerOFD  = 1
	layerObj  = 2
)

type model struct {
	opts  Options
	pid   int
	focus *proc
	procs []*proc // focus first, then by pid
	items []*item // every port, description and object item, by ID
	links []*link // port → ofd and ofd → object links
	conns []*link // object → object links: peer and accepted
	byID  map[string]*item
	prev  *prevIndex // Options.Prev indexed, or nil
	// rel is what each peer is to the focus (nil without a focus);
	// procOf finds the proc of a process node ID.
	rel    *relations
	procOf map[string]*proc
	// connComp marks the components (item.comp) that hold a connection of
	// the focus's own: a wrapped diagram gives them the first tiers.
	connComp map[int]bool
}

type proc struct {
	node  *graph.Node
	index int // in model.procs
	focus bool
	title []string // lines drawn in the box
	tip   string
	ports []*item // by fd number; the "more" port last
	more  *item   // fds not drawn (not on a path to the focus, or unreadable), or nil
	// crowd, for the box of a crowd of sharers (crowd.go), are the
	// processes it stands for; node is then a stand-in with the crowd's ID.
	crowd []*graph.Node
}

type item struct {
	id     string
	layer  int
	kind   string // port kind, or box kind
	class  string
	nodeID string
	node   *graph.Node // nil for groups and ports
	label  []string    // box lines; a port's label is label[0]
	tip    string
	member []string

	// Ports.
	proc    *proc
	fds     []int
	fdIDs   []string
	fdNodes []*graph.Node
	fdOFDs  []string // the description of each fd ("" when unknown)

	in, out []*link
	conns   []*link // peer and accepted links at this object
	comp    int
	// copyOf is, for a listening socket drawn again in a tier that has
	// sockets accepted from it but not the socket itself, the listener.
	copyOf *item

	// Placement scratch, valid during one placeTier.
	rank float64 // position in its layer while ordering
	x    float64 // left column while placing
	left int     // left column once placed
	w, h int
}

type link struct {
	from, to *item
	kind     string
	labelW   int // a connection's label, in cells
	act      *Activity
	// Placement scratch.
	sx, tx int // exit and entry columns
}

// center is the middle column of an item while placing.
func (it *item) center() float64 { return it.x + float64(it.w-1)/2 }

// build reduces a focus snapshot to the model.
func build(s *graph.Snapshot, pid int, o Options) *model {
	m := &model{opts: o, pid: pid, byID: map[string]*item{}, prev: newPrevIndex(o.Prev, pid), connComp: map[int]bool{}}
	if s == nil {
		s = &graph.Snapshot{}
	}
	h := holdingsOf(s, o.Watches)
	m.addProcs(s, pid)
	fdsOf := h.resolveFDs(m.procs)
	expanded := map[string]bool{} // groups drawn fd by fd
	for _, id := range o.ExpandGroups {
		expanded[id] = true
	}
	m.gatherCrowds(expanded)
	focusOFDs := m.focusOFDs(fdsOf)
	for _, p := range m.procs {
		if p.crowd != nil {
			m.crowdPorts(p, fdsOf, focusOFDs)
			continue
		}
		m.addPorts(p, fdsOf[p], h, expanded)
		p.title, p.tip = procTitle(p.node, m.procOf[h.parent[p.node.ID]])
	}
	m.addConns(h)
	slices.SortFunc(m.items, func(a, b *item) int { return cmp.Compare(a.id, b.id) })
	m.labelItems(h.fdProc, m.procOf)
	return m
}

// holdings is who holds what in a focus snapshot, and the edges between
// objects, indexed once for build.
type holdings struct {
	s          *graph.Snapshot
	ofdHolders map[string][]string    // ofd → fds
	objOFDs    map[string][]string    // object → ofds
	fdProc     map[string]*graph.Node // fd → process
	parent     map[string]string      // process → parent process (child edges)
	// The peer and accepted edges, and the watch edges when drawn; the
	// objects at either end of a peer or accepted edge.
	connEdges, watchEdges []graph.Edge
	hasConn               map[string]bool
}

func holdingsOf(s *graph.Snapshot, watches bool) *holdings {
	h := &holdings{s: s, ofdHolders: map[string][]string{}, objOFDs: map[string][]string{},
		fdProc: map[string]*graph.Node{}, parent: map[string]string{}, hasConn: map[string]bool{}}
	for _, e := range s.Edges {
		switch e.Kind {
		case graph.EdgeFD:
			h.fdProc[e.To] = s.Node(e.From)
		case graph.EdgeOFD:
			h.ofdHolders[e.To] = append(h.ofdHolders[e.To], e.From)
		case graph.EdgeObject:
			h.objOFDs[e.To] = append(h.objOFDs[e.To], e.From)
		case graph.EdgePeer, graph.EdgeAccepted:
			h.connEdges = append(h.connEdges, e)
			h.hasConn[e.From], h.hasConn[e.To] = true, true
		case graph.EdgeWatch:
			if watches {
				h.watchEdges = append(h.watchEdges, e)
			}
		case graph.EdgeChild:
			h.parent[e.To] = e.From
		}
	}
	return h
}

// first returns the target of the first edge of the given kind out of id, or nil.
func (h *holdings) first(id string, kind graph.EdgeKind) *graph.Node {
	for _, e := range h.s.EdgesFrom(id) {
		if e.Kind == kind {
			return h.s.Node(e.To)
		}
	}
	return nil
}

// resolveFDs returns the fds of each process with their descriptions and
// objects, by fd number.
func (h *holdings) resolveFDs(procs []*proc) map[*proc][]fdent {
	fdsOf := map[*proc][]fdent{}
	for _, p := range procs {
		var fds []fdent
		for _, e := range h.s.EdgesFrom(p.node.ID) {
			if e.Kind != graph.EdgeFD {
				continue
			}
			n := h.s.Node(e.To)
			if n == nil || n.FD == nil {
				continue
			}
			f := fdent{node: n, num: n.FD.Num, ofd: h.first(n.ID, graph.EdgeOFD)}
			if f.ofd != nil {
				f.obj = h.first(f.ofd.ID, graph.EdgeObject)
			}
			fds = append(fds, f)
		}
		slices.SortFunc(fds, func(a, b fdent) int { return cmp.Or(cmp.Compare(a.num, b.num), cmp.Compare(a.node.ID, b.node.ID)) })
		fdsOf[p] = fds
	}
	return fdsOf
}

// otherHolder reports whether a process other than p holds the description.
func (h *holdings) otherHolder(ofdID string, p *proc) bool {
	for _, fd := range h.ofdHolders[ofdID] {
		if q := h.fdProc[fd]; q != nil && q.ID != p.node.ID {
			return true
		}
	}
	return false
}

// lonely reports whether the fd's description and object are held by no
// other process and the object has no connection.
func (h *holdings) lonely(f fdent, p *proc) bool {
	if f.ofd == nil || f.obj == nil || h.hasConn[f.obj.ID] || h.otherHolder(f.ofd.ID, p) {
		return false
	}
	for _, o := range h.objOFDs[f.obj.ID] {
		if h.otherHolder(o, p) {
			return false
		}
	}
	return true
}

// addProcs makes a proc of every process of the snapshot, finds the focus
// (the newest process with its pid) and what each peer is to it, and
// orders them (sortProcs).
func (m *model) addProcs(s *graph.Snapshot, pid int) {
	for _, n := range s.Nodes {
		if n.Kind == graph.KindProcess {
			m.procs = append(m.procs, &proc{node: n})
		}
	}
	var focus *proc
	for _, p := range m.procs {
		if p.node.PID == pid && (m.opts.Host == "" || hostOf(p.node) == m.opts.Host) && (focus == nil || startOf(p.node) > startOf(focus.node)) {
			focus = p
		}
	}
	if focus != nil {
		focus.focus = true
		m.focus = focus
		m.rel = relationsOf(s, focus.node)
	}
	m.sortProcs()
	m.procOf = map[string]*proc{}
	for _, p := range m.procs {
		m.procOf[p.node.ID] = p
	}
}

// hostOf returns the host of a process node ("" on one host).
func hostOf(n *graph.Node) string {
	if n.Process == nil {
		return ""
	}
	return n.Process.Host
}

// gatherCrowds puts each crowd of sharers (crowdsOf) in the place of its processes.
func (m *model) gatherCrowds(expanded map[string]bool) {
	crowds := m.crowdsOf(m.rel, expanded)
	if len(crowds) == 0 {
		return
	}
	gone := map[*proc]bool{}
	for _, c := range crowds {
		for _, p := range c {
			gone[p] = true
		}
		m.procs = append(m.procs, newCrowd(c, m.rel))
	}
	m.procs = slices.DeleteFunc(m.procs, func(p *proc) bool { return gone[p] })
	m.sortProcs()
}

// focusOFDs returns the descriptions the focus's fds lead to.
func (m *model) focusOFDs(fdsOf map[*proc][]fdent) map[string]bool {
	out := map[string]bool{}
	if m.focus != nil {
		for _, f := range fdsOf[m.focus] {
			if f.ofd != nil {
				out[f.ofd.ID] = true
			}
		}
	}
	return out
}

// realItem returns the item of a graph node in the given layer, made on first use.
func (m *model) realItem(n *graph.Node, layer int) *item {
	if it := m.byID[n.ID]; it != nil {
		return it
	}
	it := &item{id: n.ID, layer: layer, kind: string(n.Kind), class: classOf(n.Kind), nodeID: n.ID, node: n}
	m.byID[n.ID] = it
	m.items = append(m.items, it)
	return it
}

// addLink links two items of neighbouring layers, once.
func (m *model) addLink(from, to *item, kind string) {
	for _, l := range from.out {
		if l.to == to {
			return
		}
	}
	l := &link{from: from, to: to, kind: kind}
	from.out = append(from.out, l)
	to.in = append(to.in, l)
	m.links = append(m.links, l)
}

// newPort adds a port of process p standing for the given fds.
func (m *model) newPort(p *proc, id, kind, label string, fds []fdent) *item {
	it := &item{id: id, layer: layerPort, kind: kind, class: "port", proc: p, label: []string{label}}
	for _, f := range fds {
		it.fds = append(it.fds, f.num)
		it.fdIDs = append(it.fdIDs, f.node.ID)
		it.fdNodes = append(it.fdNodes, f.node)
		ofd := ""
		if f.ofd != nil {
			ofd = f.ofd.ID
		}
		it.fdOFDs = append(it.fdOFDs, ofd)
	}
	m.byID[id] = it
	m.items = append(m.items, it)
	p.ports = append(p.ports, it)
	return it
}

// chain links a port to its fds' descriptions and their objects.
func (m *model) chain(port *item, fds []fdent) {
	for _, f := range fds {
		if f.ofd == nil {
			continue
		}
		o := m.realItem(f.ofd, layerOFD)
		m.addLink(port, o, EdgeOFD)
		if f.obj != nil {
			m.addLink(o, m.realItem(f.obj, layerObj), EdgeObject)
		}
	}
}

// addPorts gives process p its ports: the stdio port, collapsed groups of
// lonely fds, one port per other fd, the "more" port for fds not drawn,
// and a "none" port when there is nothing else.
func (m *model) addPorts(p *proc, fds []fdent, h *holdings, expanded map[string]bool) {
	o := m.opts
	used := make([]bool, len(fds))
	single := make([]bool, len(fds)) // drawn one by one, never collapsed
	// Stdio: fds 0, 1 and 2 on one object.
	if !o.Expand && len(fds) >= 3 && fds[0].num == 0 && fds[1].num == 1 && fds[2].num == 2 &&
		fds[0].obj != nil && fds[1].obj != nil && fds[2].obj != nil &&
		fds[0].obj.ID == fds[1].obj.ID && fds[1].obj.ID == fds[2].obj.ID {
		if id := (GroupID{Kind: GroupStdio, Owner: p.node.ID}).String(); expanded[id] {
			single[0], single[1], single[2] = true, true, true
		} else {
			port := m.newPort(p, id, PortStdio, "0 1 2", fds[:3])
			m.chain(port, fds[:3])
			used[0], used[1], used[2] = true, true, true
		}
	}
	if !o.Expand {
		m.collapseGroups(p, fds, used, single, h, expanded)
	}
	for i, f := range fds {
		if used[i] {
			continue
		}
		port := m.newPort(p, f.node.ID, PortFD, "fd "+strconv.Itoa(f.num), []fdent{f})
		port.tip = fdTip(f.node, f.ofd)
		m.chain(port, []fdent{f})
	}
	slices.SortStableFunc(p.ports, func(a, b *item) int { return cmp.Compare(a.fds[0], b.fds[0]) })
	// fds the snapshot does not hold: a peer's fds off the path, or unreadable ones.
	if pr := p.node.Process; pr != nil && pr.FDCount > len(fds) {
		n := pr.FDCount - len(fds)
		tip := fmt.Sprintf("%d more fds, not on a path to the focus process", n)
		if p.focus {
			tip = fmt.Sprintf("%d fds could not be read", n)
		}
		p.more = &item{id: GroupID{Kind: GroupMore, Owner: p.node.ID}.String(), layer: layerPort, kind: PortMore, class: "port", proc: p,
			label: []string{"+" + strconv.Itoa(n) + " more"}, tip: tip, fds: []int{math.MaxInt}}
		m.byID[p.more.id] = p.more
	}
	if len(p.ports) == 0 {
		label := "no fds"
		if p.node.Error != "" {
			label = "fds unreadable"
		}
		port := m.newPort(p, GroupID{Kind: GroupNone, Owner: p.node.ID}.String(), PortNone, label, nil)
		port.fds = []int{-1}
		port.tip = p.node.Error
	}
}

// collapseGroups collapses the lonely fds of one kind of process p, more
// than Options.Collapse of them, into group ports (collapse), marking them
// used; fds marked single stay out.
func (m *model) collapseGroups(p *proc, fds []fdent, used, single []bool, h *holdings, expanded map[string]bool) {
	cand := map[string][]int{} // group key → indexes into fds
	keyOf := map[string]string{}
	for i, f := range fds {
		if used[i] || single[i] || !h.lonely(f, p) {
			continue
		}
		k := groupKey(f.obj)
		cand[k] = append(cand[k], i)
		keyOf[f.node.ID] = k
	}
	// A description also held by an fd outside the group keeps its fds out.
	for _, k := range sortedKeys(cand) {
		idx := cand[k]
		kept := idx[:0]
		for _, i := range idx {
			ok := true
			for _, fd := range h.ofdHolders[fds[i].ofd.ID] {
				if keyOf[fd] != k {
					ok = false
				}
			}
			if ok {
				kept = append(kept, i)
			}
		}
		if len(kept) <= m.opts.collapse() || expanded[GroupID{Kind: GroupFDs, Owner: p.node.ID, Key: k}.String()] {
			continue
		}
		group := make([]fdent, len(kept))
		for j, i := range kept {
			group[j] = fds[i]
			used[i] = true
		}
		m.collapse(p, k, group, h.objOFDs)
	}
}

// addConns links the objects that are drawn and joined by a connection,
// and by the watches asked for (they do not keep fds out of collapsed
// groups: see holdings.hasConn).
func (m *model) addConns(h *holdings) {
	for _, e := range slices.Concat(h.connEdges, h.watchEdges) {
		if n := h.s.Node(e.To); e.Kind == graph.EdgeWatch && n != nil && n.Kind == graph.KindOFD {
			// epoll watches a file: its open file description. Drawn
			// between objects, the arrow goes to the description's object.
			if o := h.first(n.ID, graph.EdgeObject); o != nil {
				e.To = o.ID
			}
		}
		a, b := m.byID[e.From], m.byID[e.To]
		if n := h.s.Node(e.To); e.Kind == graph.EdgeWatch && a != nil && b == nil && n != nil && n.Kind.IsObject() {
			// An inode an inotify instance watches and no fd holds: a box of its own.
			b = m.realItem(n, layerObj)
		}
		if a == nil || b == nil || a.layer != layerObj || b.layer != layerObj || a == b {
			continue
		}
		l := &link{from: a, to: b, kind: string(e.Kind)}
		if e.Kind == graph.EdgePeer {
			l.act = m.activity(a, b)
		}
		l.labelW = max(width(l.label(nodeOr(a), nodeOr(b))), width(l.label(nodeOr(b), nodeOr(a))))
		a.conns = append(a.conns, l)
		b.conns = append(b.conns, l)
		m.conns = append(m.conns, l)
	}
}

// activity is what flows on the connection between a and b: the busier
// end's (both ends count the same bytes, one as sent, one as received),
// nil when neither has any.
func (m *model) activity(a, b *item) *Activity {
	if m.opts.Activity == nil {
		return nil
	}
	x, okx := m.opts.Activity[nodeOr(a).ID]
	y, oky := m.opts.Activity[nodeOr(b).ID]
	if !okx && !oky {
		return nil
	}
	act := Activity{BytesPerSec: max(x.BytesPerSec, y.BytesPerSec), Queued: max(x.Queued, y.Queued)}
	if act.Text() == "" {
		return nil
	}
	return &act
}

// label is the connection's label drawn from left to right, with its
// activity.
func (l *link) label(left, right *graph.Node) string {
	s := connLabel(l.kind, left, right)
	if l.act != nil {
		s += " · " + l.act.Text()
	}
	return s
}

// sortProcs puts the focus first, then the processes at the other end of a
// connection, the sharers, the others and the crowds, each by pid, and
// numbers them.
func (m *model) sortProcs() {
	slices.SortStableFunc(m.procs, func(a, b *proc) int {
		return cmp.Or(cmp.Compare(m.rel.role(a), m.rel.role(b)), cmp.Compare(a.node.PID, b.node.PID), cmp.Compare(a.node.ID, b.node.ID))
	})
	for i, p := range m.procs {
		p.index = i
	}
}

// fdent is one fd of a process with its description and object (nil when
// unknown).
type fdent struct {
	node     *graph.Node
	num      int
	ofd, obj *graph.Node
}

// collapse draws the lonely fds of one kind of a process as one group port,
// one group of descriptions and their objects: a real box when the group
// leads to one object or to objects other fds hold too, one group box for
// the rest.
func (m *model) collapse(p *proc, key string, group []fdent, objOFDs map[string][]string) {
	lo, hi := group[0].num, group[len(group)-1].num
	label := fmt.Sprintf("fds %d–%d", lo, hi)
	if hi-lo+1 != len(group) {
		label = fmt.Sprintf("%d fds", len(group))
	}
	port := m.newPort(p, GroupID{Kind: GroupFDs, Owner: p.node.ID, Key: key}.String(), PortGroup, label, group)
	nums := make([]string, 0, len(group))
	for _, f := range group {
		nums = append(nums, strconv.Itoa(f.num))
	}
	port.tip = fmt.Sprintf("%d fds: %s", len(group), shorten(strings.Join(nums, " "), 200))

	ofds := map[string]bool{}
	var ofdIDs, modes []string
	objs := map[string]*graph.Node{}
	for _, f := range group {
		if !ofds[f.ofd.ID] {
			ofds[f.ofd.ID] = true
			ofdIDs = append(ofdIDs, f.ofd.ID)
			if f.ofd.OFD != nil && !slices.Contains(modes, f.ofd.OFD.Mode) {
				modes = append(modes, f.ofd.OFD.Mode)
			}
		}
		objs[f.obj.ID] = f.obj
	}
	slices.Sort(ofdIDs)
	slices.Sort(modes)
	g := &item{id: GroupID{Kind: GroupOFDs, Owner: p.node.ID, Key: key}.String(), layer: layerOFD, kind: KindGroup, class: "group", member: ofdIDs}
	g.label = []string{fmt.Sprintf("%d ofds %s", len(ofdIDs), strings.Join(modes, "/"))}
	g.tip = fmt.Sprintf("%d open file descriptions of %s", len(ofdIDs), p.title0())
	m.byID[g.id] = g
	m.items = append(m.items, g)
	m.addLink(port, g, EdgeOFD)

	var exclusive []*graph.Node
	for _, id := range sortedKeys(objs) {
		only := true
		for _, o := range objOFDs[id] {
			if !ofds[o] {
				only = false
			}
		}
		if only {
			exclusive = append(exclusive, objs[id])
		} else {
			m.addLink(g, m.realItem(objs[id], layerObj), EdgeObject)
		}
	}
	switch len(exclusive) {
	case 0:
	case 1:
		m.addLink(g, m.realItem(exclusive[0], layerObj), EdgeObject)
	default:
		ids := make([]string, len(exclusive))
		for i, n := range exclusive {
			ids[i] = n.ID
		}
		o := &item{id: GroupID{Kind: GroupObjects, Owner: p.node.ID, Key: key}.String(), layer: layerObj, kind: KindGroup, class: "group", member: ids}
		o.label = []string{fmt.Sprintf("%d × %s", len(ids), groupNoun(exclusive[0]))}
		o.tip = fmt.Sprintf("%d objects: %s", len(ids), shorten(strings.Join(ids, " "), 300))
		m.byID[o.id] = o
		m.items = append(m.items, o)
		m.addLink(g, o, EdgeObject)
	}
}

func (p *proc) title0() string {
	if pr := p.node.Process; pr != nil && pr.TGID != 0 {
		return pr.Comm + " thread " + strconv.Itoa(p.node.PID) + " of pid " + strconv.Itoa(pr.TGID)
	}
	if p.node.Process != nil {
		return p.node.Process.Comm + " pid " + strconv.Itoa(p.node.PID)
	}
	return "pid " + strconv.Itoa(p.node.PID)
}

// groupKey says which lonely fds may be collapsed together.
func groupKey(obj *graph.Node) string {
	switch {
	case obj.Kind == graph.KindSocket && obj.Object != nil && obj.Socket != nil:
		return "socket:" + string(obj.Socket.Family) + ":" + obj.Socket.Type + ":" + obj.Socket.Protocol
	case obj.Kind == graph.KindAnon && obj.Object != nil:
		return "anon:" + obj.AnonType
	}
	return string(obj.Kind)
}

// groupNoun names one object of a collapsed group.
func groupNoun(obj *graph.Node) string {
	switch obj.Kind {
	case graph.KindSocket:
		return "socket " + socketProto(obj)
	case graph.KindAnon:
		if obj.Object != nil && obj.AnonType != "" {
			return obj.AnonType
		}
	case graph.KindChr:
		return "char device"
	case graph.KindBlk:
		return "block device"
	}
	return string(obj.Kind)
}

// classOf is the colour class of a node kind.
func classOf(k graph.Kind) string {
	switch k {
	case graph.KindProcess:
		return "process"
	case graph.KindOFD:
		return "ofd"
	case graph.KindSocket:
		return "socket"
	case graph.KindPipe, graph.KindFIFO:
		return "pipe"
	case graph.KindFile, graph.KindDir, graph.KindBlk, graph.KindSymlink, graph.KindMemfd:
		return "file"
	case graph.KindChr:
		return "dev"
	case graph.KindAnon, graph.KindMqueue, graph.KindNsfs:
		return "anon"
	}
	return "unknown"
}

// labelItems writes the labels of description and object items, and sizes
// every item.
func (m *model) labelItems(fdProc map[string]*graph.Node, procByID map[string]*proc) {
	max := m.opts.maxLabel()
	for _, it := range m.items {
		switch {
		case it.layer == layerPort:
		case it.node != nil && it.layer == layerOFD:
			it.label, it.tip = m.ofdLabel(it, fdProc)
		case it.node != nil:
			it.label, it.tip = objLabel(it.node, len(it.conns) > 0)
			if k := it.node.Kind; k == graph.KindPipe || k == graph.KindFIFO {
				// A pipe has no connection line to carry its activity: what
				// waits in it is a line of its box.
				if a, ok := m.opts.Activity[it.node.ID]; ok && a.Queued > 0 {
					it.label = append(it.label, a.Text())
				}
			}
		}
	}
	size := func(it *item) {
		for i, l := range it.label {
			it.label[i] = shorten(l, max)
		}
		if it.layer == layerPort {
			it.w, it.h = width(it.label[0]), 1
			return
		}
		w := 0
		for _, l := range it.label {
			w = maxInt(w, width(l))
		}
		k := maxInt(len(it.in), len(it.out)+len(it.conns))
		it.w, it.h = maxInt(w+4, 2*k+3), len(it.label)+2
	}
	for _, it := range m.items {
		size(it)
	}
	for _, p := range m.procs {
		for i, l := range p.title {
			p.title[i] = shorten(l, max)
		}
		if p.more != nil {
			size(p.more)
		}
	}
}

// ofdLabel describes an open file description: its mode and position, and
// who shares it when more than one port leads into it.
func (m *model) ofdLabel(it *item, fdProc map[string]*graph.Node) ([]string, string) {
	n := it.node
	o := n.OFD
	if o == nil {
		o = &graph.OFD{}
	}
	var obj *graph.Node
	if len(it.out) > 0 {
		obj = it.out[0].to.node
	}
	mode := o.Mode
	if mode == "" {
		mode = "path"
	}
	line := "ofd " + mode
	if o.Pos != 0 || (obj != nil && showsPos(obj.Kind)) {
		line += " pos " + strconv.FormatInt(o.Pos, 10)
	}
	lines := []string{line}
	// Holders, port by port.
	type holder struct {
		proc *graph.Node
		fd   int
	}
	var hs []holder
	ports := 0
	for _, l := range it.in {
		p := l.from
		if p.layer != layerPort {
			continue
		}
		ports++
		for i, fid := range p.fdIDs {
			if p.fdOFDs[i] == n.ID {
				hs = append(hs, holder{fdProc[fid], p.fds[i]})
			}
		}
	}
	if ports >= 2 && len(hs) >= 2 {
		slices.SortFunc(hs, func(a, b holder) int {
			return cmp.Or(cmp.Compare(pidOf(a.proc), pidOf(b.proc)), cmp.Compare(a.fd, b.fd))
		})
		procs := map[string]*graph.Node{}
		for _, h := range hs {
			if h.proc != nil {
				procs[h.proc.ID] = h.proc
			}
		}
		how := "dup"
		if len(procs) > 1 {
			how = "shared"
			pids := map[int]bool{}
			for _, p := range procs {
				pids[p.PID] = true
			}
			for _, p := range procs {
				if p.Process != nil && pids[p.Process.PPID] {
					how = "fork"
				}
			}
		}
		var parts []string
		if len(procs) > 3 {
			// A crowd: the focus's fds, then how many other processes.
			var mine []string
			for _, h := range hs {
				if m.focus != nil && h.proc != nil && h.proc.ID == m.focus.node.ID && len(mine) < 3 {
					mine = append(mine, strconv.Itoa(h.fd))
				}
			}
			others := len(procs)
			if len(mine) > 0 {
				parts = append(parts, "fd "+strings.Join(mine, " "))
				others--
			}
			lines = append(lines, strings.Join(append(parts, plural(others, "process", "processes")), " + ")+" ("+how+")")
			hs = nil
		}
		for i, h := range hs {
			if i == 2 && len(hs) > 3 {
				parts = append(parts, fmt.Sprintf("%d more", len(hs)-2))
				break
			}
			if len(procs) > 1 {
				parts = append(parts, fmt.Sprintf("%d:%d", pidOf(h.proc), h.fd))
			} else {
				parts = append(parts, "fd "+strconv.Itoa(h.fd))
			}
		}
		if hs != nil {
			lines = append(lines, strings.Join(parts, " + ")+" ("+how+")")
		}
	}
	if n.Error != "" {
		lines = append(lines, "! "+n.Error)
	}
	tip := fmt.Sprintf("open file description %s\nmode %s, flags %s, pos %d\nshared by %d fds", n.ID, mode,
		strings.Join(o.Flags, "|"), o.Pos, o.Sharers)
	if n.Error != "" {
		tip += "\nerror: " + n.Error
	}
	return lines, tip
}

func showsPos(k graph.Kind) bool {
	switch k {
	case graph.KindFile, graph.KindDir, graph.KindBlk, graph.KindChr, graph.KindMemfd, graph.KindSymlink:
		return true
	}
	return false
}

// objLabel describes an object as the kernel names it, with what matters
// about its kind. connected says a connection edge is drawn from it, which
// then carries the remote address.
func objLabel(n *graph.Node, connected bool) ([]string, string) {
	ob := n.Object
	if ob == nil {
		ob = &graph.Object{Name: n.ID}
	}
	name := ob.Name
	if name == "" {
		name = n.ID
	}
	lines := []string{name}
	tip := []string{string(n.Kind) + " " + n.ID, name}
	switch n.Kind {
	case graph.KindSocket:
		if s := ob.Socket; s != nil {
			lines = append(lines, socketProto(n))
			if s.State != "" {
				lines = append(lines, strings.ToUpper(s.State))
			}
			if s.Local != "" {
				lines = append(lines, s.Local)
			}
			if s.Remote != "" && !connected && s.Family != "unix" {
				lines = append(lines, "→ "+s.Remote)
			}
			if s.InFlight > 0 {
				lines = append(lines, fmt.Sprintf("%d fds in flight", s.InFlight))
			}
			tip = append(tip, fmt.Sprintf("%s %s %s, state %s", s.Family, s.Type, s.Protocol, s.State),
				fmt.Sprintf("local %q remote %q", s.Local, s.Remote),
				fmt.Sprintf("rx queue %d, tx queue %d", s.RxQueue, s.TxQueue))
		}
	case graph.KindFile, graph.KindDir, graph.KindFIFO, graph.KindMemfd, graph.KindSymlink, graph.KindMqueue:
		lines = append(lines, "inode "+strconv.FormatUint(ob.Inode, 10))
	}
	if ob.Detail != "" {
		lines = append(lines, ob.Detail)
		tip = append(tip, ob.Detail)
	}
	if n.Error != "" {
		lines = append(lines, "! "+n.Error)
		tip = append(tip, "error: "+n.Error)
	}
	tip = append(tip, fmt.Sprintf("inode %d, dev %s", ob.Inode, ob.Dev))
	if ob.RDev != "" {
		tip = append(tip, "rdev "+ob.RDev)
	}
	return lines, strings.Join(tip, "\n")
}

// socketProto names a socket's protocol: "unix stream", "tcp", "udp6", "netlink route".
func socketProto(n *graph.Node) string {
	if n.Object == nil || n.Socket == nil {
		return "socket"
	}
	return n.Socket.Proto()
}

// connLabel names the connection between two objects drawn left and right.
func connLabel(kind string, left, right *graph.Node) string {
	switch kind {
	case EdgeAccepted:
		return "accepted"
	case EdgeWatch:
		return "" // a watch says what it is in its title and its dashes
	}
	if left.Kind != graph.KindSocket || right.Kind != graph.KindSocket || left.Object == nil || right.Object == nil ||
		left.Socket == nil || right.Socket == nil {
		if left.Kind == graph.KindChr || right.Kind == graph.KindChr {
			return "pty"
		}
		return "peer"
	}
	a, b := left.Socket, right.Socket
	proto := socketProto(left)
	switch {
	case a.Family == graph.FamilyUnix:
		for _, p := range []string{a.Local, b.Local, a.Remote, b.Remote} {
			if p != "" {
				return proto + " " + p
			}
		}
		return proto
	case a.Family.IsInet():
		if a.Local != "" && b.Local != "" {
			return proto + " " + a.Local + " ⇄ " + b.Local
		}
	}
	return proto
}

func procTitle(n *graph.Node, parent *proc) ([]string, string) {
	comm := ""
	if n.Process != nil {
		comm = n.Process.Comm
	}
	lines := []string{strings.TrimSpace(comm + "  pid " + strconv.Itoa(n.PID))}
	if p := n.Process; p != nil && p.TGID != 0 {
		// A thread with an fd table of its own.
		lines[0] = strings.TrimSpace(comm + "  thread " + strconv.Itoa(n.PID))
		lines = append(lines, "of pid "+strconv.Itoa(p.TGID)+", own fd table")
	}
	if host := hostOf(n); host != "" {
		lines = append(lines, "on "+host) // a hub's merged graph: pids repeat across hosts
	}
	if parent != nil {
		lines = append(lines, "child of pid "+strconv.Itoa(parent.node.PID))
	}
	if n.Error != "" {
		lines = append(lines, "! "+n.Error)
	}
	tip := "process " + n.ID
	if p := n.Process; p != nil {
		tip += fmt.Sprintf("\n%s\nuser %s (uid %d), ppid %d, %d threads, %d fds", p.Cmdline, p.User, p.UID, p.PPID, p.Threads, p.FDCount)
	}
	if n.Error != "" {
		tip += "\nerror: " + n.Error
	}
	return lines, tip
}

func fdTip(fd, ofd *graph.Node) string {
	s := "fd " + strconv.Itoa(fd.FD.Num)
	if fd.FD.CloExec {
		s += " (close-on-exec)"
	}
	if ofd == nil {
		s += ", description unknown"
	}
	if fd.Error != "" {
		s += "\nerror: " + fd.Error
	}
	return s
}

// shorten cuts s to at most n cells with "…": paths lose their beginning,
// everything else its end.
func shorten(s string, n int) string {
	if width(s) <= n {
		return s
	}
	r := []rune(s)
	w := 1 // the "…"
	if strings.HasPrefix(s, "/") {
		i := len(r)
		for i > 0 && w+runeWidth(r[i-1]) <= n {
			i--
			w += runeWidth(r[i])
		}
		return "…" + string(r[i:])
	}
	i := 0
	for i < len(r) && w+runeWidth(r[i]) <= n {
		w += runeWidth(r[i])
		i++
	}
	return string(r[:i]) + "…"
}

// width is the number of cells a label takes: two for each wide rune (CJK,
// emoji), one for the others.
func width(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// runeWidth is how many terminal cells a rune takes: 2 for East Asian wide
// and fullwidth characters and emoji, 1 otherwise.
func runeWidth(r rune) int {
	switch {
	case r < 0x1100:
		return 1
	case r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf && r != 0x303f, r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60,
		r >= 0xffe0 && r <= 0xffe6, r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff,
		r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}

func startOf(n *graph.Node) uint64 {
	if n.Process == nil {
		return 0
	}
	return n.Process.StartTime
}

func pidOf(n *graph.Node) int {
	if n == nil {
		return 0
	}
	return n.PID
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
