package history

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live/livetest"
)

// snapshotOf returns a snapshot of n processes whose command lines are
// big enough to weigh.
func snapshotOf(n int) *graph.Snapshot {
	var nodes []*graph.Node
	for pid := 1; pid <= n; pid++ {
		nodes = append(nodes, &graph.Node{ID: "proc:" + strconv.Itoa(pid) + ":1", Kind: graph.KindProcess, PID: pid,
			Process: &graph.Process{Comm: "p", Cmdline: strings.Repeat(strconv.Itoa(pid*7919), 200)}})
	}
	return graph.New(nodes, nil, graph.Stats{})
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	// An hour of history: a snapshot every 10 minutes, an event every minute.
	for m := 0; m <= 60; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		b := &batch{t: at, events: []Event{{Time: at, Kind: ProcessStart, PID: m + 1, FD: -1, Source: "scan"}}}
		if m%10 == 0 {
			b.snap = snapshotOf(100 + m)
		} else {
			b.changes = []*graph.Changes{graph.Diff(snapshotOf(100+m-1), snapshotOf(100+m))}
		}
		if err := db.write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		evs, err := db.Changes(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	if n := count(); n != 61 {
		t.Fatalf("%d events stored, want 61", n)
	}
	// The graph at 10:25 is the snapshot of 10:20 and five diffs.
	s, err := db.At(ctx, t0.Add(25*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Nodes); got != 125 {
		t.Errorf("graph at 10:25 has %d processes, want 125", got)
	}

	// By age: keep from 10:25; history then begins at the snapshot of 10:20.
	if err := db.Prune(ctx, t0.Add(25*time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	begin, ok, err := db.Begin(ctx)
	if err != nil || !ok || !begin.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("history begins at %v (%v, %v), want 10:20", begin, ok, err)
	}
	if n := count(); n != 41 {
		t.Errorf("%d events after pruning by age, want 41 (10:20 to 11:00)", n)
	}
	var oor *OutOfRangeError
	if _, err := db.At(ctx, t0.Add(15*time.Minute)); !errors.As(err, &oor) || !strings.Contains(err.Error(), "begins at") {
		t.Errorf("graph at a pruned time: err %v, want an OutOfRangeError", err)
	}
	if _, err := db.Changes(ctx, Query{Until: t0.Add(10 * time.Minute)}); !errors.As(err, &oor) {
		t.Errorf("changes ending at a pruned time: err %v, want an OutOfRangeError", err)
	}

	// By size: a bound below what is kept prunes to the newest snapshot.
	size, err := db.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Prune(ctx, t0, size/3); err != nil {
		t.Fatal(err)
	}
	after, err := db.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	begin, _, _ = db.Begin(ctx)
	if after >= size || !begin.After(t0.Add(20*time.Minute)) {
		t.Errorf("pruning to %d bytes: %d -> %d bytes, history begins at %v", size/3, size, after, begin)
	}
	if _, err := db.At(ctx, t0.Add(60*time.Minute)); err != nil {
		t.Errorf("the newest snapshot was pruned: %v", err)
	}
}

func TestOpenDamaged(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/"+FileName, strings.Repeat("not a database ", 1000)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("Open of a damaged store: %v, want an error naming the file", err)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// TestAtReplaysEveryVersion records random changes to a World, a snapshot
// every 20 versions, and checks that the graph at each version's time is
// that version.
func TestAtReplaysEveryVersion(t *testing.T) {
	ctx := context.Background()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewPCG(3, 4))
	w := livetest.NewWorld()
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	prev := w.Snapshot()
	want := []*graph.Snapshot{prev}
	if err := db.write(ctx, &batch{t: t0, snap: prev}); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 100; v++ {
		w.Step(r)
		cur := w.Snapshot()
		b := &batch{t: t0.Add(time.Duration(v) * time.Second), changes: []*graph.Changes{graph.Diff(prev, cur)}}
		if v%20 == 0 {
			b.changes, b.snap = nil, cur
		}
		if err := db.write(ctx, b); err != nil {
			t.Fatal(err)
		}
		want = append(want, cur)
		prev = cur
	}
	for v, s := range want {
		got, err := db.At(ctx, t0.Add(time.Duration(v)*time.Second+time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if !graph.Equal(got, s) {
			t.Fatalf("the graph at version %d differs from it: %d nodes, %d edges; want %d, %d", v, len(got.Nodes), len(got.Edges), len(s.Nodes), len(s.Edges))
		}
	}
}
