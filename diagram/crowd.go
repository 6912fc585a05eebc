package diagram

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fdscope/fdscope/graph"
)

// On a real machine most of the processes in a focus view do not talk to
// the focus at all: they inherited the same stdin, stdout or log file from
// a common parent (a shell, a service manager), or opened the same file.
// Drawn one by one they push the processes the focus is connected to
// screens away. So the peers of the focus are sorted by what they are to
// it (graph.Relation): connection peers are drawn one by one, first and
// nearest; processes that only share a description with the focus or hold
// the same object are drawn one by one while they are few, and otherwise
// summarised as crowds — one box per set of focus fds they share, saying
// how many processes and which.

// Thresholds for drawing sharers one by one (docs/diagram.md).
const (
	// SoloSharers is how many processes that only share with the focus are
	// always drawn one by one: the parent and child of the three-tables
	// figure, a master and its worker.
	SoloSharers = 4
	// PreforkSharers is how many processes that share a socket with the
	// focus (the master and workers of a prefork server on one listening
	// socket) are drawn one by one, however many sharers there are.
	PreforkSharers = 8
)

// KindCrowd is the kind of a box that stands for many processes that share
// descriptions with the focus (or hold the same objects) and have no
// connection to it. Its Members are their process node IDs; its ports
// lead to what they share. Its ID ("group:crowd:...") can be given to
// Options.ExpandGroups to draw them one by one.
const KindCrowd = "crowd"

// PortCrowd is the kind of a crowd's port: the fds of all its processes
// that lead to one shared description (or to one object).
const PortCrowd = "crowd"

// peerRole is what a process in the view is to the focus.
type peerRole int

const (
	roleFocus      peerRole = iota
	roleConnection          // at the other end of a connection of the focus's own
	// roleInherited: at the other end of a connection only through a
	// description the focus shares with other processes — most often one
	// every process of a session inherited and none uses (a pipe its
	// service manager or shell watches for the processes' exit)
	roleInherited
	roleSharer // shares descriptions or objects only
	roleCrowd  // a crowd of sharers
	roleOther  // no relation found (a whole snapshot drawn)
)

// relations is what the peers of the focus are to it, from graph.Index.Peers.
type relations struct {
	rows []graph.Peer
	// per peer process ID: whether it has a connection (through a
	// description of the focus's own: true; only through shared ones:
	// false), and the focus fds it shares with (or holds the same object as)
	conn      map[string]bool
	sharedFDs map[string][]int
	// the socket objects of the focus that a peer shares
	sharesSocket map[string]bool
	// per process ID (the focus's too), its fds at either end of a
	// connection of the focus's own
	connFDs map[string]map[int]bool
	// the processes that share a description with the focus
	sharesOFD map[string]bool
}

func relationsOf(s *graph.Snapshot, focus *graph.Node) *relations {
	r := &relations{conn: map[string]bool{}, sharedFDs: map[string][]int{}, sharesSocket: map[string]bool{},
		connFDs: map[string]map[int]bool{}, sharesOFD: map[string]bool{}}
	r.rows = graph.NewIndex(s).PeersOn(hostOf(focus), focus.PID)
	sharedFD := map[int]bool{} // focus fds whose description another process holds
	for _, p := range r.rows {
		if p.Relation == graph.RelShared {
			sharedFD[p.FD] = true
		}
	}
	for _, p := range r.rows {
		if p.Relation == graph.RelConnection {
			r.conn[p.PeerProcess] = r.conn[p.PeerProcess] || !sharedFD[p.FD]
			if !sharedFD[p.FD] {
				r.markConn(focus.ID, p.FD)
				r.markConn(p.PeerProcess, p.PeerFD)
			}
			continue
		}
		if l := r.sharedFDs[p.PeerProcess]; !slices.Contains(l, p.FD) {
			r.sharedFDs[p.PeerProcess] = append(l, p.FD)
		}
		if p.Kind == graph.KindSocket {
			r.sharesSocket[p.PeerProcess] = true
		}
		if p.Relation == graph.RelShared {
			r.sharesOFD[p.PeerProcess] = true
		}
	}
	for _, l := range r.sharedFDs {
		slices.Sort(l)
	}
	return r
}

func (r *relations) markConn(proc string, fd int) {
	if r.connFDs[proc] == nil {
		r.connFDs[proc] = map[int]bool{}
	}
	r.connFDs[proc][fd] = true
}

// carries reports whether a port stands for an fd at either end of a
// connection of the focus's own.
func (r *relations) carries(port *item) bool {
	if r == nil || port.proc == nil || port.proc.crowd != nil {
		return false
	}
	fds := r.connFDs[port.proc.node.ID]
	for _, fd := range port.fds {
		if fds[fd] {
			return true
		}
	}
	return false
}

func (r *relations) role(p *proc) peerRole {
	switch {
	case p.focus:
		return roleFocus
	case p.crowd != nil:
		return roleCrowd
	case r == nil:
		return roleOther
	}
	if own, ok := r.conn[p.node.ID]; ok {
		if own {
			return roleConnection
		}
		return roleInherited
	}
	if r.sharedFDs[p.node.ID] != nil {
		return roleSharer
	}
	return roleOther
}

// headline says in one line what the focus is connected to and what it
// shares: "1 connection · fd 0–2 shared with 23 processes". Connections
// only through a description the focus shares with other processes are
// counted apart ("1 more through shared fds"): most are inherited fds
// nobody uses.
func (r *relations) headline() string {
	if r == nil {
		return ""
	}
	sharedFD := map[int]bool{}
	sharers := map[string]bool{}
	var fds []int
	for _, p := range r.rows {
		if p.Relation == graph.RelConnection {
			continue
		}
		sharedFD[p.FD] = true
		sharers[p.PeerProcess] = true
		if !slices.Contains(fds, p.FD) {
			fds = append(fds, p.FD)
		}
	}
	own, inherited, procs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range r.rows {
		if p.Relation != graph.RelConnection {
			continue
		}
		key := strconv.Itoa(p.FD) + " " + p.Object
		if sharedFD[p.FD] {
			inherited[key] = true
			continue
		}
		own[key] = true
		procs[p.PeerProcess] = true
	}
	var parts []string
	switch {
	case len(own) == 0:
		parts = append(parts, "no connections")
	case len(procs) == len(own):
		parts = append(parts, plural(len(own), "connection", "connections"))
	default:
		parts = append(parts, plural(len(own), "connection", "connections")+" with "+plural(len(procs), "process", "processes"))
	}
	if len(inherited) > 0 {
		parts = append(parts, strconv.Itoa(len(inherited))+" more through shared fds")
	}
	if len(sharers) > 0 {
		slices.Sort(fds)
		parts = append(parts, fdRuns(fds)+" shared with "+plural(len(sharers), "process", "processes"))
	}
	return strings.Join(parts, " · ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// fdRuns names sorted fd numbers with their runs: "fd 3", "fd 0–2", "fd 0–2, 5".
func fdRuns(fds []int) string {
	var parts []string
	for i := 0; i < len(fds); {
		j := i
		for j+1 < len(fds) && fds[j+1] == fds[j]+1 {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, strconv.Itoa(fds[i]))
		case j == i+1:
			parts = append(parts, strconv.Itoa(fds[i]), strconv.Itoa(fds[j]))
		default:
			parts = append(parts, strconv.Itoa(fds[i])+"–"+strconv.Itoa(fds[j]))
		}
		i = j + 1
	}
	return "fd " + strings.Join(parts, ", ")
}

// crowdsOf chooses which sharers of the focus are summarised, and into
// which crowds: sharers with the same focus fds form one crowd, unless
// there are at most SoloSharers sharers in all, the crowd would have one
// process, it shares a socket and has at most PreforkSharers processes, or
// its ID is in Options.ExpandGroups. It returns the crowds, each sorted by
// pid, in the order of their first process.
func (m *model) crowdsOf(rel *relations, expanded map[string]bool) [][]*proc {
	if m.opts.Expand || rel == nil {
		return nil
	}
	var sharers []*proc
	for _, p := range m.procs {
		if rel.role(p) == roleSharer {
			sharers = append(sharers, p)
		}
	}
	if len(sharers) <= SoloSharers {
		return nil
	}
	bySig := map[string][]*proc{}
	var sigs []string
	for _, p := range sharers {
		sig := fmt.Sprint(rel.sharedFDs[p.node.ID])
		if bySig[sig] == nil {
			sigs = append(sigs, sig)
		}
		bySig[sig] = append(bySig[sig], p)
	}
	var out [][]*proc
	for _, sig := range sigs {
		c := bySig[sig]
		if len(c) == 1 || len(c) <= PreforkSharers && rel.sharesSocket[c[0].node.ID] || expanded[crowdID(c)] {
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b []*proc) int { return cmp.Compare(a[0].index, b[0].index) })
	return out
}

// crowdID names a crowd after its first process: crowds never share a process.
func crowdID(members []*proc) string {
	return GroupID{Kind: GroupCrowd, Owner: members[0].node.ID}.String()
}

// crowdPortID names the port of crowd c that leads to the given description or object.
func crowdPortID(c *proc, to string) string {
	return GroupID{Kind: GroupCrowdPort, Owner: c.crowd[0].ID, Key: to}.String()
}

// newCrowd makes the box of a crowd: a proc without a graph node of its own.
func newCrowd(members []*proc, rel *relations) *proc {
	id := crowdID(members)
	p := &proc{node: &graph.Node{ID: id, Kind: graph.KindProcess}}
	shares := false
	comms := map[string]int{}
	parents := map[int]int{}
	var pids []string
	for _, q := range members {
		p.crowd = append(p.crowd, q.node)
		shares = shares || rel.sharesOFD[q.node.ID]
		comm, ppid := "?", 0
		if q.node.Process != nil {
			comm, ppid = q.node.Process.Comm, q.node.Process.PPID
		}
		comms[comm]++
		parents[ppid]++
		pids = append(pids, strconv.Itoa(q.node.PID))
	}
	n := len(members)
	head := "shared with " + plural(n, "process", "processes")
	if !shares {
		head = "same object in " + plural(n, "process", "processes")
	}
	names := sortedKeys(comms)
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(comms[b], comms[a]) })
	var who []string
	for i, c := range names {
		if i == 2 && len(names) > 3 {
			who = append(who, "…")
			break
		}
		who = append(who, c+" ×"+strconv.Itoa(comms[c]))
	}
	p.title = []string{head, strings.Join(who, ", ")}
	if len(parents) == 1 {
		for ppid := range parents {
			p.title = append(p.title, "children of pid "+strconv.Itoa(ppid))
		}
	}
	p.tip = fmt.Sprintf("%s: pids %s\n(click to draw them one by one)", head, shorten(strings.Join(pids, " "), 400))
	return p
}

// crowdPorts gives a crowd its ports: one for each description of the
// focus its processes share, and one for each object whose other
// descriptions they hold (their descriptions then become one group box).
func (m *model) crowdPorts(c *proc, fdsOf map[*proc][]fdent, focusOFDs map[string]bool) {
	type target struct {
		id   string
		fds  []fdent
		ofd  *graph.Node // a shared description
		obj  *graph.Node // the object, for descriptions of its own
		ofds map[string]*graph.Node
	}
	byID := map[string]*target{}
	var order []string
	for _, q := range c.crowd {
		for _, f := range fdsOf[m.procOf[q.ID]] {
			if f.ofd == nil {
				continue
			}
			key, t := f.ofd.ID, (*target)(nil)
			if !focusOFDs[f.ofd.ID] {
				if f.obj == nil {
					continue
				}
				key = f.obj.ID
			}
			if t = byID[key]; t == nil {
				t = &target{id: key, ofds: map[string]*graph.Node{}}
				if focusOFDs[f.ofd.ID] {
					t.ofd = f.ofd
				} else {
					t.obj = f.obj
				}
				byID[key] = t
				order = append(order, key)
			}
			t.fds = append(t.fds, f)
			t.ofds[f.ofd.ID] = f.ofd
		}
	}
	for _, key := range order {
		t := byID[key]
		slices.SortFunc(t.fds, func(a, b fdent) int { return cmp.Or(cmp.Compare(a.num, b.num), cmp.Compare(a.node.ID, b.node.ID)) })
		nums := map[int]bool{}
		for _, f := range t.fds {
			nums[f.num] = true
		}
		var ns []int
		for n := range nums {
			ns = append(ns, n)
		}
		slices.Sort(ns)
		label := "fds"
		switch {
		case slices.Equal(ns, []int{0, 1, 2}):
			label = "0 1 2"
		case len(ns) <= 3:
			label = fdRuns(ns)
		}
		port := &item{id: crowdPortID(c, key), layer: layerPort, kind: PortCrowd, class: "port", proc: c, label: []string{label}}
		for _, f := range t.fds {
			port.fds = append(port.fds, f.num)
			port.fdIDs = append(port.fdIDs, f.node.ID)
			port.fdNodes = append(port.fdNodes, f.node)
			port.fdOFDs = append(port.fdOFDs, f.ofd.ID)
		}
		port.tip = fmt.Sprintf("%s of %d processes", plural(len(t.fds), "fd", "fds"), len(c.crowd))
		m.byID[port.id] = port
		m.items = append(m.items, port)
		c.ports = append(c.ports, port)
		if t.ofd != nil {
			m.addLink(port, m.realItem(t.ofd, layerOFD), EdgeOFD)
			continue
		}
		// Descriptions of their own of an object the focus holds: one group box.
		ids := sortedKeys(t.ofds)
		modes := map[string]bool{}
		for _, o := range t.ofds {
			if o.OFD != nil {
				modes[o.OFD.Mode] = true
			}
		}
		g := &item{id: GroupID{Kind: GroupCrowdOFDs, Owner: c.crowd[0].ID, Key: key}.String(), layer: layerOFD, kind: KindGroup, class: "group", member: ids}
		g.label = []string{fmt.Sprintf("%d ofds %s", len(ids), strings.Join(sortedKeys(modes), "/"))}
		g.tip = fmt.Sprintf("%d open file descriptions of %s, of the processes of a crowd", len(ids), key)
		m.byID[g.id] = g
		m.items = append(m.items, g)
		m.addLink(port, g, EdgeOFD)
		m.addLink(g, m.realItem(t.obj, layerObj), EdgeObject)
	}
	slices.SortStableFunc(c.ports, func(a, b *item) int { return cmp.Or(cmp.Compare(a.fds[0], b.fds[0]), cmp.Compare(a.id, b.id)) })
	if len(c.ports) == 0 {
		port := &item{id: crowdPortID(c, "none"), layer: layerPort, kind: PortNone, class: "port", proc: c,
			label: []string{"no fds"}, fds: []int{-1}}
		m.byID[port.id] = port
		m.items = append(m.items, port)
		c.ports = append(c.ports, port)
	}
}
