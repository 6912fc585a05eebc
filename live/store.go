package live

import (
	"sync"

	"github.com/fdscope/fdscope/graph"
)

// DefaultWindow is how many versions a Store keeps by default.
const DefaultWindow = 32

// Store holds the latest snapshot of the machine and the recent versions
// before it, each with the changes that made it. Publish is called by one
// writer (the Loop); everything else may be called from any goroutine.
//
// A version is a snapshot whose nodes or edges differ from the one before:
// publishing a snapshot equal to the latest one refreshes the latest stats
// but makes no version and wakes nobody.
type Store struct {
	window int

	mu       sync.Mutex
	versions []version // oldest first; at most window
	latest   *graph.Snapshot
	subs     map[chan struct{}]struct{}
}

type version struct {
	seq     uint64
	snap    *graph.Snapshot
	changes *graph.Changes // from seq-1; nil for the first version
}

// NewStore returns an empty Store that keeps the given number of versions
// (DefaultWindow if window < 2).
func NewStore(window int) *Store {
	if window < 2 {
		window = DefaultWindow
	}
	return &Store{window: window, subs: make(map[chan struct{}]struct{})}
}

// Publish stores snap (which must not be modified afterwards). It returns
// the sequence number of the latest version and whether snap made a new one.
// Subscribers are woken without blocking: a subscriber that has not yet
// consumed its last wake-up gets one wake-up for both.
func (s *Store) Publish(snap *graph.Snapshot) (seq uint64, changed bool) {
	s.mu.Lock()
	var prev *graph.Snapshot
	if n := len(s.versions); n > 0 {
		prev = s.versions[n-1].snap
		seq = s.versions[n-1].seq
	}
	s.latest = snap
	var d *graph.Changes
	if prev != nil {
		d = graph.Diff(prev, snap)
		if d.Empty() {
			s.mu.Unlock()
			return seq, false
		}
	}
	seq++
	if len(s.versions) == s.window {
		copy(s.versions, s.versions[1:])
		s.versions = s.versions[:len(s.versions)-1]
	}
	s.versions = append(s.versions, version{seq: seq, snap: snap, changes: d})
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	return seq, true
}

// Latest returns the sequence number of the latest version and the latest
// snapshot published, which has the nodes and edges of that version and the
// stats of the most recent scan. Before the first Publish it returns 0, nil.
func (s *Store) Latest() (uint64, *graph.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.versions) == 0 {
		return 0, nil
	}
	return s.versions[len(s.versions)-1].seq, s.latest
}

// At returns the snapshot of version seq, if the Store still holds it.
func (s *Store) At(seq uint64) (*graph.Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.find(seq)
	return v.snap, ok
}

// Changes returns the changes that turned version seq-1 into version seq,
// if the Store still holds both.
func (s *Store) Changes(seq uint64) (*graph.Changes, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.find(seq)
	if !ok || v.changes == nil {
		return nil, false
	}
	if _, ok := s.find(seq - 1); !ok {
		return nil, false
	}
	return v.changes, true
}

func (s *Store) find(seq uint64) (version, bool) {
	if len(s.versions) == 0 {
		return version{}, false
	}
	first := s.versions[0].seq
	if seq < first || seq > s.versions[len(s.versions)-1].seq {
		return version{}, false
	}
	return s.versions[seq-first], true
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
