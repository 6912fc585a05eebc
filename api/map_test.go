package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fdscope/fdscope/hostmap"
)

// mapOf decodes a map message or GET /api/map answer.
func mapOf(t *testing.T, b []byte) (MapMessage, map[int]string) {
	t.Helper()
	m := MapMessage{Map: &hostmap.Map{}}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode map %s: %v", b, err)
	}
	byPID := map[int]string{}
	for _, g := range m.Groups {
		for _, p := range g.PIDs {
			byPID[p] = g.ID
		}
	}
	if m.Layout == nil || len(m.Layout.Nodes) != len(m.Groups) {
		t.Fatalf("map without a cell for each group: %s", b)
	}
	return m, byPID
}

func linkedIn(m MapMessage, a, b string) bool {
	for _, l := range m.Links {
		if l.From == min(a, b) && l.To == max(a, b) {
			return true
		}
	}
	return false
}

func TestGetMap(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.get("/api/map")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/map: %s %s", resp.Status, body)
	}
	m, byPID := mapOf(t, []byte(body))
	pids := e.world.PIDs() // init, the server, the client
	if len(pids) != 3 || byPID[pids[1]] == "" || byPID[pids[2]] == "" || byPID[pids[1]] == byPID[pids[2]] {
		t.Fatalf("groups %v of processes %v: want one each", byPID, pids)
	}
	if !linkedIn(m, byPID[pids[1]], byPID[pids[2]]) {
		t.Errorf("server and client are not linked: %s", body)
	}
	if m.Seq == 0 || resp.Header.Get(SeqHeader) == "" {
		t.Errorf("no version in %s", body)
	}
	before := e.srv.hub.views.encodes.Load()
	e.get("/api/map")
	if got := e.srv.hub.views.encodes.Load(); got != before {
		t.Errorf("the second GET /api/map encoded the map again")
	}
}

// TestWSMap: map=1 sends the map, then a new one only when it changes,
// with the groups that stayed in their cells.
func TestWSMap(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client("?graph=none&map=1")
	first := e.read(c)
	if first.Type != TypeMap {
		t.Fatalf("first message %.200s, want a map", first.raw)
	}
	m0, _ := mapOf(t, first.raw)
	e.world.Seek(e.world.PIDs()[1], 0, 42) // a change that leaves the map as it is
	e.publish()
	e.quiet(c, 300*time.Millisecond)

	pids := e.world.PIDs()
	n := e.world.Start(1, "newcomer")
	e.world.Connect(n, pids[1])
	e.publish()
	next := e.read(c)
	if next.Type != TypeMap {
		t.Fatalf("after a new process: %.200s, want a map", next.raw)
	}
	m1, byPID := mapOf(t, next.raw)
	if byPID[n] == "" || !linkedIn(m1, byPID[n], byPID[pids[1]]) {
		t.Errorf("the newcomer %d is not linked to %d: %s", n, pids[1], next.raw)
	}
	cells := map[string]hostmap.NodeCell{}
	for _, nc := range m0.Layout.Nodes {
		cells[nc.ID] = nc
	}
	for _, nc := range m1.Layout.Nodes {
		if o, ok := cells[nc.ID]; ok && (o.Col != nc.Col || o.Row != nc.Row) {
			t.Errorf("group %s moved from %d,%d to %d,%d", nc.ID, o.Col, o.Row, nc.Col, nc.Row)
		}
	}
	// Off: the process list that comes instead says the request was read.
	send(t, c, Request{Type: TypeSubscribe, Map: new(false), Processes: new(true)})
	if m := e.read(c); m.Type != TypeProcesses {
		t.Fatalf("after map off, processes on: %.200s", m.raw)
	}
	e.world.Stop(n)
	e.publish()
	if m := e.read(c); m.Type != TypeProcessesDiff {
		t.Fatalf("after a process ended: %.200s, want processes_diff and no map", m.raw)
	}
	e.quiet(c, 300*time.Millisecond)
}

func TestGetMapDrawings(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.get("/api/map.svg?theme=dark")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" ||
		!strings.Contains(body, `data-group="program:2"`) || !strings.Contains(body, "theme-dark") {
		t.Errorf("GET /api/map.svg: %s %s\n%.300s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	resp, body = e.get("/api/map.txt")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "server") || !strings.Contains(body, "links:") {
		t.Errorf("GET /api/map.txt: %s\n%s", resp.Status, body)
	}
	if resp, body := e.get("/api/map.svg?theme=neon"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /api/map.svg?theme=neon: %s %s, want 400", resp.Status, body)
	}
}
