package live

import (
	"runtime"
	"testing"
	"weak"

	"github.com/fdscope/fdscope/graph"
)

func snap(ids ...string) *graph.Snapshot {
	var nodes []*graph.Node
	for _, id := range ids {
		nodes = append(nodes, &graph.Node{ID: id, Kind: graph.KindProcess, Process: &graph.Process{Comm: id}})
	}
	return graph.New(nodes, nil, graph.Stats{})
}

// nodeIDs lists the IDs of s's nodes, for messages.
func nodeIDs(s *graph.Snapshot) []string {
	ids := make([]string, len(s.Nodes))
	for i, n := range s.Nodes {
		ids[i] = n.ID
	}
	return ids
}

func TestStorePublish(t *testing.T) {
	s := NewStore(3)
	if seq, got := s.Latest(); seq != 0 || got != nil {
		t.Fatalf("empty store Latest = %d, %v", seq, got)
	}
	one := snap("a")
	if seq, changed := s.Publish(one); seq != 1 || !changed {
		t.Fatalf("first Publish = %d, %v; want 1, true", seq, changed)
	}
	same := snap("a")
	same.Stats.Processes = 7
	if seq, changed := s.Publish(same); seq != 1 || changed {
		t.Fatalf("Publish of an equal snapshot = %d, %v; want 1, false", seq, changed)
	}
	if seq, got := s.Latest(); seq != 1 || got.Stats.Processes != 7 {
		t.Errorf("Latest after an equal snapshot = %d, %+v; want the new stats", seq, got.Stats)
	}
	if _, ok := s.Changes(1); ok {
		t.Error("Changes(1) of the first version is ok")
	}
	two := snap("a", "b")
	s.Publish(two)
	d, ok := s.Changes(2)
	if !ok || len(d.NodesAdded) != 1 || d.NodesAdded[0].ID != "b" {
		t.Fatalf("Changes(2) = %+v, %v", d, ok)
	}
	if !graph.Equal(graph.Apply(one, d), two) {
		t.Error("Apply(version 1, Changes(2)) != version 2")
	}
	// A window of 3 keeps the changes of versions 3, 4 and 5.
	s.Publish(snap("b"))
	s.Publish(snap("c"))
	s.Publish(snap("c", "d"))
	if seq, _ := s.Latest(); seq != 5 {
		t.Fatalf("Latest seq = %d, want 5", seq)
	}
	for seq, want := range map[uint64]bool{1: false, 2: false, 3: true, 4: true, 5: true, 6: false} {
		if _, ok := s.Changes(seq); ok != want {
			t.Errorf("Changes(%d) ok = %v, want %v", seq, ok, want)
		}
	}
}

func TestStoreNotify(t *testing.T) {
	s := NewStore(0)
	ch, stop := s.Notify()
	s.Publish(snap("a"))
	s.Publish(snap("b"))
	s.Publish(snap("b")) // no new version
	select {
	case <-ch:
	default:
		t.Fatal("no wake-up after Publish")
	}
	select {
	case <-ch:
		t.Fatal("two wake-ups: bursts must coalesce")
	default:
	}
	s.Publish(snap("b")) // no new version: no wake-up
	select {
	case <-ch:
		t.Fatal("woken by a snapshot that changed nothing")
	default:
	}
	stop()
	s.Publish(snap("c"))
	select {
	case <-ch:
		t.Fatal("woken after stop")
	default:
	}
}

// TestStoreConcurrent runs readers beside the writer (under -race in CI).
// Each of the 100 snapshots differs from the one before, so version seq is
// the snapshot of letter seq-1: every reader checks that what it reads
// belongs together and that versions never go back.
func TestStoreConcurrent(t *testing.T) {
	const versions = 100
	letter := func(seq uint64) string { return string(rune('a' + (seq-1)%26)) }
	s := NewStore(4)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			ch, stop := s.Notify()
			defer stop()
			var last uint64
			for range 50 {
				seq, latest := s.Latest()
				if seq < last {
					t.Errorf("Latest went back from version %d to %d", last, seq)
					return
				}
				last = seq
				if seq == 0 {
					continue
				}
				if len(latest.Nodes) != 1 || latest.Nodes[0].ID != letter(seq) {
					t.Errorf("version %d is %v, want the snapshot of %q", seq, nodeIDs(latest), letter(seq))
					return
				}
				if d, ok := s.Changes(seq); ok && seq > 1 {
					if len(d.NodesAdded) != 1 || d.NodesAdded[0].ID != letter(seq) ||
						len(d.NodesRemoved) != 1 || d.NodesRemoved[0] != letter(seq-1) {
						t.Errorf("Changes(%d) = %+v, want %q for %q", seq, d, letter(seq), letter(seq-1))
						return
					}
				}
				select {
				case <-ch:
				default:
				}
			}
		}()
	}
	for i := range versions {
		if seq, changed := s.Publish(snap(letter(uint64(i + 1)))); seq != uint64(i+1) || !changed {
			t.Errorf("Publish %d = %d, %v; want a new version", i+1, seq, changed)
		}
	}
	for range 4 {
		<-done
	}
	if seq, latest := s.Latest(); seq != versions || len(latest.Nodes) != 1 || latest.Nodes[0].ID != letter(versions) {
		t.Errorf("after the writer: version %d of %v, want %d of %q", seq, nodeIDs(latest), versions, letter(versions))
	}
	s.mu.Lock()
	subs := len(s.subs)
	s.mu.Unlock()
	if subs != 0 {
		t.Errorf("%d subscribers left after every reader stopped", subs)
	}
}

func TestStoreProgress(t *testing.T) {
	s := NewStore(0)
	if _, _, _, ok := s.ScanProgress(); ok {
		t.Error("progress before any report")
	}
	for _, tt := range []struct {
		phase       string
		done, total int
		want        [2]int
	}{
		{"processes", 0, 10, [2]int{0, 10}},
		{"processes", 5, 10, [2]int{5, 10}},
		{"processes", 4, 10, [2]int{5, 10}}, // a late worker: no step back
		{"fds", 100, 300, [2]int{100, 300}},
		{"fds", 90, 400, [2]int{90, 400}}, // a new batch grew the total
		{"graph", 10, 10, [2]int{10, 10}},
	} {
		s.SetProgress(tt.phase, tt.done, tt.total)
		phase, done, total, ok := s.ScanProgress()
		if !ok || phase != tt.phase || [2]int{done, total} != tt.want {
			t.Errorf("after %s %d/%d: %s %d/%d %v; want %v", tt.phase, tt.done, tt.total, phase, done, total, ok, tt.want)
		}
	}
}

// slabSnapshot is version v of a graph of n fd nodes allocated in one
// array, as a scanner's slabs allocate them; node v%n differs from the
// version before. It returns the snapshot and a weak pointer to its array.
func slabSnapshot(n, v int) (*graph.Snapshot, weak.Pointer[graph.Node]) {
	slab := make([]graph.Node, n)
	fds := make([]graph.FD, n)
	nodes := make([]*graph.Node, n)
	for i := range slab {
		fds[i] = graph.FD{Num: i}
		if i == v%n {
			fds[i].CloExec = v%2 == 1
		}
		slab[i] = graph.Node{ID: graph.FDID(1, 1, i), Kind: graph.KindFD, PID: 1, FD: &fds[i]}
		nodes[i] = &slab[i]
	}
	return graph.New(nodes, nil, graph.Stats{}), weak.Make(&slab[0])
}

// TestStoreWindowKeepsNoSlabs: the window of changes keeps copies of the
// nodes it needs, not the arrays of the snapshots they came from: only
// the latest version's array stays alive.
func TestStoreWindowKeepsNoSlabs(t *testing.T) {
	s := NewStore(32)
	var slabs []weak.Pointer[graph.Node]
	for v := range 10 {
		snap, w := slabSnapshot(1000, v)
		s.Publish(snap)
		slabs = append(slabs, w)
	}
	runtime.GC()
	alive := 0
	for _, w := range slabs {
		if w.Value() != nil {
			alive++
		}
	}
	if alive != 1 {
		t.Errorf("%d snapshots' node arrays alive, want 1 (the latest)", alive)
	}
	// The copies say what the nodes said: version 10 (v 9) sets node 9's
	// cloexec; version 9 (v 8) put node 7's back.
	if d, ok := s.Changes(10); !ok || len(d.NodesChanged) != 1 || d.NodesChanged[0].ID != graph.FDID(1, 1, 9) || !d.NodesChanged[0].FD.CloExec {
		t.Errorf("changes 10: %+v", d)
	}
	if d, ok := s.Changes(9); !ok || len(d.NodesChanged) != 1 || d.NodesChanged[0].ID != graph.FDID(1, 1, 7) || d.NodesChanged[0].FD.CloExec {
		t.Errorf("changes 9: %+v", d)
	}
}
