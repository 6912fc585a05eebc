//go:build linux

package scan_test

import (
	"context"
	"io"
	"testing"

	"github.com/fdscope/fdscope/graph/scan"
)

// BenchmarkSnapshotBPF is BenchmarkSnapshot with the bpf backend: what
// `fdscope snapshot --scanner bpf --format json` does. It is skipped where
// the iterator cannot be loaded (not root, no BTF).
func BenchmarkSnapshotBPF(b *testing.B) {
	ctx := context.Background()
	s := scan.New(scan.Options{Backend: scan.BackendBPF})
	if _, err := s.Scan(ctx); err != nil {
		b.Skipf("bpf scanner: %v", err)
	}
	for b.Loop() {
		snap, err := scan.New(scan.Options{Backend: scan.BackendBPF}).Scan(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := snap.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
