package api

import (
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live/livetest"
)

// TestSnapshotJSON checks that the hand-written snapshot message is the
// JSON encoding/json writes for a SnapshotMessage, but for whitespace.
func TestSnapshotJSON(t *testing.T) {
	w := livetest.NewWorld()
	a := w.Start(1, "server \"quoted\" <&>")
	b := w.Start(1, "client")
	w.Connect(a, b)
	w.Pipe(a, b)
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		w.Step(r)
	}
	head := regexp.MustCompile(`^\{"type":"snapshot","seq":(\d+),`)
	for _, tt := range []struct {
		name  string
		seq   uint64
		focus int
		g     *graph.Snapshot
	}{
		{"empty", 1, 0, graph.New(nil, nil, graph.Stats{})},
		{"whole", 12, 0, w.Snapshot()},
		{"focus", 1 << 40, a, w.Snapshot()},
	} {
		got := snapshotJSON(tt.seq, tt.focus, tt.g)
		want := mustJSON(SnapshotMessage{Type: TypeSnapshot, Seq: tt.seq, Focus: tt.focus, Graph: tt.g})
		var gotV, wantV any
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", tt.name, err, got)
		}
		if err := json.Unmarshal(want, &wantV); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantV, gotV); diff != "" {
			t.Errorf("%s: (-encoding/json +snapshotJSON):\n%s", tt.name, diff)
		}
		// Clients read the type and seq from the head of a message.
		if !head.Match(got) {
			t.Errorf("%s: message starts %.60q", tt.name, got)
		}
	}
}

// BenchmarkSnapshotJSON encodes the snapshot message of a World of 3,000
// processes (~46k nodes, ~60k edges), as the hub does and as it did through
// encoding/json.
func BenchmarkSnapshotJSON(b *testing.B) {
	w := livetest.NewWorld()
	for range 1500 {
		a, c := w.Start(1, "server"), w.Start(1, "client")
		w.Connect(a, c)
		w.Connect(a, c)
		w.Pipe(a, c)
	}
	g := w.Snapshot()
	b.Run("WriteJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			snapshotJSON(1, 0, g)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mustJSON(SnapshotMessage{Type: TypeSnapshot, Seq: 1, Graph: g})
		}
	})
}
