package history

import (
	"context"
	"sync"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// KernelDelay is how long a connection the kernel reported waits, after
// it closed, before it is written: the time for a scan that saw it (and
// recorded it) to reach the recorder. One a scan saw is not written.
const KernelDelay = 2 * time.Second

// kernelConnQueue is how many reported connections may wait to be batched.
const kernelConnQueue = 8192

// kernelConn is a connection the kernel reported.
type kernelConn struct {
	open     Event // the conn_open event, at the time it opened
	closed   time.Time
	received time.Time
}

// KernelConn records a connection the kernel reported after it closed
// (package conntrace): open is its conn_open event (Time: when it opened;
// PID, FD, Inode, Addr: the end that connected; the Peer fields: the one
// that accepted, or the remote address), closed is when it closed. It is
// written, as conn_open and conn_close events of source SourceKernel,
// KernelDelay later unless a scan saw it (by the inode of either end):
// a connection is recorded once. It never blocks, and drops (and counts)
// the connection when the recorder is that far behind.
func (r *Recorder) KernelConn(open Event, closed time.Time) {
	r.once.Do(r.defaults)
	select {
	case r.kernelConns <- kernelConn{open: open, closed: closed, received: r.Now()}:
	default:
		r.dropped.Add(2)
	}
}

// scannedSockets are the socket inodes of the connections scans have
// recorded: those open, and for a while those closed.
type scannedSockets struct {
	mu        sync.Mutex
	inodes    map[uint64]time.Time // → when a scan saw it closed; zero while open
	lastPrune time.Time
}

// scannedKeep is how long a socket scans saw closed is remembered.
const scannedKeep = time.Minute

// update adds the sockets of the connections a version opened and marks
// those it closed; all, the first time (cur holds every connection).
func (s *scannedSockets) update(events []Event, cur *state, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inodes == nil {
		s.inodes = map[uint64]time.Time{}
	}
	set := func(e Event, at time.Time) {
		for _, ino := range []uint64{e.Inode, e.PeerInode} {
			if ino != 0 {
				s.inodes[ino] = at
			}
		}
	}
	if cur != nil {
		for _, c := range cur.conns {
			for _, obj := range []*graph.Node{c.obj0, c.obj1} {
				if ino, _ := objectName(obj); ino != 0 {
					s.inodes[ino] = time.Time{}
				}
			}
		}
	}
	for _, e := range events {
		switch e.Kind {
		case ConnOpen:
			set(e, time.Time{})
		case ConnClose:
			set(e, now)
		}
	}
	if now.Sub(s.lastPrune) < scannedKeep/4 {
		return
	}
	s.lastPrune = now
	for ino, closed := range s.inodes {
		if !closed.IsZero() && now.Sub(closed) > scannedKeep {
			delete(s.inodes, ino)
		}
	}
}

// saw says whether scans recorded a connection of one of these sockets.
func (s *scannedSockets) saw(inodes ...uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ino := range inodes {
		if _, ok := s.inodes[ino]; ok && ino != 0 {
			return true
		}
	}
	return false
}

// followKernelConns writes the connections KernelConn receives, once
// KernelDelay has passed, unless a scan saw them; every 250 ms.
func (r *Recorder) followKernelConns(ctx context.Context, queue chan<- *batch) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var waiting []kernelConn
	flush := func(all bool) {
		now := r.Now()
		var out []Event
		n := 0
		for _, c := range waiting {
			if !all && now.Sub(c.received) < KernelDelay {
				waiting[n] = c
				n++
				continue
			}
			if r.scanned.saw(c.open.Inode, c.open.PeerInode) {
				r.deduplicated.Inc()
				continue
			}
			open := c.open
			open.Kind, open.Source = ConnOpen, SourceKernel
			closeEv := open
			closeEv.Kind, closeEv.Time = ConnClose, c.closed
			out = append(out, open, closeEv)
		}
		clear(waiting[n:])
		waiting = waiting[:n]
		if len(out) == 0 {
			return
		}
		select {
		case queue <- &batch{t: now, events: out}:
		default:
			r.dropped.Add(float64(len(out)))
		}
	}
	for {
		select {
		case <-ctx.Done():
			flush(true)
			return
		case <-tick.C:
			flush(false)
		case c := <-r.kernelConns:
			waiting = append(waiting, c)
		}
	}
}
