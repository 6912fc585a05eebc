//go:build linux

package bpfiter_test

import (
	"testing"

	"github.com/fdscope/fdscope/graph/bpfiter"
)

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
