package history

import (
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
// connections by key.
type state struct {
	procs map[string]*graph.Node // process node ID → node
	fds   map[string]Event       // fd node ID → fd_open event (without time)
	conns map[string]Event       // connection key → conn_open event (without time)
}

// stateOf reads the processes, fds and connections of s.
func stateOf(s *graph.Snapshot) *state {
	st := &state{procs: map[string]*graph.Node{}, fds: map[string]Event{}, conns: map[string]Event{}}
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
		switch n.Kind {
		case graph.KindFD:
			if n.FD == nil {
				continue
			}
			proc := byPID[n.PID]
			if proc == nil {
				continue
			}
			ev := Event{Kind: FDOpen, PID: n.PID, Comm: proc.Process.Comm, FD: n.FD.Num, PeerFD: -1, Source: SourceScan}
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
					if obj.Object != nil {
						ev.Name, ev.Inode = obj.Object.Name, obj.Object.Inode
						if obj.Object.Socket != nil {
							ev.Addr = obj.Object.Socket.Local
						}
					}
				}
			}
			st.fds[n.ID] = ev
		}
	}
	graph.NewIndex(s).Conns(func(c *graph.Conn) {
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
			ev := Event{Kind: ConnOpen, PID: x.proc.PID, Comm: x.proc.Process.Comm, FD: x.fd, Via: string(c.Via), Source: SourceScan,
				PeerFD: -1}
			ev.Name, ev.Inode, ev.Addr, _ = objectFacts(c.Objects[0])
			key := []string{string(c.Via), c.Objects[0].ID, x.proc.ID, itoa(x.fd)}
			if y != nil {
				ev.PeerPID, ev.PeerComm, ev.PeerFD = y.proc.PID, y.proc.Process.Comm, y.fd
				_, ev.PeerInode, ev.PeerAddr, _ = objectFacts(c.Objects[1])
				key = append(key, c.Objects[1].ID, y.proc.ID, itoa(y.fd))
			} else {
				_, _, _, ev.PeerAddr = objectFacts(c.Objects[0])
			}
			st.conns[strings.Join(key, "|")] = ev
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
	for _, k := range missing(old.conns, cur.conns) {
		emit(old.conns[k], ConnClose)
	}
	// An fd whose number now names another object (closed and opened
	// again between two versions, or replaced by dup2) closed and opened.
	replaced := replacedFDs(old.fds, cur.fds)
	for _, k := range sortedUnion(missing(old.fds, cur.fds), replaced) {
		emit(old.fds[k], FDClose)
	}
	for _, k := range missing(old.procs, cur.procs) {
		emit(processEvent(old.procs[k]), ProcessExit)
	}
	for _, k := range missing(cur.procs, old.procs) {
		emit(processEvent(cur.procs[k]), ProcessStart)
	}
	for _, k := range sortedUnion(missing(cur.fds, old.fds), replaced) {
		emit(cur.fds[k], FDOpen)
	}
	for _, k := range missing(cur.conns, old.conns) {
		emit(cur.conns[k], ConnOpen)
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
func replacedFDs(old, cur map[string]Event) []string {
	var keys []string
	for k, o := range old {
		if c, ok := cur[k]; ok && (c.Inode != o.Inode || c.Name != o.Name) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
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
