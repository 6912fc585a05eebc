// Package graph is fdscope's model of what Linux processes are connected to:
// processes → file descriptors → open file descriptions → kernel objects
// (files, pipes, sockets, anon inodes, ...), with the edges that join them and
// the peers at the other end of each connection.
//
// A Snapshot is one immutable, sorted scan of the machine. Diff compares two
// snapshots and Apply replays a diff, which is what the live dashboard streams.
// The JSON form of a Snapshot is fdscope's stable graph contract, documented in
// docs/graph.md.
//
// The package uses the standard library only and performs no I/O: building a
// snapshot from the live kernel is the job of package graph/scan.
package graph

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Kind is the kind of a node.
type Kind string

// Node kinds. Process, FD and OFD are the three tables of the classic
// "everything is a file" figure; the rest are kinds of kernel object.
const (
	KindProcess Kind = "process"
	KindFD      Kind = "fd"
	KindOFD     Kind = "ofd" // open file description

	KindFile    Kind = "file"    // regular file
	KindDir     Kind = "dir"     // directory
	KindChr     Kind = "chr"     // character device (ttys, ptys, /dev/null, ...)
	KindBlk     Kind = "blk"     // block device
	KindFIFO    Kind = "fifo"    // named pipe
	KindSymlink Kind = "symlink" // a symlink itself, held through O_PATH|O_NOFOLLOW
	KindPipe    Kind = "pipe"    // anonymous pipe
	KindSocket  Kind = "socket"
	KindAnon    Kind = "anon"    // anon inode: eventfd, eventpoll, timerfd, signalfd, pidfd, ...
	KindMemfd   Kind = "memfd"   // memfd_create(2)
	KindMqueue  Kind = "mqueue"  // POSIX message queue
	KindNsfs    Kind = "nsfs"    // namespace file (net:[4026531840])
	KindUnknown Kind = "unknown" // an fd whose target could not be read or classified
)

// IsObject reports whether k is a kind of kernel object (not process, fd or ofd).
func (k Kind) IsObject() bool {
	return k != KindProcess && k != KindFD && k != KindOFD && k != ""
}

// EdgeKind is the kind of an edge.
type EdgeKind string

// Edge kinds.
const (
	EdgeFD       EdgeKind = "fd"       // process → fd
	EdgeOFD      EdgeKind = "ofd"      // fd → ofd
	EdgeObject   EdgeKind = "object"   // ofd → object
	EdgePeer     EdgeKind = "peer"     // one end of a connection → the other (one edge per pair, from < to)
	EdgeAccepted EdgeKind = "accepted" // listening socket → a socket accepted from it
	EdgeWatch    EdgeKind = "watch"    // epoll/inotify → what it watches
	EdgeChild    EdgeKind = "child"    // process → child process
	EdgeThread   EdgeKind = "thread"   // process → a thread of it with its own fd table
	EdgeCwd      EdgeKind = "cwd"      // process → its working directory
	EdgeRoot     EdgeKind = "root"     // process → its root directory
	EdgeExe      EdgeKind = "exe"      // process → its executable
)

// Node is one vertex of the graph. ID and Kind are always set; exactly one of
// the detail structs is set, according to Kind (Object for every object kind).
// The JSON form flattens the details into one object, as docs/graph.md shows.
//
// A Node in a Snapshot must not be modified.
type Node struct {
	ID    string `json:"id"`
	Kind  Kind   `json:"kind"`
	PID   int    `json:"pid,omitempty"`   // process, fd
	NetNS uint64 `json:"netns,omitempty"` // process, socket: network namespace inode
	Error string `json:"error,omitempty"` // what could not be read about this node

	*Process
	*FD
	*OFD
	*Object
}

// Process holds the details of a KindProcess node.
type Process struct {
	PPID      int    `json:"ppid"`
	Comm      string `json:"comm"`
	Cmdline   string `json:"cmdline"`
	UID       int    `json:"uid"`
	User      string `json:"user"`
	StartTime uint64 `json:"start_time"` // clock ticks after boot, field 22 of /proc/PID/stat
	MntNS     uint64 `json:"mntns,omitempty"`
	PidNS     uint64 `json:"pidns,omitempty"`
	// Cgroup is the process's cgroup: its path in the unified (v2)
	// hierarchy, or in systemd's named v1 hierarchy ("" when unknown).
	Cgroup  string `json:"cgroup,omitempty"`
	Threads int    `json:"threads,omitempty"`
	FDCount int    `json:"fd_count"` // fds in the table, whether or not they could be read
	// Host is the name of the host the process runs on, set by a hub that
	// merges the graphs of several hosts (package hub); "" on one host.
	Host string `json:"host,omitempty"`
	// TGID is set on the node of a thread that has an fd table of its own
	// (it was cloned without CLONE_FILES, or unshared it): the pid of its
	// process. Such a thread is a node of kind process, with the thread's
	// id as its pid and the fds of its own table; its process has a
	// thread edge to it. 0 for a process.
	TGID int `json:"tgid,omitempty"`
}

// FD holds the details of a KindFD node.
type FD struct {
	Num     int  `json:"fd"`
	CloExec bool `json:"cloexec"`
}

// OFD holds the details of a KindOFD node: an open file description, which
// dup(2), fork(2) and SCM_RIGHTS share between fds.
type OFD struct {
	Mode string `json:"mode"` // "r", "w" or "rw" ("" for O_PATH)
	// Flags are the description's status flags by their O_* names, sorted,
	// access mode included (O_RDONLY, O_WRONLY or O_RDWR); O_CLOEXEC belongs
	// to the fd and is never listed here.
	Flags []string `json:"flags"`
	Pos   int64    `json:"pos"`
	MntID int      `json:"mnt_id,omitempty"`
	// Sharers is how many fds share this description.
	Sharers int `json:"sharers"`
}

// Object holds the details of every object kind.
type Object struct {
	Inode   uint64 `json:"inode"`
	Dev     string `json:"dev,omitempty"`  // "maj:min" of the filesystem
	RDev    string `json:"rdev,omitempty"` // "maj:min" of a device node
	Name    string `json:"name"`           // what readlink(/proc/PID/fd/N) shows
	Path    string `json:"path,omitempty"` // filesystem objects: the path, without " (deleted)"
	Deleted bool   `json:"deleted"`

	AnonType string `json:"anon_type,omitempty"` // anon: eventfd, eventpoll, timerfd, ...
	// Detail holds kind-specific facts in one line, such as an eventfd's
	// count, a timerfd's clock, a pidfd's target or a pty master's index.
	Detail string `json:"detail,omitempty"`

	*Socket
}

// Family is a socket's address family, named as fdscope's graph names it.
type Family string

// Socket families. Others are named by the kernel's number ("family 42").
const (
	FamilyUnix    Family = "unix"
	FamilyInet    Family = "inet"
	FamilyInet6   Family = "inet6"
	FamilyNetlink Family = "netlink"
	FamilyPacket  Family = "packet"
	FamilyVsock   Family = "vsock"
)

// IsInet reports whether f is inet or inet6: a socket with IP addresses and ports.
func (f Family) IsInet() bool { return f == FamilyInet || f == FamilyInet6 }

// Proto names the socket's protocol the way the diagrams and the page do:
// "unix stream", "tcp", "udp6", "netlink route", "packet raw".
func (s *Socket) Proto() string {
	switch {
	case s.Family.IsInet():
		p := s.Protocol
		if p == "" {
			p = s.Type
		}
		if s.Family == FamilyInet6 {
			p += "6"
		}
		return p
	case s.Family == FamilyNetlink:
		return strings.TrimSpace("netlink " + s.Protocol)
	case s.Family == "" || s.Family == "unknown":
		return strings.TrimSpace("socket " + s.Type)
	}
	return strings.TrimSpace(string(s.Family) + " " + s.Type)
}

// Class is what a socket is counted under in a summary: its protocol for
// inet and inet6 (tcp, udp, ...), its family otherwise (unix, netlink, ...).
func (s *Socket) Class() string {
	if s.Family.IsInet() && s.Protocol != "" {
		return s.Protocol
	}
	if s.Family == "" {
		return "unknown"
	}
	return string(s.Family)
}

// Socket holds the details of a KindSocket node.
type Socket struct {
	Family   Family `json:"family"`             // unix, inet, inet6, netlink, packet, vsock, ...
	Type     string `json:"type,omitempty"`     // stream, dgram, seqpacket, raw
	Protocol string `json:"protocol,omitempty"` // tcp, udp, icmp, ...; netlink: route, sock_diag, ...
	State    string `json:"state,omitempty"`    // listen, established, close_wait, ... (lower case)
	Local    string `json:"local"`              // 127.0.0.1:22222, [::1]:80, /tmp/x.sock, @abstract, ""
	Remote   string `json:"remote"`
	RxQueue  uint32 `json:"rx_queue"`
	TxQueue  uint32 `json:"tx_queue"`
	// InFlight counts fds queued on this socket by SCM_RIGHTS and not yet received.
	InFlight int `json:"in_flight,omitempty"`
}

// Equal reports whether two nodes carry the same facts.
func (n *Node) Equal(m *Node) bool {
	if n == m {
		return true
	}
	if n == nil || m == nil {
		return false
	}
	if n.ID != m.ID || n.Kind != m.Kind || n.PID != m.PID || n.NetNS != m.NetNS || n.Error != m.Error {
		return false
	}
	if !ptrEqual(n.Process, m.Process) || !ptrEqual(n.FD, m.FD) || !ofdEqual(n.OFD, m.OFD) {
		return false
	}
	if (n.Object == nil) != (m.Object == nil) {
		return false
	}
	if n.Object == nil {
		return true
	}
	a, b := *n.Object, *m.Object
	if !ptrEqual(a.Socket, b.Socket) {
		return false
	}
	a.Socket, b.Socket = nil, nil
	return a == b
}

func ofdEqual(a, b *OFD) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Mode == b.Mode && a.Pos == b.Pos && a.MntID == b.MntID && a.Sharers == b.Sharers &&
		slices.Equal(a.Flags, b.Flags)
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Edge is a directed edge between two nodes.
type Edge struct {
	From string   `json:"from"`
	To   string   `json:"to"`
	Kind EdgeKind `json:"kind"`
}

func compareNodes(a, b *Node) int { return cmp.Compare(a.ID, b.ID) }

func compareEdges(a, b Edge) int {
	return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.To, b.To))
}

// Stats says what a scan saw and what it could not see.
type Stats struct {
	StartedAt time.Time `json:"started_at"`
	// DurationMS is the wall time of the scan in milliseconds.
	DurationMS float64 `json:"duration_ms"`

	Processes int `json:"processes"`
	FDs       int `json:"fds"`
	OFDs      int `json:"ofds"`
	Objects   int `json:"objects"`
	Sockets   int `json:"sockets"`
	// NetNamespaces is how many network namespaces were asked for sockets.
	NetNamespaces int `json:"net_namespaces"`

	// DeniedProcesses had an fd table that could not be read (the process
	// node carries the reason in its error field); DeniedFDs could not be
	// resolved although the table listed them.
	DeniedProcesses int `json:"denied_processes"`
	DeniedFDs       int `json:"denied_fds"`
	// VanishedProcesses and VanishedFDs went away while being scanned.
	VanishedProcesses int `json:"vanished_processes"`
	VanishedFDs       int `json:"vanished_fds"`

	// Sharing is how fds that share one open file description were found:
	// "kcmp", "bpf" (by their struct file, as the BPF iterator read it), or
	// "heuristic" where kcmp(2) was not permitted (see docs/graph.md).
	Sharing string `json:"sharing"`
	// Scanner is the backend that read the fds: "bpf" (a BPF iterator,
	// with /proc for the rest) or "procfs" (/proc alone).
	Scanner string `json:"scanner"`
	// ScannerFallback says why the scan fell back to "procfs" where "auto"
	// would have taken "bpf"; empty otherwise.
	ScannerFallback string `json:"scanner_fallback,omitempty"`
	// MissingFeatures lists kernel interfaces the scan could not use, with why,
	// e.g. "kcmp: operation not permitted".
	MissingFeatures []string `json:"missing_features"`
	// Errors lists unexpected failures that left a part of the graph incomplete.
	Errors []string `json:"errors"`
}

// Snapshot is one scan of the machine: nodes sorted by ID, edges sorted by
// (from, kind, to), no duplicates. A Snapshot is immutable once built and safe
// for concurrent reads.
type Snapshot struct {
	Nodes []*Node `json:"nodes"`
	Edges []Edge  `json:"edges"`
	Stats Stats   `json:"stats"`

	indexOnce sync.Once
	index     *Index
}

// Index returns the Index of s, built at the first call and shared by all
// later ones: the live server's loop, its clients and the history recorder
// all query the latest version, and indexing a busy host's graph takes
// tens of milliseconds. s must not change after the first call. A nil s
// stands for an empty snapshot.
func (s *Snapshot) Index() *Index {
	if s == nil {
		return NewIndex(nil)
	}
	s.indexOnce.Do(func() { s.index = NewIndex(s) })
	return s.index
}

// New builds a Snapshot from nodes and edges in any order. A later node with
// the same ID replaces an earlier one; duplicate edges collapse into one, and
// edges whose ends are not both nodes are dropped. Nil slices in stats become
// empty ones so that the JSON form never holds null. New does not modify
// nodes or edges.
func New(nodes []*Node, edges []Edge, stats Stats) *Snapshot {
	return newSnapshot(nodes, edges, stats, false)
}

// NewOwned is New for a caller that hands nodes and edges over: it sorts
// them in their own arrays, which it may overwrite, instead of copying them
// (for a scan of a busy host, ~10 MB less at the end of the build). The
// caller must not use nodes or edges afterwards.
func NewOwned(nodes []*Node, edges []Edge, stats Stats) *Snapshot {
	return newSnapshot(nodes, edges, stats, true)
}

// newSnapshot is New, writing into the arrays of nodes and edges when owned.
func newSnapshot(nodes []*Node, edges []Edge, stats Stats, owned bool) *Snapshot {
	// rank maps each ID first to its node's index in nodes (the last one
	// wins), and once the nodes are sorted to its place among them.
	rank := newIDRanks(len(nodes))
	rank.setAll(nodes)
	var out []*Node
	if owned {
		out = nodes[:0] // the i-th kept node goes to an index ≤ i, already read
	} else {
		out = make([]*Node, 0, len(nodes))
	}
	for i, n := range nodes {
		if r, _ := rank.get(n.ID); r == int32(i) {
			out = append(out, n)
		}
	}
	if owned {
		clear(nodes[len(out):]) // the replaced duplicates
	}
	sortParallel(out, sortNodes, compareNodes)
	rank.setAll(out)
	es := sortEdges(edges, out, rank, owned)
	return &Snapshot{Nodes: out, Edges: es, Stats: stats.withEmptyLists()}
}

// withEmptyLists returns s with empty lists for nil ones, so that the JSON
// form never holds null.
func (s Stats) withEmptyLists() Stats {
	if s.MissingFeatures == nil {
		s.MissingFeatures = []string{}
	}
	if s.Errors == nil {
		s.Errors = []string{}
	}
	return s
}

// sortEdges returns the edges whose ends are both in nodes (sorted by ID;
// rank gives each ID's index), sorted by (from, kind, to) and without
// duplicates. A busy host's snapshot has some 10⁵ edges: rather than
// comparing their ID strings, each edge is packed into one integer of its
// ends' ranks and its kind's rank, which sorts in the same order. When
// owned, the result is written into edges' array.
func sortEdges(edges []Edge, nodes []*Node, rank idRanks, owned bool) []Edge {
	kinds := edgeKinds(edges)
	if len(nodes) >= 1<<28 || len(kinds) > 16 {
		return sortEdgesByID(edges, rank)
	}
	keys := edgeKeys(edges, kinds, rank)
	sortParallel(keys, slices.Sort, cmp.Compare[uint64])
	keys = slices.Compact(keys)
	if n := len(keys); n > 0 && keys[n-1] == noEdge {
		keys = keys[:n-1] // the edges with an end that is not a node
	}
	var es []Edge
	if owned {
		es = edges[:len(keys)] // every edge was read into keys; len(keys) ≤ len(edges)
		clear(edges[len(keys):])
	} else {
		es = make([]Edge, len(keys))
	}
	for i, key := range keys {
		es[i] = Edge{From: nodes[key>>32].ID, To: nodes[key&(1<<28-1)].ID, Kind: kinds[key>>28&15]}
	}
	return es
}

// noEdge is edgeKeys' key for an edge that is not kept: it sorts last, and
// no edge's key has its top bits set.
const noEdge = ^uint64(0)

// edgeKeys packs each edge into one integer: its ends' ranks and its
// kind's index in kinds; noEdge for an edge whose ends are not both nodes.
// Chunks of edges are packed in parallel (rank is only read).
func edgeKeys(edges []Edge, kinds []EdgeKind, rank idRanks) []uint64 {
	keys := make([]uint64, len(edges))
	pack := func(lo, hi int) {
		for i, e := range edges[lo:hi] {
			from, ok := rank.get(e.From)
			to, ok2 := rank.get(e.To)
			if !ok || !ok2 {
				keys[lo+i] = noEdge
				continue
			}
			k, _ := slices.BinarySearch(kinds, e.Kind)
			keys[lo+i] = uint64(from)<<32 | uint64(k)<<28 | uint64(to)
		}
	}
	inParallel(len(edges), pack)
	return keys
}

// edgeKinds returns the distinct kinds of edges, sorted.
func edgeKinds(edges []Edge) []EdgeKind {
	var kinds []EdgeKind
	var last EdgeKind
	for _, e := range edges {
		if e.Kind == last && len(kinds) > 0 {
			continue // edges come in runs of one kind
		}
		last = e.Kind
		if !slices.Contains(kinds, e.Kind) {
			kinds = append(kinds, e.Kind)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// sortEdgesByID is sortEdges by comparing strings, for graphs too big to
// pack.
func sortEdgesByID(edges []Edge, rank idRanks) []Edge {
	es := make([]Edge, 0, len(edges))
	for _, e := range edges {
		if _, ok := rank.get(e.From); !ok {
			continue
		}
		if _, ok := rank.get(e.To); ok {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, compareEdges)
	return slices.Compact(es)
}

// Node returns the node with the given ID, or nil.
func (s *Snapshot) Node(id string) *Node {
	i, ok := slices.BinarySearchFunc(s.Nodes, id, func(n *Node, id string) int { return cmp.Compare(n.ID, id) })
	if !ok {
		return nil
	}
	return s.Nodes[i]
}

// EdgesFrom returns the edges that leave id, sorted by (kind, to).
func (s *Snapshot) EdgesFrom(id string) []Edge {
	lo, _ := slices.BinarySearchFunc(s.Edges, id, func(e Edge, id string) int { return cmp.Compare(e.From, id) })
	hi := lo
	for hi < len(s.Edges) && s.Edges[hi].From == id {
		hi++
	}
	return s.Edges[lo:hi]
}

// CountKinds returns how many nodes of each kind the snapshot holds.
func (s *Snapshot) CountKinds() map[Kind]int {
	m := make(map[Kind]int)
	for _, n := range s.Nodes {
		m[n.Kind]++
	}
	return m
}
