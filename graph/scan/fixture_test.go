//go:build linux

package scan

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestFixtureTree scans the committed proc tree in testdata/proc — the unix
// echo server and client of seed 000, with a pipe, a dup'd pipe end, an
// epoll, an eventfd and one malformed fdinfo — without the kernel's
// sock_diag or kcmp, and compares the graph with testdata/fixture.golden.json.
// Run with -update to rewrite it after a deliberate change, and read the
// diff.
func TestFixtureTree(t *testing.T) {
	s := New(Options{ProcRoot: filepath.Join("testdata", "proc"), NoSockDiag: true, NoKcmp: true})
	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snap.Stats.StartedAt, snap.Stats.DurationMS = time.Time{}, 0
	var got bytes.Buffer
	if err := snap.WriteJSON(&got); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "fixture.golden.json")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("graph of testdata/proc differs from %s (run go test -run TestFixtureTree -update and read the diff):\n%s", golden, got.Bytes())
	}

	// What the golden file must show, whatever else changes.
	if st := snap.Stats; st.Processes != 2 || st.Sharing != "heuristic" || st.DeniedFDs != 0 || st.Sockets != 4 {
		t.Errorf("stats: %+v", st)
	}
	server, client := "proc:2554:5000", "proc:2555:5100"
	if snap.Node(server) == nil || snap.Node(client) == nil {
		t.Fatal("processes missing")
	}
	// fd 5 and fd 6 of the server (dup, one with O_CLOEXEC) share one description.
	if a, b := snap.EdgesFrom("fd:2554:5000:5"), snap.EdgesFrom("fd:2554:5000:6"); len(a) != 1 || len(b) != 1 || a[0].To != b[0].To {
		t.Errorf("dup'd pipe ends not sharing a description: %v %v", a, b)
	}
	if n := snap.Node("fd:2554:5000:6"); n == nil || !n.FD.CloExec {
		t.Errorf("fd 6 should be close-on-exec: %+v", n)
	}
	// The client's write end is another description of the same pipe.
	if snap.Node("pipe:[4431]") == nil || snap.Node("ofd:2555:5100:4") == nil {
		t.Error("client's pipe end missing")
	}
	// The epoll watches the accepted socket's and the eventfd's descriptions.
	if got := snap.EdgesFrom("anon:eventpoll:ofd:2554:5000:7"); len(got) != 2 || got[0].To != "ofd:2554:5000:4" || got[1].To != "ofd:2554:5000:8" {
		t.Errorf("epoll watches %v", got)
	}
	// The malformed fdinfo is reported on its fd, not fatal.
	if n := snap.Node("fd:2555:5100:9"); n == nil || n.Error == "" {
		t.Errorf("fd 9 with malformed fdinfo should carry an error: %+v", n)
	}
}
