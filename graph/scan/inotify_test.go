//go:build linux

package scan_test

// inotify watches of inodes that no process holds open.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
)

// roleInotify PATH...: an inotify instance ("inotify") watching each PATH
// ("w0", "w1", ...: the inode and "maj:min" of each). A PATH written
// +PATH is also held open ("held<i>").
func roleInotify(c *ctl, args []string) error {
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return err
	}
	f := newFacts()
	if err := addFD(f, "inotify", in); err != nil {
		return err
	}
	for i, path := range args {
		name := "w" + strconv.Itoa(i)
		if p, ok := strings.CutPrefix(path, "+"); ok {
			path = p
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			if err := addFD(f, "held"+strconv.Itoa(i), fd); err != nil {
				return err
			}
		}
		if _, err := unix.InotifyAddWatch(in, path, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_DELETE); err != nil {
			return fmt.Errorf("inotify_add_watch %s: %w", path, err)
		}
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return err
		}
		f.Ino[name] = st.Ino
		f.Str[name] = path
		f.Str[name+".dev"] = graph.DevString(unix.Major(st.Dev), unix.Minor(st.Dev))
	}
	return c.ready(f)
}

// An inotify watch of a file or directory that no process holds open is a
// watch edge to an object node with the ID an open of it would give; a
// watched inode that is also held is the one object.
func TestInotifyUnheld(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file, held, watchedDir := filepath.Join(dir, "watched.txt"), filepath.Join(dir, "held.txt"), filepath.Join(dir, "sub")
	for _, p := range []string{file, held} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(watchedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "inotify", childOpts{args: []string{file, watchedDir, "+" + held}})
	f := c.ready()
	sc := scan.New(scan.Options{PIDs: []int{c.pid}})
	v := newView(t, scanWith(t, sc, false))
	in := v.object(c.pid, f.FD["inotify"])
	if in.Kind != graph.KindAnon || in.AnonType != "inotify" || in.Detail != "3 watches" {
		t.Fatalf("inotify instance: %s", dumpNodes(in))
	}
	heldObj := v.object(c.pid, f.FD["held2"])
	want := map[string]*graph.Node{}
	for _, w := range []struct {
		name string
		kind graph.Kind
	}{{"w0", graph.KindFile}, {"w1", graph.KindDir}, {"w2", graph.KindFile}} {
		id := graph.InodeID(w.kind, f.Str[w.name+".dev"], f.Ino[w.name])
		n := v.s.Node(id)
		if n == nil {
			t.Errorf("no node %s for the watched %s %s\n%s", id, w.kind, f.Str[w.name], v.around(in.ID))
			continue
		}
		if os.Geteuid() == 0 && (n.Path != f.Str[w.name] || n.Error != "") {
			t.Errorf("watched %s: want path %s and no error, got %s", f.Str[w.name], f.Str[w.name], dumpNodes(n))
		}
		want[id] = n
	}
	if heldObj.ID != graph.InodeID(graph.KindFile, f.Str["w2.dev"], f.Ino["w2"]) {
		t.Errorf("the held and watched file is %s, want the watched node", heldObj.ID)
	}
	watches := v.out(in.ID, graph.EdgeWatch)
	if len(watches) != 3 {
		t.Errorf("want 3 watch edges from %s, got %v", in.ID, watches)
	}
	for _, e := range watches {
		if want[e.To] == nil {
			t.Errorf("watch edge %v to something not watched", e)
		}
	}

	// A second scan by the same scanner answers from what it learned.
	v = newView(t, scanWith(t, sc, false))
	if got := v.out(in.ID, graph.EdgeWatch); len(got) != 3 {
		t.Errorf("second scan: want 3 watch edges from %s, got %v", in.ID, got)
	}
	for id := range want {
		if n := v.s.Node(id); n == nil || os.Geteuid() == 0 && n.Path == "" {
			t.Errorf("second scan: node %s missing or without a path: %s", id, dumpNodes(n))
		}
	}
}

// A watched inode that cannot be opened by its handle is still an object,
// known by device and inode, with an error saying why.
func TestInotifyUnresolved(t *testing.T) {
	t.Parallel()
	// procfs encodes only handles that cannot be opened (FILEID_INO64_GEN).
	c := startChild(t, "inotify", childOpts{args: []string{"/proc/self/"}})
	f := c.ready()
	v := newView(t, scanPIDs(t, c.pid))
	in := v.object(c.pid, f.FD["inotify"])
	watches := v.out(in.ID, graph.EdgeWatch)
	if len(watches) != 1 {
		t.Fatalf("want one watch edge from %s, got %v", in.ID, watches)
	}
	n := v.node(watches[0].To)
	if n.Inode != f.Ino["w0"] {
		t.Errorf("watched /proc/%d: node %s, want inode %d", c.pid, dumpNodes(n), f.Ino["w0"])
	}
	switch n.Kind {
	case graph.KindUnknown:
		name := fmt.Sprintf("inode %d on dev %s", f.Ino["w0"], f.Str["w0.dev"])
		if n.ID != "unknown:"+name || n.Name != name || n.Dev != f.Str["w0.dev"] || n.Error == "" {
			t.Errorf("unresolved watch: want node unknown:%s with dev %s and an error, got %s", name, f.Str["w0.dev"], dumpNodes(n))
		}
	case graph.KindDir: // a kernel whose procfs opens handles
		if n.ID != graph.InodeID(graph.KindDir, f.Str["w0.dev"], f.Ino["w0"]) {
			t.Errorf("resolved watch of /proc/%d: %s", c.pid, dumpNodes(n))
		}
	default:
		t.Errorf("watched /proc/%d: node %s", c.pid, dumpNodes(n))
	}
	t.Logf("watched /proc/%d: %s", c.pid, dumpNodes(n))
}
