// Package activity measures what flows on each connection: bytes per second
// of TCP sockets (tcp_info's bytes_acked and bytes_received, through
// sock_diag INET_DIAG_INFO), the queue depths of TCP and unix sockets, and
// the bytes waiting in pipes and FIFOs (a BPF iterator over every fd,
// bpf/pipes.c, every few samples; root or CAP_BPF and CAP_PERFMON).
//
// Byte counters change on every tick of a busy host, so they are kept out
// of the graph (where every change would be a diff of every busy socket):
// a Sampler takes one sock_diag dump per network namespace per tick, beside
// the live loop, and keeps a short ring of rates for each socket that has
// moved, by socket inode (graph.SocketID). The API serves it to the page,
// the diagram draws it on connection lines, and the history store records
// it every few seconds (Sampler.Flush).
//
// What is not measured: the bytes that pass through pipes (the kernel
// counts none; only what waits in them), unix sockets' byte counts (the
// kernel keeps none, only queue depths) and UDP sockets. Without the
// privileges to load the iterator, pipes are not measured either (their
// fill level would need FIONREAD on an fd of the pipe, which only its
// holders have; opening /proc/PID/fd/N would add a reader or writer).
package activity

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// Defaults for a Sampler's zero fields.
const (
	DefaultKeep      = 60
	DefaultInterval  = time.Second
	DefaultPipeEvery = 5
	DefaultUnixEvery = 5
)

// Via says what kind of socket a sample is of.
const (
	ViaTCP  = "tcp"
	ViaUnix = "unix"
	ViaPipe = "pipe" // a pipe or FIFO: its queue only
)

// Point is one sample of a socket: the rates over the interval that ends at
// T, and the queues at T.
type Point struct {
	T time.Time `json:"t"`
	// Seconds is the length of the interval (since the sample before).
	Seconds float64 `json:"seconds"`
	// Send and Recv are bytes per second sent (acknowledged by the peer)
	// and received; 0 for unix sockets, whose byte counts the kernel does
	// not keep.
	Send float64 `json:"send"`
	Recv float64 `json:"recv"`
	// RQueue is the bytes received and not yet read; WQueue the bytes sent
	// and not yet acknowledged (TCP) or not yet read by the peer (unix).
	RQueue uint32 `json:"rq"`
	WQueue uint32 `json:"wq"`
}

// Rate is the bytes per second both ways.
func (p Point) Rate() float64 { return p.Send + p.Recv }

// Queued is the bytes waiting in the socket's queues.
func (p Point) Queued() uint64 { return uint64(p.RQueue) + uint64(p.WQueue) }

// Socket is the activity of one socket: its latest samples, oldest first.
type Socket struct {
	Inode  uint64  `json:"inode"`
	Via    string  `json:"via"`
	Points []Point `json:"points"`
}

// Latest is the socket's newest sample.
func (s Socket) Latest() Point {
	if len(s.Points) == 0 {
		return Point{}
	}
	return s.Points[len(s.Points)-1]
}

// Total is what a socket carried between two Flushes.
type Total struct {
	Inode          uint64
	Via            string
	Sent, Received uint64 // bytes (TCP)
	// MaxQueue is the most bytes seen waiting in its queues.
	MaxQueue uint64
}

// Sampler samples the sockets of every network namespace in turn. Set the
// fields, then call Run (or Sample, tick by tick); its methods are safe for
// concurrent use.
type Sampler struct {
	// NetNS returns the network namespaces to sample, each with a pid in
	// it (NetNSOf of the latest snapshot); nil samples the Sampler's own.
	NetNS func() map[uint64]int
	// ProcRoot is where namespaces are found ("/proc" if empty).
	ProcRoot string
	// Keep is how many samples each socket keeps; default DefaultKeep.
	Keep int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// IgnoreLocal leaves out the TCP sockets whose local end is this
	// address (an unspecified address: every address of its port): the
	// server's own, whose traffic is its clients' reading this. Zero: none.
	IgnoreLocal netip.AddrPort
	// PipeEvery is how many samples apart pipes are sampled (a walk of
	// every fd in the kernel, ~30 ms for 65,000 fds): DefaultPipeEvery if
	// zero, never if negative.
	PipeEvery int
	// UnixEvery is how many samples apart unix sockets are sampled: their
	// queues are all the kernel tells of them, and one dump of every unix
	// socket (18,000 on the benchmark's workload, ~10 ms of CPU) is most
	// of a sample's cost. DefaultUnixEvery if zero, every sample if
	// negative. TCP sockets, whose byte counts make their rates, are
	// sampled every time.
	UnixEvery int

	mu    sync.RWMutex
	socks map[uint64]*sock
	gone  []Total // of sockets that closed since the last Flush
	tick  uint64
	last  time.Time // of the last sample
	d     *dumper
	pipes *pipeDumper
	// pipesErr is why pipes are not sampled (the iterator did not load);
	// loading is not tried again.
	pipesErr error
	cost     time.Duration // CPU time of the last tick
	cpu      time.Duration // of all ticks
}

// sock is what the Sampler keeps of one socket.
type sock struct {
	via    byte // 't', 'u' or 'p'
	ns     uint64
	seen   uint64 // the tick it was last seen
	t      int64  // unix nanoseconds of the counters
	sent   uint64
	recv   uint64
	ring   []point // nil until the socket moves
	head   int     // the next slot of ring
	n      int     // samples in ring
	total  Total   // since the last Flush
	active bool    // moved since the last Flush
}

// point is a Point as kept: 24 bytes.
type point struct {
	t          int64
	dt         float32 // seconds
	send, recv float32
	rq, wq     uint32
}

// Run samples every interval (DefaultInterval if not positive) until ctx
// is done; it returns ctx.Err().
func (s *Sampler) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultInterval
	}
	defer s.close()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_ = s.Sample(ctx) // a namespace that fails is left out until it works
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Sample takes one sample of every socket. A namespace whose dump fails is
// left out and reported in the error.
func (s *Sampler) Sample(ctx context.Context) error {
	// The CPU time of a tick is that of its thread, locked to it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	netns := map[uint64]int{0: 0} // 0: the Sampler's own namespace
	if s.NetNS != nil {
		netns = s.NetNS()
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		s.cost = threadCPU() - cpu0
		s.cpu += s.cost
	}()
	if s.socks == nil {
		s.socks = map[uint64]*sock{}
	}
	if s.d == nil {
		s.d = newDumper(s.ProcRoot, s.IgnoreLocal)
	}
	s.tick++
	s.last = now
	observe := func(o observation) { s.observe(o, now) }
	withUnix := s.unixDue()
	ok, err := s.d.dump(ctx, netns, withUnix, observe)
	if ok == nil {
		ok = map[uint64]bool{}
	}
	if s.pipesDue() {
		if s.pipes == nil {
			s.pipes, s.pipesErr = openPipes()
		}
		if s.pipes != nil {
			if perr := s.pipes.dump(observe); perr == nil {
				ok[pipeNS] = true
			} else {
				err = errors.Join(err, perr)
			}
		}
	}
	for ino, k := range s.socks {
		if k.seen != s.tick && ok[k.ns] && (withUnix || k.via != 'u') {
			if k.active {
				s.gone = append(s.gone, k.total)
			}
			delete(s.socks, ino)
		}
	}
	return err
}

// pipeNS is the namespace of the pipes' observations: not a network
// namespace's (nsfs inodes are 32-bit), and sampled on its own schedule.
const pipeNS = 1 << 63

// pipesDue reports whether this tick samples the pipes; s.mu is held.
func (s *Sampler) pipesDue() bool {
	every := s.PipeEvery
	if every == 0 {
		every = DefaultPipeEvery
	}
	return every > 0 && s.pipesErr == nil && (s.tick-1)%uint64(every) == 0
}

// unixDue reports whether this tick samples unix sockets; s.mu is held.
func (s *Sampler) unixDue() bool {
	every := s.UnixEvery
	if every == 0 {
		every = DefaultUnixEvery
	}
	return every < 0 || (s.tick-1)%uint64(every) == 0
}

// PipesMeasured says whether pipes are sampled, and if not, why.
func (s *Sampler) PipesMeasured() (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.PipeEvery < 0 {
		return false, errors.New("pipes are not sampled (PipeEvery < 0)")
	}
	return s.pipesErr == nil, s.pipesErr
}

// observation is one socket as a dump reports it.
type observation struct {
	ns, inode  uint64
	via        byte
	counters   bool // sent and recv are known
	sent, recv uint64
	rq, wq     uint32
}

// observe takes one socket's sample at now; s.mu is held.
func (s *Sampler) observe(o observation, now time.Time) {
	k := s.socks[o.inode]
	if k == nil {
		if !o.counters && o.rq == 0 && o.wq == 0 {
			return // an idle unix socket: nothing to remember
		}
		k = &sock{via: o.via, ns: o.ns, t: now.UnixNano(), sent: o.sent, recv: o.recv}
		k.total = Total{Inode: o.inode, Via: viaName(o.via)}
		s.socks[o.inode] = k
		if o.counters { // the first counters give no rate yet
			k.seen = s.tick
			if o.rq == 0 && o.wq == 0 {
				return
			}
			o.sent, o.recv = k.sent, k.recv
		}
	}
	k.seen = s.tick
	var p point
	p.t, p.rq, p.wq = now.UnixNano(), o.rq, o.wq
	if !o.counters && k.ring != nil {
		p.dt = float32(float64(p.t-k.t) / 1e9)
		k.t = p.t
	}
	if o.counters {
		ds, dr := delta(k.sent, o.sent), delta(k.recv, o.recv)
		if dt := float64(p.t-k.t) / 1e9; dt > 0 {
			p.dt, p.send, p.recv = float32(dt), float32(float64(ds)/dt), float32(float64(dr)/dt)
		}
		k.t, k.sent, k.recv = p.t, o.sent, o.recv
		k.total.Sent += ds
		k.total.Received += dr
	}
	moved := p.send > 0 || p.recv > 0 || p.rq > 0 || p.wq > 0
	if moved {
		k.active = true
		k.total.MaxQueue = max(k.total.MaxQueue, uint64(p.rq)+uint64(p.wq))
	}
	if k.ring == nil {
		if !moved {
			return
		}
		k.ring = make([]point, s.keep())
	}
	k.ring[k.head] = p
	k.head = (k.head + 1) % len(k.ring)
	k.n = min(k.n+1, len(k.ring))
}

// delta is how far a counter moved; 0 when it went back (an inode reused).
func delta(old, cur uint64) uint64 {
	if cur < old {
		return 0
	}
	return cur - old
}

func viaName(v byte) string {
	switch v {
	case 't':
		return ViaTCP
	case 'p':
		return ViaPipe
	}
	return ViaUnix
}

func (s *Sampler) keep() int {
	if s.Keep <= 0 {
		return DefaultKeep
	}
	return s.Keep
}

func (s *Sampler) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Socket returns the activity of the socket with the given inode: false
// when it has not moved since it was first seen.
func (s *Sampler) Socket(inode uint64) (Socket, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k := s.socks[inode]
	if k == nil || k.n == 0 {
		return Socket{}, false
	}
	out := Socket{Inode: inode, Via: viaName(k.via), Points: make([]Point, 0, k.n)}
	for i := range k.n {
		p := k.ring[(k.head-k.n+i+len(k.ring))%len(k.ring)]
		out.Points = append(out.Points, Point{T: time.Unix(0, p.t).UTC(), Seconds: float64(p.dt), Send: float64(p.send), Recv: float64(p.recv), RQueue: p.rq, WQueue: p.wq})
	}
	return out, true
}

// Latest returns the newest sample of each of the given sockets that has
// moved, by inode.
func (s *Sampler) Latest(inodes []uint64) map[uint64]Point {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[uint64]Point{}
	for _, ino := range inodes {
		k := s.socks[ino]
		if k == nil || k.n == 0 {
			continue
		}
		p := k.ring[(k.head-1+len(k.ring))%len(k.ring)]
		out[ino] = Point{T: time.Unix(0, p.t).UTC(), Seconds: float64(p.dt), Send: float64(p.send), Recv: float64(p.recv), RQueue: p.rq, WQueue: p.wq}
	}
	return out
}

// LastSample is when the last sample was taken (zero before the first),
// and the CPU time it took.
func (s *Sampler) LastSample() (time.Time, time.Duration) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last, s.cost
}

// Stats returns how many samples were taken and the CPU time they took
// in all.
func (s *Sampler) Stats() (ticks uint64, cpu time.Duration) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tick, s.cpu
}

// Flush returns what every socket that moved since the last Flush carried
// since then (sockets that closed meanwhile included), and starts counting
// again.
func (s *Sampler) Flush() []Total {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.gone
	s.gone = nil
	for _, k := range s.socks {
		if k.active {
			out = append(out, k.total)
		}
		k.active = false
		k.total = Total{Inode: k.total.Inode, Via: k.total.Via}
	}
	return out
}

func (s *Sampler) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d != nil {
		s.d.close()
		s.d = nil
	}
	if s.pipes != nil {
		s.pipes.close()
		s.pipes = nil
	}
}

// NetNSOf returns the network namespaces of the processes of snap, each
// with one of its pids: what a Sampler's NetNS returns.
func NetNSOf(snap *graph.Snapshot) map[uint64]int {
	out := map[uint64]int{}
	if snap == nil {
		return out
	}
	for _, n := range snap.Nodes {
		if n.Kind == graph.KindProcess && n.NetNS != 0 {
			if _, ok := out[n.NetNS]; !ok {
				out[n.NetNS] = n.PID
			}
		}
	}
	return out
}

// ErrNotSupported is returned by Sample where sock_diag does not exist.
var ErrNotSupported = errors.New("activity: sampling needs Linux sock_diag")
