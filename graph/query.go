package graph

import (
	"cmp"
	"iter"
	"slices"
)

// Via says how a process reaches a peer process.
type Via string

// The ways two processes can be connected. A peer is another process that
// holds the other end of a connection, the same open file description, or
// another description of the same pipe, fifo or regular file.
const (
	ViaUnix      Via = "unix"       // a unix socket whose peer socket the other process holds
	ViaTCP       Via = "tcp"        // a local TCP connection (4-tuples matched by the scanner)
	ViaUDP       Via = "udp"        // a local connected UDP pair
	ViaPTY       Via = "pty"        // a pty master and its slave
	ViaPipe      Via = "pipe"       // the other end (or another description) of an anonymous pipe
	ViaFIFO      Via = "fifo"       // another description of the same named pipe
	ViaSharedOFD Via = "shared-ofd" // the same open file description (fork, dup over SCM_RIGHTS)
	ViaFile      Via = "file"       // another description of the same regular file
	ViaSocket    Via = "socket"     // a peer edge between sockets of another family
)

// Peer is one connection from an fd of a process to an fd of another
// process: the row of GET /api/processes/{pid}/peers.
type Peer struct {
	FD       int    `json:"fd"`        // the fd of the process asked about
	Kind     Kind   `json:"kind"`      // the kind of the object behind FD
	PeerPID  int    `json:"peer_pid"`  // the process at the other end
	PeerComm string `json:"peer_comm"` //
	PeerFD   int    `json:"peer_fd"`   // its fd
	Via      Via    `json:"via"`

	// The node IDs along the path, for a client that draws it.
	Object      string `json:"object"`       // the object behind FD
	PeerObject  string `json:"peer_object"`  // the object behind PeerFD (Object itself unless a peer edge joins them)
	PeerProcess string `json:"peer_process"` // the peer's process node
}

// ProcessRow is one process in the process list: the row of GET /api/processes.
type ProcessRow struct {
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	PPID    int    `json:"ppid"`
	Comm    string `json:"comm"`
	User    string `json:"user"`
	UID     int    `json:"uid"`
	FDCount int    `json:"fd_count"` // fds in the table, readable or not
	Sockets int    `json:"sockets"`  // fds that lead to a socket
	Pipes   int    `json:"pipes"`    // fds that lead to an anonymous pipe or a fifo
	Peers   int    `json:"peers"`    // distinct peer processes (see Peer)
	Error   string `json:"error,omitempty"`
}

// Index answers questions about one snapshot: the peers of a process, its
// focus subgraph, the process list. Building it costs a pass over the nodes
// and one over the edges (a counting sort of the edges by their target);
// afterwards it is read-only and safe for concurrent use. The snapshot must
// not change while the Index is in use (snapshots never do).
type Index struct {
	s *Snapshot
	// in holds positions in s.Edges grouped by target: the edges into
	// s.Nodes[i] are in[start[i]:start[i+1]], in the order of s.Edges.
	in, start []int32
	procs     map[int]*Node
}

// holderTables say which processes hold each description and each object,
// so that the peers of every process can be counted without walking the
// same crowded pipe once per fd (a pipe shared by a forked group of 500
// processes is held 500 times over). They are built for one question and
// dropped: on a busy host they weigh about as much as the Index.
type holderTables struct {
	procs []*Node          // by process index
	index map[string]int32 // process ID → process index
	// per process: the descriptions and the objects its fds lead to, each once
	ofds [][]string
	objs [][]*Node
	// per process: fds that lead to a socket, to a pipe or fifo
	sockets, pipes []int
	// distinct holders (process indexes), ascending
	ofdHolders map[string][]int32
	objHolders map[string][]int32
}

// NewIndex indexes s. A nil s stands for an empty snapshot.
func NewIndex(s *Snapshot) *Index {
	if s == nil {
		s = &Snapshot{}
	}
	x := &Index{s: s, start: make([]int32, len(s.Nodes)+1), procs: make(map[int]*Node)}
	pos := make(map[string]int32, len(s.Nodes))
	for i, n := range s.Nodes {
		pos[n.ID] = int32(i)
	}
	to := make([]int32, len(s.Edges))
	for i, e := range s.Edges {
		p, ok := pos[e.To]
		if !ok {
			p = -1 // not in a snapshot built by New
		} else {
			x.start[p+1]++
		}
		to[i] = p
	}
	for i := 1; i < len(x.start); i++ {
		x.start[i] += x.start[i-1]
	}
	x.in = make([]int32, x.start[len(x.start)-1])
	next := slices.Clone(x.start[:len(s.Nodes)])
	for i, p := range to {
		if p >= 0 {
			x.in[next[p]] = int32(i)
			next[p]++
		}
	}
	for _, n := range s.Nodes {
		if n.Kind != KindProcess {
			continue
		}
		// Host pids are unique within one scan; should a snapshot hold two
		// processes with one pid anyway, the later start wins.
		if old := x.procs[n.PID]; old == nil || startTime(old) < startTime(n) {
			x.procs[n.PID] = n
		}
	}
	return x
}

func startTime(n *Node) uint64 {
	if n.Process == nil {
		return 0
	}
	return n.Process.StartTime
}

// Snapshot returns the indexed snapshot.
func (x *Index) Snapshot() *Snapshot { return x.s }

// Process returns the process node with the given pid, or nil.
func (x *Index) Process(pid int) *Node { return x.procs[pid] }

// EdgesTo returns the edges of the given kind that end at id, ordered by their source.
func (x *Index) EdgesTo(id string, kind EdgeKind) iter.Seq[Edge] {
	p, ok := slices.BinarySearchFunc(x.s.Nodes, id, func(n *Node, id string) int { return cmp.Compare(n.ID, id) })
	return func(yield func(Edge) bool) {
		if !ok {
			return
		}
		for _, i := range x.in[x.start[p]:x.start[p+1]] {
			if e := x.s.Edges[i]; e.Kind == kind && !yield(e) {
				return
			}
		}
	}
}

// edgesFrom returns the edges of the given kind that leave id.
func (x *Index) edgesFrom(id string, kind EdgeKind) iter.Seq[Edge] {
	return func(yield func(Edge) bool) {
		for _, e := range x.s.EdgesFrom(id) {
			if e.Kind == kind && !yield(e) {
				return
			}
		}
	}
}

// hop is one fd of a process and what it leads to.
type hop struct {
	proc *Node
	fd   *Node
	ofd  *Node // nil when the fd could not be resolved
	obj  *Node // nil when the description's object is unknown
}

// fds returns the fds of a process with their descriptions and objects, by fd number.
func (x *Index) fds(proc *Node) []hop {
	var out []hop
	for e := range x.edgesFrom(proc.ID, EdgeFD) {
		fd := x.s.Node(e.To)
		if fd == nil {
			continue
		}
		out = append(out, x.resolve(proc, fd))
	}
	slices.SortFunc(out, func(a, b hop) int { return cmp.Compare(fdNum(a.fd), fdNum(b.fd)) })
	return out
}

func (x *Index) resolve(proc, fd *Node) hop {
	h := hop{proc: proc, fd: fd}
	for e := range x.edgesFrom(fd.ID, EdgeOFD) {
		h.ofd = x.s.Node(e.To)
		break
	}
	if h.ofd != nil {
		for e := range x.edgesFrom(h.ofd.ID, EdgeObject) {
			h.obj = x.s.Node(e.To)
			break
		}
	}
	return h
}

func fdNum(n *Node) int {
	if n.FD == nil {
		return -1
	}
	return n.FD.Num
}

// holders returns every fd, with its process, whose description is ofd.
func (x *Index) holdersOfOFD(ofd *Node, obj *Node) []hop {
	var out []hop
	for e := range x.EdgesTo(ofd.ID, EdgeOFD) {
		fd := x.s.Node(e.From)
		if fd == nil {
			continue
		}
		for pe := range x.EdgesTo(fd.ID, EdgeFD) {
			if p := x.s.Node(pe.From); p != nil {
				out = append(out, hop{proc: p, fd: fd, ofd: ofd, obj: obj})
			}
		}
	}
	return out
}

// holdersOfObject returns every fd, with its process and description, that leads to obj.
func (x *Index) holdersOfObject(obj *Node) []hop {
	var out []hop
	for e := range x.EdgesTo(obj.ID, EdgeObject) {
		if ofd := x.s.Node(e.From); ofd != nil {
			out = append(out, x.holdersOfOFD(ofd, obj)...)
		}
	}
	return out
}

// peerObjects returns the objects joined to obj by a peer edge, in either direction.
func (x *Index) peerObjects(obj *Node) []*Node {
	var out []*Node
	for e := range x.edgesFrom(obj.ID, EdgePeer) {
		if n := x.s.Node(e.To); n != nil {
			out = append(out, n)
		}
	}
	for e := range x.EdgesTo(obj.ID, EdgePeer) {
		if n := x.s.Node(e.From); n != nil {
			out = append(out, n)
		}
	}
	return out
}

// viaPeerEdge says how two objects joined by a peer edge connect their holders.
func viaPeerEdge(obj *Node) Via {
	if obj.Object != nil && obj.Socket != nil {
		switch {
		case obj.Socket.Family == "unix":
			return ViaUnix
		case obj.Socket.Protocol == "tcp":
			return ViaTCP
		case obj.Socket.Protocol == "udp":
			return ViaUDP
		}
		return ViaSocket
	}
	return ViaPTY
}

// viaSameObject says how two descriptions of one object connect their
// holders, or "" when holding the same object makes no connection worth
// showing (a directory, a device such as /dev/null, an anon inode).
func viaSameObject(obj *Node) Via {
	switch obj.Kind {
	case KindPipe:
		return ViaPipe
	case KindFIFO:
		return ViaFIFO
	case KindFile:
		return ViaFile
	}
	return ""
}

// peerHops returns, for one fd of a process, the fds of other processes at
// the other end, each with how they connect.
func (x *Index) peerHops(h hop, visit func(peer hop, via Via)) {
	if h.ofd == nil {
		return
	}
	self := h.proc.ID
	// 1. Other fds on the same description.
	for _, p := range x.holdersOfOFD(h.ofd, h.obj) {
		if p.proc.ID != self {
			visit(p, ViaSharedOFD)
		}
	}
	if h.obj == nil {
		return
	}
	// 2. Other descriptions of the same object.
	if via := viaSameObject(h.obj); via != "" {
		for e := range x.EdgesTo(h.obj.ID, EdgeObject) {
			if e.From == h.ofd.ID {
				continue
			}
			ofd := x.s.Node(e.From)
			if ofd == nil {
				continue
			}
			for _, p := range x.holdersOfOFD(ofd, h.obj) {
				if p.proc.ID != self {
					visit(p, via)
				}
			}
		}
	}
	// 3. The holders of the object at the other end of a peer edge.
	for _, po := range x.peerObjects(h.obj) {
		via := viaPeerEdge(h.obj)
		for _, p := range x.holdersOfObject(po) {
			if p.proc.ID != self {
				visit(p, via)
			}
		}
	}
}

// Peers returns the connections from the process with the given pid to
// other processes, sorted by fd, peer pid, peer fd and via; nil when there
// is no such process. Connections of a process to itself are left out.
func (x *Index) Peers(pid int) []Peer {
	proc := x.procs[pid]
	if proc == nil {
		return nil
	}
	out := []Peer{}
	for _, h := range x.fds(proc) {
		x.peerHops(h, func(p hop, via Via) {
			row := Peer{
				FD: fdNum(h.fd), Kind: kindOf(h.obj), PeerPID: p.proc.PID, PeerFD: fdNum(p.fd), Via: via,
				Object: idOf(h.obj), PeerObject: idOf(p.obj), PeerProcess: p.proc.ID,
			}
			if p.proc.Process != nil {
				row.PeerComm = p.proc.Process.Comm
			}
			out = append(out, row)
		})
	}
	slices.SortFunc(out, func(a, b Peer) int {
		return cmp.Or(cmp.Compare(a.FD, b.FD), cmp.Compare(a.PeerPID, b.PeerPID), cmp.Compare(a.PeerFD, b.PeerFD),
			cmp.Compare(a.Via, b.Via), cmp.Compare(a.PeerObject, b.PeerObject))
	})
	return slices.Compact(out)
}

func kindOf(n *Node) Kind {
	if n == nil {
		return KindUnknown
	}
	return n.Kind
}

func idOf(n *Node) string {
	if n == nil {
		return ""
	}
	return n.ID
}

// Focus returns the focus subgraph of the process with the given pid, or
// nil when there is no such process. The subgraph holds the process; its
// fds, their descriptions and objects; the objects of its cwd, root and exe;
// and, for every peer (see Peers), the peer process with the fd, description
// and object on the path. Its edges are every edge of s between two of those
// nodes. Stats are those of the whole snapshot.
func (x *Index) Focus(pid int) *Snapshot {
	proc := x.procs[pid]
	if proc == nil {
		return nil
	}
	set := map[string]*Node{proc.ID: proc}
	add := func(ns ...*Node) {
		for _, n := range ns {
			if n != nil {
				set[n.ID] = n
			}
		}
	}
	for _, k := range []EdgeKind{EdgeCwd, EdgeRoot, EdgeExe} {
		for e := range x.edgesFrom(proc.ID, k) {
			add(x.s.Node(e.To))
		}
	}
	for _, h := range x.fds(proc) {
		add(h.fd, h.ofd, h.obj)
		x.peerHops(h, func(p hop, _ Via) { add(p.proc, p.fd, p.ofd, p.obj) })
	}
	nodes := make([]*Node, 0, len(set))
	var edges []Edge
	for id, n := range set {
		nodes = append(nodes, n)
		for _, e := range x.s.EdgesFrom(id) {
			if set[e.To] != nil {
				edges = append(edges, e)
			}
		}
	}
	return New(nodes, edges, x.s.Stats)
}

// Processes returns one row per process, sorted by pid. Its cost is that
// of walking every fd once plus, per process, the sizes of the holder sets
// of its descriptions and objects.
func (x *Index) Processes() []ProcessRow {
	out := make([]ProcessRow, 0, len(x.procs))
	h := x.holders()
	stamp := make([]int32, len(h.procs))
	for _, n := range x.s.Nodes {
		if n.Kind != KindProcess {
			continue
		}
		out = append(out, x.row(h, n, stamp))
	}
	slices.SortFunc(out, func(a, b ProcessRow) int { return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.ID, b.ID)) })
	return out
}

func (x *Index) row(h *holderTables, proc *Node, stamp []int32) ProcessRow {
	r := ProcessRow{ID: proc.ID, PID: proc.PID, Error: proc.Error}
	if p := proc.Process; p != nil {
		r.PPID, r.Comm, r.User, r.UID, r.FDCount = p.PPID, p.Comm, p.User, p.UID, p.FDCount
	}
	if i, ok := h.index[proc.ID]; ok {
		r.Sockets, r.Pipes = h.sockets[i], h.pipes[i]
	}
	r.Peers = len(x.peerSet(h, proc, stamp, false))
	return r
}

func (x *Index) holders() *holderTables {
	h := &holderTables{index: map[string]int32{}, ofdHolders: map[string][]int32{}, objHolders: map[string][]int32{}}
	for _, n := range x.s.Nodes {
		if n.Kind == KindProcess {
			h.index[n.ID] = int32(len(h.procs))
			h.procs = append(h.procs, n)
		}
	}
	h.ofds = make([][]string, len(h.procs))
	h.objs = make([][]*Node, len(h.procs))
	h.sockets = make([]int, len(h.procs))
	h.pipes = make([]int, len(h.procs))
	add := func(m map[string][]int32, key string, p int32) {
		if l := m[key]; len(l) == 0 || l[len(l)-1] != p {
			m[key] = append(l, p) // processes are visited in order: ascending, no repeats
		}
	}
	for p, proc := range h.procs {
		pi := int32(p)
		seenOFD := map[string]bool{}
		seenObj := map[string]bool{}
		for _, hp := range x.fds(proc) {
			switch kindOf(hp.obj) {
			case KindSocket:
				h.sockets[p]++
			case KindPipe, KindFIFO:
				h.pipes[p]++
			}
			if hp.ofd == nil || seenOFD[hp.ofd.ID] {
				continue
			}
			seenOFD[hp.ofd.ID] = true
			h.ofds[p] = append(h.ofds[p], hp.ofd.ID)
			add(h.ofdHolders, hp.ofd.ID, pi)
			if hp.obj != nil && !seenObj[hp.obj.ID] {
				seenObj[hp.obj.ID] = true
				h.objs[p] = append(h.objs[p], hp.obj)
				add(h.objHolders, hp.obj.ID, pi)
			}
		}
	}
	return h
}

// peerSet returns the indexes (into h.procs) of the peer processes of proc: what Peers would list, each process once. With socketsOnly, only
// the holders of the far end of a peer edge count. stamp, when not nil, is
// scratch space of one int32 per process, all different from the index of
// proc plus one.
func (x *Index) peerSet(h *holderTables, proc *Node, stamp []int32, socketsOnly bool) []int32 {
	self, ok := h.index[proc.ID]
	if !ok {
		return nil
	}
	if stamp == nil {
		stamp = make([]int32, len(h.procs))
	}
	mark := self + 1
	stamp[self] = mark
	var out []int32
	union := func(l []int32) {
		for _, p := range l {
			if stamp[p] != mark {
				stamp[p] = mark
				out = append(out, p)
			}
		}
	}
	if !socketsOnly {
		for _, o := range h.ofds[self] {
			union(h.ofdHolders[o])
		}
	}
	for _, obj := range h.objs[self] {
		if !socketsOnly && viaSameObject(obj) != "" {
			union(h.objHolders[obj.ID])
		}
		for _, po := range x.peerObjects(obj) {
			union(h.objHolders[po.ID])
		}
	}
	slices.Sort(out)
	return out
}

// Row returns the process-list row of the process with the given pid.
func (x *Index) Row(pid int) (ProcessRow, bool) {
	proc := x.procs[pid]
	if proc == nil {
		return ProcessRow{}, false
	}
	return x.row(x.holders(), proc, nil), true
}

// RowChanges is what changed in the process list from one snapshot to the
// next: rows added or changed (the new version), and the IDs of rows removed.
// Both slices are sorted and never nil.
type RowChanges struct {
	Changed []ProcessRow `json:"changed"`
	Removed []string     `json:"removed"`
}

// Empty reports whether nothing changed.
func (c *RowChanges) Empty() bool { return len(c.Changed) == 0 && len(c.Removed) == 0 }

// DiffRows compares two process lists sorted as Processes returns them.
func DiffRows(old, new []ProcessRow) *RowChanges {
	c := &RowChanges{Changed: []ProcessRow{}, Removed: []string{}}
	prev := make(map[string]ProcessRow, len(old))
	for _, r := range old {
		prev[r.ID] = r
	}
	seen := make(map[string]bool, len(new))
	for _, r := range new {
		seen[r.ID] = true
		if o, ok := prev[r.ID]; !ok || o != r {
			c.Changed = append(c.Changed, r)
		}
	}
	for _, r := range old {
		if !seen[r.ID] {
			c.Removed = append(c.Removed, r.ID)
		}
	}
	slices.Sort(c.Removed)
	return c
}

// ApplyRows returns the process list that results from applying c to rows,
// sorted as Processes returns it; rows is not modified.
func ApplyRows(rows []ProcessRow, c *RowChanges) []ProcessRow {
	gone := make(map[string]bool, len(c.Removed)+len(c.Changed))
	for _, id := range c.Removed {
		gone[id] = true
	}
	for _, r := range c.Changed {
		gone[r.ID] = true
	}
	out := make([]ProcessRow, 0, len(rows)+len(c.Changed))
	for _, r := range rows {
		if !gone[r.ID] {
			out = append(out, r)
		}
	}
	out = append(out, c.Changed...)
	slices.SortFunc(out, func(a, b ProcessRow) int { return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.ID, b.ID)) })
	return out
}

// HolderPIDs returns the pids of the processes that hold an fd leading to
// the object with the given ID, sorted and without repeats.
func (x *Index) HolderPIDs(objectID string) []int {
	obj := x.s.Node(objectID)
	if obj == nil {
		return nil
	}
	var out []int
	for _, h := range x.holdersOfObject(obj) {
		out = append(out, h.proc.PID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// PeerPIDs returns the pids of the peers of the process with the given pid
// (see Peers), sorted and without repeats.
func (x *Index) PeerPIDs(pid int) []int { return x.peerPIDs(pid, false) }

// SocketPeerPIDs returns the pids of the processes that hold the far end of
// a connection (a peer edge: sockets, ptys) of the process with the given
// pid, sorted and without repeats. These are the processes whose graph
// changes when a connection of pid's opens or closes.
func (x *Index) SocketPeerPIDs(pid int) []int { return x.peerPIDs(pid, true) }

func (x *Index) peerPIDs(pid int, socketsOnly bool) []int {
	proc := x.procs[pid]
	if proc == nil {
		return nil
	}
	h := x.holders()
	var out []int
	for _, p := range x.peerSet(h, proc, nil, socketsOnly) {
		out = append(out, h.procs[p].PID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
