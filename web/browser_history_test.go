//go:build linux

package web_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/history"
	"github.com/fdscope/fdscope/live"
)

// startRecorded serves store as startServer does, recording its versions
// into a history store that the server answers ?at= and /api/changes from.
func startRecorded(t testing.TB, store *live.Store) (*testServer, *history.DB) {
	t.Helper()
	return startRecordedFrom(t, store, nil)
}

// startRecordedFrom is startRecorded with the sources of changes the
// server names (api.Options.HistorySources).
func startRecordedFrom(t testing.TB, store *live.Store, sources []string) (*testServer, *history.DB) {
	t.Helper()
	db, err := history.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	recorded := make(chan struct{})
	go func() { (&history.Recorder{DB: db}).Run(ctx, store); close(recorded) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-recorded
		db.Close()
	})
	return serveAPI(t, ln, api.Options{Source: store, History: db, HistorySources: sources}), db
}

// startRecordedWith serves a store that holds first, recorded as
// startRecorded does, once its first version is in the history.
func startRecordedWith(t *testing.T, first *graph.Snapshot) (*live.Store, *testServer, *history.DB) {
	t.Helper()
	store := live.NewStore(live.DefaultWindow)
	store.Publish(first)
	s, db := startRecorded(t, store)
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(10 * time.Millisecond) {
		if _, ok, _ := db.Begin(context.Background()); ok {
			return store, s, db
		}
		if time.Now().After(deadline) {
			t.Fatal("the first version not recorded")
		}
	}
}

// waitRecorded waits until the history holds a change of kind for pid's fd.
func waitRecorded(t *testing.T, db *history.DB, kind string, pid, fd int) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(10 * time.Millisecond) {
		evs, err := db.Changes(context.Background(), history.Query{PID: pid})
		if err == nil && slices.ContainsFunc(evs, func(e history.Event) bool {
			return e.Kind == kind && ((e.PID == pid && e.FD == fd) || (e.PeerPID == pid && e.PeerFD == fd))
		}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s of pid %d fd %d recorded: %+v (%v)", kind, pid, fd, evs, err)
		}
	}
}

// TestBrowserTimeline opens a connection and closes it again, then scrubs
// the focus view back: the closed connection is drawn again as it was,
// and the live button brings back the present.
func TestBrowserTimeline(t *testing.T) {
	t.Parallel()
	chromium(t)
	base := diagramtest.UnixEcho()
	store, s, db := startRecordedWith(t, base)
	// A second connection, to the server's fd 5, opens and closes.
	store.Publish(withConnection(base))
	waitRecorded(t, db, history.ConnOpen, 2554, 5)
	time.Sleep(5 * time.Millisecond) // the close is recorded at a later time
	store.Publish(base)
	waitRecorded(t, db, history.ConnClose, 2554, 5)

	p := newPage(t, s.URL, screenshotDir(t))
	p.navigate("/process/2554")
	p.wait("the server's diagram", diagramReady(2554))
	port := `#diagram g.port[data-pid="2554"][data-fd="5"]`
	p.wait("the strip, live, saying what is recorded", `document.getElementById('timeline').dataset.state === 'live' &&
		document.getElementById('timeline-note').textContent.includes('scans only')`)
	if eval[bool](p, `!!document.querySelector('`+port+`')`) {
		t.Fatal("the closed connection's port is drawn live")
	}
	close := `#timeline-changes li[data-kind="conn_close"] button`
	p.wait("the closing in the list of changes", `!!document.querySelector('`+close+`')`)
	p.shot("live")

	// Back to the start of the scrubber: a time before the history.
	type rect struct{ X, Y, W, H float64 }
	r := eval[rect](p, `(r => ({x: r.x, y: r.y, w: r.width, h: r.height}))(document.getElementById('timeline-scrub').getBoundingClientRect())`)
	p.run("click the start of the scrubber", chromedp.MouseClickXY(r.X+2, r.Y+r.H/2))
	p.wait("a note that the time is outside the history", `document.getElementById('timeline').dataset.state === 'past' &&
		document.getElementById('timeline-note').textContent.includes('outside the history')`)

	// Just before the connection closed: it is drawn again.
	p.click("the closing of the connection", close)
	p.wait("the past focus with the connection", `document.getElementById('timeline').dataset.state === 'past' && !!document.querySelector('`+port+`') &&
		document.querySelectorAll('#diagram path.edge[data-kind="peer"]').length === 2 && document.getElementById('timeline-at').textContent !== 'live'`)
	// Its details say when it opened and how long it lived.
	// (How long: under a second unless the machine is slow; any length will
	// do.) A click that lands while the past view is redrawn is lost: click
	// again, and say so.
	life := `(t => t.includes('opened') && t.includes('closed') && /under a second|\d+ s\b|\d+ min\b/.test(t))(document.getElementById('details').textContent)`
	for attempt := 1; ; attempt++ {
		p.click("the connection's fd", port)
		if _, ok := pollValue[bool](p, life, 5*time.Second); ok {
			break
		}
		if attempt == 3 {
			p.fail("three clicks on the connection's fd, and its life is not in the details: %q", eval[string](p, `document.getElementById('details').textContent`))
		}
		t.Logf("the details after click %d: %q; again", attempt, eval[string](p, `document.getElementById('details').textContent`))
	}
	p.shot("past")

	// Live again: the connection is gone.
	p.click("live", "#timeline-live")
	p.wait("the live focus without the connection", `document.getElementById('timeline').dataset.state === 'live' && !document.querySelector('`+port+`') &&
		document.getElementById('timeline-at').textContent === 'live' && `+diagramReady(2554))
	p.shot("live-again")
}

// withWorker adds to s a process of another program, which the map draws
// as a group of its own.
func withWorker(s *graph.Snapshot) *graph.Snapshot {
	var b diagramtest.Builder
	b.Proc(2600, 1, 6000, "backup.sh", "/bin/sh /usr/local/bin/backup.sh", 1)
	b.FD(2600, 3, true, b.OFD(2600, 3, "r", 0, 1, b.Pipe(39001)))
	return overlay(s, b.Snapshot(), s.Stats)
}

// TestBrowserMapTimeline: a process starts and exits; the map's strip
// lists both, scrubbing back to just before the exit draws the map with
// the process's group again, and live brings back the present.
func TestBrowserMapTimeline(t *testing.T) {
	t.Parallel()
	chromium(t)
	base := diagramtest.UnixEcho()
	store, s, db := startRecordedWith(t, base)
	store.Publish(withWorker(base))
	waitRecorded(t, db, history.FDOpen, 2600, 3)
	time.Sleep(5 * time.Millisecond) // the exit is recorded at a later time
	store.Publish(base)
	waitRecorded(t, db, history.FDClose, 2600, 3)

	p := newPage(t, s.URL, screenshotDir(t))
	p.navigate("/")
	groups := `document.querySelectorAll('#map g.group[data-group]').length`
	p.wait("the live map", groups+` > 0 && document.getElementById('map-timeline').dataset.state === 'live'`)
	live := eval[int](p, groups)
	exit := `#map-timeline-changes li[data-kind="process_exit"] button`
	p.wait("the exit in the host's list of changes", `!!document.querySelector('`+exit+`') &&
		document.getElementById('map-timeline-changes').textContent.includes('backup.sh (2600)')`)
	p.shot("live")

	p.click("the exit of backup.sh", exit)
	p.wait("the map as it was, with backup.sh's group", fmt.Sprintf(`document.getElementById('map-timeline').dataset.state === 'past' &&
		document.getElementById('map-timeline-at').textContent !== 'live' && %s === %d`, groups, live+1))
	p.shot("past")

	p.click("live", "#map-timeline-live")
	p.wait("the live map again", fmt.Sprintf(`document.getElementById('map-timeline').dataset.state === 'live' && %s === %d`, groups, live))
	p.shot("live-again")
}

// TestBrowserTimelineKernelNote: with connection events among the sources
// of changes, the strip's note says that connections shorter than a scan
// are recorded.
func TestBrowserTimelineKernelNote(t *testing.T) {
	t.Parallel()
	chromium(t)
	store := live.NewStore(live.DefaultWindow)
	store.Publish(diagramtest.UnixEcho())
	s, _ := startRecordedFrom(t, store, []string{history.SourceScan, history.SourceProcConnector, history.SourceKernel})
	p := newPage(t, s.URL, screenshotDir(t))
	p.navigate("/process/2554")
	p.wait("the note on kernel events", `(t => t.includes('kernel events') && t.includes('even one shorter than a scan') && !t.includes('not seen'))(document.getElementById('timeline-note').textContent)`)
}
