package diagram_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// scenario is one focus view of a seed scenario.
type scenario struct {
	name string
	snap func() *graph.Snapshot
	pid  int
	opts diagram.Options
	text diagram.TextOptions
}

var scenarios = []scenario{
	{name: "unix_echo_client", snap: diagramtest.UnixEcho, pid: 2555},
	{name: "unix_echo_server", snap: diagramtest.UnixEcho, pid: 2554},
	{name: "unix_echo_server_ascii", snap: diagramtest.UnixEcho, pid: 2554, text: diagram.TextOptions{ASCII: true}},
	{name: "tcp_echo_client", snap: diagramtest.TCPEcho, pid: 14202},
	{name: "tcp_echo_server", snap: diagramtest.TCPEcho, pid: 14199},
	{name: "three_tables", snap: diagramtest.ThreeTables, pid: 100},
	{name: "pipe", snap: diagramtest.Pipe, pid: 300},
	{name: "busy_wrapped", snap: func() *graph.Snapshot { return diagramtest.Large(60, 3) }, pid: 5000,
		opts: diagram.Options{Width: 100}, text: diagram.TextOptions{Width: 100}},
	{name: "epoll_server", snap: diagramtest.EpollEcho, pid: 2554},
	{name: "epoll_server_watches", snap: diagramtest.EpollEcho, pid: 2554, opts: diagram.Options{Watches: true}},
	{name: "inotify_watches", snap: diagramtest.Inotify, pid: 4100, opts: diagram.Options{Watches: true}},
	{name: "crowd", snap: func() *graph.Snapshot { return diagramtest.Crowd(24) }, pid: 9940,
		opts: diagram.Options{Width: 120}, text: diagram.TextOptions{Width: 120}},
	{name: "prefork", snap: func() *graph.Snapshot { return diagramtest.Prefork(4) }, pid: 701,
		opts: diagram.Options{Width: 120}, text: diagram.TextOptions{Width: 120}},
	// What flows: 1.2 MB/s on the TCP connection (the ends disagree a
	// little, as they do when sampled), a queue on the unix one.
	{name: "tcp_echo_server_activity", snap: diagramtest.TCPEcho, pid: 14199, opts: diagram.Options{Activity: map[string]diagram.Activity{
		graph.SocketID(99155): {BytesPerSec: 1_234_567}, graph.SocketID(28728): {BytesPerSec: 1_200_000, Queued: 512}}}},
	{name: "unix_echo_server_activity", snap: diagramtest.UnixEcho, pid: 2554, opts: diagram.Options{Activity: map[string]diagram.Activity{
		graph.SocketID(28725): {Queued: 4096}, graph.SocketID(28724): {BytesPerSec: 99}}}},
	// A pipe has no connection line: what waits in it is a line of its box.
	{name: "pipe_activity", snap: diagramtest.Pipe, pid: 300, opts: diagram.Options{Activity: map[string]diagram.Activity{
		graph.PipeID(4431): {Queued: 8192}}}},
}

func (sc scenario) focus(t testing.TB) *graph.Snapshot {
	t.Helper()
	f := graph.NewIndex(sc.snap()).Focus(sc.pid)
	if f == nil {
		t.Fatalf("%s: no process %d", sc.name, sc.pid)
	}
	return f
}

func (sc scenario) layout(t testing.TB) *diagram.Layout {
	t.Helper()
	return diagram.NewLayout(sc.focus(t), sc.pid, sc.opts)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./diagram -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from line %d:\n got: %q\nwant: %q\n(go test ./diagram -update rewrites it)\n%s", path, i+1, g, w, got)
			}
		}
	}
}

func render(t testing.TB, l *diagram.Layout, opts diagram.TextOptions) string {
	t.Helper()
	var b strings.Builder
	if err := diagram.Text(l, &b, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func renderSVG(t testing.TB, l *diagram.Layout, opts diagram.SVGOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := diagram.SVG(l, &b, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := sc.layout(t)
			golden(t, sc.name+".txt", []byte(render(t, l, sc.text)))
			if !sc.text.ASCII {
				golden(t, sc.name+".svg", renderSVG(t, l, diagram.SVGOptions{}))
			}
		})
	}
	// The layout's JSON form, which the browser draws.
	l := scenarios[1].layout(t)
	js, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "unix_echo_server.layout.json", append(js, '\n'))
	golden(t, "unix_echo_server_dark.svg", renderSVG(t, l, diagram.SVGOptions{Theme: "dark"}))
}

// What the seed figures must show, whatever the exact placement.
func TestSeedContent(t *testing.T) {
	for _, c := range []struct {
		sc   int
		want []string
	}{
		{0, []string{"client.py  pid 2555", "server.py  pid 2554", "0 1 2", "fd 3", "fd 4", "user space", "kernel space",
			"socket:[28728]", "socket:[28725]", "unix stream", "ESTABLISHED", "/dev/pts/0", "ofd rw", "── unix stream /tmp/server.sock ──", "╪"}},
		{1, []string{"socket:[28724]", "LISTEN", "/tmp/server.sock", "── accepted ──", "▲", "+3 more"}},
		{3, []string{"tcp 127.0.0.1:56946 ⇄ 127.0.0.1:22222", "127.0.0.1:56946", "127.0.0.1:22222"}},
		{4, []string{"socket:[99154]", "socket:[99155]", "LISTEN", "tcp 127.0.0.1:22222 ⇄ 127.0.0.1:56946"}},
		{5, []string{"fd 1 + fd 30 (dup)", "ofd w pos 9", "100:2 + 101:2 (fork)", "ofd rw pos 23", "/data/f.txt", "inode 1976",
			"/tmp/log", "inode 5120", "child of pid 100"}},
		{6, []string{"sh  pid 300", "grep  pid 301", "ofd w", "ofd r", "pipe:[4431]"}},
		{7, []string{"fds 7–20", "14 ofds w", "fds 21–33", "13 ofds rw", "14 × file", "13 × eventfd", "13 × eventpoll", "/dev/null",
			"busyd  pid 5000", "client0  pid 6000", "client2  pid 6002", "unix stream /run/busyd.sock"}},
	} {
		sc := scenarios[c.sc]
		out := render(t, sc.layout(t), sc.text)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: no %q in\n%s", sc.name, w, out)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, sc := range append(slices.Clone(scenarios),
		scenario{name: "large", snap: func() *graph.Snapshot { return diagramtest.Large(300, 40) }, pid: 5000},
		scenario{name: "large_wrapped", snap: func() *graph.Snapshot { return diagramtest.Large(300, 40) }, pid: 5000, opts: diagram.Options{Width: 90}}) {
		a, err := json.Marshal(sc.layout(t))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			b, _ := json.Marshal(sc.layout(t))
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: two layouts of the same snapshot differ", sc.name)
			}
		}
	}
}

// Every edge is an orthogonal polyline from the border of its source to
// the border of its target, and no edge runs through a box.
func TestEdgeGeometry(t *testing.T) {
	for _, sc := range allLayouts(t) {
		l := sc.l
		boxes := map[string]diagram.Rect{}
		occupied := map[diagram.Point]string{}
		for _, b := range l.Boxes {
			for y := b.Rect.Y; y < b.Rect.Y+b.Rect.H; y++ {
				for x := b.Rect.X; x < b.Rect.X+b.Rect.W; x++ {
					occupied[diagram.Point{X: x, Y: y}] = b.ID
				}
			}
			boxes[b.ID] = b.Rect
			for _, p := range b.Ports {
				boxes[p.ID] = b.Rect // an edge leaves a port through its process box's border
			}
		}
		onBorder := func(r diagram.Rect, p diagram.Point) bool {
			in := p.X >= r.X && p.X < r.X+r.W && p.Y >= r.Y && p.Y < r.Y+r.H
			return in && (p.X == r.X || p.X == r.X+r.W-1 || p.Y == r.Y || p.Y == r.Y+r.H-1)
		}
		for _, e := range l.Edges {
			if len(e.Points) < 2 {
				t.Fatalf("%s: edge %s has %d points", sc.name, e.ID, len(e.Points))
			}
			for i := 1; i < len(e.Points); i++ {
				a, b := e.Points[i-1], e.Points[i]
				if a.X != b.X && a.Y != b.Y {
					t.Fatalf("%s: edge %s is not orthogonal: %v → %v", sc.name, e.ID, a, b)
				}
			}
			from, ok1 := boxes[e.From]
			to, ok2 := boxes[e.To]
			if !ok1 || !ok2 {
				t.Fatalf("%s: edge %s joins unknown boxes", sc.name, e.ID)
			}
			if !onBorder(from, e.Points[0]) || !onBorder(to, e.Points[len(e.Points)-1]) {
				t.Errorf("%s: edge %s does not start and end on its boxes' borders: %v", sc.name, e.ID, e.Points)
			}
			// No cell of the edge, its ends excepted, is inside or on a box.
			cells := edgeCells(e)
			for _, c := range cells[1 : len(cells)-1] {
				if b, ok := occupied[c]; ok {
					t.Fatalf("%s: edge %s runs through box %s at %v", sc.name, e.ID, b, c)
				}
			}
		}
	}
}

// Boxes in one tier do not overlap; everything lies inside the layout.
func TestNoOverlap(t *testing.T) {
	for _, sc := range allLayouts(t) {
		checkGeometry(t, sc.name, sc.l)
	}
}

// checkGeometry fails when boxes overlap or leave the layout, ports leave
// their box or touch, or labels do not fit.
func checkGeometry(t *testing.T, name string, l *diagram.Layout) {
	t.Helper()
	sc := struct{ name string }{name}
	{
		for i, a := range l.Boxes {
			if a.Rect.X < 0 || a.Rect.Y < 0 || a.Rect.X+a.Rect.W > l.Width || a.Rect.Y+a.Rect.H > l.Height {
				t.Errorf("%s: box %s %v outside the %dx%d layout", sc.name, a.ID, a.Rect, l.Width, l.Height)
			}
			for _, b := range l.Boxes[i+1:] {
				if a.Rect.X < b.Rect.X+b.Rect.W && b.Rect.X < a.Rect.X+a.Rect.W &&
					a.Rect.Y < b.Rect.Y+b.Rect.H && b.Rect.Y < a.Rect.Y+a.Rect.H {
					t.Errorf("%s: boxes %s %v and %s %v overlap", sc.name, a.ID, a.Rect, b.ID, b.Rect)
				}
			}
			for j, p := range a.Ports {
				r := p.Rect
				if r.X < a.Rect.X+2 || r.X+r.W > a.Rect.X+a.Rect.W-2 || r.Y != a.Rect.Y+a.Rect.H-2 {
					t.Errorf("%s: port %s %v not inside its box %v", sc.name, p.ID, r, a.Rect)
				}
				if j > 0 && r.X <= a.Ports[j-1].Rect.X+a.Ports[j-1].Rect.W {
					t.Errorf("%s: ports %s and %s touch", sc.name, a.Ports[j-1].ID, p.ID)
				}
			}
			for k, s := range a.Label {
				if utf8.RuneCountInString(s) > a.Rect.W-4 || k+2 > a.Rect.H-1 {
					t.Errorf("%s: label %q does not fit box %s %v", sc.name, s, a.ID, a.Rect)
				}
			}
		}
	}
}

// The seed scenarios draw with no crossing at all, but for the one the
// three tables cannot avoid, and those of a crowd. Watches (an opt-in view) run from the epoll
// instance to what it watches under the connections, and cross them.
func TestCrossings(t *testing.T) {
	// A crowd's pipe and tty are held by four boxes each: their edges cross.
	want := map[string]int{"three_tables": 1, "epoll_server_watches": 4, "inotify_watches": 3, "crowd": 8}
	for _, sc := range scenarios {
		l := sc.layout(t)
		if got := crossings(l); got > want[sc.name] {
			t.Errorf("%s: %d crossings, want at most %d\n%s", sc.name, got, want[sc.name], render(t, l, sc.text))
		}
	}
}

// crossings counts the cells where a horizontal run of one edge crosses a
// vertical run of another.
func crossings(l *diagram.Layout) int {
	type dirs struct{ h, v map[string]bool }
	at := map[diagram.Point]*dirs{}
	for _, e := range l.Edges {
		pts := e.Points
		for i := 1; i < len(pts); i++ {
			a, b := pts[i-1], pts[i]
			for _, c := range segmentCells(a, b) {
				if c == pts[0] || c == pts[len(pts)-1] {
					continue
				}
				d := at[c]
				if d == nil {
					d = &dirs{map[string]bool{}, map[string]bool{}}
					at[c] = d
				}
				// A corner is neither a crossing horizontal nor vertical run.
				if a.Y == b.Y && c != a && c != b {
					d.h[e.ID] = true
				} else if a.X == b.X && c != a && c != b {
					d.v[e.ID] = true
				}
			}
		}
	}
	n := 0
	for _, d := range at {
		for h := range d.h {
			for v := range d.v {
				if h != v {
					n++
				}
			}
		}
	}
	return n
}

func segmentCells(a, b diagram.Point) []diagram.Point {
	var out []diagram.Point
	dx, dy := sign(b.X-a.X), sign(b.Y-a.Y)
	for p := a; ; p = (diagram.Point{X: p.X + dx, Y: p.Y + dy}) {
		out = append(out, p)
		if p == b {
			return out
		}
	}
}

func edgeCells(e diagram.Edge) []diagram.Point {
	var out []diagram.Point
	for i := 1; i < len(e.Points); i++ {
		cells := segmentCells(e.Points[i-1], e.Points[i])
		if i > 1 {
			cells = cells[1:]
		}
		out = append(out, cells...)
	}
	return out
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

type namedLayout struct {
	name string
	l    *diagram.Layout
}

// allLayouts lays out every scenario, the large process, with and without
// wrapping and collapsing.
func allLayouts(t *testing.T) []namedLayout {
	var out []namedLayout
	for _, sc := range scenarios {
		out = append(out, namedLayout{sc.name, sc.layout(t)})
		sc.opts.Expand = true
		out = append(out, namedLayout{sc.name + "_expanded", sc.layout(t)})
	}
	large := graph.NewIndex(diagramtest.Large(400, 60)).Focus(5000)
	for _, o := range []diagram.Options{{}, {Width: 80}, {Width: 120, Collapse: 3}, {Expand: true}} {
		out = append(out, namedLayout{fmt.Sprintf("large%+v", o), diagram.NewLayout(large, 5000, o)})
	}
	out = append(out, namedLayout{"nasty", diagram.NewLayout(nasty(), 1, diagram.Options{})})
	return out
}

// nasty is a snapshot full of what breaks renderers: wide and control
// characters, invalid UTF-8, XML metacharacters, a long path, an fd that
// could not be read.
func nasty() *graph.Snapshot {
	var b diagramtest.Builder
	b.Proc(1, 0, 10, "日本語\x01<&>\"'", "init", 5)
	b.Proc(2, 1, 20, "a]]>b", "x", 2)
	f := b.File(graph.KindFile, "8:1", 9, "/tmp/é ⇄ \xff/"+strings.Repeat("very-long-directory-name/", 6)+"f.log", "")
	b.FD(1, 0, false, b.OFD(1, 0, "r", 5, 1, f))
	b.FD(2, 7, false, b.OFD(2, 7, "w", 0, 1, f))
	sock := b.Socket(77, "inet6", "dgram", "udp", "unconnected", "[::1]:53", "")
	b.FD(1, 3, true, b.OFD(1, 3, "rw", 0, 1, sock))
	b.FD(1, 4, false, "ofd:missing")
	return b.Snapshot()
}

func TestWidth(t *testing.T) {
	large := graph.NewIndex(diagramtest.Large(200, 30)).Focus(5000)
	for _, w := range []int{40, 60, 80, 100, 140} {
		for _, c := range []struct {
			name string
			snap *graph.Snapshot
			pid  int
		}{
			{"unix", scenarios[0].focus(t), 2555},
			{"three", scenarios[5].focus(t), 100},
			{"large", large, 5000},
		} {
			for _, ascii := range []bool{false, true} {
				l := diagram.NewLayout(c.snap, c.pid, diagram.Options{Width: w})
				out := render(t, l, diagram.TextOptions{Width: w, ASCII: ascii})
				for i, line := range strings.Split(out, "\n") {
					if n := utf8.RuneCountInString(line); n > w {
						t.Fatalf("%s at width %d: line %d has %d characters:\n%s", c.name, w, i+1, n, out)
					}
				}
				if c.name == "large" && w == 100 && len(l.Tiers) < 2 {
					t.Errorf("large at width 100: %d tiers, want it wrapped", len(l.Tiers))
				}
			}
		}
	}
	// Wrapped, every connection is still drawn once, with its two ends;
	// the listener is drawn again in the tiers of the sockets accepted
	// from it.
	l := diagram.NewLayout(large, 5000, diagram.Options{Width: 100})
	n := map[string]int{}
	boxes := map[string]diagram.Box{}
	for _, b := range l.Boxes {
		boxes[b.ID] = b
	}
	accepted := map[string]bool{}
	for _, e := range l.Edges {
		n[e.Kind]++
		if e.Kind == diagram.EdgeAccepted {
			from, to := boxes[e.From], boxes[e.To]
			if from.NodeID != graph.SocketID(900000) || from.Tier != to.Tier || accepted[e.To] {
				t.Errorf("accepted edge %s: from %s in tier %d to tier %d", e.ID, from.NodeID, from.Tier, to.Tier)
			}
			accepted[e.To] = true
		}
	}
	if n[diagram.EdgePeer] != 30 || n[diagram.EdgeAccepted] != 30 {
		t.Errorf("wrapped large layout draws %d peer and %d accepted edges, want 30 and 30", n[diagram.EdgePeer], n[diagram.EdgeAccepted])
	}
}

// cells is the width of a line in a terminal: CJK characters take two,
// control characters none.
func cells(s string) int {
	n := 0
	for _, r := range s {
		if r < 0x20 {
			continue
		}
		n++
		if r >= 0x2e80 && r <= 0xa4cf || r >= 0xac00 && r <= 0xd7a3 || r >= 0xff00 && r <= 0xff60 {
			n++
		}
	}
	return n
}

// columnsOf returns the terminal columns where r is in line.
func columnsOf(line string, r rune) []int {
	var out []int
	col := 0
	for _, c := range line {
		if c == r {
			out = append(out, col)
		}
		col += cells(string(c))
	}
	return out
}

// Wide characters take two cells: the box around them stays square.
func TestWideRunes(t *testing.T) {
	for _, w := range []int{0, 30} {
		out := render(t, diagram.NewLayout(nasty(), 1, diagram.Options{Width: w}), diagram.TextOptions{Width: w})
		lines := strings.Split(out, "\n")
		for i, line := range lines {
			if !strings.Contains(line, "日本語") {
				continue
			}
			// The box's right border is in the same column on its top
			// line and on the line with the name (when not folded away).
			if bars := columnsOf(line, '║'); len(bars) == 2 {
				if corner := columnsOf(lines[i-1], '╗'); len(corner) != 1 || corner[0] != bars[1] {
					t.Errorf("width %d: the name's line closes its box at column %d, the top at %v:\n%s\n%s",
						w, bars[1], corner, lines[i-1], line)
				}
			}
			if w > 0 && cells(line) > w {
				t.Errorf("width %d: %q is %d cells wide", w, line, cells(line))
			}
		}
		if !strings.Contains(out, "日本語") {
			t.Errorf("width %d: the process name is lost:\n%s", w, out)
		}
	}
}

func TestASCII(t *testing.T) {
	for _, l := range allLayouts(t) {
		out := render(t, l.l, diagram.TextOptions{ASCII: true, Width: 100})
		for i := range len(out) {
			if out[i] >= 0x80 || (out[i] < 0x20 && out[i] != '\n') {
				t.Fatalf("%s: byte %#x at %d in ASCII output:\n%s", l.name, out[i], i, out)
			}
		}
		if !strings.Contains(out, "=+=") && len(l.l.Edges) > 0 {
			t.Errorf("%s: no edge crosses the user space / kernel space line:\n%s", l.name, out)
		}
	}
}

// The SVG is well-formed XML, with the hooks the browser tests use.
func TestSVG(t *testing.T) {
	for _, nl := range allLayouts(t) {
		for _, theme := range []string{"light", "dark", "auto"} {
			out := renderSVG(t, nl.l, diagram.SVGOptions{Theme: theme})
			attrs := checkXML(t, nl.name, out)
			if !bytes.Contains(out, []byte("theme-"+theme)) {
				t.Errorf("%s: no theme-%s class", nl.name, theme)
			}
			for _, bad := range []string{"<script", "http://", "https://", "@import", "url(http"} {
				if bytes.Contains(bytes.ReplaceAll(out, []byte(`xmlns="http://www.w3.org/2000/svg"`), nil), []byte(bad)) {
					t.Errorf("%s: SVG is not self-contained: has %q", nl.name, bad)
				}
			}
			// Every box, port and process is there with its hooks.
			for _, b := range nl.l.Boxes {
				if b.NodeID != "" && !attrs["data-node-id"][b.NodeID] {
					t.Errorf("%s: no element with data-node-id=%q", nl.name, b.NodeID)
				}
				if b.PID != 0 && !attrs["data-pid"][fmt.Sprint(b.PID)] {
					t.Errorf("%s: no element with data-pid=%d", nl.name, b.PID)
				}
				for _, p := range b.Ports {
					for i, fd := range p.FDs {
						if !attrs["data-fds"][fmt.Sprint(fd)] || !attrs["data-node-ids"][p.NodeIDs[i]] {
							t.Errorf("%s: fd %d (%s) has no data-fds/data-node-ids", nl.name, fd, p.NodeIDs[i])
						}
					}
					if len(p.FDs) > 0 && !attrs["data-fd"][fmt.Sprint(p.FDs[0])] {
						t.Errorf("%s: port %s has no data-fd", nl.name, p.ID)
					}
				}
			}
		}
	}
	// Every node of a focus subgraph is reachable from the SVG by its ID.
	for _, sc := range scenarios[:7] {
		f := sc.focus(t)
		attrs := checkXML(t, sc.name, renderSVG(t, sc.layout(t), diagram.SVGOptions{}))
		for _, n := range f.Nodes {
			if !attrs["data-node-id"][n.ID] && !attrs["data-node-ids"][n.ID] && !attrs["data-members"][n.ID] {
				t.Errorf("%s: node %s is not in the SVG", sc.name, n.ID)
			}
		}
	}
}

// checkXML parses an SVG document and returns, for each data- attribute,
// the set of values (space-separated words included) it takes.
func checkXML(t *testing.T, name string, doc []byte) map[string]map[string]bool {
	t.Helper()
	attrs := map[string]map[string]bool{}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	root := true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: SVG is not well-formed XML: %v\n%s", name, err, doc)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root {
			if se.Name.Local != "svg" || se.Name.Space != "http://www.w3.org/2000/svg" {
				t.Fatalf("%s: root element is %v", name, se.Name)
			}
			root = false
		}
		for _, a := range se.Attr {
			if !strings.HasPrefix(a.Name.Local, "data-") {
				continue
			}
			if attrs[a.Name.Local] == nil {
				attrs[a.Name.Local] = map[string]bool{}
			}
			attrs[a.Name.Local][a.Value] = true
			for _, w := range strings.Fields(a.Value) {
				attrs[a.Name.Local][w] = true
			}
		}
	}
	return attrs
}

func TestCollapse(t *testing.T) {
	f := graph.NewIndex(diagramtest.Large(60, 3)).Focus(5000)
	ports := func(l *diagram.Layout) map[string][]diagram.Port {
		out := map[string][]diagram.Port{}
		for _, b := range l.Boxes {
			if b.PID == 5000 {
				for _, p := range b.Ports {
					out[p.Kind] = append(out[p.Kind], p)
				}
			}
		}
		return out
	}
	p := ports(diagram.NewLayout(f, 5000, diagram.Options{}))
	if len(p[diagram.PortStdio]) != 1 || p[diagram.PortStdio][0].Label != "0 1 2" {
		t.Errorf("stdio ports %+v, want one \"0 1 2\"", p[diagram.PortStdio])
	}
	// 53 other fds: 14 log files, 13 each of /dev/null, eventfds and epolls.
	if len(p[diagram.PortGroup]) != 4 {
		t.Errorf("%d group ports, want 4: %+v", len(p[diagram.PortGroup]), p[diagram.PortGroup])
	}
	n := 0
	for _, g := range p[diagram.PortGroup] {
		n += len(g.FDs)
	}
	if n != 53 {
		t.Errorf("groups hold %d fds, want 53", n)
	}
	// Collapse 20: nothing collapsed (at most 14 of a kind).
	if p := ports(diagram.NewLayout(f, 5000, diagram.Options{Collapse: 20})); len(p[diagram.PortGroup]) != 0 {
		t.Errorf("Collapse 20: %d group ports", len(p[diagram.PortGroup]))
	}
	// Expand: one port per fd.
	p = ports(diagram.NewLayout(f, 5000, diagram.Options{Expand: true}))
	if len(p[diagram.PortGroup]) != 0 || len(p[diagram.PortStdio]) != 0 || len(p[diagram.PortFD]) != 60 {
		t.Errorf("Expand: %d group, %d stdio, %d fd ports; want 0, 0, 60",
			len(p[diagram.PortGroup]), len(p[diagram.PortStdio]), len(p[diagram.PortFD]))
	}
	// A group of distinct objects is one box listing them.
	l := diagram.NewLayout(f, 5000, diagram.Options{})
	for _, b := range l.Boxes {
		if b.Kind == diagram.KindGroup && strings.Contains(b.Label[0], "× file") && len(b.Members) != 14 {
			t.Errorf("file group box has %d members, want 14", len(b.Members))
		}
	}
}

// ExpandGroups draws the named groups fd by fd, and only them.
func TestExpandGroups(t *testing.T) {
	f := graph.NewIndex(diagramtest.Large(60, 3)).Focus(5000)
	proc := graph.ProcessID(5000, 100)
	ports := func(o diagram.Options) (ids []string, n map[string]int) {
		n = map[string]int{}
		for _, b := range diagram.NewLayout(f, 5000, o).Boxes {
			if b.PID == 5000 {
				for _, p := range b.Ports {
					ids = append(ids, p.ID)
					n[p.Kind]++
				}
			}
		}
		return ids, n
	}
	ids, n := ports(diagram.Options{})
	var group string
	for _, id := range ids {
		if strings.HasPrefix(id, "group:fd:") && strings.HasSuffix(id, ":file") {
			group = id
		}
	}
	if n[diagram.PortStdio] != 1 || n[diagram.PortGroup] != 4 || group == "" {
		t.Fatalf("ports %v", ids)
	}
	fds := n[diagram.PortFD]
	stdio := "group:stdio:" + proc
	for _, c := range []struct {
		expand             []string
		stdio, groups, fds int
	}{
		{[]string{stdio}, 0, 4, fds + 3},
		{[]string{group}, 1, 3, fds + 14},
		{[]string{stdio, group, "group:fd:nonesuch"}, 0, 3, fds + 17},
		{nil, 1, 4, fds},
	} {
		ids, n := ports(diagram.Options{ExpandGroups: c.expand})
		if n[diagram.PortStdio] != c.stdio || n[diagram.PortGroup] != c.groups || n[diagram.PortFD] != c.fds {
			t.Errorf("ExpandGroups %v: %d stdio, %d group, %d fd ports, want %d, %d, %d: %v", c.expand,
				n[diagram.PortStdio], n[diagram.PortGroup], n[diagram.PortFD], c.stdio, c.groups, c.fds, ids)
		}
		if slices.Contains(c.expand, stdio) {
			for _, fd := range []int{0, 1, 2} {
				if !slices.Contains(ids, graph.FDID(5000, 100, fd)) {
					t.Errorf("ExpandGroups %v: no port for fd %d: %v", c.expand, fd, ids)
				}
			}
		}
	}
}

func TestEmpty(t *testing.T) {
	for _, c := range []struct {
		name string
		snap *graph.Snapshot
		pid  int
	}{
		{"nil", nil, 1},
		{"no such process", diagramtest.Pipe(), 12345},
		{"no fds", func() *graph.Snapshot {
			var b diagramtest.Builder
			b.Proc(9, 1, 1, "idle", "idle", 0)
			return b.Snapshot()
		}(), 9},
	} {
		l := diagram.NewLayout(c.snap, c.pid, diagram.Options{Width: 50})
		out := render(t, l, diagram.TextOptions{Width: 50})
		var svg bytes.Buffer
		if err := diagram.SVG(l, &svg, diagram.SVGOptions{}); err != nil {
			t.Fatal(err)
		}
		checkXML(t, c.name, svg.Bytes())
		if c.name == "no fds" && !strings.Contains(out, "no fds") {
			t.Errorf("%s:\n%s", c.name, out)
		}
	}
}

// BenchmarkLayoutLarge lays out the focus view of a process with 1,000 fds
// and 200 peers (issue 4 asks for well under a second).
func BenchmarkLayoutLarge(b *testing.B) {
	f := graph.NewIndex(diagramtest.Large(1000, 200)).Focus(5000)
	// With Prev: the previous layout of the same process with one peer
	// less, as a live view lays it out after a new connection.
	before := graph.NewIndex(diagramtest.Large(1000, 199)).Focus(5000)
	for _, o := range []diagram.Options{{}, {Width: 120}} {
		b.Run(fmt.Sprintf("width=%d", o.Width), func(b *testing.B) {
			for b.Loop() {
				diagram.NewLayout(f, 5000, o)
			}
		})
		prev := o
		prev.Prev = diagram.NewLayout(before, 5000, o)
		b.Run(fmt.Sprintf("width=%d/prev", o.Width), func(b *testing.B) {
			for b.Loop() {
				diagram.NewLayout(f, 5000, prev)
			}
		})
	}
}

// BenchmarkRenderLarge renders that layout as text and as SVG.
func BenchmarkRenderLarge(b *testing.B) {
	l := diagram.NewLayout(graph.NewIndex(diagramtest.Large(1000, 200)).Focus(5000), 5000, diagram.Options{})
	b.Run("text", func(b *testing.B) {
		for b.Loop() {
			diagram.Text(l, io.Discard, diagram.TextOptions{})
		}
	})
	b.Run("svg", func(b *testing.B) {
		for b.Loop() {
			diagram.SVG(l, io.Discard, diagram.SVGOptions{})
		}
	})
}

// Options.Watches draws the epoll instance's watches, and only then.
func TestWatches(t *testing.T) {
	f := graph.NewIndex(diagramtest.EpollEcho()).Focus(2554)
	count := func(l *diagram.Layout) (n int) {
		for _, e := range l.Edges {
			if e.Kind != diagram.EdgeWatch {
				continue
			}
			n++
			if e.From != graph.AnonID("eventpoll", graph.OFDID(2554, 5000, 5)) || !e.Arrow || !strings.HasPrefix(e.Title, "eventpoll watch: ") {
				t.Errorf("watch edge %+v", e)
			}
		}
		return n
	}
	if n := count(diagram.NewLayout(f, 2554, diagram.Options{})); n != 0 {
		t.Errorf("%d watch edges without Options.Watches", n)
	}
	if n := count(diagram.NewLayout(f, 2554, diagram.Options{Watches: true})); n != 2 {
		t.Errorf("%d watch edges with Options.Watches, want 2", n)
	}
	if n := count(diagram.NewLayout(f, 2554, diagram.Options{Watches: true, Width: 60})); n > 2 {
		t.Errorf("%d watch edges wrapped, want at most 2", n)
	}
}

// TestShareLabels: a description held by several processes says "(fork)"
// when one holder is another's parent (siblings with their parent too),
// and "(shared)" when none is (siblings alone), as docs/diagram.md says.
func TestShareLabels(t *testing.T) {
	build := func(parentHolds bool) *graph.Snapshot {
		var b diagramtest.Builder
		b.Proc(100, 1, 7000, "parent", "parent", 3)
		b.Proc(101, 100, 7100, "child1", "child1", 3)
		b.Proc(102, 100, 7200, "child2", "child2", 3)
		log := b.File(graph.KindFile, "8:1", 5120, "/tmp/log", "")
		holders := []int{101, 102}
		if parentHolds {
			holders = []int{100, 101, 102}
		}
		o := b.OFD(holders[0], 2, "w", 9, len(holders), log)
		for _, pid := range holders {
			b.FD(pid, 2, false, o)
		}
		return b.Snapshot()
	}
	for _, c := range []struct {
		parentHolds bool
		want        string
	}{
		{true, "100:2 + 101:2 + 102:2 (fork)"},
		{false, "101:2 + 102:2 (shared)"},
	} {
		s := build(c.parentHolds)
		l := diagram.NewLayout(graph.NewIndex(s).Focus(101), 101, diagram.Options{Width: 200})
		if out := render(t, l, diagram.TextOptions{Width: 200}); !strings.Contains(out, c.want) {
			t.Errorf("parent holds it %v: no %q in\n%s", c.parentHolds, c.want, out)
		}
	}
}
