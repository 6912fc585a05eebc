//go:build linux

package scan

import (
	"context"
	"testing"

	"github.com/fdscope/fdscope/graph"
)

// BenchmarkBuild times the builder alone: the graph of this machine's
// processes and sockets, read once by a bpf scan (procfs where bpf cannot
// load), built again and again as a first scan builds it. Run it inside
// the bench workload (`fdscope bench --hold`) to see the build of 65,000
// fds.
func BenchmarkBuild(b *testing.B) {
	ctx := context.Background()
	s := New(Options{Backend: BackendAuto})
	defer s.Close()
	snap, err := s.Scan(ctx)
	if err != nil {
		b.Fatal(err)
	}
	procs := s.lastProcs
	sockets := newSocketTable()
	s.dumpSockets(procs, sockets)
	for b.Loop() {
		s.lastProcs = nil // no earlier scan to keep descriptions' IDs from
		var st graph.Stats
		bl := &builder{ctx: ctx, scanner: s, procs: procs, sockets: sockets, stats: &st, byDesc: snap.Stats.Sharing == "bpf"}
		if got := bl.build(); got.Stats.FDs != snap.Stats.FDs {
			b.Fatalf("built %d fds, the scan %d", got.Stats.FDs, snap.Stats.FDs)
		}
	}
	b.ReportMetric(float64(snap.Stats.FDs), "fds")
}

// BenchmarkWriteJSON times the JSON of this machine's graph (one bpf scan,
// procfs where bpf cannot load), as `fdscope snapshot` writes it.
func BenchmarkWriteJSON(b *testing.B) {
	s := New(Options{Backend: BackendAuto, Once: true})
	defer s.Close()
	snap, err := s.Scan(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var n countingWriter
	for b.Loop() {
		n = 0
		if err := snap.WriteJSON(&n); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(snap.Stats.FDs), "fds")
}

// countingWriter counts what is written to it.
type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
