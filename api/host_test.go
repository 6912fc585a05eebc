package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fdscope/fdscope/graph"
)

// twoHostsOnePID is a hub's merged graph (as package hub makes it) in which
// pid 100 is a client on alpha and a server on beta, joined by a TCP peer
// edge; beta's started later, so it is the focus of a pid without a host.
func twoHostsOnePID() *graph.Snapshot {
	var nodes []*graph.Node
	var edges []graph.Edge
	side := func(host string, start uint64, comm, local, remote string) string {
		p := host + "/" + graph.ProcessID(100, start)
		f, o := host+"/"+graph.FDID(100, start, 3), host+"/"+graph.OFDID(100, start, 3)
		sock := host + "/" + graph.SocketID(1000+start)
		nodes = append(nodes,
			&graph.Node{ID: p, Kind: graph.KindProcess, PID: 100, Process: &graph.Process{Comm: comm, User: "root", StartTime: start, FDCount: 1, Host: host}},
			&graph.Node{ID: f, Kind: graph.KindFD, PID: 100, FD: &graph.FD{Num: 3}},
			&graph.Node{ID: o, Kind: graph.KindOFD, OFD: &graph.OFD{Mode: "rw", Flags: []string{"O_RDWR"}, Sharers: 1}},
			&graph.Node{ID: sock, Kind: graph.KindSocket, Object: &graph.Object{Inode: 1000 + start, Name: graph.SocketID(1000 + start),
				Socket: &graph.Socket{Family: graph.FamilyInet, Type: "stream", Protocol: "tcp", State: "established", Local: local, Remote: remote}}})
		edges = append(edges, graph.Edge{From: p, To: f, Kind: graph.EdgeFD},
			graph.Edge{From: f, To: o, Kind: graph.EdgeOFD}, graph.Edge{From: o, To: sock, Kind: graph.EdgeObject})
		return sock
	}
	a := side("alpha", 1, "client", "10.0.0.1:40000", "10.0.0.2:80")
	b := side("beta", 2, "server", "10.0.0.2:80", "10.0.0.1:40000")
	edges = append(edges, graph.Edge{From: a, To: b, Kind: graph.EdgePeer})
	return graph.New(nodes, edges, graph.Stats{Processes: 2, FDs: 2})
}

// TestHostQualifiedFocus: in a merged graph, ?host= picks the process of a
// pid on that host on every pid route and the websocket; without it the
// process that started last is the focus; a host without the pid is a 404.
func TestHostQualifiedFocus(t *testing.T) {
	e := newEnv(t, nil)
	e.store.Publish(twoHostsOnePID())
	alpha, beta := "alpha/proc:100:1", "beta/proc:100:2"

	var l struct {
		FocusID string `json:"focus_id"`
	}
	for query, want := range map[string]string{"": beta, "?host=beta": beta, "?host=alpha": alpha} {
		getJSON(t, e, "/api/processes/100/layout"+query, &l)
		if l.FocusID != want {
			t.Errorf("layout%s: focus %q, want %q", query, l.FocusID, want)
		}
		var peers []graph.Peer
		getJSON(t, e, "/api/processes/100/peers"+query, &peers)
		other := map[string]string{alpha: beta, beta: alpha}[want]
		if len(peers) != 1 || peers[0].PeerProcess != other || peers[0].Via != graph.ViaTCP || peers[0].Relation != graph.RelConnection {
			t.Errorf("peers%s: %+v, want %s via tcp", query, peers, other)
		}
		_, svg := e.get("/api/processes/100/diagram.svg" + query)
		if !strings.Contains(svg, `data-focus-id="`+want+`"`) {
			t.Errorf("diagram.svg%s is not %s's", query, want)
		}
		_, txt := e.get("/api/processes/100/diagram.txt" + query)
		comm := map[string]string{alpha: "client", beta: "server"}[want]
		if !strings.Contains(txt, comm+"  pid 100") {
			t.Errorf("diagram.txt%s does not show the %s first:\n%s", query, comm, txt)
		}
	}
	var focus graph.Snapshot
	getJSON(t, e, "/api/processes/100?host=alpha", &focus)
	if focus.Node(alpha) == nil || focus.Node(beta) == nil {
		t.Errorf("alpha's focus lacks a side: %v", focus.Nodes)
	}
	for _, route := range []string{"", "/peers", "/layout", "/diagram.svg", "/diagram.txt"} {
		resp, body := e.get("/api/processes/100" + route + "?host=gamma")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `no process with pid 100 on host \"gamma\"`) {
			t.Errorf("%s?host=gamma = %d %s, want 404 naming the host", route, resp.StatusCode, body)
		}
		for _, bad := range []string{"", "a/b", "a%20b"} {
			if resp, body := e.get("/api/processes/100" + route + "?host=" + bad); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s?host=%s = %d %s, want 400", route, bad, resp.StatusCode, body)
			}
		}
	}

	// The websocket: ?host= in the query, then a focus request on the other host.
	c := e.client("?pid=100&host=alpha&layout=1")
	layoutOf := func() string {
		t.Helper()
		for {
			if m := e.read(c); m.Type == TypeLayout {
				return m.Layout.FocusID
			} else if m.Type == TypeError {
				t.Fatalf("error: %s", m.Error)
			}
		}
	}
	if got := layoutOf(); got != alpha {
		t.Errorf("websocket ?host=alpha: layout of %s", got)
	}
	send(t, c, Request{Type: TypeFocus, PID: 100, Host: "beta"})
	if got := layoutOf(); got != beta {
		t.Errorf("focus on beta: layout of %s", got)
	}
	send(t, c, Request{Type: TypeFocus, PID: 100, Host: "gamma"})
	for {
		m := e.read(c)
		if m.Type == TypeError {
			if !strings.Contains(m.Error, `pid 100 on host "gamma"`) {
				t.Errorf("focus on gamma: %s", m.Error)
			}
			break
		}
	}
	if _, resp, err := e.dial("?graph=all&host=alpha"); err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("host without a focus: %v, want 400", err)
	}
}

// TestHostOnOneServer: a server that is not a hub answers ?host= naming
// its own host as without it, and any other host with a 404.
func TestHostOnOneServer(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.HostName = "box" })
	if resp, body := e.get("/api/processes/1/peers?host=box"); resp.StatusCode != http.StatusOK {
		t.Errorf("?host=box (its own) = %d %s", resp.StatusCode, body)
	}
	if resp, body := e.get("/api/processes/1?host=elsewhere"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "elsewhere") {
		t.Errorf("?host=elsewhere = %d %s, want 404", resp.StatusCode, body)
	}
	c := e.client("?pid=1&host=box")
	if m := e.read(c); m.Type != TypeSnapshot || m.Focus != 1 {
		t.Errorf("websocket ?host=box: %s", m.raw)
	}
}

func getJSON(t *testing.T, e *env, path string, into any) {
	t.Helper()
	resp, body := e.get(path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}
