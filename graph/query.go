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
	ViaUDP       Via = "udp"        // a local connected UDP pair, or a sender connected to a bound receiver
	ViaPTY       Via = "pty"        // a pty master and its slave
	ViaPipe      Via = "pipe"       // the other end (or another description) of an anonymous pipe
	ViaFIFO      Via = "fifo"       // another description of the same named pipe
	ViaSharedOFD Via = "shared-ofd" // the same open file description (fork, dup over SCM_RIGHTS)
	ViaFile      Via = "file"       // another description of the same regular file
	ViaSocket    Via = "socket"     // a peer edge between sockets of another family
)

// Relation says what a peer is to a process: whether data flows between
// them through the object, or they only hold the same thing.
type Relation string

// The relations of a peer, from the strongest.
const (
	// RelConnection: data flows between the two processes through the
	// object — the other end of a unix, TCP or UDP socket, the opposite end
	// of a pipe or FIFO (a reader for a writer, a writer for a reader), the
	// other side of a pty.
	RelConnection Relation = "connection"
	// RelShared: the very same open file description, inherited by fork or
	// passed by SCM_RIGHTS.
	RelShared Relation = "shared"
	// RelSameObject: separate descriptions of the same file, or of the same
	// end of a pipe or FIFO.
	RelSameObject Relation = "same-object"
)

// Peer is one connection from an fd of a process to an fd of another
// process: the row of GET /api/processes/{pid}/peers.
type Peer struct {
	FD       int      `json:"fd"`        // the fd of the process asked about
	Kind     Kind     `json:"kind"`      // the kind of the object behind FD
	PeerPID  int      `json:"peer_pid"`  // the process at the other end
	PeerComm string   `json:"peer_comm"` //
	PeerFD   int      `json:"peer_fd"`   // its fd
	Via      Via      `json:"via"`
	Relation Relation `json:"relation"`

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
	// Connections counts the distinct processes at the other end of a
	// connection (relation "connection"); SharedWith those that share an
	// open file description or hold the same object (relations "shared"
	// and "same-object"). A process can be in both.
	Connections int `json:"connections"`
	SharedWith  int `json:"shared_with"`
	// TGID is, for a thread with an fd table of its own, its process's
	// pid (Process.TGID).
	TGID  int    `json:"tgid,omitempty"`
	Error string `json:"error,omitempty"`
}

// Index answers questions about one snapshot: the peers of a process, its
// focus subgraph, the process list. Building it costs a pass over the nodes
// and two over the edges (a counting sort of the edges by their target);
// afterwards it is read-only and safe for concurrent use. The snapshot must
// not change while the Index is in use (snapshots never do).
//
// Inside, nodes are named by their position in s.Nodes and every walk goes
// from position to position: on a busy host a walk by ID would spend most
// of its time comparing strings in binary searches.
type Index struct {
	s *Snapshot
	// The edges out of s.Nodes[i] are s.Edges[outStart[i]:outStart[i+1]]
	// (s.Edges is sorted by source); the edges into it are the positions
	// in[inStart[i]:inStart[i+1]], in the order of s.Edges.
	outStart, inStart, in []int32
	// The positions of each edge's source and target.
	fromPos, toPos []int32
	procs          map[int]int32 // pid → position of its process node
	// hostProcs: host → pid → position, for the process nodes that carry
	// a Host (a hub's merged graph, where pids repeat across hosts).
	hostProcs map[string]map[int]int32
}

// NewIndex indexes s. A nil s stands for an empty snapshot.
func NewIndex(s *Snapshot) *Index {
	if s == nil {
		s = &Snapshot{}
	}
	n, m := len(s.Nodes), len(s.Edges)
	x := &Index{s: s, outStart: make([]int32, n+1), inStart: make([]int32, n+1),
		fromPos: make([]int32, m), toPos: make([]int32, m), procs: make(map[int]int32)}
	pos := make(map[string]int32, n)
	for i, nd := range s.Nodes {
		pos[nd.ID] = int32(i)
	}
	for i, e := range s.Edges {
		f, okf := pos[e.From]
		t, okt := pos[e.To]
		if !okf || !okt {
			f, t = -1, -1 // a dangling edge: never in a snapshot built by New
		} else {
			x.inStart[t+1]++
		}
		x.fromPos[i], x.toPos[i] = f, t
	}
	for i := 1; i <= n; i++ {
		x.inStart[i] += x.inStart[i-1]
	}
	// The edges out of a node start at the first edge whose source sorts
	// at or after it: one merge of the two sorted lists.
	e := 0
	for i, nd := range s.Nodes {
		for e < m && s.Edges[e].From < nd.ID {
			e++
		}
		x.outStart[i] = int32(e)
	}
	x.outStart[n] = int32(m)
	x.in = make([]int32, x.inStart[n])
	next := slices.Clone(x.inStart[:n])
	for i, t := range x.toPos {
		if t >= 0 {
			x.in[next[t]] = int32(i)
			next[t]++
		}
	}
	for i, nd := range s.Nodes {
		if nd.Kind != KindProcess {
			continue
		}
		// Host pids are unique within one scan; should a snapshot hold two
		// processes with one pid anyway, the later start wins.
		if old, ok := x.procs[nd.PID]; !ok || startTime(s.Nodes[old]) < startTime(nd) {
			x.procs[nd.PID] = int32(i)
		}
		if nd.Process != nil && nd.Process.Host != "" {
			if x.hostProcs == nil {
				x.hostProcs = map[string]map[int]int32{}
			}
			on := x.hostProcs[nd.Process.Host]
			if on == nil {
				on = map[int]int32{}
				x.hostProcs[nd.Process.Host] = on
			}
			if old, ok := on[nd.PID]; !ok || startTime(s.Nodes[old]) < startTime(nd) {
				on[nd.PID] = int32(i)
			}
		}
	}
	return x
}

// procPos returns the position of the process node with the given pid on
// the given host: with host "", the one that started last of every host's.
func (x *Index) procPos(host string, pid int) (int32, bool) {
	if host == "" {
		p, ok := x.procs[pid]
		return p, ok
	}
	p, ok := x.hostProcs[host][pid]
	return p, ok
}

func startTime(n *Node) uint64 {
	if n.Process == nil {
		return 0
	}
	return n.Process.StartTime
}

// Snapshot returns the indexed snapshot.
func (x *Index) Snapshot() *Snapshot { return x.s }

// Process returns the process node with the given pid, or nil. Where
// several hosts have a process with that pid (a hub's merged graph), it is
// the one that started last; ProcessOn names the host.
func (x *Index) Process(pid int) *Node { return x.ProcessOn("", pid) }

// ProcessOn returns the process node with the given pid on the given host
// (the node's Process.Host), or nil; host "" is any host, as Process.
func (x *Index) ProcessOn(host string, pid int) *Node {
	if p, ok := x.procPos(host, pid); ok {
		return x.s.Nodes[p]
	}
	return nil
}

// node returns the node at position p, nil for -1.
func (x *Index) node(p int32) *Node {
	if p < 0 {
		return nil
	}
	return x.s.Nodes[p]
}

// posOf returns the position of the node with the given ID.
func (x *Index) posOf(id string) (int32, bool) {
	p, ok := slices.BinarySearchFunc(x.s.Nodes, id, func(n *Node, id string) int { return cmp.Compare(n.ID, id) })
	return int32(p), ok
}

// outs yields the positions of the targets of the edges of the given kind out of p.
func (x *Index) outs(p int32, kind EdgeKind) iter.Seq[int32] {
	return func(yield func(int32) bool) {
		for i := x.outStart[p]; i < x.outStart[p+1]; i++ {
			if x.s.Edges[i].Kind == kind && x.toPos[i] >= 0 && !yield(x.toPos[i]) {
				return
			}
		}
	}
}

// ins yields the positions of the sources of the edges of the given kind into p.
func (x *Index) ins(p int32, kind EdgeKind) iter.Seq[int32] {
	return func(yield func(int32) bool) {
		for _, i := range x.in[x.inStart[p]:x.inStart[p+1]] {
			if x.s.Edges[i].Kind == kind && !yield(x.fromPos[i]) {
				return
			}
		}
	}
}

// hop is one fd of a process and what it leads to, as node positions.
type hop struct {
	proc, fd int32
	ofd      int32 // -1 when the fd could not be resolved
	obj      int32 // -1 when the description's object is unknown
}

// fds returns the fds of the process at position proc with their
// descriptions and objects, by fd number.
func (x *Index) fds(proc int32) []hop {
	var out []hop
	for fd := range x.outs(proc, EdgeFD) {
		out = append(out, x.resolve(proc, fd))
	}
	slices.SortFunc(out, func(a, b hop) int { return cmp.Compare(fdNum(x.s.Nodes[a.fd]), fdNum(x.s.Nodes[b.fd])) })
	return out
}

func (x *Index) resolve(proc, fd int32) hop {
	h := hop{proc: proc, fd: fd, ofd: -1, obj: -1}
	for o := range x.outs(fd, EdgeOFD) {
		h.ofd = o
		break
	}
	if h.ofd >= 0 {
		for o := range x.outs(h.ofd, EdgeObject) {
			h.obj = o
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

// holdersOfOFD returns every fd, with its process, whose description is ofd.
func (x *Index) holdersOfOFD(ofd, obj int32) []hop {
	var out []hop
	for fd := range x.ins(ofd, EdgeOFD) {
		for p := range x.ins(fd, EdgeFD) {
			out = append(out, hop{proc: p, fd: fd, ofd: ofd, obj: obj})
		}
	}
	return out
}

// HolderPIDs returns the pids of the processes that hold an fd leading to
// the object with the given ID, sorted and without repeats.
func (x *Index) HolderPIDs(objectID string) []int {
	obj, ok := x.posOf(objectID)
	if !ok {
		return nil
	}
	var out []int
	for _, h := range x.holdersOfObject(obj) {
		out = append(out, x.s.Nodes[h.proc].PID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SocketPeerPIDs returns the pids of the processes that hold the far end of
// a connection (a peer edge: sockets, ptys) of the process with the given
// pid, sorted and without repeats. These are the processes whose graph
// changes when a connection of pid's opens or closes. Its cost is that of
// a walk from the process's fds, not of the whole snapshot.
func (x *Index) SocketPeerPIDs(pid int) []int {
	proc, ok := x.procs[pid]
	if !ok {
		return nil
	}
	var out []int
	for fd := range x.outs(proc, EdgeFD) {
		h := x.resolve(proc, fd)
		if h.obj < 0 {
			continue
		}
		for _, far := range x.peerObjects(h.obj) {
			for _, p := range x.holdersOfObject(far) {
				if p.proc != proc {
					out = append(out, x.s.Nodes[p.proc].PID)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// holdersOfObject returns every fd, with its process and description, that leads to obj.
func (x *Index) holdersOfObject(obj int32) []hop {
	var out []hop
	for ofd := range x.ins(obj, EdgeObject) {
		out = append(out, x.holdersOfOFD(ofd, obj)...)
	}
	return out
}

// peerObjects returns the objects joined to obj by a peer edge, in either direction.
func (x *Index) peerObjects(obj int32) []int32 {
	var out []int32
	for o := range x.outs(obj, EdgePeer) {
		out = append(out, o)
	}
	for o := range x.ins(obj, EdgePeer) {
		out = append(out, o)
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

// accessOf says which ways data moves through a description: read, write or both.
func accessOf(ofd *Node) (r, w bool) {
	if ofd == nil || ofd.OFD == nil {
		return false, false
	}
	m := ofd.OFD.Mode
	return m == "r" || m == "rw", m == "w" || m == "rw"
}

// opposite reports whether data can flow between two descriptions of one
// pipe or FIFO: one of them reads what the other writes.
func opposite(a, b *Node) bool {
	ar, aw := accessOf(a)
	br, bw := accessOf(b)
	return ar && bw || aw && br
}

// peerHops calls visit with, for one fd of a process, every fd of another
// process at the other end, how they connect and what they are to each other.
func (x *Index) peerHops(h hop, visit func(peer hop, via Via, rel Relation)) {
	if h.ofd < 0 {
		return
	}
	// 1. Other fds on the same description.
	for _, p := range x.holdersOfOFD(h.ofd, h.obj) {
		if p.proc != h.proc {
			visit(p, ViaSharedOFD, RelShared)
		}
	}
	if h.obj < 0 {
		return
	}
	obj := x.s.Nodes[h.obj]
	// 2. Other descriptions of the same object: the other end of a pipe or
	// FIFO is a connection, the same end or the same file only the same object.
	if via := viaSameObject(obj); via != "" {
		for ofd := range x.ins(h.obj, EdgeObject) {
			if ofd == h.ofd {
				continue
			}
			rel := RelSameObject
			if via != ViaFile && opposite(x.s.Nodes[h.ofd], x.s.Nodes[ofd]) {
				rel = RelConnection
			}
			for _, p := range x.holdersOfOFD(ofd, h.obj) {
				if p.proc != h.proc {
					visit(p, via, rel)
				}
			}
		}
	}
	// 3. The holders of the object at the other end of a peer edge.
	for _, po := range x.peerObjects(h.obj) {
		via := viaPeerEdge(obj)
		for _, p := range x.holdersOfObject(po) {
			if p.proc != h.proc {
				visit(p, via, RelConnection)
			}
		}
	}
}

// Peers returns the connections from the process with the given pid to
// other processes, sorted by fd, peer pid, peer fd and via; nil when there
// is no such process. Connections of a process to itself are left out.
func (x *Index) Peers(pid int) []Peer { return x.PeersOn("", pid) }

// PeersOn is Peers of the process with the given pid on the given host
// (host "": any host, as Process).
func (x *Index) PeersOn(host string, pid int) []Peer {
	proc, ok := x.procPos(host, pid)
	if !ok {
		return nil
	}
	out := []Peer{}
	for _, h := range x.fds(proc) {
		x.peerHops(h, func(p hop, via Via, rel Relation) {
			pp := x.s.Nodes[p.proc]
			row := Peer{
				FD: fdNum(x.s.Nodes[h.fd]), Kind: kindOf(x.node(h.obj)), PeerPID: pp.PID, PeerFD: fdNum(x.s.Nodes[p.fd]),
				Via: via, Relation: rel,
				Object: idOf(x.node(h.obj)), PeerObject: idOf(x.node(p.obj)), PeerProcess: pp.ID,
			}
			if pp.Process != nil {
				row.PeerComm = pp.Process.Comm
			}
			out = append(out, row)
		})
	}
	slices.SortFunc(out, func(a, b Peer) int {
		return cmp.Or(cmp.Compare(a.FD, b.FD), cmp.Compare(a.PeerPID, b.PeerPID), cmp.Compare(a.PeerFD, b.PeerFD),
			cmp.Compare(a.Via, b.Via), cmp.Compare(a.Relation, b.Relation), cmp.Compare(a.PeerObject, b.PeerObject))
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
// what its epoll and inotify instances watch; its threads with an fd
// table of their own (or, for such a thread, its process); and, for every
// peer (see Peers), the peer process with the fd, description and object
// on the path. Its edges are every edge of s between two of those nodes. Stats
// are those of the whole snapshot.
func (x *Index) Focus(pid int) *Snapshot { return x.FocusOn("", pid) }

// FocusOn is Focus of the process with the given pid on the given host
// (host "": any host, as Process).
func (x *Index) FocusOn(host string, pid int) *Snapshot {
	proc, ok := x.procPos(host, pid)
	if !ok {
		return nil
	}
	set := map[int32]bool{proc: true}
	add := func(ps ...int32) {
		for _, p := range ps {
			if p >= 0 {
				set[p] = true
			}
		}
	}
	for _, k := range []EdgeKind{EdgeCwd, EdgeRoot, EdgeExe} {
		for o := range x.outs(proc, k) {
			add(o)
		}
	}
	// Its threads with an fd table of their own, or the process of such
	// a thread.
	for t := range x.outs(proc, EdgeThread) {
		add(t)
	}
	for l := range x.ins(proc, EdgeThread) {
		add(l)
	}
	for _, h := range x.fds(proc) {
		add(h.fd, h.ofd, h.obj)
		x.peerHops(h, func(p hop, _ Via, _ Relation) { add(p.proc, p.fd, p.ofd, p.obj) })
		if h.obj < 0 {
			continue
		}
		// What its epoll and inotify instances watch: descriptions (with
		// their objects) and inodes, held by any process or by none.
		for w := range x.outs(h.obj, EdgeWatch) {
			add(w)
			if x.s.Nodes[w].Kind == KindOFD {
				for o := range x.outs(w, EdgeObject) {
					add(o)
				}
			}
		}
	}
	nodes := make([]*Node, 0, len(set))
	var edges []Edge
	for p := range set {
		nodes = append(nodes, x.s.Nodes[p])
		for i := x.outStart[p]; i < x.outStart[p+1]; i++ {
			if x.toPos[i] >= 0 && set[x.toPos[i]] {
				edges = append(edges, x.s.Edges[i])
			}
		}
	}
	return New(nodes, edges, x.s.Stats)
}

// holderTables say which processes hold each description and each object,
// so that the peers of every process can be counted without walking the
// same crowded pipe once per fd (a pipe shared by a forked group of 500
// processes is held 500 times over). They are built for one question and
// dropped.
type holderTables struct {
	procs []int32         // process index → node position
	index map[int32]int32 // node position → process index
	// per process: the descriptions its fds lead to, each once, with the
	// object of each (-1 when unknown); and the objects, each once
	ofds, ofdObjs, objs [][]int32
	// per process: fds that lead to a socket, to a pipe or fifo
	sockets, pipes []int
	// distinct holders (process indexes), ascending
	ofdHolders, objHolders map[int32][]int32
}

func (x *Index) holders() *holderTables {
	h := &holderTables{index: map[int32]int32{}, ofdHolders: map[int32][]int32{}, objHolders: map[int32][]int32{}}
	for i, n := range x.s.Nodes {
		if n.Kind == KindProcess {
			h.index[int32(i)] = int32(len(h.procs))
			h.procs = append(h.procs, int32(i))
		}
	}
	h.ofds = make([][]int32, len(h.procs))
	h.ofdObjs = make([][]int32, len(h.procs))
	h.objs = make([][]int32, len(h.procs))
	h.sockets = make([]int, len(h.procs))
	h.pipes = make([]int, len(h.procs))
	add := func(m map[int32][]int32, key, p int32) {
		if l := m[key]; len(l) == 0 || l[len(l)-1] != p {
			m[key] = append(l, p) // processes are visited in order: ascending, no repeats
		}
	}
	for p, proc := range h.procs {
		pi := int32(p)
		seenOFD := map[int32]bool{}
		seenObj := map[int32]bool{}
		for fd := range x.outs(proc, EdgeFD) {
			hp := x.resolve(proc, fd)
			switch kindOf(x.node(hp.obj)) {
			case KindSocket:
				h.sockets[p]++
			case KindPipe, KindFIFO:
				h.pipes[p]++
			}
			if hp.ofd < 0 || seenOFD[hp.ofd] {
				continue
			}
			seenOFD[hp.ofd] = true
			h.ofds[p] = append(h.ofds[p], hp.ofd)
			h.ofdObjs[p] = append(h.ofdObjs[p], hp.obj)
			add(h.ofdHolders, hp.ofd, pi)
			if hp.obj >= 0 && !seenObj[hp.obj] {
				seenObj[hp.obj] = true
				h.objs[p] = append(h.objs[p], hp.obj)
				add(h.objHolders, hp.obj, pi)
			}
		}
	}
	return h
}

// peerSets returns the indexes (into h.procs) of the peer processes of the
// process at position proc, each process once: those at the other end of a
// connection, and those that share a description or hold the same object
// (see Relation). A process can be in both. stampC and stampS, when not
// nil, are scratch space of one int32 per process, none equal to the
// process's index plus one.
func (x *Index) peerSets(h *holderTables, proc int32, stampC, stampS []int32) (conn, shared []int32) {
	self, ok := h.index[proc]
	if !ok {
		return nil, nil
	}
	if stampC == nil {
		stampC, stampS = make([]int32, len(h.procs)), make([]int32, len(h.procs))
	}
	mark := self + 1
	stampC[self], stampS[self] = mark, mark
	union := func(out *[]int32, stamp []int32, l []int32) {
		for _, p := range l {
			if stamp[p] != mark {
				stamp[p] = mark
				*out = append(*out, p)
			}
		}
	}
	for i, o := range h.ofds[self] {
		union(&shared, stampS, h.ofdHolders[o])
		obj := h.ofdObjs[self][i]
		if obj < 0 {
			continue
		}
		switch via := viaSameObject(x.s.Nodes[obj]); via {
		case "", ViaFile:
		default:
			// A pipe or fifo: the holders of a description at the other
			// end are connections, of one at the same end the same object.
			for d := range x.ins(obj, EdgeObject) {
				if d == o {
					continue
				}
				if opposite(x.s.Nodes[o], x.s.Nodes[d]) {
					union(&conn, stampC, h.ofdHolders[d])
				} else {
					union(&shared, stampS, h.ofdHolders[d])
				}
			}
		}
	}
	for _, obj := range h.objs[self] {
		if viaSameObject(x.s.Nodes[obj]) == ViaFile {
			union(&shared, stampS, h.objHolders[obj])
		}
		for _, po := range x.peerObjects(obj) {
			union(&conn, stampC, h.objHolders[po])
		}
	}
	slices.Sort(conn)
	slices.Sort(shared)
	return conn, shared
}

// unionSize is the size of the union of two sorted sets.
func unionSize(a, b []int32) int {
	n, i, j := 0, 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			i++
		case i == len(a) || b[j] < a[i]:
			j++
		default:
			i, j = i+1, j+1
		}
		n++
	}
	return n
}

// Processes returns one row per process, sorted by pid. Its cost is that
// of walking every fd once plus, per process, the sizes of the holder sets
// of its descriptions and objects.
func (x *Index) Processes() []ProcessRow {
	h := x.holders()
	out := make([]ProcessRow, 0, len(h.procs))
	stampC, stampS := make([]int32, len(h.procs)), make([]int32, len(h.procs))
	for _, p := range h.procs {
		out = append(out, x.row(h, p, stampC, stampS))
	}
	slices.SortFunc(out, func(a, b ProcessRow) int { return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.ID, b.ID)) })
	return out
}

func (x *Index) row(h *holderTables, proc int32, stampC, stampS []int32) ProcessRow {
	n := x.s.Nodes[proc]
	r := ProcessRow{ID: n.ID, PID: n.PID, Error: n.Error}
	if p := n.Process; p != nil {
		r.PPID, r.Comm, r.User, r.UID, r.FDCount, r.TGID = p.PPID, p.Comm, p.User, p.UID, p.FDCount, p.TGID
	}
	if i, ok := h.index[proc]; ok {
		r.Sockets, r.Pipes = h.sockets[i], h.pipes[i]
	}
	conn, shared := x.peerSets(h, proc, stampC, stampS)
	r.Peers, r.Connections, r.SharedWith = unionSize(conn, shared), len(conn), len(shared)
	return r
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
