package web_test

import (
	"fmt"
	"strconv"
	"testing"

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
	return graph.New(append(append([]*graph.Node{}, s.Nodes...), extra.Nodes...), s.Edges, s.Stats)
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
	p.wait("the top peers", `document.querySelector('#summary-peers [data-pid="2554"]') && document.querySelector('#summary-peers [data-pid="2555"]')`)
	p.wait("objects by kind", `document.getElementById('summary-kinds').textContent.includes('socket')`)
	p.shot("summary")

	// The denied process says why.
	p.wait("the denied row", `(r => r && r.classList.contains('denied') && r.textContent.includes('permission denied'))(document.querySelector('#process-list [data-pid="4242"]'))`)

	// Sorting by fd count: the rows' counts never go up.
	p.run("sort by fds", chromedp.SetValue(chromedp.CSS("#sort"), "fds"), chromedp.Evaluate[chromedp.Void](`document.getElementById('sort').dispatchEvent(new Event('change'))`))
	p.wait("the rows sorted by fd count", `(n => n.length === 3 && n.every((v, i) => i === 0 || n[i-1] >= v) && n[0] === 7)([...document.querySelectorAll('#process-list [data-pid] .n:not(.peers)')].map(c => Number(c.textContent)))`)

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
