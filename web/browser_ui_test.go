//go:build linux

package web_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
)

// withDenied returns s with one more process whose fd table could not be
// read, as a scan that is not root sees most processes.
func withDenied(s *graph.Snapshot) *graph.Snapshot {
	var b diagramtest.Builder
	b.Proc(4242, 1, 42, "secretd", "/usr/sbin/secretd", 7)
	extra := b.Snapshot()
	for _, n := range extra.Nodes {
		n.Error = "fd table: permission denied"
	}
	return overlay(s, extra, s.Stats)
}

// overlay returns base with the nodes and edges of extra added; a node of
// extra replaces the node of base with the same ID (a process with a new
// fd count, say).
func overlay(base, extra *graph.Snapshot, stats graph.Stats) *graph.Snapshot {
	nodes := slices.Clone(extra.Nodes)
	for _, n := range base.Nodes {
		if extra.Node(n.ID) == nil {
			nodes = append(nodes, n)
		}
	}
	return graph.New(nodes, slices.Concat(base.Edges, extra.Edges), stats)
}

// TestBrowserInteractions drives the rest of the page on the unix echo
// seed served from a store: the host summary, the search the server
// answers (a socket path), the keyboard, sorting, a denied process,
// hovering an fd, zoom, expanding and collapsing a group, the theme.
func TestBrowserInteractions(t *testing.T) {
	t.Parallel()
	chromium(t)
	store := live.NewStore(live.DefaultWindow)
	store.Publish(withDenied(diagramtest.UnixEcho()))
	s := startServer(t, store)
	p := newPage(t, s.URL, screenshotDir(t))
	p.navigate("/")

	// Nothing chosen: the summary of the host, with the processes that have peers.
	p.wait("the summary", `!document.getElementById('summary').hidden && document.getElementById('focus').hidden`)
	p.wait("the top connections", `document.querySelector('#summary-connections [data-pid="2554"]') && document.querySelector('#summary-connections [data-pid="2555"]')`)
	p.wait("objects by kind", `document.getElementById('summary-kinds').textContent.includes('socket')`)
	p.shot("summary")

	// The denied process says why.
	p.wait("the denied row", `(r => r && r.classList.contains('denied') && r.textContent.includes('permission denied'))(document.querySelector('#process-list [data-pid="4242"]'))`)

	// Sorting by fd count: the rows' counts never go up.
	p.run("sort by fds", chromedp.SetValue(chromedp.CSS("#sort"), "fds"), chromedp.Evaluate[chromedp.Void](`document.getElementById('sort').dispatchEvent(new Event('change'))`))
	p.wait("the rows sorted by fd count", `(n => n.length === 3 && n.every((v, i) => i === 0 || n[i-1] >= v) && n[0] === 7)([...document.querySelectorAll('#process-list [data-pid] .n:not(.conns)')].map(c => Number(c.textContent)))`)

	// A socket path finds both ends, through the server's search.
	p.run("search a path", chromedp.SendKeys(chromedp.CSS("#search"), "/tmp/server.sock"))
	p.wait("both ends found", `document.querySelectorAll('#process-list [data-pid]').length === 2 && document.querySelector('#process-list [data-pid="2554"] .match:not([hidden])') && document.querySelector('#process-list [data-pid="2555"]')`)
	if m := eval[string](p, `document.querySelector('#process-list [data-pid="2554"] .match').textContent`); m == "" {
		t.Error("the server's row does not say what matched")
	}

	// The keyboard: Escape clears, a name, ↓ and Enter open the process.
	p.run("clear the search", chromedp.KeyEvent(kb.Escape))
	p.wait("every process again", `document.querySelectorAll('#process-list [data-pid]').length === 3`)
	p.run("type a name", chromedp.SendKeys(chromedp.CSS("#search"), "client"))
	p.wait("one row", `document.querySelectorAll('#process-list [data-pid]').length === 1`)
	p.run("down and enter", chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Enter))
	p.wait("the client's diagram", diagramReady(2555)+` && location.pathname === '/process/2555'`)

	// Hover the client's socket: the path to the server's fd 4 lights up and the details say who is there.
	p.hover("the client's fd 3", `#diagram g.port[data-pid="2555"][data-fd="3"]`)
	p.wait("the peer's fd highlighted", `document.querySelector('#diagram g.port.hl[data-pid="2554"][data-fd="4"]') && document.querySelector('#diagram path.edge.hl[data-kind="peer"]')`)
	p.wait("the details of fd 3", `(d => !d.classList.contains('idle') && d.textContent.includes('socket:[28728]') && d.querySelector('[data-pid="2554"]'))(document.getElementById('details'))`)
	p.shot("hover")
	p.run("the pointer away", chromedp.MouseEvent(chromedp.MouseMoved, 1, 1))
	p.wait("the highlight gone", `!document.querySelector('#diagram .hl')`)

	// Zoom in and back to fit.
	z0 := eval[string](p, `document.getElementById('diagram').dataset.zoom`)
	p.click("zoom in", "#zoom-in")
	z1 := eval[string](p, `document.getElementById('diagram').dataset.zoom`)
	if f0, _ := strconv.ParseFloat(z0, 64); func() bool { f1, _ := strconv.ParseFloat(z1, 64); return f1 <= f0 }() {
		t.Errorf("zoom in: data-zoom %s → %s", z0, z1)
	}
	p.click("fit", "#zoom-fit")
	p.wait("fitted again", fmt.Sprintf(`document.getElementById('diagram').dataset.zoom === %q`, z0))

	// The wheel scrolls the diagram; Ctrl+wheel zooms it.
	viewport := `document.querySelector('#diagram g.viewport').getAttribute('transform')`
	t0 := eval[string](p, viewport)
	wheel := func(dy float64, mods ...chromedp.Modifier) chromedp.Action[chromedp.Void] {
		return chromedp.MouseEvent(chromedp.MouseWheel, 600, 300, chromedp.ButtonModifiers(mods...), func(e *input.DispatchMouseEventParams) {
			e.DeltaX, e.DeltaY = 0.01, dy // CDP wants both, and drops a zero
		})
	}
	p.run("scroll", wheel(120))
	p.wait("scrolled, same zoom", fmt.Sprintf(`%s !== %q && document.getElementById('diagram').dataset.zoom === %q`, viewport, t0, z0))
	p.run("ctrl+wheel", wheel(-240, chromedp.ModifierCtrl))
	p.wait("zoomed in", fmt.Sprintf(`Number(document.getElementById('diagram').dataset.zoom) > %s`, z0))
	p.click("fit", "#zoom-fit")

	// The stdio group: a double click draws fds 0, 1 and 2 one by one; collapse folds them back.
	stdio := `#diagram g.port.stdio[data-pid="2555"]`
	p.dblclick("the client's stdio", stdio)
	p.wait("fds 0, 1 and 2 drawn one by one", `!document.querySelector('`+stdio+`') && [0, 1, 2].every(fd => document.querySelector('#diagram g.port[data-pid="2555"][data-fds="' + fd + '"]'))`)
	p.wait("the toolbar says so", `document.getElementById('expanded').textContent.includes('1 group expanded')`)
	p.click("collapse", "#expanded button")
	p.wait("the stdio port again", `document.querySelector('`+stdio+`')`)

	// The theme.
	before := eval[string](p, `document.body.dataset.theme`)
	p.click("the theme button", "#theme-toggle")
	p.wait("the other theme", fmt.Sprintf(`document.body.dataset.theme !== %q && document.querySelector('#diagram svg').classList.contains('theme-' + document.body.dataset.theme)`, before))
	p.shot("theme")

	// The connections as a table: a row per peer fd, a click opens the peer.
	p.click("the connections button", "#view-table")
	row := `#connections-body tr[data-pid="2554"]`
	p.wait("the server's row", `(r => r && r.textContent.includes('unix') && r.textContent.includes('socket:[28728]') && document.getElementById('diagram').hidden)(document.querySelector('`+row+`'))`)
	p.shot("connections")
	p.click("the server's row", row)
	p.wait("the server's connections", `location.pathname === '/process/2554' && document.querySelector('#connections-body tr[data-pid="2555"]')`)
	p.click("the diagram button", "#view-diagram")
	p.wait("the server's diagram", diagramReady(2554)+` && !document.getElementById('diagram').hidden && document.getElementById('connections').hidden`)
}

// hover moves the mouse over the first element that matches sel.
func (p *page) hover(what, sel string) {
	p.t.Helper()
	type point struct{ X, Y float64 }
	pt := waitValue[*point](p, what+" on screen", clickJS+"("+strconv.Quote(sel)+")")
	p.run("hover "+what, chromedp.MouseEvent(chromedp.MouseMoved, pt.X, pt.Y))
}

// dblclick double-clicks the first element that matches sel.
func (p *page) dblclick(what, sel string) {
	p.t.Helper()
	type point struct{ X, Y float64 }
	pt := waitValue[*point](p, what+" on screen", clickJS+"("+strconv.Quote(sel)+")")
	p.run("double-click "+what, chromedp.MouseClickXY(pt.X, pt.Y), chromedp.MouseClickXY(pt.X, pt.Y, chromedp.ClickCount(2)))
}

// withConnection returns the unix echo seed with a second connection from
// the client (fd 4) to the server (fd 5).
func withConnection(s *graph.Snapshot) *graph.Snapshot {
	var b diagramtest.Builder
	b.Proc(2554, 2300, 5000, "server.py", "python /tmp/server.py", 6)
	b.Proc(2555, 2300, 5100, "client.py", "python /tmp/client.py", 5)
	acc := b.Socket(28730, "unix", "stream", "", "established", "/tmp/server.sock", "")
	cli := b.Socket(28731, "unix", "stream", "", "established", "", "/tmp/server.sock")
	b.FD(2554, 5, true, b.OFD(2554, 5, "rw", 0, 1, acc))
	b.FD(2555, 4, true, b.OFD(2555, 4, "rw", 0, 1, cli))
	b.Accepted(graph.SocketID(28724), acc)
	b.Peer(acc, cli)
	return overlay(s, b.Snapshot(), s.Stats)
}

// TestBrowserLive follows the server of the unix echo seed while a second
// connection comes and goes: the page shows the first scan's progress
// before any data, the new fd appears marked fresh without moving the
// boxes that did not change, and it disappears again when closed. Then
// the same page at 4K.
func TestBrowserLive(t *testing.T) {
	t.Parallel()
	chromium(t)
	store := live.NewStore(live.DefaultWindow)
	store.SetProgress("processes", 40, 500)
	s := startServer(t, store)
	p := newPage(t, s.URL, screenshotDir(t))

	// Before the first scan: progress, not a blank page.
	p.run("open a permalink before the first scan", chromedp.Navigate(s.URL+"/process/2554"))
	p.wait("the progress", `document.body.dataset.state === 'starting' && !document.getElementById('progress').hidden && document.getElementById('progress-text').textContent.includes('40 of 500')`)
	p.shot("progress")
	base := diagramtest.UnixEcho()
	store.Publish(base)
	p.wait("the server's diagram", `document.body.dataset.state === 'ready' && document.getElementById('progress').hidden && `+diagramReady(2554))

	where := func() map[string]string {
		return eval[map[string]string](p, `Object.fromEntries([...document.querySelectorAll('#diagram g.box[data-box-id]')].map(b => [b.dataset.boxId, b.getAttribute('transform')]))`)
	}
	before := where()

	// A second connection: its port appears, fresh; nothing that was there moves.
	store.Publish(withConnection(base))
	port := `#diagram g.port[data-pid="2554"][data-fd="5"]`
	p.wait("the new port, fresh", `(e => e && e.classList.contains('fresh'))(document.querySelector('`+port+`'))`)
	p.wait("the new peer edge", `document.querySelectorAll('#diagram path.edge[data-kind="peer"]').length === 2`)
	p.shot("connected")
	after := where()
	for id, tr := range before {
		if after[id] != tr {
			t.Errorf("box %s moved from %s to %s when a connection was added", id, tr, after[id])
		}
	}

	// Closed again: it goes, and so does its edge.
	store.Publish(base)
	p.wait("the port gone", `!document.querySelector('`+port+`') && document.querySelectorAll('#diagram path.edge[data-kind="peer"][data-edge-id]').length === 1`)
	p.wait("the faded elements removed", `!document.querySelector('#diagram .gone')`)

	// The process exits: the diagram empties and says so.
	store.Publish(without(base, 2554))
	p.wait("the empty diagram", `document.getElementById('diagram').dataset.state === 'empty' && !document.querySelector('#diagram g.box[data-pid="2554"]')`)
	p.wait("the note", `document.getElementById('focus-note').textContent.includes('not running')`)
	store.Publish(base)
	p.wait("the diagram again", diagramReady(2554))

	// 4K: the page fills the screen, nothing overflows, the diagram is fitted.
	p.run("a 4K screen", chromedp.EmulateViewport(3840, 2160))
	p.click("fit", "#zoom-fit")
	p.wait("no overflow at 4K", `document.documentElement.scrollWidth <= innerWidth && document.documentElement.scrollHeight <= innerHeight`)
	p.wait("the diagram fills its side", `(r => r.width > 2500 && r.height > 1500)(document.getElementById('diagram').getBoundingClientRect())`)
	p.wait("the diagram fitted", `(d => d.getBBox().width > 0 && document.querySelector('#diagram g.viewport').getBoundingClientRect().width > 1500)(document.querySelector('#diagram g.viewport'))`)
	p.shot("4k")
}

// without returns s without process pid and what only it held (its fds
// and their descriptions), as a scan after it exited sees it.
func without(s *graph.Snapshot, pid int) *graph.Snapshot {
	gone := func(n *graph.Node) bool {
		return (n.Kind == graph.KindProcess || n.Kind == graph.KindFD || n.Kind == graph.KindOFD) &&
			strings.Contains(n.ID, ":"+strconv.Itoa(pid)+":")
	}
	var nodes []*graph.Node
	ids := map[string]bool{}
	for _, n := range s.Nodes {
		if !gone(n) {
			nodes = append(nodes, n)
			ids[n.ID] = true
		}
	}
	var edges []graph.Edge
	for _, e := range s.Edges {
		if ids[e.From] && ids[e.To] {
			edges = append(edges, e)
		}
	}
	return graph.New(nodes, edges, s.Stats)
}

// TestBrowserWatches turns on the epoll watches of a server that waits in
// epoll: they are drawn from its eventpoll box, and exported too.
func TestBrowserWatches(t *testing.T) {
	t.Parallel()
	chromium(t)
	store := live.NewStore(live.DefaultWindow)
	store.Publish(diagramtest.EpollEcho())
	s := startServer(t, store)
	p := newPage(t, s.URL, screenshotDir(t))
	p.navigate("/process/2554")
	p.wait("the server's diagram", diagramReady(2554))
	const watches = `document.querySelectorAll('#diagram path.edge[data-kind="watch"][data-edge-id]').length`
	if n := eval[int](p, watches); n != 0 {
		t.Errorf("%d watch edges before asking for them", n)
	}
	p.click("the watches button", "#toggle-watches")
	p.wait("two watch edges from the eventpoll box", watches+` === 2 && [...document.querySelectorAll('#diagram path.edge[data-kind="watch"]')].every(e => e.dataset.from.startsWith('anon:eventpoll:'))`)
	p.wait("the button pressed", `document.getElementById('toggle-watches').getAttribute('aria-pressed') === 'true'`)
	p.shot("watches")
	if svg := p.downloadFile("#export-svg", "fdscope-2554.svg"); !strings.Contains(string(svg), `class="edge e-watch"`) {
		t.Error("the SVG export has no watch edge")
	}
	p.click("the watches button again", "#toggle-watches")
	p.wait("no watch edges", watches+` === 0`)
}
