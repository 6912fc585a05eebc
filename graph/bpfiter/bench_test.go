//go:build linux

package bpfiter_test

import (
	"testing"

	"github.com/fdscope/fdscope/graph/bpfiter"
)

// BenchmarkOpenDumpClose: loading the program (BTF relocation, the
// verifier) dominates a one-off dump.
func BenchmarkOpenDumpClose(b *testing.B) {
	for b.Loop() {
		it, err := bpfiter.Open()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := it.Files(); err != nil {
			b.Fatal(err)
		}
		it.Close()
	}
}

// BenchmarkDump: one dump of every fd of the pid namespace, with the
// iterator loaded once.
func BenchmarkDump(b *testing.B) {
	it, err := bpfiter.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	for b.Loop() {
		if _, err := it.Files(); err != nil {
			b.Fatal(err)
		}
	}
}
