//go:build linux

package web_test

// Real-browser tests of the dashboard: the whole server (live loop over
// the real machine, api, page, static assets) in this process, real child
// processes (internal/proctest) to look at, and headless Chromium driving
// the page through the DOM hooks docs/dashboard.md lists.
//
// They need Chromium (Debian: apt-get install chromium; or set
// FDSCOPE_CHROMIUM to a Chrome or Chromium binary). Without it they skip,
// unless CI=true, where they fail. Screenshots of each step go to a
// temporary directory, or to $FDSCOPE_SCREENSHOTS when it is set.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
	"github.com/fdscope/fdscope/internal/proctest"
	"github.com/fdscope/fdscope/live"
	"github.com/fdscope/fdscope/static"
	"github.com/fdscope/fdscope/web"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// screenshotsFlag is where TestScreenshots writes the documentation's
// screenshots (task screenshots: -screenshots=../docs/screenshots).
var screenshotsFlag = flag.String("screenshots", "", "write TestScreenshots' images into this directory (default: a temporary one)")

// processBox selects a process box in the diagram (docs/dashboard.md).
const processBox = "g.box.process"

// waitTimeout bounds every wait for the page.
const waitTimeout = 20 * time.Second

// chromium returns the browser to run, or skips the test (fails it under CI=true).
func chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FDSCOPE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium (apt-get install chromium, or set FDSCOPE_CHROMIUM); CI=true requires the browser tests")
	}
	t.Skip("no Chromium (apt-get install chromium, or set FDSCOPE_CHROMIUM)")
	return ""
}

// testServer is the dashboard server of a test, serving src.
type testServer struct {
	URL   string
	Store *live.Store
}

// startServer serves store over HTTP on 127.0.0.1 as fdscope serve does
// (the same page, assets and api), until the test ends.
func startServer(t testing.TB, store *live.Store) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveAPI(t, ln, api.Options{Source: store})
}

// serveAPI serves opts (with the page, its assets and the listen address
// filled in, as fdscope serve does) on ln until the test ends. The server
// shuts down before any cleanup registered earlier runs, so a test stops
// what feeds the server (a loop, a recorder) in a cleanup of its own,
// registered before calling serveAPI.
func serveAPI(t testing.TB, ln net.Listener, opts api.Options) *testServer {
	t.Helper()
	opts.Listen = ln.Addr().String()
	opts.Page, opts.Static = web.Dashboard(), static.FS
	if opts.Window == 0 {
		opts.Window = live.DefaultWindow / 2
	}
	srv, err := api.New(opts)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		hs.Serve(ln)
		close(done)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Shutdown(ctx)
		hs.Close()
		<-done
	})
	store, _ := opts.Source.(*live.Store)
	return &testServer{URL: "http://" + ln.Addr().String(), Store: store}
}

// startLive runs the live loop over the real machine (as fdscope serve
// does, with a short interval) and serves it.
func startLive(t testing.TB) *testServer {
	t.Helper()
	store := live.NewStore(live.DefaultWindow)
	sp := live.NewSockDiagProber("/proc")
	loop := &live.Loop{
		Scanner:      scan.New(scan.Options{}),
		Prober:       live.NewProcProber("/proc", sp),
		Store:        store,
		Interval:     200 * time.Millisecond,
		FullInterval: 2 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { loop.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		sp.Close()
	})
	return startServer(t, store)
}

// waitGraph waits until the store's latest snapshot satisfies cond.
func (s *testServer) waitGraph(t testing.TB, what string, cond func(*graph.Index) bool) {
	t.Helper()
	ch, stop := s.Store.Notify()
	defer stop()
	timeout := time.After(waitTimeout)
	for {
		if _, snap := s.Store.Latest(); snap != nil && cond(graph.NewIndex(snap)) {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("the server's graph never showed %s", what)
		}
	}
}

// connected says whether pid reaches peer over a connection of kind via.
// waitMap polls GET /api/map into m until cond holds.
func (s *testServer) waitMap(t testing.TB, m *api.MapMessage, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		*m = api.MapMessage{}
		resp, err := http.Get(s.URL + "/api/map")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(m)
			resp.Body.Close()
		}
		if err == nil && m.Map != nil && cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the map never showed %s (last error: %v)", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func connected(pid, peer int, via graph.Via) func(*graph.Index) bool {
	return func(x *graph.Index) bool {
		for _, p := range x.Peers(pid) {
			if p.PeerPID == peer && p.Via == via {
				return true
			}
		}
		return false
	}
}

// page is one browser tab on a test server.
type page struct {
	t        testing.TB
	ctx      context.Context
	base     string
	shots    string // screenshot directory
	step     int
	console  *bytes.Buffer
	consMu   *sync.Mutex
	download string // download directory
}

// newPage starts headless Chromium (1280×800) with one tab, until the test ends.
func newPage(t testing.TB, base, shots string) *page {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx
		t.Fatalf("start %s: %v", exe, err)
	}
	p := &page{t: t, ctx: ctx, base: base, shots: shots, console: &bytes.Buffer{}, consMu: &sync.Mutex{}, download: t.TempDir()}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			p.consMu.Lock()
			fmt.Fprintf(p.console, "%s:%d %s\n", m.URL, m.Line+1, m)
			p.consMu.Unlock()
		}
	}()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("viewport: %v", err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: p.download, EventsEnabled: new(true),
	}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			p.consMu.Lock()
			t.Logf("browser console:\n%s", p.console)
			p.consMu.Unlock()
		}
	})
	return p
}

// screenshotDir is where a test's screenshots go: $FDSCOPE_SCREENSHOTS/NAME, or a temporary directory.
func screenshotDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("FDSCOPE_SCREENSHOTS"); d != "" {
		d = filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// run runs actions with the wait timeout.
func (p *page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail("%s: %v", what, err)
	}
}

// fail takes a screenshot of the failure and fails the test.
func (p *page) fail(format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		name := filepath.Join(p.shots, "failure.png")
		if os.WriteFile(name, b, 0o644) == nil {
			msg += "\n(screenshot: " + name + "; set FDSCOPE_SCREENSHOTS to keep it after the test)"
		}
	}
	if st, err := chromedp.Run(ctx, chromedp.Evaluate[string](stateJS)); err == nil {
		msg += "\npage state: " + st
	}
	p.t.Fatal(msg)
}

// stateJS describes the page for a failure message.
const stateJS = `JSON.stringify({
	url: location.href,
	body: document.body && document.body.dataset.state,
	diagram: (d => d && {state: d.dataset.state, focus: d.dataset.focus, seq: d.dataset.seq,
		processes: [...d.querySelectorAll('` + processBox + `')].map(b => b.dataset.pid),
		labels: [...d.querySelectorAll('text.edge-label')].map(l => l.textContent)})(document.getElementById('diagram')),
	rows: document.querySelectorAll('#process-list [data-pid]').length,
	fdscope: window.__fdscope,
})`

// navigate loads path (relative to the server) and waits for the page to be ready.
func (p *page) navigate(path string) {
	p.t.Helper()
	p.run("navigate to "+path, chromedp.Navigate(p.base+path))
	p.wait("the page ready", `document.body.dataset.state === 'ready'`)
}

// wait waits until the JavaScript expression is truthy.
func (p *page) wait(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void]("!!("+expr+")", chromedp.WithPollingTimeout(waitTimeout))); err != nil {
		p.fail("waiting for %s (%s): %v", what, expr, err)
	}
}

// waitValue waits until the JavaScript expression is truthy and returns its value.
func waitValue[T any](p *page, what, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(waitTimeout)))
	if err != nil {
		p.fail("waiting for %s (%s): %v", what, expr, err)
	}
	return v
}

// pollValue waits up to timeout until the JavaScript expression is truthy
// and returns its value; false when it never was.
func pollValue[T any](p *page, expr string, timeout time.Duration) (T, bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout+time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(timeout)))
	return v, err == nil
}

// eval evaluates a JavaScript expression into T.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// clickJS finds a point where a click reaches the first element that
// matches the selector (its centre, else a point near a corner), after
// scrolling it into view; null when there is none.
const clickJS = `(sel => {
	const el = document.querySelector(sel);
	if (!el) return null;
	el.scrollIntoView({block: 'center', inline: 'center'});
	const r = el.getBoundingClientRect();
	for (const [x, y] of [[r.x + r.width / 2, r.y + r.height / 2], [r.x + 4, r.y + 4], [r.right - 4, r.y + 4], [r.x + 4, r.bottom - 4]]) {
		const hit = document.elementFromPoint(x, y);
		if (hit && (hit === el || el.contains(hit))) return {x, y};
	}
	return null;
})`

// click clicks, with the mouse, the first element that matches a CSS
// selector. It finds the point and clicks it in two steps rather than
// through a DOM node, so a live update that redraws the element in
// between (the process list does on every version) still gets the click.
func (p *page) click(what, sel string) {
	p.t.Helper()
	type point struct{ X, Y float64 }
	p.wait(what+" clickable", clickJS+"("+strconv.Quote(sel)+")")
	pt := eval[*point](p, clickJS+"("+strconv.Quote(sel)+")")
	if pt == nil {
		p.fail("%s (%s): nothing to click", what, sel)
	}
	p.run("click "+what, chromedp.MouseClickXY(pt.X, pt.Y))
}

// shot saves a screenshot of the viewport as NN-name.png.
func (p *page) shot(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.fail("screenshot %s: %v", name, err)
	}
	p.step++
	file := filepath.Join(p.shots, fmt.Sprintf("%02d-%s.png", p.step, name))
	if err := os.WriteFile(file, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
	return file
}

// diagramReady is the expression true once the diagram of pid is drawn.
func diagramReady(pid int) string {
	return fmt.Sprintf(`(d => d && d.dataset.state === 'ready' && d.dataset.focus === '%d' && d.querySelector('svg'))(document.getElementById('diagram'))`, pid)
}

// focusFromList types pid into the search box and clicks its row. The
// list changes as the results for each prefix of the pid arrive and as
// live versions come, so a click can land on a row that has just taken
// the place of pid's, or be lost when the list is redrawn between the
// press and the release (TestBrowserRowClickDuringUpdate); then it
// clicks again, and says so.
func (p *page) focusFromList(pid int) {
	p.t.Helper()
	row := fmt.Sprintf(`#process-list [data-pid="%d"]`, pid)
	p.run("search for "+strconv.Itoa(pid), chromedp.SendKeys(chromedp.CSS("#search"), strconv.Itoa(pid)))
	for attempt := 1; ; attempt++ {
		p.click("the row of "+strconv.Itoa(pid), row)
		// The bound is for a loaded machine: the poll ends when a row is selected.
		got, _ := pollValue[string](p, `(r => r && r.dataset.pid)(document.querySelector('#process-list .selected'))`, 10*time.Second)
		if got == strconv.Itoa(pid) {
			break
		}
		if attempt == 3 {
			p.fail("three clicks on the row of %d selected %q", pid, got)
		}
		p.t.Logf("the click on the row of %d selected %q; again", pid, got)
	}
	p.wait("the diagram of "+strconv.Itoa(pid), diagramReady(pid))
}

// download clicks button and returns the file the browser saved as name.
func (p *page) downloadFile(button, name string) []byte {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	p.click(button, button)
	for ev, err := range progress {
		if err != nil {
			p.fail("no download from %s: %v", button, err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			p.fail("the download from %s was cancelled", button)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			break
		}
	}
	b, err := os.ReadFile(filepath.Join(p.download, name))
	if err != nil {
		ents, _ := os.ReadDir(p.download)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		p.fail("%s downloaded, but not as %s (the directory holds %v): %v", button, name, names, err)
	}
	return b
}

// TestBrowserUnixEcho follows a unix echo pair through the dashboard:
// search and focus the client, see the server as its peer and the
// connection's label, click the server, go back, watch a new connection
// appear live, and export the view as SVG, PNG and text.
func TestBrowserUnixEcho(t *testing.T) {
	t.Parallel()
	chromium(t)
	e := proctest.UnixEcho(t)
	cli, srv := e.Client.PID, e.Server.PID
	s := startLive(t)
	s.waitGraph(t, "the echo pair", connected(cli, srv, graph.ViaUnix))
	p := newPage(t, s.URL, screenshotDir(t))

	p.navigate("/")
	p.shot("dashboard")
	p.focusFromList(cli)
	p.wait("the server's box", fmt.Sprintf(`document.querySelector('#diagram `+processBox+`[data-pid="%d"]')`, srv))
	p.wait("the connection's label", fmt.Sprintf(`[...document.querySelectorAll('#diagram text.edge-label')].some(l => l.textContent.includes(%q))`, e.Addr))
	p.wait("the client's row selected", fmt.Sprintf(`document.querySelector('#process-list [data-pid="%d"]').classList.contains('selected')`, cli))
	p.wait("the permalink", fmt.Sprintf(`location.pathname === '/process/%d'`, cli))
	p.shot("client")

	// A click on the peer's box focuses it.
	p.click("the server's box", fmt.Sprintf(`#diagram `+processBox+`[data-pid="%d"]`, srv))
	p.wait("the server's diagram", diagramReady(srv))
	p.wait("the server's permalink", fmt.Sprintf(`location.pathname === '/process/%d'`, srv))
	p.wait("the client's box in the server's diagram", fmt.Sprintf(`document.querySelector('#diagram `+processBox+`[data-pid="%d"]')`, cli))
	p.shot("server")

	// Back: the client again.
	p.run("history back", chromedp.Evaluate[chromedp.Void](`history.back()`))
	p.wait("the client's diagram after back", diagramReady(cli)+fmt.Sprintf(` && location.pathname === '/process/%d'`, cli))
	p.shot("back")

	// A new connection shows without a reload, its port and edge fresh.
	p.run("watch for fresh elements", chromedp.Evaluate[chromedp.Void](watchFreshJS))
	seq := eval[string](p, `document.getElementById('diagram').dataset.seq`)
	c := e.Dial()
	port := fmt.Sprintf(`#diagram g.port[data-pid="%d"][data-fd="%d"]`, cli, c.FD)
	p.wait("the new connection's port", `document.querySelector('`+port+`')`)
	p.shot("new-connection")
	t.Logf("the new connection's layout applied in %.1f ms", eval[float64](p, `window.__fdscope.lastUpdateMs`))
	if eval[bool](p, `window.__fdscopeTestMarker !== 1`) {
		t.Error("the page reloaded to show the new connection")
	}
	if got := eval[string](p, `document.getElementById('diagram').dataset.seq`); got == seq {
		t.Errorf("#diagram[data-seq] stayed %s after the new connection", seq)
	}
	fresh := eval[[]string](p, `[...window.__fdscopeTestFresh]`)
	want := fmt.Sprintf("port:%d:%d", cli, c.FD)
	hasPort, hasEdge := false, false
	for _, f := range fresh {
		hasPort = hasPort || f == want
		hasEdge = hasEdge || strings.HasPrefix(f, "edge:")
	}
	if !hasPort || !hasEdge {
		t.Errorf("fresh elements after the new connection: %v; want %s and an edge", fresh, want)
	}
	if n := eval[int](p, `document.querySelectorAll('#diagram path.edge[data-kind="peer"]').length`); n < 2 {
		t.Errorf("%d peer edges after the second connection, want 2", n)
	}

	// Exports.
	svg := p.downloadFile("#export-svg", fmt.Sprintf("fdscope-%d.svg", cli))
	checkSVG(t, svg, srv)
	png := p.downloadFile("#export-png", fmt.Sprintf("fdscope-%d.png", cli))
	if len(png) < 100 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("the PNG export (%d bytes) is not a PNG: %q", len(png), png[:min(len(png), 16)])
	}
	p.click("the text export", "#export-text")
	p.wait("the text export", `/[\u2500-\u257f]/.test(document.getElementById('export-text-output').value)`)
	txt := eval[string](p, `document.getElementById('export-text-output').value`)
	if !strings.Contains(txt, strconv.Itoa(srv)) || !strings.Contains(txt, e.Addr) {
		t.Errorf("the text export names neither the server (pid %d) nor %s:\n%s", srv, e.Addr, txt)
	}
	p.shot("exported")
}

// watchFreshJS records every element of #diagram that gets the class
// fresh, as "port:PID:FD", "edge:ID", "box:NODEID" or "other:TAG", in
// window.__fdscopeTestFresh (the ports of a fresh box count as fresh),
// and marks the document (a reload drops it).
const watchFreshJS = `(() => {
	window.__fdscopeTestMarker = 1;
	const seen = window.__fdscopeTestFresh = new Set();
	const name = e => e.matches('g.port') ? 'port:' + e.dataset.pid + ':' + e.dataset.fd :
		e.matches('path.edge') ? 'edge:' + e.dataset.edgeId :
		e.matches('g.box') ? 'box:' + e.dataset.nodeId : 'other:' + e.tagName;
	// A fresh box's ports are new too.
	const add = e => {
		seen.add(name(e));
		e.querySelectorAll('g.port').forEach(q => seen.add(name(q)));
	};
	const look = n => {
		if (n.nodeType !== 1) return;
		if (n.classList.contains('fresh')) add(n);
		n.querySelectorAll('.fresh').forEach(add);
	};
	new MutationObserver(ms => ms.forEach(m =>
		m.type === 'attributes' ? look(m.target) : m.addedNodes.forEach(look)
	)).observe(document.getElementById('diagram'), {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
})()`

// checkSVG checks that b is an XML document with an <svg> root that
// names process pid.
func checkSVG(t *testing.T, b []byte, pid int) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for root == "" {
		tok, err := d.Token()
		if err != nil {
			t.Errorf("the SVG export (%d bytes) does not parse: %v", len(b), err)
			return
		}
		if se, ok := tok.(xml.StartElement); ok {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("the SVG export's root is <%s>", root)
	}
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Errorf("the SVG export does not parse: %v", err)
			return
		}
	}
	if !bytes.Contains(b, []byte(fmt.Sprintf(`data-pid="%d"`, pid))) {
		t.Errorf("the SVG export has no data-pid=%q", strconv.Itoa(pid))
	}
}

// TestScreenshots draws the seed scenarios, from real processes, in the
// documentation mode (?theme=light&chrome=0), and the dashboard in the
// dark theme, at 1280×800, into -screenshots (task screenshots) or a
// temporary directory: unix-echo.png, tcp-pair.png, three-tables.png,
// pipe.png and dashboard-dark.png. Each must show the process's peer.
func TestScreenshots(t *testing.T) {
	t.Parallel()
	chromium(t)
	dir := *screenshotsFlag
	if dir == "" {
		dir = screenshotDir(t)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	unix := proctest.UnixEcho(t)
	tcp := proctest.TCPPair(t)
	tables := proctest.ThreeTables(t)
	pipe := proctest.PipePair(t)
	s := startLive(t)
	s.waitGraph(t, "the scenarios", func(x *graph.Index) bool {
		return connected(unix.Server.PID, unix.Client.PID, graph.ViaUnix)(x) &&
			connected(tcp.Server.PID, tcp.Client.PID, graph.ViaTCP)(x) &&
			connected(tables.A.PID, tables.BPID, graph.ViaSharedOFD)(x) &&
			connected(pipe.Writer.PID, pipe.Reader.PID, graph.ViaPipe)(x)
	})
	p := newPage(t, s.URL, dir)
	for _, sc := range []struct {
		name       string
		focus      int
		peer       int
		label      string // a connection label must contain it ("": no check)
		query      string
		chromeless bool
		search     string // typed into #search (the dashboard)
	}{
		{"unix-echo", unix.Server.PID, unix.Client.PID, unix.Addr, "?theme=light&chrome=0", true, ""},
		{"tcp-pair", tcp.Server.PID, tcp.Client.PID, tcp.Addr, "?theme=light&chrome=0", true, ""},
		{"three-tables", tables.A.PID, tables.BPID, "", "?theme=light&chrome=0", true, ""},
		{"pipe", pipe.Writer.PID, pipe.Reader.PID, "", "?theme=light&chrome=0", true, ""},
		// The list filtered to the echo pair: the machine's other processes stay out of the docs.
		{"dashboard-dark", unix.Client.PID, unix.Server.PID, unix.Addr, "?theme=dark", false, "echo-"},
	} {
		p.navigate(fmt.Sprintf("/process/%d%s", sc.focus, sc.query))
		p.wait(sc.name+": the diagram", diagramReady(sc.focus))
		p.wait(sc.name+": the peer's box", fmt.Sprintf(`document.querySelector('#diagram `+processBox+`[data-pid="%d"]')`, sc.peer))
		if sc.label != "" {
			p.wait(sc.name+": the connection's label", fmt.Sprintf(`[...document.querySelectorAll('#diagram text.edge-label')].some(l => l.textContent.includes(%q))`, sc.label))
		}
		if sc.search != "" {
			p.run(sc.name+": search", chromedp.SendKeys(chromedp.CSS("#search"), sc.search))
			p.wait(sc.name+": the list filtered", fmt.Sprintf(`(rows => rows.length >= 2 && rows.every(r => r.textContent.includes(%q)))([...document.querySelectorAll('#process-list [data-pid]')])`, sc.search))
		}
		if !sc.chromeless {
			// Select the client's connection: the path to the server's fd
			// lights up and the details panel names the other end.
			fd := unix.Client.Facts().Conns[0].FD
			p.click(sc.name+": the client's connection", fmt.Sprintf(`#diagram g.port[data-pid="%d"][data-fd="%d"]`, sc.focus, fd))
			p.wait(sc.name+": the path to the peer highlighted", `document.querySelector('#diagram path.edge.hl[data-kind="peer"]')`)
			p.wait(sc.name+": the peer's fd highlighted", fmt.Sprintf(`document.querySelector('#diagram g.port.hl[data-pid="%d"]')`, sc.peer))
			p.wait(sc.name+": the details name the other end", fmt.Sprintf(`document.querySelector('#details:not(.idle) [data-pid="%d"]') && document.getElementById('details').textContent.includes('close-on-exec')`, sc.peer))
			p.run(sc.name+": the pointer away", chromedp.MouseEvent(chromedp.MouseMoved, 1, 1))
		}
		theme := map[bool]string{true: "light", false: "dark"}[sc.chromeless]
		if got := eval[string](p, `document.body.dataset.theme`); got != theme {
			t.Errorf("%s: body[data-theme] = %q, want %q", sc.name, got, theme)
		}
		if got := eval[bool](p, `document.body.classList.contains('chromeless')`); got != sc.chromeless {
			t.Errorf("%s: body.chromeless is %v, want %v", sc.name, got, sc.chromeless)
		}
		ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			t.Fatalf("%s: screenshot: %v", sc.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, sc.name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
}

// TestBrowserRowClickDuringUpdate presses the mouse on a row of the
// process list, lets a new version arrive (which redraws the list), and
// releases it: the click must still focus the row's process, as a click
// a user makes while the machine changes does.
func TestBrowserRowClickDuringUpdate(t *testing.T) {
	t.Parallel()
	chromium(t)
	store := live.NewStore(live.DefaultWindow)
	store.Publish(diagramtest.UnixEcho())
	s := startServer(t, store)
	p := newPage(t, s.URL, screenshotDir(t))
	p.navigate("/")
	const row = `#process-list [data-pid="2554"]`
	p.wait("the row of 2554 clickable", clickJS+"("+strconv.Quote(row)+")")
	type point struct{ X, Y float64 }
	pt := eval[point](p, clickJS+"("+strconv.Quote(row)+")")
	p.run("count list redraws", chromedp.Evaluate[chromedp.Void](`(() => {
		window.__fdscopeTestRedraws = 0;
		new MutationObserver(() => window.__fdscopeTestRedraws++).observe(document.getElementById('process-list'), {childList: true, subtree: true});
	})()`))
	press := func(typ input.DispatchMouseEventType) chromedp.Action[chromedp.Void] {
		return chromedp.MouseEvent(typ, pt.X, pt.Y, chromedp.ButtonType(input.MouseButtonLeft), chromedp.ClickCount(1))
	}
	p.run("press on the row", press(chromedp.MousePressed))
	// One more process elsewhere: a new version, and the list shows it.
	var b diagramtest.Builder
	b.Proc(9999, 1, 1, "newcomer", "newcomer", 0)
	u := diagramtest.UnixEcho()
	store.Publish(graph.New(slices.Concat(u.Nodes, b.Snapshot().Nodes), u.Edges, u.Stats))
	p.wait("the list redrawn with the new process", `window.__fdscopeTestRedraws > 0 && document.querySelector('#process-list [data-pid="9999"]')`)
	p.run("release", press(chromedp.MouseReleased))
	if got, ok := pollValue[string](p, `(r => r && r.dataset.pid)(document.querySelector('#process-list .selected'))`, 10*time.Second); !ok || got != "2554" {
		p.fail("a click on the row of 2554, the list redrawn between press and release, selected %q (want 2554)", got)
	}
	p.wait("the diagram of 2554", diagramReady(2554))
}

// TestBrowserUnknownPID: the permalink of a pid the server does not hold
// says so (the server answers with an error alone), and draws the process
// once it appears.
func TestBrowserUnknownPID(t *testing.T) {
	t.Parallel()
	chromium(t)
	store := live.NewStore(live.DefaultWindow)
	store.Publish(diagramtest.UnixEcho())
	s := startServer(t, store)
	p := newPage(t, s.URL, screenshotDir(t))
	p.navigate("/process/9999")
	p.wait("nothing to draw, and why", `document.getElementById('diagram').dataset.state === 'empty' && `+
		`document.getElementById('focus-note').textContent.includes('no process with pid 9999')`)
	p.shot("unknown-pid")
	var b diagramtest.Builder
	b.Proc(9999, 1, 1, "latecomer", "latecomer", 0)
	u := diagramtest.UnixEcho()
	store.Publish(graph.New(slices.Concat(u.Nodes, b.Snapshot().Nodes), u.Edges, u.Stats))
	p.wait("the diagram of 9999 once it runs", diagramReady(9999))
}
