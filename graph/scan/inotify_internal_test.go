//go:build linux

package scan

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
)

// What a Scanner learned of a watched inode is reused by the next scan, not
// opened again, and forgotten once the watch is gone.
func TestInotifyWatchedCache(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: open_by_handle_at wants CAP_DAC_READ_SEARCH")
	}
	path := filepath.Join(t.TempDir(), "watched")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	wd, err := unix.InotifyAddWatch(in, path, unix.IN_MODIFY)
	if err != nil {
		t.Fatal(err)
	}
	id := graph.InodeID(graph.KindFile, devString(st.Dev), st.Ino)
	s := New(Options{PIDs: []int{os.Getpid()}})
	scanPath := func() string {
		t.Helper()
		snap, err := s.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := snap.Node(id)
		if n == nil {
			return ""
		}
		return n.Path
	}
	if got := scanPath(); got != path {
		t.Fatalf("first scan: node %s has path %q, want %q", id, got, path)
	}
	if len(s.watched) != 1 {
		t.Fatalf("the scanner keeps %d watched inodes, want 1", len(s.watched))
	}
	for _, w := range s.watched {
		w.name = "/as it was learned"
	}
	if got := scanPath(); got != "/as it was learned" {
		t.Errorf("second scan: node %s has path %q: the inode was opened again instead of taken from the last scan", id, got)
	}
	if _, err := unix.InotifyRmWatch(in, uint32(wd)); err != nil {
		t.Fatal(err)
	}
	if got := scanPath(); got != "" {
		t.Errorf("after inotify_rm_watch: node %s is still there, path %q", id, got)
	}
	if len(s.watched) != 0 {
		t.Errorf("after inotify_rm_watch the scanner keeps %d watched inodes, want 0", len(s.watched))
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		"/":                 "/",
		`/mnt/my\040disk`:   "/mnt/my disk",
		`/a\011b\012c\134d`: "/a\tb\nc\\d",
		`/trailing\04`:      `/trailing\04`,
		`/not\999octal`:     `/not\999octal`,
		`\040`:              " ",
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkInotifyWatches scans the benchmark's own process while it
// watches 10,000 directories that no fd holds: "new scanner" opens every
// one by its handle, "same scanner" answers from what the last scan learned.
func BenchmarkInotifyWatches(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: open_by_handle_at wants CAP_DAC_READ_SEARCH")
	}
	const n = 10000
	dir := b.TempDir()
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(in)
	for i := range n {
		d := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
		if _, err := unix.InotifyAddWatch(in, d, unix.IN_CREATE); err != nil {
			b.Skipf("inotify_add_watch: %v (fs.inotify.max_user_watches?)", err)
		}
	}
	opts := Options{PIDs: []int{os.Getpid()}}
	scanOnce := func(b *testing.B, s *Scanner) {
		snap, err := s.Scan(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if got := snap.CountKinds()[graph.KindDir]; got < n {
			b.Fatalf("%d dir nodes, want at least %d", got, n)
		}
	}
	b.Run("new scanner", func(b *testing.B) {
		for b.Loop() {
			scanOnce(b, New(opts))
		}
	})
	b.Run("same scanner", func(b *testing.B) {
		s := New(opts)
		scanOnce(b, s)
		for b.Loop() {
			scanOnce(b, s)
		}
	})
}

// A watched inode of a disk filesystem is never taken for the socket or
// pipe that has its inode number; sockfs and pipefs inodes are found by
// number alone.
func TestByKernelDevInoSocketNumber(t *testing.T) {
	b := &builder{socketNodes: map[uint64]int32{4242: 0}, pipeNodes: map[uint64]int32{4343: 1}, byDevIno: map[devIno]int32{}}
	b.nodes = []*graph.Node{{ID: graph.SocketID(4242)}, {ID: graph.PipeID(4343)}}
	const disk = 254<<20 | 1 // 254:1, as fdinfo prints it
	const sockfs = 8         // 0:8
	for _, c := range []struct {
		sdev uint32
		ino  uint64
		want string
	}{
		{disk, 4242, ""},
		{disk, 4343, ""},
		{sockfs, 4242, graph.SocketID(4242)},
		{sockfs, 4343, graph.PipeID(4343)},
		{sockfs, 1, ""},
	} {
		got := ""
		if n := b.byKernelDevIno(c.sdev, c.ino); n != noNode {
			got = b.nodes[n].ID
		}
		if got != c.want {
			t.Errorf("byKernelDevIno(%#x, %d) = %q, want %q", c.sdev, c.ino, got, c.want)
		}
	}
}
