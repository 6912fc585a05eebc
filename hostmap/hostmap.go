// Package hostmap computes the map of a host from a snapshot: its processes
// gathered into groups the way their users think of them (a systemd unit,
// a container, a program with its workers, a shell pipeline) and the links
// between the groups that have connections between them, remote endpoints
// included. It is the dashboard's landing view and `fdscope snapshot
// --format map`; docs/map.md describes the grouping rules.
//
// The package performs no I/O: it reads a graph.Index.
package hostmap

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fdscope/fdscope/graph"
)

// Kinds of group.
const (
	KindUnit      = "unit"      // a systemd service or scope
	KindContainer = "container" // the cgroup of a container runtime
	KindCgroup    = "cgroup"    // another cgroup
	KindNetNS     = "netns"     // processes in a network namespace of their own
	KindPipeline  = "pipeline"  // siblings of a shell joined by pipes
	KindProgram   = "program"   // a program and its descendants of the same name
	KindRemote    = "remote"    // an endpoint that is not on this host
)

// InheritedGroups is how many groups may hold one end of a pipe or FIFO
// for it to be drawn as links: more, and the end is an fd they all
// inherited (a harness's or a service manager's pipe), not a conversation.
const InheritedGroups = 4

// Map is the map of one snapshot: groups sorted by ID, links sorted by
// (from, to).
type Map struct {
	Groups []Group `json:"groups"`
	Links  []Link  `json:"links"`
}

// Group is a node of the map: processes, or a remote endpoint.
type Group struct {
	// ID names the group while it exists: a unit or cgroup by its path, a
	// network namespace by its inode, a pipeline by its shell and first
	// member, a program by its topmost process, a remote by its address.
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Detail is what the group stands for: the cgroup path, the netns
	// inode, the pipeline's commands, the remote address.
	Detail string `json:"detail,omitempty"`
	// PIDs are the group's processes, ascending (none for a remote).
	PIDs []int `json:"pids"`
	// Hosts are, in a hub's merged graph (whose process nodes carry a
	// host), the host of each of PIDs, in the same order: pids repeat
	// across hosts. Absent on one host.
	Hosts []string `json:"hosts,omitempty"`
	// Comms are the distinct names (comm) of its processes, sorted.
	Comms []string `json:"comms"`
	// Listen lists its listening sockets, "tcp 0.0.0.0:80", sorted.
	Listen []string `json:"listen"`
}

// Link joins two groups that have connections between them.
type Link struct {
	From string `json:"from"` // the group ID that sorts first
	To   string `json:"to"`
	// Count is how many connections join the two: socket pairs, ptys,
	// pipes and FIFOs (one per pipe, however many hold it), sockets to a
	// remote endpoint.
	Count int `json:"count"`
	// Via lists the kinds of those connections (tcp, unix, pipe, ...), sorted.
	Via []graph.Via `json:"via"`
}

// shells are the programs whose children joined by pipes make a pipeline.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true,
	"mksh": true, "ash": true, "fish": true, "busybox": true, "tcsh": true, "csh": true}

// proc is one process of the snapshot, as the grouping sees it.
type proc struct {
	n      *graph.Node
	parent *proc
	group  *Group
	pipe   *proc // union-find of pipeline members; nil when none
}

// host is the process's host in a hub's merged graph, "" on one host.
func (p *proc) host() string {
	if p.n.Process == nil {
		return ""
	}
	return p.n.Process.Host
}

func (p *proc) comm() string {
	if p.n.Process == nil {
		return ""
	}
	return p.n.Process.Comm
}

func (p *proc) root() *proc {
	for p.pipe != nil && p.pipe != p {
		p = p.pipe
	}
	return p
}

// Build computes the map of x's snapshot.
func Build(x *graph.Index) *Map {
	s := x.Snapshot()
	procs := map[*graph.Node]*proc{}
	byPID := map[int]*proc{}
	var threads []*graph.Node
	for _, n := range s.Nodes {
		if n.Kind == graph.KindProcess && n.Process != nil && n.Process.TGID != 0 {
			threads = append(threads, n)
			continue
		}
		if n.Kind == graph.KindProcess && !kernelThread(n) {
			p := &proc{n: n}
			procs[n] = p
			if old := byPID[n.PID]; old == nil {
				byPID[n.PID] = p
			}
		}
	}
	for _, p := range procs {
		if p.n.Process != nil {
			if pp := byPID[p.n.Process.PPID]; pp != nil && pp != p {
				p.parent = pp
			}
		}
	}

	// A thread with an fd table of its own is no process of the map: what
	// its fds connect, its process connects.
	holder := func(n *graph.Node) *proc { return procs[n] }
	if len(threads) > 0 {
		threadOf := make(map[*graph.Node]*proc, len(threads))
		for _, n := range threads {
			if p := procs[x.ProcessOn(n.Process.Host, n.Process.TGID)]; p != nil {
				threadOf[n] = p
			}
		}
		holder = func(n *graph.Node) *proc {
			if p := procs[n]; p != nil {
				return p
			}
			return threadOf[n]
		}
	}

	// The connections, kept with their holders' procs: the holders of
	// all of them in one array (a busy host has tens of thousands).
	type conn struct {
		via         graph.Via
		lo, mid, hi int32       // ends: flat[lo:mid] and flat[mid:hi]
		sock        *graph.Node // a socket with no second end: listening, or to a remote
	}
	var conns []conn
	var flat []*proc
	listening := map[listenKey]bool{}
	x.Conns(func(c *graph.Conn) {
		cc := conn{via: c.Via, lo: int32(len(flat))}
		for side, hs := range c.Holders {
			if side == 1 {
				cc.mid = int32(len(flat))
			}
			for _, n := range hs {
				if p := holder(n); p != nil { // not a kernel thread
					flat = append(flat, p)
				}
			}
		}
		cc.hi = int32(len(flat))
		if c.Objects[1] == nil {
			cc.sock = c.Objects[0]
		}
		if c.Listen {
			so := c.Objects[0].Socket
			if ap, err := netip.ParseAddrPort(so.Local); err == nil {
				listening[listenKey{c.Objects[0].NetNS, so.Protocol, ap.Port()}] = true
			}
		}
		conns = append(conns, cc)
		if c.Via == graph.ViaPipe {
			joinPipeline(flat[cc.lo:cc.mid], flat[cc.mid:cc.hi])
		}
	})

	hostNS := hostNetNS(byPID, procs)
	// The cgroup of pid 1 holds everything when there is no systemd (on
	// systemd it is init.scope, which holds pid 1 alone).
	everything := "/"
	if p := byPID[1]; p != nil && p.n.Process != nil && p.n.Process.Cgroup != "" {
		everything = p.n.Process.Cgroup
	}
	jobs := map[jobKey]int{}
	for _, p := range procs {
		if p.parent != nil && p.pipe == nil && shells[p.parent.comm()] && p.parent.comm() != p.comm() {
			jobs[jobKey{p.parent, p.comm()}]++
		}
	}
	groups := map[string]*Group{}
	for _, p := range sortedProcs(procs) {
		g := groupOf(p, hostNS, everything, jobs)
		if old := groups[g.ID]; old != nil {
			g = old
		} else {
			groups[g.ID] = g
		}
		p.group = g
		g.PIDs = append(g.PIDs, p.n.PID)
		if host := p.host(); host != "" || len(g.Hosts) > 0 {
			for len(g.Hosts) < len(g.PIDs)-1 {
				g.Hosts = append(g.Hosts, "")
			}
			g.Hosts = append(g.Hosts, host)
		}
		if g.Kind == KindPipeline && p.pipe != nil {
			// A member (a child of the shell): the name lists them in pid order.
			g.Name = strings.TrimPrefix(g.Name+" | "+p.comm(), " | ")
		}
		if c := p.comm(); !slices.Contains(g.Comms, c) {
			g.Comms = append(g.Comms, c)
		}
	}
	for _, g := range groups {
		if g.Kind == KindNetNS {
			g.Name = netnsName(g, byPID)
		}
	}

	links := map[[2]*Group]*Link{}
	link := func(a, b *Group, via graph.Via) {
		if a == b {
			return
		}
		if b.ID < a.ID {
			a, b = b, a
		}
		l := links[[2]*Group{a, b}]
		if l == nil {
			l = &Link{From: a.ID, To: b.ID}
			links[[2]*Group{a, b}] = l
		}
		l.Count++
		if !slices.Contains(l.Via, via) {
			l.Via = append(l.Via, via)
		}
	}
	var gs [2][]*Group
	var pairs [][2]*Group
	remotes := map[remoteKey]string{}
	for _, c := range conns {
		for side, ends := range [][]*proc{flat[c.lo:c.mid], flat[c.mid:c.hi]} {
			gs[side] = gs[side][:0]
			for _, p := range ends {
				if !slices.Contains(gs[side], p.group) {
					gs[side] = append(gs[side], p.group)
				}
			}
		}
		switch {
		case c.sock != nil && c.sock.Socket.State == "listen":
			l := c.sock.Socket.Proto() + " " + c.sock.Socket.Local
			for _, g := range gs[0] {
				if !slices.Contains(g.Listen, l) {
					g.Listen = append(g.Listen, l)
				}
			}
		case c.sock != nil:
			id := remoteID(c.sock, listening, remotes)
			r := groups[id]
			if r == nil {
				r = remoteGroup(id)
				groups[id] = r
			}
			for _, g := range gs[0] {
				link(g, r, c.via)
			}
		case (c.via == graph.ViaPipe || c.via == graph.ViaFIFO) && max(len(gs[0]), len(gs[1])) > InheritedGroups:
			// An end that processes of many groups hold is an fd they all
			// inherited and none uses — a session's harness reading a
			// pipe every process it started holds the other end of — not
			// a conversation: linking it would tie every group to one.
		default:
			// One connection joins each pair of groups once, however
			// many of their processes hold it, on whichever side.
			pairs = pairs[:0]
			for _, a := range gs[0] {
				for _, b := range gs[1] {
					pair := [2]*Group{a, b}
					if b.ID < a.ID {
						pair = [2]*Group{b, a}
					}
					if a != b && !slices.Contains(pairs, pair) {
						pairs = append(pairs, pair)
						link(a, b, c.via)
					}
				}
			}
		}
	}

	m := &Map{Groups: make([]Group, 0, len(groups)), Links: make([]Link, 0, len(links))}
	for _, g := range groups {
		sortPIDs(g)
		slices.Sort(g.Comms)
		slices.Sort(g.Listen)
		if g.PIDs == nil {
			g.PIDs = []int{}
		}
		if g.Comms == nil {
			g.Comms = []string{}
		}
		if g.Listen == nil {
			g.Listen = []string{}
		}
		m.Groups = append(m.Groups, *g)
	}
	slices.SortFunc(m.Groups, func(a, b Group) int { return cmp.Compare(a.ID, b.ID) })
	for _, l := range links {
		slices.Sort(l.Via)
		m.Links = append(m.Links, *l)
	}
	slices.SortFunc(m.Links, func(a, b Link) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	return m
}

// kernelThread reports whether n is a kernel thread (kthreadd, pid 2, or
// one of its children, with no fds): no group of the map, as the page's
// process list hides them.
func kernelThread(n *graph.Node) bool {
	return (n.PID == 2 || n.Process != nil && n.Process.PPID == 2) && (n.Process == nil || n.Process.FDCount == 0)
}

type listenKey struct {
	netns uint64
	proto string
	port  uint16
}

// remoteID names the remote group of an inet socket whose other end is not
// on this host: the remote address and port for a connection it made, the
// remote address alone for one it accepted (a connection to a port that
// is listened on in its namespace), whose port is the client's ephemeral one.
// Names are kept in cache, by remote address and direction.
func remoteID(sock *graph.Node, listening map[listenKey]bool, cache map[remoteKey]string) string {
	so := sock.Socket
	inbound := false
	if l, err := netip.ParseAddrPort(so.Local); err == nil && listening[listenKey{sock.NetNS, so.Protocol, l.Port()}] {
		inbound = true
	}
	key := remoteKey{so.Remote, inbound}
	if id, ok := cache[key]; ok {
		return id
	}
	id := "remote:" + so.Remote
	if r, err := netip.ParseAddrPort(so.Remote); err == nil && inbound {
		id = "remote:" + r.Addr().String()
	}
	cache[key] = id
	return id
}

type remoteKey struct {
	addr    string
	inbound bool
}

func remoteGroup(id string) *Group {
	addr := strings.TrimPrefix(id, "remote:")
	name := addr
	if _, err := netip.ParseAddr(addr); err == nil {
		name = "clients from " + addr
	}
	return &Group{ID: id, Name: name, Kind: KindRemote, Detail: addr}
}

// joinPipeline joins, in the union-find of pipelines, the writers and
// readers of one pipe that are children of the same shell.
func joinPipeline(writers, readers []*proc) {
	for _, w := range writers {
		for _, r := range readers {
			if w == r || w.parent == nil || w.parent != r.parent || !shells[w.parent.comm()] {
				continue
			}
			a, b := w.root(), r.root()
			if w.pipe == nil {
				w.pipe, a = w, w
			}
			if r.pipe == nil {
				r.pipe, b = r, r
			}
			if a != b {
				// The lower pid is the set's name, so that it does not
				// depend on the order connections are met.
				if b.n.PID < a.n.PID {
					a, b = b, a
				}
				b.pipe = a
			}
		}
	}
}

// initNetNS is the inode of the kernel's initial network namespace
// (PROC_NET_INIT_INO in include/linux/proc_ns.h), the same on every boot.
const initNetNS = 0xEFFFFFF9

// hostNetNS is the network namespace of the host: the kernel's initial
// one if a process is in it, else pid 1's, else the one most processes are
// in. (pid 1 may deny even root its namespace links, and a container host
// may run more processes in its containers than in its own namespace.)
func hostNetNS(byPID map[int]*proc, procs map[*graph.Node]*proc) uint64 {
	for n := range procs {
		if n.NetNS == initNetNS {
			return initNetNS
		}
	}
	if p := byPID[1]; p != nil && p.n.NetNS != 0 {
		return p.n.NetNS
	}
	count := map[uint64]int{}
	var best uint64
	for n := range procs {
		count[n.NetNS]++
		if c := count[n.NetNS]; c > count[best] || c == count[best] && n.NetNS < best {
			best = n.NetNS
		}
	}
	return best
}

// sortPIDs sorts a group's pids, and their hosts with them.
func sortPIDs(g *Group) {
	if len(g.Hosts) == 0 {
		slices.Sort(g.PIDs)
		return
	}
	for len(g.Hosts) < len(g.PIDs) {
		g.Hosts = append(g.Hosts, "")
	}
	type ph struct {
		pid  int
		host string
	}
	both := make([]ph, len(g.PIDs))
	for i := range both {
		both[i] = ph{g.PIDs[i], g.Hosts[i]}
	}
	slices.SortFunc(both, func(a, b ph) int { return cmp.Or(cmp.Compare(a.pid, b.pid), cmp.Compare(a.host, b.host)) })
	for i, x := range both {
		g.PIDs[i], g.Hosts[i] = x.pid, x.host
	}
}

func sortedProcs(procs map[*graph.Node]*proc) []*proc {
	out := make([]*proc, 0, len(procs))
	for _, p := range procs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *proc) int { return cmp.Or(cmp.Compare(a.n.PID, b.n.PID), cmp.Compare(a.n.ID, b.n.ID)) })
	return out
}

// groupOf says which group p belongs to (the rules of docs/map.md, in order).
func groupOf(p *proc, hostNS uint64, everything string, jobs map[jobKey]int) *Group {
	if p.n.Process != nil {
		if g := cgroupGroup(p.n.Process.Cgroup, everything); g != nil {
			return g
		}
	}
	if ns := p.n.NetNS; ns != 0 && hostNS != 0 && ns != hostNS {
		id := strconv.FormatUint(ns, 10)
		return &Group{ID: "netns:" + id, Kind: KindNetNS, Detail: "net:[" + id + "]"}
	}
	// The topmost ancestor of the same name: nginx's master for its workers.
	top := p
	for top.parent != nil && top.parent.comm() == top.comm() {
		top = top.parent
	}
	if top.pipe != nil {
		r := top.root()
		id := "pipeline:" + strconv.Itoa(r.parent.n.PID) + ":" + strconv.Itoa(r.n.PID)
		return &Group{ID: id, Kind: KindPipeline, Detail: "children of " + r.parent.comm() + " " + strconv.Itoa(r.parent.n.PID)}
	}
	// Children of a shell with one name: the jobs of a loop (for i in ...;
	// do worker & done) are one group, named after the shell.
	if sh := top.parent; sh != nil && shells[sh.comm()] && jobs[jobKey{sh, top.comm()}] > 1 {
		return &Group{ID: "program:" + strconv.Itoa(sh.n.PID) + ":" + top.comm(), Name: top.comm(), Kind: KindProgram,
			Detail: top.comm() + " jobs of " + sh.comm() + " " + strconv.Itoa(sh.n.PID)}
	}
	return &Group{ID: "program:" + strconv.Itoa(top.n.PID), Name: top.comm(), Kind: KindProgram,
		Detail: top.comm() + " " + strconv.Itoa(top.n.PID)}
}

// jobKey names the children of a shell with one name.
type jobKey struct {
	shell *proc
	comm  string
}

// netnsName names a network namespace's group after its topmost
// process (the lowest pid whose parent is outside the group).
func netnsName(g *Group, byPID map[int]*proc) string {
	for _, pid := range g.PIDs {
		p := byPID[pid]
		if p != nil && (p.parent == nil || p.parent.group != g) {
			return p.comm() + " (netns)"
		}
	}
	return g.Detail
}
