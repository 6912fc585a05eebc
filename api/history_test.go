package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/history"
)

// recordHistory opens a history store in a temporary directory and
// returns it with a function that records src into it from then on (and
// waits until the first version is stored).
func recordHistory(t *testing.T) (*history.DB, func(history.Source)) {
	t.Helper()
	db, err := history.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return db, func(src history.Source) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { (&history.Recorder{DB: db}).Run(ctx, src); close(done) }()
		t.Cleanup(func() { cancel(); <-done; db.Close() })
		waitUntil(t, "the first version recorded", func() bool { _, ok, _ := db.Begin(ctx); return ok })
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after 30 s", what)
		}
	}
}

func TestHistoryRoutes(t *testing.T) {
	db, record := recordHistory(t)
	e := newEnv(t, func(o *Options) { o.History = db })
	record(e.store)
	pids := e.world.PIDs()
	server, client := pids[len(pids)-2], pids[len(pids)-1] // started in that order
	time.Sleep(2 * time.Millisecond)                       // at is after the first version's time
	connected := time.Now().UTC()
	time.Sleep(2 * time.Millisecond)
	e.world.Stop(client)
	e.publish()

	var body ChangesBody
	waitUntil(t, "the client's exit recorded", func() bool {
		resp, b := e.get("/api/changes?pid=" + itoa(client))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/api/changes: %d %s", resp.StatusCode, b)
		}
		body = ChangesBody{}
		if err := json.Unmarshal([]byte(b), &body); err != nil {
			t.Fatal(err)
		}
		return len(body.Changes) > 0
	})
	var closed, exited bool
	for _, ev := range body.Changes {
		switch {
		case ev.Kind == history.ConnClose && ev.PeerPID != 0:
			closed = closed || (ev.PID == client && ev.PeerPID == server) || (ev.PID == server && ev.PeerPID == client)
		case ev.Kind == history.ProcessExit && ev.PID == client:
			exited = true
		}
		if ev.Time.Before(connected) {
			t.Errorf("a change before the client left: %+v", ev)
		}
	}
	if !closed || !exited {
		t.Errorf("changes of the client lack its connection closing (%v) or its exit (%v): %+v", closed, exited, body.Changes)
	}
	if body.Begins.IsZero() || body.Begins.After(connected) || len(body.Sources) == 0 {
		t.Errorf("changes: begins %v (want before %v), sources %v", body.Begins, connected, body.Sources)
	}

	at := url.QueryEscape(connected.Format(time.RFC3339Nano))
	// Now the client is gone; at the time it was connected it is there,
	// connected to the server.
	if resp, b := e.get("/api/processes/" + itoa(client)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the exited client now: %d %.200s", resp.StatusCode, b)
	}
	resp, b := e.get("/api/processes/" + itoa(client) + "?at=" + at)
	if resp.StatusCode != http.StatusOK || resp.Header.Get(AtHeader) == "" {
		t.Fatalf("the client at %s: %d %.300s", connected, resp.StatusCode, b)
	}
	var focus graph.Snapshot
	if err := json.Unmarshal([]byte(b), &focus); err != nil {
		t.Fatal(err)
	}
	if peers := graph.NewIndex(graph.New(focus.Nodes, focus.Edges, focus.Stats)).Peers(client); len(peers) == 0 || peers[0].PeerPID != server {
		t.Errorf("the client's focus at %s has no connection to the server: %+v", connected, peers)
	}
	if resp, b := e.get("/api/processes/" + itoa(client) + "/diagram.svg?at=" + at); resp.StatusCode != http.StatusOK || !strings.Contains(b, "<svg") {
		t.Errorf("the diagram at %s: %d %.200s", connected, resp.StatusCode, b)
	}
	resp, b = e.get("/api/graph?at=" + at)
	if resp.StatusCode != http.StatusOK || !strings.Contains(b, `"pid":`+itoa(client)) {
		t.Errorf("the graph at %s: %d %.200s", connected, resp.StatusCode, b)
	}

	for _, path := range []string{"/api/map?at=" + at, "/api/map.txt?at=" + at, "/api/map.svg?at=" + at} {
		if resp, b := e.get(path); resp.StatusCode != http.StatusOK || resp.Header.Get(AtHeader) == "" || !strings.Contains(b, "client") {
			t.Errorf("%s: %d %.200s, want the map with the client", path, resp.StatusCode, b)
		}
	}
	if resp, b := e.get("/api/map.txt"); resp.StatusCode != http.StatusOK || strings.Contains(b, "client") {
		t.Errorf("the map now: %d %.300s, want it without the exited client", resp.StatusCode, b)
	}

	for path, want := range map[string]struct {
		code int
		msg  string
	}{
		"/api/graph?at=yesterday":                                            {400, "RFC 3339"},
		"/api/graph?at=2026-13-01T00:00:00Z":                                 {400, "RFC 3339"},
		"/api/processes/1?at=2026-01-01":                                     {400, "RFC 3339"},
		"/api/graph?at=2999-01-01T00:00:00Z":                                 {400, "in the future"},
		"/api/graph?at=2001-01-01T00:00:00Z":                                 {404, "outside the history kept"},
		"/api/processes/1?at=2001-01-01T00:00:00Z":                           {404, "outside the history kept"},
		"/api/processes/4000000?at=" + at:                                    {404, "no process with pid 4000000 at"},
		"/api/changes?since=noon":                                            {400, "bad since"},
		"/api/changes?until=noon":                                            {400, "bad until"},
		"/api/changes?pid=0":                                                 {400, "bad pid"},
		"/api/changes?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z": {400, "before since"},
		"/api/changes?since=2001-01-01T00:00:00Z&until=2001-01-02T00:00:00Z": {404, "outside the history kept"},
	} {
		resp, b := e.get(path)
		if resp.StatusCode != want.code || !strings.Contains(b, want.msg) {
			t.Errorf("%s: %d %.200s, want %d and %q", path, resp.StatusCode, b, want.code, want.msg)
		}
	}
}

func TestNoHistory(t *testing.T) {
	e := newEnv(t, nil)
	for path, code := range map[string]int{
		"/api/changes":                             http.StatusNotFound,
		"/api/graph?at=2026-01-01T00:00:00Z":       http.StatusBadRequest,
		"/api/processes/1?at=2026-01-01T00:00:00Z": http.StatusBadRequest,
	} {
		if resp, b := e.get(path); resp.StatusCode != code || !strings.Contains(b, "no history is recorded") {
			t.Errorf("%s without history: %d %.200s, want %d", path, resp.StatusCode, b, code)
		}
	}
}
