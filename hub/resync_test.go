package hub

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/fdscope/fdscope/graph"
)

// A diff whose base is not the version the hub has makes the hub ask for a
// resync, skip diffs until the snapshot comes, and take that snapshot.
func TestResyncOnAMissedVersion(t *testing.T) {
	first := host(100, "client", "10.0.0.1:40000", "10.0.0.2:80", 0)
	later := host(100, "client", "10.0.0.1:40000", "10.0.0.2:80", 1)
	asked := make(chan string, 4)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		send := func(v any) bool { return wsjson.Write(ctx, c, v) == nil }
		if !send(map[string]any{"type": "snapshot", "seq": 1, "graph": first}) {
			return
		}
		// Version 2 is missed: this diff is from 2 to 3.
		d := graph.Diff(first, later)
		if !send(map[string]any{"type": "diff", "seq": 3, "base": 2, "nodes_added": d.NodesAdded, "nodes_changed": d.NodesChanged,
			"nodes_removed": d.NodesRemoved, "edges_added": d.EdgesAdded, "edges_removed": d.EdgesRemoved}) {
			return
		}
		var req map[string]any
		if err := wsjson.Read(ctx, c, &req); err != nil {
			return
		}
		asked <- req["type"].(string)
		if !send(map[string]any{"type": "snapshot", "seq": 3, "graph": later}) {
			return
		}
		c.Read(ctx) // until the hub goes
	}))
	defer ts.Close()

	h := startHub(t, Options{}, Agent{Host: "alpha", URL: ts.URL})
	select {
	case got := <-asked:
		if got != "resync" {
			t.Fatalf("the hub sent %q, want resync", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the hub never asked for a resync")
	}
	h.waitFor(t, "the resent snapshot", hasNode("alpha/fd:100:1:10"))
}
