//go:build linux

package scan_test

import (
	"context"
	"io"
	"testing"

	"github.com/fdscope/fdscope/graph/scan"
)

// BenchmarkScan scans the machine the test runs on, as `fdscope snapshot`
// does, and reports the snapshot's size. Run it inside the benchmark's
// workload for numbers that mean something (docs/performance.md):
//
//	go test -c -o /tmp/scan.test ./graph/scan
//	nsenter --target INIT --pid --mount --net -- /tmp/scan.test \
//	    -test.run '^$' -test.bench Scan -test.benchmem -test.memprofile mem.prof
func BenchmarkScan(b *testing.B) {
	ctx := context.Background()
	var nodes, edges int
	for b.Loop() {
		snap, err := scan.New(scan.Options{}).Scan(ctx)
		if err != nil {
			b.Fatal(err)
		}
		nodes, edges = len(snap.Nodes), len(snap.Edges)
	}
	b.ReportMetric(float64(nodes), "nodes")
	b.ReportMetric(float64(edges), "edges")
}

// BenchmarkSnapshot is BenchmarkScan with the JSON encoding: what
// `fdscope snapshot --format json` does.
func BenchmarkSnapshot(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		snap, err := scan.New(scan.Options{}).Scan(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := snap.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
