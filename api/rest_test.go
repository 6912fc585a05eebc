package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
	"github.com/google/go-cmp/cmp"
)

func TestREST(t *testing.T) {
	e := newEnv(t, nil)
	_, latest := e.store.Latest()
	idx := graph.NewIndex(latest)

	resp, body := e.get("/api/graph")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get(SeqHeader) != "1" {
		t.Fatalf("/api/graph: %d %v", resp.StatusCode, resp.Header)
	}
	var g graph.Snapshot
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	if !graph.Equal(&g, latest) {
		t.Error("/api/graph is not the latest snapshot")
	}

	resp, body = e.get("/api/processes")
	var rows []graph.ProcessRow
	if err := json.Unmarshal([]byte(body), &rows); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/api/processes: %d %s %v", resp.StatusCode, body, err)
	}
	if d := cmp.Diff(idx.Processes(), rows); d != "" {
		t.Errorf("/api/processes (-want +got):\n%s", d)
	}
	if len(rows) != 3 || rows[1].Comm != "server" || rows[1].Peers != 1 || rows[1].Sockets != 1 {
		t.Errorf("rows = %+v", rows)
	}

	server := rows[1].PID
	resp, body = e.get("/api/processes/" + itoa(server))
	var f graph.Snapshot
	if err := json.Unmarshal([]byte(body), &f); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/api/processes/%d: %d %s", server, resp.StatusCode, body)
	}
	if !graph.Equal(&f, idx.Focus(server)) {
		t.Error("focus subgraph differs from graph.Index.Focus")
	}

	resp, body = e.get("/api/processes/" + itoa(server) + "/peers")
	var peers []graph.Peer
	if err := json.Unmarshal([]byte(body), &peers); err != nil || resp.StatusCode != 200 {
		t.Fatalf("peers: %d %s", resp.StatusCode, body)
	}
	if len(peers) != 1 || peers[0].PeerComm != "client" || peers[0].Via != graph.ViaUnix {
		t.Errorf("peers = %+v", peers)
	}
	if !strings.Contains(body, `"peer_pid":`) || !strings.Contains(body, `"via":"unix"`) {
		t.Errorf("peers JSON lacks its fields: %s", body)
	}

	resp, body = e.get("/api/processes/" + itoa(server) + "/diagram.txt?width=100")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(body, "kernel space") || !strings.Contains(body, "server") || !strings.Contains(body, "client") {
		t.Errorf("diagram.txt: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	resp, body = e.get("/api/processes/" + itoa(server) + "/diagram.svg?theme=dark")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" ||
		!strings.HasPrefix(strings.TrimSpace(body), "<svg") || !strings.Contains(body, `data-pid="`+itoa(server)+`"`) {
		t.Errorf("diagram.svg: %d %v\n%.300s", resp.StatusCode, resp.Header, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "script") {
		t.Errorf("diagram.svg CSP allows scripts: %s", csp)
	}

	for path, code := range map[string]int{
		"/api/processes/99999/diagram.svg":        http.StatusNotFound,
		"/api/processes/1/diagram.txt?width=abc":  http.StatusBadRequest,
		"/api/processes/1/diagram.svg?theme=neon": http.StatusBadRequest,
		"/api/processes/99999":                    http.StatusNotFound,
		"/api/processes/99999/peers":              http.StatusNotFound,
		"/api/processes/abc":                      http.StatusBadRequest,
		"/api/processes/-1/peers":                 http.StatusBadRequest,
		"/api/processes/+1/peers":                 http.StatusBadRequest,
		"/api/processes/1/diagram.txt?width=39":   http.StatusBadRequest,
		"/api/processes/1/diagram.txt?ascii=yes":  http.StatusBadRequest,
		"/api/processes/1/diagram.txt?ascii=true": http.StatusBadRequest,
		"/api/processes/1/layout?watches=true":    http.StatusBadRequest,
		"/api/processes/1/diagram.svg?watches=2":  http.StatusBadRequest,
		"/api/nope":                               http.StatusNotFound,
	} {
		resp, body := e.get(path)
		var eb ErrorBody
		if resp.StatusCode != code || json.Unmarshal([]byte(body), &eb) != nil || eb.Error == "" {
			t.Errorf("%s: %d %q; want %d with a JSON error", path, resp.StatusCode, body, code)
		}
	}
	if _, body := e.get("/api/processes/99999"); !strings.Contains(body, "no process with pid 99999") {
		t.Errorf("404 body = %s", body)
	}
}

func TestRESTBeforeFirstScan(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Source = live.NewStore(0) })
	for _, p := range []string{"/api/graph", "/api/processes", "/api/processes/1", "/healthz"} {
		if resp, body := e.get(p); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s before the first scan: %d %s", p, resp.StatusCode, body)
		}
	}
}

func TestReadOnly(t *testing.T) {
	e := newEnv(t, nil)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, p := range []string{"/api/graph", "/api/processes/1", "/", "/api/ws"} {
			req, _ := http.NewRequest(m, e.ts.URL+p, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want 405", m, p, resp.StatusCode)
			}
		}
	}
}

func TestHealthzMetricsStatic(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.get("/healthz")
	var h Health
	if err := json.Unmarshal([]byte(body), &h); err != nil || resp.StatusCode != 200 || h.Status != "ok" || h.Seq != 1 {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	c := e.mustDial("?graph=none")
	_ = c
	waitFor(t, "the client to register", func() bool { return e.srv.Clients() == 1 })
	resp, body = e.get("/metrics")
	for _, name := range []string{"fdscope_ws_clients 1", "fdscope_ws_messages_total", "fdscope_ws_sent_bytes_total",
		"fdscope_ws_dropped_clients_total", "fdscope_graph_version 1"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
	if resp.StatusCode != 200 {
		t.Errorf("/metrics: %d", resp.StatusCode)
	}
	resp, body = e.get("/static/app.js")
	if resp.StatusCode != 200 || body != "console.log(1)" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("/static/app.js: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	for _, p := range []string{"/static/", "/static/sub/", "/static/sub", "/static/missing.js", "/static/../rest.go"} {
		if resp, _ := e.get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s = %d, want 404 (no listings)", p, resp.StatusCode)
		}
	}
	if resp, body := e.get("/"); resp.StatusCode != 200 || body != "<html>page</html>" {
		t.Errorf("/: %d %q", resp.StatusCode, body)
	}
}
