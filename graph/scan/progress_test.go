//go:build linux

package scan

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// TestProgress scans the fixture tree and checks what Options.Progress is told.
func TestProgress(t *testing.T) {
	type report struct {
		phase       string
		done, total int
	}
	var mu sync.Mutex
	var got []report
	s := New(Options{ProcRoot: filepath.Join("testdata", "proc"), NoSockDiag: true, NoKcmp: true,
		Progress: func(phase string, done, total int) {
			mu.Lock()
			got = append(got, report{phase, done, total})
			mu.Unlock()
		}})
	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0] != (report{"processes", 0, 2}) {
		t.Fatalf("first report %v, want processes 0/2", got)
	}
	if last := got[len(got)-1]; last != (report{"graph", 2, 2}) {
		t.Errorf("last report %v, want graph 2/2", last)
	}
	var phases []string
	maxDone := map[string]report{}
	for _, r := range got {
		if len(phases) == 0 || phases[len(phases)-1] != r.phase {
			phases = append(phases, r.phase)
		}
		if r.done > maxDone[r.phase].done {
			maxDone[r.phase] = r
		}
	}
	if !slices.Equal(phases, []string{"processes", "fds", "sockets", "graph"}) {
		t.Errorf("phases %v", phases)
	}
	if r := maxDone["processes"]; r.done != 2 || r.total != 2 {
		t.Errorf("processes reached %v", r)
	}
	if r := maxDone["fds"]; r.done != r.total || r.done < snap.Stats.FDs {
		t.Errorf("fds reached %v; the scan saw %d fds", r, snap.Stats.FDs)
	}
}
