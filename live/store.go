package live

import (
	"sync"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// DefaultWindow is how many versions' changes a Store keeps by default.
const DefaultWindow = 32

// Store holds the latest snapshot of the machine and the changes that made
// each of the recent versions before it. Publish is called by one writer
// (the Loop); everything else may be called from any goroutine.
//
// A version is a snapshot whose nodes or edges differ from the one before:
// publishing a snapshot equal to the latest one refreshes the latest stats
// but makes no version and wakes nobody.
//
// Only the latest snapshot is kept whole: on a busy host a snapshot is tens
// of megabytes, a version's changes usually a few kilobytes. A client
// further behind than the window of changes is sent the latest snapshot.
type Store struct {
	window int

	mu      sync.Mutex
	seq     uint64
	snap    *graph.Snapshot // the latest version
	latest  *graph.Snapshot // the latest published: snap's nodes and edges, the newest stats
	changes []change        // oldest first; at most window
	subs    map[chan struct{}]struct{}

	progMu   sync.Mutex
	progress progress
	checked  time.Time // when a tick last found the latest version current
}

// Checked records that at t the latest version was found current: a tick
// that found nothing to read again (kernel events, or a probe, said so)
// checks as much as a scan that changed nothing.
func (s *Store) Checked(t time.Time) {
	s.progMu.Lock()
	s.checked = t
	s.progMu.Unlock()
}

// CheckedAt is when the latest version was last found current, by a scan
// or by a tick that found nothing to read again; zero before the first.
func (s *Store) CheckedAt() time.Time {
	s.progMu.Lock()
	defer s.progMu.Unlock()
	return s.checked
}

// progress is how far the scan under way is.
type progress struct {
	phase       string
	done, total int
}

type change struct {
	seq uint64
	d   *graph.Changes // from seq-1 to seq
}

// NewStore returns an empty Store that keeps the changes of the given
// number of versions (DefaultWindow if window < 1).
func NewStore(window int) *Store {
	if window < 1 {
		window = DefaultWindow
	}
	return &Store{window: window, subs: make(map[chan struct{}]struct{})}
}

// Publish stores snap (which must not be modified afterwards). It returns
// the sequence number of the latest version and whether snap made a new one.
// Subscribers are woken without blocking: a subscriber that has not yet
// consumed its last wake-up gets one wake-up for both. The cost is one
// graph.Diff against the latest snapshot.
func (s *Store) Publish(snap *graph.Snapshot) (seq uint64, changed bool) {
	s.mu.Lock()
	prev := s.snap
	s.mu.Unlock()
	// Diff outside the lock: readers need not wait for it. Publish has one
	// caller, so prev is still the latest version afterwards.
	var d *graph.Changes
	if prev != nil {
		d = graph.Diff(prev, snap)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev != nil && d.Empty() {
		s.latest = snap
		return s.seq, false
	}
	s.seq++
	s.snap, s.latest = snap, snap
	if d != nil {
		if len(s.changes) == s.window {
			copy(s.changes, s.changes[1:])
			s.changes = s.changes[:len(s.changes)-1]
		}
		s.changes = append(s.changes, change{seq: s.seq, d: detach(d)})
	}
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return s.seq, true
}

// detach returns d with its own copies of the nodes it adds and changes.
// A scanner allocates the nodes of a snapshot in a few big arrays (package
// graph/scan's slabs), which stay alive as long as any node in them does:
// a window of changes pointing into the snapshots they came from would
// keep every one of those snapshots' arrays. Copied, the window weighs
// what its changes weigh. The details that scanners allocate one by one
// (Process, Object) are shared.
func detach(d *graph.Changes) *graph.Changes {
	c := *d
	c.NodesAdded = detachNodes(d.NodesAdded)
	c.NodesChanged = detachNodes(d.NodesChanged)
	return &c
}

func detachNodes(nodes []*graph.Node) []*graph.Node {
	if len(nodes) == 0 {
		return nodes
	}
	out := make([]*graph.Node, len(nodes))
	copies := make([]graph.Node, len(nodes))
	for i, n := range nodes {
		copies[i] = *n
		c := &copies[i]
		if n.FD != nil {
			fd := *n.FD
			c.FD = &fd
		}
		if n.OFD != nil {
			ofd := *n.OFD
			c.OFD = &ofd
		}
		out[i] = c
	}
	return out
}

// Latest returns the sequence number of the latest version and the latest
// snapshot published, which has the nodes and edges of that version and the
// stats of the most recent scan. Before the first Publish it returns 0, nil.
func (s *Store) Latest() (uint64, *graph.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq, s.latest
}

// Changes returns the changes that turned version seq-1 into version seq,
// if the Store still holds them.
func (s *Store) Changes(seq uint64) (*graph.Changes, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.changes) == 0 {
		return nil, false
	}
	first := s.changes[0].seq
	if seq < first || seq > s.seq {
		return nil, false
	}
	return s.changes[seq-first].d, true
}

// Notify returns a channel that receives a value after each new version
// (capacity 1, so bursts coalesce into one wake-up), and a function that
// stops the notifications. The subscriber is expected to read Latest after
// each wake-up.
func (s *Store) Notify() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

// SetProgress records how far the scan under way is: its phase and how
// many of how many things it has done. It is cheap and safe for concurrent
// use, so that a scanner's workers can call it (scan.Options.Progress).
func (s *Store) SetProgress(phase string, done, total int) {
	s.progMu.Lock()
	defer s.progMu.Unlock()
	// Workers report concurrently: never step back within a phase.
	if p := s.progress; p.phase == phase && p.total == total && done < p.done {
		return
	}
	s.progress = progress{phase, done, total}
}

// ScanProgress returns what SetProgress last recorded; ok is false before
// the first call. The server shows it while the first scan runs.
func (s *Store) ScanProgress() (phase string, done, total int, ok bool) {
	s.progMu.Lock()
	defer s.progMu.Unlock()
	p := s.progress
	return p.phase, p.done, p.total, p.phase != ""
}
