package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestOpenFileHandles(t *testing.T) {
	for _, tc := range []struct {
		content string
		want    int64
	}{
		{"39421\t0\t2466293\n", 39421},
		{"0 0 100", 0},
		{"", -1},
		{"x 0 1", -1},
		{"-5 0 1", -1},
	} {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "sys/fs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "sys/fs/file-nr"), []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := openFileHandles(root); got != tc.want {
			t.Errorf("file-nr %q: %d, want %d", tc.content, got, tc.want)
		}
	}
	if got := openFileHandles(t.TempDir()); got != -1 {
		t.Errorf("no file-nr: %d, want -1", got)
	}
}

// The snapshot's collector settings are sized from file-nr and undone
// after: a test process that ran a snapshot keeps its own.
func TestTuneSnapshotGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sys/fs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sys/fs/file-nr"), []byte("1000\t0\t100000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	limit, percent := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)

	restore := tuneSnapshotGC(root)
	gotLimit, gotPercent := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(gotPercent)
	restore()
	if want := int64(snapshotHeapBase + 1000*snapshotHeapPerFile); gotLimit != want || gotPercent != -1 {
		t.Errorf("during a snapshot: memory limit %d, GC percent %d; want %d and -1 (off)", gotLimit, gotPercent, want)
	}
	afterLimit, afterPercent := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(afterPercent)
	if afterLimit != limit || afterPercent != percent {
		t.Errorf("after: memory limit %d, GC percent %d; want %d and %d as before", afterLimit, afterPercent, limit, percent)
	}

	// Without file-nr, or with GOGC set, nothing changes.
	for _, tc := range []struct{ root, gogc string }{{t.TempDir(), ""}, {root, "100"}} {
		t.Setenv("GOGC", tc.gogc)
		restore := tuneSnapshotGC(tc.root)
		l, p := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		restore()
		if l != limit || p != percent {
			t.Errorf("root %s, GOGC %q: memory limit %d, GC percent %d; want them unchanged", tc.root, tc.gogc, l, p)
		}
	}
}
