//go:build linux

package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
)

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	s := Summarize([]Sample{
		{Wall: 30 * ms, CPU: 20 * ms, MaxRSSKiB: 2048},
		{Wall: 10 * ms, CPU: 40 * ms, MaxRSSKiB: 10240},
		{Wall: 20 * ms, CPU: 30 * ms, MaxRSSKiB: 1024},
		{Wall: 50 * ms, CPU: 10 * ms, MaxRSSKiB: 1024},
	})
	want := Summary{WallMS: 25, WallMinMS: 10, WallMaxMS: 50, CPUMS: 25, PeakRSSMiB: 10}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
}

// resultWith is a result of a bpf snapshot (wall, RSS), a procfs one
// (twice the bpf one's wall), lsof and the floor.
func resultWith(snapWall, lsofWall, floorWall, rssMiB, fraction float64) *Result {
	seen := func(scanner string) *Seen {
		return &Seen{FDs: int(fraction * 1000), Fraction: fraction, Scanner: scanner}
	}
	r := &Result{
		Built: Built{FDs: 1000},
		Tools: []*ToolResult{
			{Name: SnapshotName("bpf"), Label: "snapshot-bpf", Command: "fdscope snapshot --format json --scanner bpf", Scanner: "bpf",
				Summary: Summary{WallMS: snapWall, CPUMS: snapWall, PeakRSSMiB: rssMiB}, Saw: seen("bpf")},
			{Name: SnapshotName("procfs"), Label: "snapshot-procfs", Command: "fdscope snapshot --format json --scanner procfs", Scanner: "procfs",
				Summary: Summary{WallMS: 2 * snapWall, CPUMS: 2 * snapWall, PeakRSSMiB: rssMiB}, Saw: seen("procfs")},
			{Name: ToolLsof, Label: "lsof -n -P", Command: "lsof -n -P", Summary: Summary{WallMS: lsofWall, CPUMS: lsofWall}},
			{Name: ToolFloor, Label: "floor", Command: "floor (fdscope bench floor)", Summary: Summary{WallMS: floorWall, CPUMS: floorWall}},
		},
	}
	r.Seen = r.Tools[0].Saw
	r.evaluate()
	return r
}

func TestTargets(t *testing.T) {
	pass := resultWith(40, 500, 50, 60, 1) // bpf 0.08× lsof, procfs 0.16×
	if len(pass.Targets) != 5 {            // bpf: lsof, RSS, seen; procfs: lsof, seen
		t.Fatalf("targets %+v", pass.Targets)
	}
	for _, tg := range pass.Targets {
		if !tg.Pass {
			t.Errorf("target %+v fails", tg)
		}
	}
	if err := pass.Check(true); err != nil {
		t.Errorf("Check: %v", err)
	}

	fail := resultWith(300, 1000, 100, 150, 1) // bpf 0.3× lsof and 150 MiB, procfs 0.6×
	failed := 0
	for _, tg := range fail.Targets {
		if !tg.Pass {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d targets fail, want 3: %+v", failed, fail.Targets)
	}
	if err := fail.Check(false); err != nil {
		t.Errorf("Check without enforce: %v", err)
	}
	err := fail.Check(true)
	if err == nil || strings.Count(err.Error(), "target failed") != 3 {
		t.Errorf("Check with enforce = %v, want three failed targets", err)
	}

	blind := resultWith(40, 500, 50, 60, 0.5)
	if err := blind.Check(false); err == nil || !strings.Contains(err.Error(), "did not scan the workload") {
		t.Errorf("Check of a snapshot that saw half the workload = %v", err)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := resultWith(100, 500, 50, 60, 1).WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"fdscope snapshot --format json --scanner bpf", "fdscope snapshot --format json --scanner procfs",
		"lsof -n -P", "floor (fdscope bench floor)", "snapshot-bpf / lsof -n -P", "wall 0.200", "snapshot-procfs / lsof -n -P", "wall 0.400",
		"FAIL  snapshot (bpf) wall ≤ 0.10× lsof -n -P wall", "0.200×", "PASS  snapshot (procfs) wall ≤ 0.50× lsof -n -P wall", "0.400×",
		"PASS  snapshot (bpf) peak RSS ≤ 80 MiB", "60.0 MiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSnapshotStatsFromTheTail(t *testing.T) {
	// A cmdline that holds the key itself must not fool the search.
	nodes := []*graph.Node{{ID: "p1", Kind: graph.KindProcess, Process: &graph.Process{Cmdline: `x "stats": {"fds": 7}`}}}
	snap := graph.New(nodes, nil, graph.Stats{FDs: 4242, Sockets: 17, Processes: 1, Sharing: "kcmp"})
	f, err := os.Create(filepath.Join(t.TempDir(), "snap.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := snap.WriteJSON(f); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st, err := snapshotStats(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	if st.FDs != 4242 || st.Sockets != 17 || st.Sharing != "kcmp" {
		t.Errorf("stats = %+v", st)
	}
	if _, err := snapshotStats(f, 3); err == nil {
		t.Error("a cut snapshot gave stats")
	}
}

func TestFloorOnAFixtureTree(t *testing.T) {
	root := t.TempDir()
	for pid, fds := range map[string]int{"1": 3, "42": 5, "self": 2} {
		dir := filepath.Join(root, pid, "fd")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for n := range fds {
			if err := os.Symlink("socket:[123]", filepath.Join(dir, string(rune('0'+n)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "43"), 0o755); err != nil { // no fd directory: gone
		t.Fatal(err)
	}
	st, err := Floor(context.Background(), root, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := (FloorStats{Processes: 2, FDs: 8, Readlinks: 8}); st != want {
		t.Errorf("Floor = %+v, want %+v", st, want)
	}
}

func TestNum(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 65486: "65,486", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
}
