package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
	"github.com/google/go-cmp/cmp"
)

func TestRESTLayout(t *testing.T) {
	e := newEnv(t, nil)
	server := e.world.PIDs()[1]
	resp, body := e.get("/api/processes/" + itoa(server) + "/layout")
	var l diagram.Layout
	if err := json.Unmarshal([]byte(body), &l); err != nil || resp.StatusCode != 200 || resp.Header.Get(SeqHeader) != "1" {
		t.Fatalf("layout: %d %.200s %v", resp.StatusCode, body, err)
	}
	sameLayout(t, "GET layout", e.wantRESTLayout(server), &l)

	g := groupPort(t, &l)
	_, body = e.get("/api/processes/" + itoa(server) + "/layout?expand=" + url.QueryEscape(g))
	var lx diagram.Layout
	if err := json.Unmarshal([]byte(body), &lx); err != nil {
		t.Fatal(err)
	}
	sameLayout(t, "GET layout?expand", e.wantRESTLayout(server, g), &lx)

	// The diagrams take expand= too: they draw what the layout says.
	_, snap := e.store.Latest()
	f := graph.NewIndex(snap).Focus(server)
	var want strings.Builder
	diagram.Text(diagram.NewLayout(f, server, diagram.Options{Width: 120, ExpandGroups: []string{g}}), &want, diagram.TextOptions{Width: 120})
	if resp, body := e.get("/api/processes/" + itoa(server) + "/diagram.txt?expand=" + url.QueryEscape(g)); resp.StatusCode != 200 || body != want.String() {
		t.Errorf("diagram.txt?expand: %d\n%s\nwant\n%s", resp.StatusCode, body, want.String())
	}
	if resp, _ := e.get("/api/processes/" + itoa(server) + "/diagram.svg?expand=" + url.QueryEscape(g)); resp.StatusCode != 200 {
		t.Errorf("diagram.svg?expand: %d", resp.StatusCode)
	}

	long := "group:" + strings.Repeat("x", MaxExpandIDLen)
	for _, p := range []string{
		"/api/processes/" + itoa(server) + "/layout?expand=fd:1",
		"/api/processes/" + itoa(server) + "/layout?expand=" + long,
		"/api/processes/" + itoa(server) + "/layout?expand=group:a%01",
		"/api/processes/" + itoa(server) + "/diagram.svg?expand=nope",
		"/api/processes/" + itoa(server) + "/diagram.txt?expand=nope",
	} {
		if resp, body := e.get(p); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error":"expand: `) {
			t.Errorf("%.80s: %d %.200s; want 400", p, resp.StatusCode, body)
		}
	}
	if resp, _ := e.get("/api/processes/99999/layout"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("layout of an unknown pid: %d", resp.StatusCode)
	}
}

func TestRESTSearch(t *testing.T) {
	e := newEnv(t, nil)
	server, client := e.world.PIDs()[1], e.world.PIDs()[2]
	resp, body := e.get("/api/search?q=serv")
	var got []graph.SearchResult
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 || resp.Header.Get(SeqHeader) != "1" {
		t.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	_, snap := e.store.Latest()
	want := []graph.SearchResult{{PID: server, ID: graph.NewIndex(snap).Process(server).ID, Comm: "server"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("search (-want +got):\n%s", d)
	}
	if !strings.Contains(body, `"match":""`) {
		t.Errorf("the match field is always there: %s", body)
	}
	// A socket inode: both ends' holders.
	var ino uint64
	for _, n := range snap.Nodes {
		if n.Kind == graph.KindSocket {
			ino = n.Inode
			break
		}
	}
	_, body = e.get("/api/search?q=" + itoa(int(ino)))
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 2 || got[0].PID == got[1].PID ||
		(got[0].PID != server && got[0].PID != client) || !strings.Contains(got[0].Match, "socket:[") {
		t.Errorf("search for a socket inode: %s", body)
	}
	_, body = e.get("/api/search?q=e&limit=1")
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 {
		t.Errorf("limit=1: %s", body)
	}
	if _, body := e.get("/api/search?q=zzzz"); strings.TrimSpace(body) != "[]" {
		t.Errorf("no match: %s, want []", body)
	}
	for _, tt := range []struct{ query, want string }{
		{"", "q is required"},
		{"q=", "q is required"},
		{"q=%20", "q is required"},
		{"q=" + strings.Repeat("a", MaxSearchQuery+1), "at most 256"},
		{"q=a&limit=0", "bad limit"},
		{"q=a&limit=1001", "bad limit"},
		{"q=a&limit=x", "bad limit"},
	} {
		resp, body := e.get("/api/search?" + tt.query)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tt.want) {
			t.Errorf("search?%.40s: %d %s; want 400 with %q", tt.query, resp.StatusCode, body, tt.want)
		}
	}
}

func TestRESTSummary(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.get("/api/summary")
	var s Summary
	if err := json.Unmarshal([]byte(body), &s); err != nil || resp.StatusCode != 200 {
		t.Fatalf("summary: %d %s", resp.StatusCode, body)
	}
	_, snap := e.store.Latest()
	if s.Seq != 1 || s.Stats.Processes != 3 {
		t.Errorf("seq %d, stats %+v", s.Seq, s.Stats)
	}
	if d := cmp.Diff(snap.CountKinds(), s.Kinds); d != "" {
		t.Errorf("kinds (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int{"unix": 2}, s.Sockets); d != "" {
		t.Errorf("sockets (-want +got):\n%s", d)
	}
	if len(s.TopConnections) != 2 || s.TopConnections[0].Comm != "server" || s.TopConnections[1].Comm != "client" {
		t.Errorf("top_connections = %+v", s.TopConnections)
	}
	if len(s.TopFDs) != 3 || s.TopFDs[0].FDCount != 4 || s.TopFDs[2].Comm != "init" {
		t.Errorf("top_fds = %+v", s.TopFDs)
	}
	for _, k := range []string{`"seq":`, `"stats":`, `"kinds":{`, `"sockets":{`, `"top_connections":[`, `"top_fds":[`} {
		if !strings.Contains(body, k) {
			t.Errorf("summary lacks %s: %s", k, body)
		}
	}
}

func TestTop(t *testing.T) {
	rows := []graph.ProcessRow{{PID: 1, Peers: 0}, {PID: 2, Peers: 5}, {PID: 3, Peers: 5}, {PID: 4, Peers: 9}}
	got := top(rows, 2, func(r graph.ProcessRow) int { return r.Peers })
	if len(got) != 2 || got[0].PID != 4 || got[1].PID != 2 {
		t.Errorf("top = %+v", got)
	}
	if got := top(nil, 10, func(r graph.ProcessRow) int { return r.Peers }); got == nil || len(got) != 0 {
		t.Errorf("top of nothing = %#v, want empty", got)
	}
	if got := top(rows[:1], 10, func(r graph.ProcessRow) int { return r.Peers }); len(got) != 0 {
		t.Errorf("rows with 0 are left out: %+v", got)
	}
}

func TestHealthzProgress(t *testing.T) {
	store := live.NewStore(0)
	e := newEnv(t, func(o *Options) { o.Source = store })
	get := func() Health {
		t.Helper()
		resp, body := e.get("/healthz")
		var h Health
		if err := json.Unmarshal([]byte(body), &h); err != nil || resp.StatusCode != http.StatusServiceUnavailable || h.Status != "starting" {
			t.Fatalf("/healthz: %d %s", resp.StatusCode, body)
		}
		return h
	}
	if h := get(); h.Progress == nil || h.Progress.Phase != "starting" {
		t.Errorf("before any report: %+v", h.Progress)
	}
	store.SetProgress("processes", 40, 500)
	if h := get(); h.Progress == nil || *h.Progress != (Progress{"processes", 40, 500}) {
		t.Errorf("progress = %+v", h.Progress)
	}
	store.Publish(e.world.Snapshot())
	resp, body := e.get("/healthz")
	if resp.StatusCode != 200 || strings.Contains(body, "progress") {
		t.Errorf("after the first scan: %d %s", resp.StatusCode, body)
	}
}

func TestProcessPermalink(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/process/1", "/process/abc"} {
		if resp, body := e.get(p); resp.StatusCode != 200 || body != "<html>page</html>" {
			t.Errorf("%s: %d %q; want the page", p, resp.StatusCode, body)
		}
	}
	if resp, _ := e.get("/process/1/x"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/process/1/x: %d", resp.StatusCode)
	}
	if resp, _ := e.get("/process/1", "Host", "evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("/process/1 is behind the guard: %d", resp.StatusCode)
	}
}

// watches=1 draws the epoll instance's watches; anything but 0 or 1 is refused.
func TestRESTLayoutWatches(t *testing.T) {
	e := newEnv(t, nil)
	e.store.Publish(diagramtest.EpollEcho())
	watches := func(query string) int {
		t.Helper()
		resp, body := e.get("/api/processes/2554/layout" + query)
		var l diagram.Layout
		if err := json.Unmarshal([]byte(body), &l); err != nil || resp.StatusCode != 200 {
			t.Fatalf("layout%s: %d %.200s %v", query, resp.StatusCode, body, err)
		}
		n := 0
		for _, e := range l.Edges {
			if e.Kind == diagram.EdgeWatch {
				n++
			}
		}
		return n
	}
	if n := watches(""); n != 0 {
		t.Errorf("%d watch edges without watches=1", n)
	}
	if n := watches("?watches=1"); n != 2 {
		t.Errorf("%d watch edges with watches=1, want 2", n)
	}
	if resp, body := e.get("/api/processes/2554/diagram.svg?watches=1"); resp.StatusCode != 200 || !strings.Contains(body, `class="edge e-watch"`) {
		t.Errorf("diagram.svg?watches=1: %d, no watch edge in %.300s", resp.StatusCode, body)
	}
	if resp, _ := e.get("/api/processes/2554/layout?watches=yes"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("watches=yes: %d, want 400", resp.StatusCode)
	}
}
