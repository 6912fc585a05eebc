package diagram_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
)

// liveServer is a server (pid 10) as a live view sees it change: stdio on
// the terminal, a listener on fd 3, one accepted connection per entry of
// conns (fd → peer pid, the peer's end on its fd 3) and a log file per
// entry of files (fd numbers).
func liveServer(conns map[int]int, files []int) *graph.Snapshot {
	var b diagramtest.Builder
	tty := b.File(graph.KindChr, "0:25", 3, "/dev/pts/0", "136:0")
	b.Proc(10, 1, 1000, "server", "server", 4+len(conns)+len(files))
	o := b.OFD(10, 0, "rw", 0, 3, tty)
	for fd := range 3 {
		b.FD(10, fd, false, o)
	}
	ln := b.Socket(500, "unix", "stream", "", "listen", "/run/s.sock", "")
	b.FD(10, 3, true, b.OFD(10, 3, "rw", 0, 1, ln))
	fds := make([]int, 0, len(conns))
	for fd := range conns {
		fds = append(fds, fd)
	}
	slices.Sort(fds)
	for _, fd := range fds {
		pid := conns[fd]
		b.Proc(pid, 1, uint64(2000+pid), fmt.Sprintf("client%d", pid), "client", 4)
		srv := b.Socket(uint64(1000+fd), "unix", "stream", "", "established", "/run/s.sock", "")
		cli := b.Socket(uint64(3000+pid), "unix", "stream", "", "established", "", "/run/s.sock")
		b.FD(10, fd, true, b.OFD(10, fd, "rw", 0, 1, srv))
		b.FD(pid, 3, true, b.OFD(pid, 3, "rw", 0, 1, cli))
		b.Accepted(ln, srv)
		b.Peer(srv, cli)
	}
	for _, fd := range files {
		f := b.File(graph.KindFile, "8:1", uint64(7000+fd), fmt.Sprintf("/var/log/s-%d.log", fd), "")
		b.FD(10, fd, true, b.OFD(10, fd, "w", 0, 1, f, "O_APPEND"))
	}
	return b.Snapshot()
}

func liveLayout(t testing.TB, s *graph.Snapshot, o diagram.Options) *diagram.Layout {
	t.Helper()
	return diagram.NewLayout(graph.NewIndex(s).Focus(10), 10, o)
}

// where maps every box and port ID of a layout to its column and tier.
func where(l *diagram.Layout) map[string][2]int {
	out := map[string][2]int{}
	for _, b := range l.Boxes {
		out[b.ID] = [2]int{b.Tier, b.Rect.X}
		for _, p := range b.Ports {
			out[p.ID] = [2]int{b.Tier, p.Rect.X}
		}
	}
	return out
}

// moved lists the boxes and ports of a that are in b at another place.
func moved(a, b *diagram.Layout) []string {
	wa, wb := where(a), where(b)
	var out []string
	for id, p := range wa {
		if q, ok := wb[id]; ok && p != q {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// sequences lists, in a layout, the IDs of the processes, of each
// process's ports, of the descriptions and of the objects of each tier,
// left to right.
func sequences(l *diagram.Layout) map[string][]string {
	out := map[string][]string{}
	for _, b := range l.Boxes {
		layer := "object"
		switch {
		case b.Kind == string(graph.KindProcess):
			layer = "process"
			for _, p := range b.Ports {
				out["ports of "+b.ID] = append(out["ports of "+b.ID], p.ID)
			}
		case b.Kind == string(graph.KindOFD) || strings.HasPrefix(b.ID, "group:ofd:"):
			layer = "ofd"
		}
		k := fmt.Sprintf("tier %d %s", b.Tier, layer)
		out[k] = append(out[k], b.ID) // Boxes are sorted by tier, row, column
	}
	return out
}

// checkStable fails unless every box and port of a that is in b keeps its
// order in b, and those in keep keep their column.
func checkStable(t *testing.T, name string, a, b *diagram.Layout, keep func(id string) bool) {
	t.Helper()
	sa, sb := sequences(a), sequences(b)
	for k, ids := range sa {
		in := map[string]bool{}
		for _, id := range sb[k] {
			in[id] = true
		}
		var common []string
		for _, id := range ids {
			if in[id] {
				common = append(common, id)
			}
		}
		var got []string
		for _, id := range sb[k] {
			if slices.Contains(common, id) {
				got = append(got, id)
			}
		}
		if !slices.Equal(common, got) {
			t.Errorf("%s: %s in order %v, was %v", name, k, got, common)
		}
	}
	wa, wb := where(a), where(b)
	for _, id := range moved(a, b) {
		if wa[id][0] != wb[id][0] || strings.Contains(id, "#") {
			// Wrapped: another tier, or a process drawn again named by
			// how many times it was drawn before.
			continue
		}
		if wb[id][1] < wa[id][1] {
			t.Errorf("%s: %s moved left from %v to %v", name, id, wa[id], wb[id])
		}
		if keep(id) {
			t.Errorf("%s: %s moved from %v to %v", name, id, wa[id], wb[id])
		}
	}
}

// One fd or connection more or less moves nothing that need not move.
func TestPrevStable(t *testing.T) {
	base := map[int]int{4: 20, 5: 21, 6: 22}
	with := func(fd, pid int) map[int]int {
		m := maps.Clone(base)
		if pid == 0 {
			delete(m, fd)
		} else {
			m[fd] = pid
		}
		return m
	}
	focusSide := func(id string) bool { // the focus, its ports and what its fds lead to
		return !strings.Contains(id, ":2020") && !strings.Contains(id, ":2021") && !strings.Contains(id, ":2022") &&
			!strings.HasPrefix(id, "socket:[30")
	}
	all := func(string) bool { return true }
	for _, w := range []int{0, 80} {
		prev := liveLayout(t, liveServer(base, []int{7, 8}), diagram.Options{Width: w})
		for _, c := range []struct {
			name string
			snap *graph.Snapshot
			keep func(string) bool
		}{
			{"same", liveServer(base, []int{7, 8}), all},
			{"one more file", liveServer(base, []int{7, 8, 9}), focusSide},
			{"one more peer", liveServer(with(9, 23), []int{7, 8}), focusSide},
			{"one file less", liveServer(base, []int{8}), all},
			{"one peer less", liveServer(with(5, 0), []int{7, 8}), all},
			{"one peer for another", liveServer(with(5, 24), []int{7, 8}), all},
		} {
			name := fmt.Sprintf("%s (width %d)", c.name, w)
			opts := diagram.Options{Width: w, Prev: prev}
			l := liveLayout(t, c.snap, opts)
			if w > 0 {
				// Wrapping may move components between tiers; order is kept anyway.
				c.keep = func(string) bool { return false }
			}
			checkStable(t, name, prev, l, c.keep)
			checkGeometry(t, name, l)
			if c.name == "one more peer" && w == 0 {
				if ps := sequences(l)["tier 0 process"]; ps[len(ps)-1] != graph.ProcessID(23, 2023) {
					t.Errorf("%s: the new peer is not after the others: %v", name, ps)
				}
			}
			// Deterministic.
			a, _ := json.Marshal(l)
			b, _ := json.Marshal(liveLayout(t, c.snap, opts))
			if !bytes.Equal(a, b) {
				t.Errorf("%s: two layouts with the same Prev differ", name)
			}
		}
	}
}

// A layout laid out again with itself as Prev is the same layout; Prev of
// another focus is ignored.
func TestPrevSame(t *testing.T) {
	for _, sc := range append(slices.Clone(scenarios),
		scenario{name: "large", snap: func() *graph.Snapshot { return diagramtest.Large(300, 40) }, pid: 5000},
		scenario{name: "large_wrapped", snap: func() *graph.Snapshot { return diagramtest.Large(300, 40) }, pid: 5000, opts: diagram.Options{Width: 90}},
		scenario{name: "large_expanded", snap: func() *graph.Snapshot { return diagramtest.Large(100, 10) }, pid: 5000, opts: diagram.Options{Expand: true, Width: 120}}) {
		l := sc.layout(t)
		want, _ := json.Marshal(l)
		o := sc.opts
		o.Prev = l
		got, _ := json.Marshal(diagram.NewLayout(sc.focus(t), sc.pid, o))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: laid out with itself as Prev, the layout changes", sc.name)
		}
		other := *l
		other.Focus++
		o.Prev = &other
		got, _ = json.Marshal(diagram.NewLayout(sc.focus(t), sc.pid, o))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: a Prev of another focus changes the layout", sc.name)
		}
	}
}

// clientView is the focus of a client (pid 20) with n connections to one
// server (pid 10): client fd 3+i ⇄ server fd 4+i, accepted from the
// server's listener on fd 3.
func clientView(n int) *graph.Snapshot {
	var b diagramtest.Builder
	tty := b.File(graph.KindChr, "0:25", 3, "/dev/pts/0", "136:0")
	b.Proc(10, 1, 1000, "server", "server", 4+n)
	b.Proc(20, 1, 2000, "client", "client", 3+n)
	for _, pid := range []int{10, 20} {
		o := b.OFD(pid, 0, "rw", 0, 3, tty)
		for fd := range 3 {
			b.FD(pid, fd, false, o)
		}
	}
	ln := b.Socket(500, "unix", "stream", "", "listen", "/run/s.sock", "")
	b.FD(10, 3, true, b.OFD(10, 3, "rw", 0, 1, ln))
	for i := range n {
		srv := b.Socket(uint64(1000+i), "unix", "stream", "", "established", "/run/s.sock", "")
		cli := b.Socket(uint64(3000+i), "unix", "stream", "", "established", "", "/run/s.sock")
		b.FD(10, 4+i, true, b.OFD(10, 4+i, "rw", 0, 1, srv))
		b.FD(20, 3+i, true, b.OFD(20, 3+i, "rw", 0, 1, cli))
		b.Accepted(ln, srv)
		b.Peer(srv, cli)
	}
	return b.Snapshot()
}

// A client opening and closing connections to the same server, laid out
// each time from the layout before: nothing overlaps, order is kept.
func TestPrevClientConnections(t *testing.T) {
	for _, w := range []int{0, 80} {
		var prev *diagram.Layout
		for step, n := range []int{1, 2, 3, 2, 4, 1} {
			s := clientView(n)
			l := diagram.NewLayout(graph.NewIndex(s).Focus(20), 20, diagram.Options{Width: w, Prev: prev})
			name := fmt.Sprintf("width %d, step %d (%d connections)", w, step, n)
			checkGeometry(t, name, l)
			if prev != nil {
				checkStable(t, name, prev, l, func(string) bool { return false })
			}
			prev = l
		}
	}
}

// With Headroom, a new connection takes a spare row: no box moves, not
// even down; with Prev, a closed one leaves the rows where they were.
func TestPrevRows(t *testing.T) {
	lay := func(n int, prev *diagram.Layout) *diagram.Layout {
		return diagram.NewLayout(graph.NewIndex(clientView(n)).Focus(20), 20, diagram.Options{Headroom: 1, Prev: prev})
	}
	rects := func(l *diagram.Layout) map[string]diagram.Rect {
		out := map[string]diagram.Rect{}
		for _, b := range l.Boxes {
			out[b.ID] = b.Rect
		}
		return out
	}
	one := lay(1, nil)
	two := lay(2, one)
	back := lay(1, two)
	for _, step := range []struct {
		name     string
		from, to *diagram.Layout
	}{{"a connection opened", one, two}, {"and closed", two, back}} {
		checkGeometry(t, step.name, step.to)
		a, b := rects(step.from), rects(step.to)
		for id, r := range a {
			if q, ok := b[id]; ok && (q.X != r.X || q.Y != r.Y) {
				t.Errorf("%s: %s moved from %v to %v", step.name, id, r, q)
			}
		}
	}
	// Without Headroom the same change moves the kernel layers down a row:
	// the test above would catch a Headroom that does nothing.
	tight := diagram.NewLayout(graph.NewIndex(clientView(1)).Focus(20), 20, diagram.Options{})
	tight2 := diagram.NewLayout(graph.NewIndex(clientView(2)).Focus(20), 20, diagram.Options{Prev: tight})
	moved := 0
	for id, r := range rects(tight) {
		if q, ok := rects(tight2)[id]; ok && q.Y != r.Y {
			moved++
		}
	}
	if moved == 0 {
		t.Error("without Headroom nothing moved either: the scenario no longer tests Headroom")
	}
}
