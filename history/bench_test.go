package history

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live/livetest"
)

// benchHistory records, in a new store, a snapshot of a World of procs
// processes (each connected to another, each with a pipe) and then
// versions versions of one random change each, one a second; it returns
// the store and the time of the last version.
func benchHistory(b *testing.B, procs, versions int) (*DB, time.Time) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	w := livetest.NewWorld()
	pids := []int{1}
	for i := range procs {
		pids = append(pids, w.Start(pids[r.IntN(len(pids))], "cmd"+itoa(i%50)))
	}
	for i := 1; i < len(pids); i++ {
		w.Connect(pids[i], pids[r.IntN(len(pids))])
		w.Pipe(pids[i], pids[r.IntN(len(pids))])
	}
	db, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	prev := w.Snapshot()
	prevState := stateOf(prev, nil)
	if err := db.write(ctx, &batch{t: t0, snap: prev}); err != nil {
		b.Fatal(err)
	}
	at := t0
	for v := 1; v <= versions; v++ {
		w.Step(r)
		cur := w.Snapshot()
		curState := stateOf(cur, nil)
		at = t0.Add(time.Duration(v) * time.Second)
		if err := db.write(ctx, &batch{t: at, events: diffStates(prevState, curState, at), changes: []*graph.Changes{graph.Diff(prev, cur)}}); err != nil {
			b.Fatal(err)
		}
		prev, prevState = cur, curState
	}
	return db, at
}

// BenchmarkAt rebuilds the graph at the worst time: the last of 300
// versions after a snapshot (5 minutes at a version a second, the
// snapshot period), on a World of 2000 processes.
func BenchmarkAt(b *testing.B) {
	db, at := benchHistory(b, 2000, 300)
	for b.Loop() {
		if _, err := db.At(context.Background(), at); err != nil {
			b.Fatal(err)
		}
	}
	size, _ := db.Size(context.Background())
	b.ReportMetric(float64(size), "store-bytes")
}

// BenchmarkDiffStates is the recorder's work per version, on a World of
// 2000 processes: reading the processes, fds and connections of the new
// version and comparing them with the last one's.
func BenchmarkDiffStates(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	w := livetest.NewWorld()
	pids := []int{1}
	for range 2000 {
		pids = append(pids, w.Start(pids[r.IntN(len(pids))], "cmd"))
	}
	benchDiffStates(b, r, w, pids)
}

// BenchmarkDiffStatesInherited is BenchmarkDiffStates on a World shaped
// like a real host: 500 processes forked in a tree from one that holds
// 20 pipes, so that each pipe has hundreds of holders (and its
// connections are capped at maxPairs).
func BenchmarkDiffStatesInherited(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	w := livetest.NewWorld()
	root := w.Start(1, "manager")
	for range 20 {
		w.Pipe(root, root)
	}
	pids := []int{root}
	for range 500 {
		pids = append(pids, w.Fork(pids[r.IntN(len(pids))]))
	}
	benchDiffStates(b, r, w, pids)
}

// benchDiffStates connects each of pids (but the first) to a random one
// of them, then times the recorder's work for one random step of w.
func benchDiffStates(b *testing.B, r *rand.Rand, w *livetest.World, pids []int) {
	for i := 1; i < len(pids); i++ {
		w.Connect(pids[i], pids[r.IntN(len(pids))])
	}
	prev := stateOf(w.Snapshot(), nil)
	w.Step(r)
	cur := w.Snapshot()
	now := time.Now()
	for b.Loop() {
		diffStates(prev, stateOf(cur, prev), now)
	}
}
