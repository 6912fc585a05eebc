package conntrace

import (
	"net/netip"
	"time"
)

// Conn is one connection, from its opening to its closing.
type Conn struct {
	// Via is how: "tcp" (IPv4), "tcp6" or "unix" (stream or seqpacket).
	Via string `json:"via"`
	// Opened is when the first end was connected (for TCP, ESTABLISHED);
	// Closed when the last end closed (TCP: CLOSE; unix: both sockets
	// freed, which happens once both ends are released).
	Opened time.Time `json:"opened"`
	Closed time.Time `json:"closed"`
	// Client connected; Server accepted. An end the Tracer did not see
	// (a remote host; a process that accepted before Open) has PID 0.
	Client End `json:"client"`
	Server End `json:"server"`
}

// End is one end of a connection: a socket and the process that connected
// or accepted it.
type End struct {
	// PID is the process in the pid namespace of the Tracer's opener (0:
	// unknown, or in no namespace it sees); Started is when that process
	// started, after boot (field 22 of /proc/PID/stat counts it in clock
	// ticks), so that a reused pid is told apart.
	PID     int           `json:"pid"`
	Started time.Duration `json:"started,omitempty"`
	Comm    string        `json:"comm,omitempty"`
	// FD is the fd connect or accept used or returned; -1 when unknown.
	FD int `json:"fd"`
	// Inode is the socket's inode (socket:[N]); 0 when unknown.
	Inode uint64 `json:"inode,omitempty"`
	// Addr is a TCP socket's local address; for unix, the server's bound
	// name (a path, or @name for an abstract one) on both ends, "" for an
	// unnamed one.
	Addr string `json:"addr,omitempty"`
}

// Lifetime is how long c lived.
func (c Conn) Lifetime() time.Duration { return c.Closed.Sub(c.Opened) }

// Kinds of record, as bpf/conntrace.c writes them.
const (
	kindEstablished = 1
	kindClose       = 2
	kindConnect     = 3
	kindAccept      = 4
	kindFree        = 5
)

// TCP states and address families the records carry.
const (
	tcpClose = 7
	afUnix   = 1
	afInet   = 2
	afInet6  = 10
)

// record is a decoded ring buffer record, its sockets numbered.
type record struct {
	kind   uint8
	time   time.Time
	sock   uint64 // ordinal
	peer   uint64 // ordinal; 0: none
	inode  uint64
	start  time.Duration
	pid    int
	fd     int
	netns  uint32
	family uint8
	state  uint8
	local  netip.AddrPort
	remote netip.AddrPort
	comm   string
	path   string
}

// Roles of a socket in its connection.
const (
	roleUnknown = iota
	roleClient
	roleServer
)

// sock is what the joiner knows of one socket.
type sock struct {
	ord         uint64
	via         string
	netns       uint32
	local       netip.AddrPort
	remote      netip.AddrPort
	path        string
	seen        time.Time // the first record of it
	established time.Time
	closed      time.Time
	owner       End
	role        int
	partner     *sock
	emitted     bool
}

func (s *sock) isClosed() bool { return !s.closed.IsZero() }

// end is s as one End of a Conn.
func (s *sock) end() End {
	e := s.owner
	if e.PID == 0 && e.Inode == 0 {
		e.FD = -1
	}
	if s.local.IsValid() {
		e.Addr = s.local.String()
	} else if s.path != "" {
		e.Addr = s.path
	}
	return e
}

// tuple names a TCP socket by its addresses, in its network namespace.
type tuple struct {
	netns         uint32
	local, remote netip.AddrPort
}

// joiner joins records into connections. It is not safe for concurrent
// use.
type joiner struct {
	// ords numbers the kernel's socket addresses: the only place they are
	// kept; addrs is the reverse, to forget them.
	ords  map[uint64]uint64
	addrs map[uint64]uint64
	next  uint64
	socks map[uint64]*sock // by ordinal: the latest socket at that address
	// waiting holds the established TCP sockets whose other end has not
	// been seen (yet, or ever: a remote host).
	waiting map[tuple]*sock
	// closing holds the closed sockets, until their connection is handed
	// over.
	closing map[*sock]struct{}
	// grace is how long a closed socket waits for late records (an
	// accept's return after the peer's reset) and its partner.
	grace     time.Duration
	lastSweep time.Time
}

// Sweeps of the sockets that never connected, and of the oldest when too
// many are open.
const (
	sweepEvery   = 10 * time.Second
	neverTimeout = time.Minute
	// maxOpen is how many open sockets the joiner follows before it
	// forgets those open for longer than oldOpen: their connections are
	// left to the scans (which see what lives that long). It bounds what
	// lost records (a CLOSE never read) would otherwise leak.
	maxOpen = 1 << 18
	oldOpen = time.Hour
)

// sweep forgets the TCP sockets that a process connected and that never
// became ESTABLISHED (refused, timed out: their CLOSE is not reported),
// and, past maxOpen, the sockets open for longer than oldOpen.
func (j *joiner) sweep(now time.Time) {
	if now.Sub(j.lastSweep) < sweepEvery {
		return
	}
	j.lastSweep = now
	crowded := len(j.socks) > maxOpen
	for _, s := range j.socks {
		if s.isClosed() {
			continue
		}
		if (s.established.IsZero() && now.Sub(s.seen) > neverTimeout) || (crowded && now.Sub(s.seen) > oldOpen) {
			j.drop(s)
		}
	}
}

func newJoiner(grace time.Duration) *joiner {
	return &joiner{ords: map[uint64]uint64{}, addrs: map[uint64]uint64{}, socks: map[uint64]*sock{},
		waiting: map[tuple]*sock{}, closing: map[*sock]struct{}{}, grace: grace}
}

// ordinal numbers a kernel address; with create false, 0 for one not met.
func (j *joiner) ordinal(addr uint64, create bool) uint64 {
	if addr == 0 {
		return 0
	}
	if o, ok := j.ords[addr]; ok || !create {
		return o
	}
	j.next++
	j.ords[addr], j.addrs[j.next] = j.next, addr
	return j.next
}

// forget drops a socket's ordinal once nothing refers to it.
func (j *joiner) forget(s *sock) {
	if j.socks[s.ord] != s {
		return // a newer socket at the same address holds the ordinal
	}
	delete(j.socks, s.ord)
	delete(j.ords, j.addrs[s.ord])
	delete(j.addrs, s.ord)
}

// fresh starts a new socket at ordinal ord (a reused kernel address: the
// old one, closed, keeps waiting for its partner in closing).
func (j *joiner) fresh(ord uint64, t time.Time) *sock {
	s := &sock{ord: ord, owner: End{FD: -1}, seen: t}
	j.socks[ord] = s
	return s
}

// handle takes one record.
func (j *joiner) handle(r *record) {
	s := j.socks[r.sock]
	switch r.kind {
	case kindEstablished:
		if s == nil || s.isClosed() || !s.established.IsZero() {
			s = j.fresh(r.sock, r.time)
		}
		s.established = r.time
		s.netns, s.local, s.remote = r.netns, r.local, r.remote
		s.via = "tcp"
		if r.family == afInet6 {
			s.via = "tcp6"
		}
		if p := j.waiting[tuple{r.netns, r.remote, r.local}]; p != nil && p.partner == nil && !p.isClosed() {
			delete(j.waiting, tuple{r.netns, r.remote, r.local})
			s.partner, p.partner = p, s
		} else {
			j.waiting[tuple{r.netns, r.local, r.remote}] = s
		}
	case kindClose, kindFree:
		if s == nil || s.isClosed() {
			return
		}
		s.closed = r.time
		j.closing[s] = struct{}{}
	case kindConnect, kindAccept:
		if s == nil || (s.isClosed() && (r.family == afUnix || r.state != tcpClose)) {
			s = j.fresh(r.sock, r.time)
		}
		s.owner = End{PID: r.pid, Started: r.start, Comm: r.comm, FD: r.fd, Inode: r.inode}
		s.role = roleServer
		if r.kind == kindConnect {
			s.role = roleClient
		}
		if r.family != afUnix {
			return
		}
		s.via, s.netns, s.path = "unix", r.netns, r.path
		if s.established.IsZero() {
			s.established = r.time
		}
		if r.kind == kindConnect && r.peer != 0 {
			p := j.socks[r.peer]
			if p == nil || p.isClosed() {
				p = j.fresh(r.peer, r.time)
			}
			p.via, p.netns, p.path, p.established, p.role = "unix", r.netns, r.path, r.time, roleServer
			s.partner, p.partner = p, s
		}
	}
}

// flush hands over the connections whose ends closed more than grace
// before now; an end whose partner is still open waits for it.
func (j *joiner) flush(now time.Time, emit func(Conn)) {
	j.sweep(now)
	for s := range j.closing {
		if now.Sub(s.closed) < j.grace {
			continue
		}
		p := s.partner
		if p != nil && (!p.isClosed() || now.Sub(p.closed) < j.grace) {
			continue
		}
		delete(j.closing, s)
		j.drop(s)
		if p != nil {
			delete(j.closing, p)
			j.drop(p)
		}
		if !s.emitted {
			s.emitted = true
			if p != nil {
				p.emitted = true
			}
			emit(j.conn(s, p))
		}
	}
}

func (j *joiner) drop(s *sock) {
	if t := (tuple{s.netns, s.local, s.remote}); j.waiting[t] == s {
		delete(j.waiting, t)
	}
	j.forget(s)
}

// conn makes the Conn of s and its partner p (nil: not seen).
func (j *joiner) conn(s, p *sock) Conn {
	client, server := s, p
	switch {
	case p == nil:
		if s.role == roleServer {
			client, server = nil, s
		}
	case s.role == roleServer || p.role == roleClient,
		s.role == roleUnknown && p.role == roleUnknown && p.established.Before(s.established):
		// The client of a TCP connection is ESTABLISHED first (on the
		// SYN-ACK), the server's socket on the last ACK.
		client, server = p, s
	}
	c := Conn{Via: s.via, Opened: s.established, Closed: s.closed, Client: End{FD: -1}, Server: End{FD: -1}}
	for _, x := range []*sock{client, server} {
		if x == nil {
			continue
		}
		if c.Opened.IsZero() || (!x.established.IsZero() && x.established.Before(c.Opened)) {
			c.Opened = x.established
		}
		if x.closed.After(c.Closed) {
			c.Closed = x.closed
		}
	}
	if client != nil {
		c.Client = client.end()
	}
	if server != nil {
		c.Server = server.end()
	}
	if p == nil && s.remote.IsValid() {
		// The other end is another host's (or not seen): its address only.
		other := End{FD: -1, Addr: s.remote.String()}
		if client == nil {
			c.Client = other
		} else {
			c.Server = other
		}
	}
	return c
}
