package history

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// Kinds of Event.
const (
	ProcessStart = "process_start"
	ProcessExit  = "process_exit"
	FDOpen       = "fd_open"
	FDClose      = "fd_close"
	ConnOpen     = "conn_open"
	ConnClose    = "conn_close"
	// Exec and Exit come from the kernel's proc connector, as they happen:
	// a process that runs between two scans shows there only.
	Exec = "exec"
	Exit = "exit"
)

// Sources of events.
const (
	SourceScan          = "scan"           // two versions of the graph differ
	SourceProcConnector = "proc_connector" // the kernel reported it
	// SourceKernel: a connection the kernel reported as it opened and
	// closed (package conntrace), which no scan saw.
	SourceKernel = "kernel"
)

// Event is one recorded change: a row of the events table and an element
// of GET /api/changes. Which fields are set depends on Kind (docs/history.md).
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	PID  int       `json:"pid"`
	Comm string    `json:"comm"`
	// FD is the fd of fd and connection events; -1 for process events.
	FD int `json:"fd"`
	// Name is a process's command line, or the name of the object behind FD.
	Name  string `json:"name"`
	Inode uint64 `json:"inode,omitempty"`
	// Addr is the local address of a socket (its path for a unix socket).
	Addr string `json:"addr,omitempty"`
	// The other end of a connection: a process (PeerPID > 0) or, for a
	// TCP or UDP socket whose other end is on another host or out of
	// sight, only PeerAddr (PeerPID 0, PeerFD -1). Events that are not
	// about a connection have PeerPID 0 and PeerFD -1.
	PeerPID   int    `json:"peer_pid"`
	PeerComm  string `json:"peer_comm,omitempty"`
	PeerFD    int    `json:"peer_fd"`
	PeerInode uint64 `json:"peer_inode,omitempty"`
	PeerAddr  string `json:"peer_addr,omitempty"`
	Via       string `json:"via,omitempty"`
	// Source is how the change was seen: SourceScan, SourceProcConnector
	// or SourceKernel.
	Source string `json:"source"`
}

// maxPairs bounds the connection events of one connection (a pipe held
// by many processes, each end by many fds, would give their product).
const maxPairs = 64

// end is one fd holding an object.
type end struct {
	proc *graph.Node
	fd   int
	mode string // the description's access mode: r, w or rw
}

// state is what events are computed from: a snapshot's processes, fds and
// connections by key. It holds nodes, not events: a version changes a
// handful of the tens of thousands of fds and connections, and only
// those become events (fdEvent, connEvent).
type state struct {
	procs map[string]*graph.Node // process node ID → node
	fds   map[string]fdRec       // fd node ID → what it holds
	conns map[connKey]connRec    // every pair of ends of every connection
}

// fdRec is an fd of a state: its process and the object it holds (nil if
// the snapshot has none).
type fdRec struct {
	proc *graph.Node
	num  int
	obj  *graph.Node
}

// connKey names one pair of ends of a connection across versions.
type connKey struct {
	via         graph.Via
	obj0, proc0 string
	fd0         int
	obj1, proc1 string // empty when the other end is out of sight
	fd1         int
}

// connRec is a pair of ends of a connection: the objects and processes
// at each end (obj1 and proc1 nil when the other end is out of sight).
type connRec struct {
	obj0, obj1, proc0, proc1 *graph.Node
}

// stateOf reads the processes, fds and connections of s. hint, the state
// of the previous version or nil, sizes the tables.
func stateOf(s *graph.Snapshot, hint *state) *state {
	st := &state{procs: map[string]*graph.Node{}, fds: map[string]fdRec{}, conns: map[connKey]connRec{}}
	if hint != nil {
		st.procs = make(map[string]*graph.Node, len(hint.procs))
		st.fds = make(map[string]fdRec, len(hint.fds))
		st.conns = make(map[connKey]connRec, len(hint.conns))
	}
	if s == nil {
		return st
	}
	ends := map[string][]end{} // object ID → the fds that hold it
	byPID := map[int]*graph.Node{}
	for _, n := range s.Nodes {
		if n.Kind == graph.KindProcess && n.Process != nil {
			st.procs[n.ID] = n
			byPID[n.PID] = n
		}
	}
	for _, n := range s.Nodes {
		if n.Kind != graph.KindFD || n.FD == nil {
			continue
		}
		proc := byPID[n.PID]
		if proc == nil {
			continue
		}
		rec := fdRec{proc: proc, num: n.FD.Num}
		for _, e := range s.EdgesFrom(n.ID) {
			if e.Kind != graph.EdgeOFD {
				continue
			}
			ofd := s.Node(e.To)
			for _, o := range s.EdgesFrom(e.To) {
				if o.Kind != graph.EdgeObject {
					continue
				}
				obj := s.Node(o.To)
				if obj == nil {
					continue
				}
				mode := ""
				if ofd != nil && ofd.OFD != nil {
					mode = ofd.OFD.Mode
				}
				ends[obj.ID] = append(ends[obj.ID], end{proc: proc, fd: n.FD.Num, mode: mode})
				rec.obj = obj
			}
		}
		st.fds[n.ID] = rec
	}
	s.Index().Conns(func(c *graph.Conn) {
		if c.Listen {
			return
		}
		a, b := ends[c.Objects[0].ID], []end(nil)
		if c.Objects[1] != nil {
			b = ends[c.Objects[1].ID]
		}
		if c.Objects[0] == c.Objects[1] { // a pipe or FIFO: writers to readers
			a = slices.DeleteFunc(slices.Clone(a), func(e end) bool { return !strings.Contains(e.mode, "w") })
			b = slices.DeleteFunc(slices.Clone(b), func(e end) bool { return !strings.Contains(e.mode, "r") })
		}
		pairs := 0
		add := func(x end, y *end) {
			if pairs == maxPairs {
				return
			}
			pairs++
			k := connKey{via: c.Via, obj0: c.Objects[0].ID, proc0: x.proc.ID, fd0: x.fd, fd1: -1}
			r := connRec{obj0: c.Objects[0], proc0: x.proc}
			if y != nil {
				k.obj1, k.proc1, k.fd1 = c.Objects[1].ID, y.proc.ID, y.fd
				r.obj1, r.proc1 = c.Objects[1], y.proc
			}
			st.conns[k] = r
		}
		for _, x := range a {
			if b == nil && c.Objects[1] == nil {
				add(x, nil)
				continue
			}
			for i := range b {
				add(x, &b[i])
			}
		}
	})
	return st
}

// fdEvent is the fd_open event (without time) of an fd.
func fdEvent(r fdRec) Event {
	ev := Event{Kind: FDOpen, PID: r.proc.PID, Comm: r.proc.Process.Comm, FD: r.num, PeerFD: -1, Source: SourceScan}
	if r.obj != nil && r.obj.Object != nil {
		ev.Name, ev.Inode = r.obj.Object.Name, r.obj.Object.Inode
		if r.obj.Object.Socket != nil {
			ev.Addr = r.obj.Object.Socket.Local
		}
	}
	return ev
}

// connEvent is the conn_open event (without time) of a pair of ends.
func connEvent(k connKey, r connRec) Event {
	ev := Event{Kind: ConnOpen, PID: r.proc0.PID, Comm: r.proc0.Process.Comm, FD: k.fd0, Via: string(k.via), Source: SourceScan,
		PeerFD: -1}
	ev.Name, ev.Inode, ev.Addr, _ = objectFacts(r.obj0)
	if r.proc1 != nil {
		ev.PeerPID, ev.PeerComm, ev.PeerFD = r.proc1.PID, r.proc1.Process.Comm, k.fd1
		_, ev.PeerInode, ev.PeerAddr, _ = objectFacts(r.obj1)
	} else {
		_, _, _, ev.PeerAddr = objectFacts(r.obj0)
	}
	return ev
}

// objectFacts returns what an event shows of an object.
func objectFacts(n *graph.Node) (name string, inode uint64, local, remote string) {
	if n == nil || n.Object == nil {
		return "", 0, "", ""
	}
	if n.Object.Socket != nil {
		local, remote = n.Object.Socket.Local, n.Object.Socket.Remote
	}
	return n.Object.Name, n.Object.Inode, local, remote
}

// diffStates returns the events that turn old into cur, in a stable
// order: exits and closes first, then starts and opens.
func diffStates(old, cur *state, t time.Time) []Event {
	var out []Event
	emit := func(ev Event, kind string) {
		ev.Time, ev.Kind = t, kind
		out = append(out, ev)
	}
	for _, k := range missingConns(old.conns, cur.conns) {
		emit(connEvent(k, old.conns[k]), ConnClose)
	}
	// An fd whose number now names another object (closed and opened
	// again between two versions, or replaced by dup2) closed and opened.
	replaced := replacedFDs(old.fds, cur.fds)
	for _, k := range sortedUnion(missing(old.fds, cur.fds), replaced) {
		emit(fdEvent(old.fds[k]), FDClose)
	}
	for _, k := range missing(old.procs, cur.procs) {
		emit(processEvent(old.procs[k]), ProcessExit)
	}
	for _, k := range missing(cur.procs, old.procs) {
		emit(processEvent(cur.procs[k]), ProcessStart)
	}
	for _, k := range sortedUnion(missing(cur.fds, old.fds), replaced) {
		emit(fdEvent(cur.fds[k]), FDOpen)
	}
	for _, k := range missingConns(cur.conns, old.conns) {
		emit(connEvent(k, cur.conns[k]), ConnOpen)
	}
	return out
}

func processEvent(n *graph.Node) Event {
	ev := Event{PID: n.PID, FD: -1, PeerFD: -1, Source: SourceScan}
	if n.Process != nil {
		ev.Comm, ev.Name = n.Process.Comm, n.Process.Cmdline
	}
	return ev
}

// replacedFDs returns, sorted, the fds in both old and cur whose number
// names another object in cur.
func replacedFDs(old, cur map[string]fdRec) []string {
	var keys []string
	for k, o := range old {
		if c, ok := cur[k]; ok && !sameObject(c.obj, o.obj) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// sameObject reports whether two objects an fd held (nil for none) are
// one: the same inode and name.
func sameObject(a, b *graph.Node) bool {
	ia, na := objectName(a)
	ib, nb := objectName(b)
	return ia == ib && na == nb
}

// objectName is an object's inode and name (zero for nil).
func objectName(n *graph.Node) (uint64, string) {
	if n == nil || n.Object == nil {
		return 0, ""
	}
	return n.Object.Inode, n.Object.Name
}

// sortedUnion merges two sorted lists of distinct keys.
func sortedUnion(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// missing returns, sorted, the keys of a that b lacks: only those are
// sorted, usually a handful of the tens of thousands in a.
func missing[V, W any](a map[string]V, b map[string]W) []string {
	var keys []string
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// missingConns is missing for connections, in a stable order.
func missingConns(a, b map[connKey]connRec) []connKey {
	var keys []connKey
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y connKey) int {
		return cmp.Or(strings.Compare(string(x.via), string(y.via)),
			strings.Compare(x.obj0, y.obj0), strings.Compare(x.proc0, y.proc0), cmp.Compare(x.fd0, y.fd0),
			strings.Compare(x.obj1, y.obj1), strings.Compare(x.proc1, y.proc1), cmp.Compare(x.fd1, y.fd1))
	})
	return keys
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}
