package hub

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
)

const testToken = "hub-test-token-0123456789"

// host builds the graph of a host of one process with one TCP socket on
// fd 3, from local to remote, plus extra fds (to make later versions).
func host(pid int, comm, local, remote string, extra int) *graph.Snapshot {
	p := graph.ProcessID(pid, 1)
	nodes := []*graph.Node{{ID: p, Kind: graph.KindProcess, PID: pid,
		Process: &graph.Process{Comm: comm, User: "root", StartTime: 1, FDCount: 1 + extra}}}
	var edges []graph.Edge
	add := func(fd int, obj *graph.Node) {
		f, o := graph.FDID(pid, 1, fd), graph.OFDID(pid, 1, fd)
		nodes = append(nodes,
			&graph.Node{ID: f, Kind: graph.KindFD, PID: pid, FD: &graph.FD{Num: fd}},
			&graph.Node{ID: o, Kind: graph.KindOFD, OFD: &graph.OFD{Mode: "rw", Flags: []string{"O_RDWR"}, Sharers: 1}},
			obj)
		edges = append(edges, graph.Edge{From: p, To: f, Kind: graph.EdgeFD},
			graph.Edge{From: f, To: o, Kind: graph.EdgeOFD}, graph.Edge{From: o, To: obj.ID, Kind: graph.EdgeObject})
	}
	inode := uint64(pid * 10)
	add(3, &graph.Node{ID: graph.SocketID(inode), Kind: graph.KindSocket, Object: &graph.Object{Inode: inode,
		Name: graph.SocketID(inode), Socket: &graph.Socket{Family: graph.FamilyInet, Type: "stream",
			Protocol: "tcp", State: "established", Local: local, Remote: remote}}})
	for i := range extra {
		add(10+i, &graph.Node{ID: graph.PipeID(inode + 1 + uint64(i)), Kind: graph.KindPipe,
			Object: &graph.Object{Inode: inode + 1 + uint64(i), Name: "pipe"}})
	}
	return graph.New(nodes, edges, graph.Stats{Processes: 1, FDs: 1 + extra, Scanner: "procfs"})
}

// fakeAgent is an fdscope serve over a store of hand-made snapshots, which
// can be taken down and brought back on the same address.
type fakeAgent struct {
	t     *testing.T
	store *live.Store
	ts    *httptest.Server
	srv   atomic.Pointer[api.Server] // nil while down
}

// someoneElse poses every client as another user: the token is required.
func someoneElse(client, server netip.AddrPort) (uint32, error) { return 4242, nil }

func newFakeAgent(t *testing.T, first *graph.Snapshot) *fakeAgent {
	a := &fakeAgent{t: t, store: live.NewStore(0)}
	a.store.Publish(first)
	a.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := a.srv.Load()
		if s == nil {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(func() { a.down(); a.ts.Close() })
	a.up()
	return a
}

func (a *fakeAgent) up() {
	s, err := api.New(api.Options{Source: a.store, Listen: a.ts.Listener.Addr().String(), Token: testToken, Identify: someoneElse})
	if err != nil {
		a.t.Fatal(err)
	}
	a.srv.Store(s)
}

// down closes every websocket and answers 503 until up.
func (a *fakeAgent) down() {
	if s := a.srv.Swap(nil); s != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}
}

type testHub struct {
	*Hub
	store *live.Store
	api   *httptest.Server
}

func startHub(t *testing.T, opts Options, agents ...Agent) *testHub {
	t.Helper()
	opts.Store = live.NewStore(0)
	opts.Token = testToken
	setDefault(&opts.RetryMin, 20*time.Millisecond)
	setDefault(&opts.RetryMax, 100*time.Millisecond)
	setDefault(&opts.Coalesce, 5*time.Millisecond)
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SetAgents(agents); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { h.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	srv, err := api.New(api.Options{Source: opts.Store, Listen: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testHub{Hub: h, store: opts.Store, api: ts}
}

// waitFor waits for the hub's graph to satisfy cond: a generous bound,
// not a measure of speed.
func (h *testHub) waitFor(t *testing.T, what string, cond func(*graph.Snapshot) bool) *graph.Snapshot {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, s := h.store.Latest()
		if s != nil && cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s; graph: %+v", what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *testHub) getJSON(t *testing.T, path string, into any) {
	t.Helper()
	resp, err := http.Get(h.api.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func hasNode(id string) func(*graph.Snapshot) bool {
	return func(s *graph.Snapshot) bool { return s.Node(id) != nil }
}

// The client on alpha (10.0.0.1:40000) talks to the server on beta
// (10.0.0.2:80); gamma has a connection to somewhere else.
func threeHosts(t *testing.T) (alpha, beta, gamma *fakeAgent) {
	alpha = newFakeAgent(t, host(100, "client", "10.0.0.1:40000", "10.0.0.2:80", 0))
	beta = newFakeAgent(t, host(200, "server", "10.0.0.2:80", "10.0.0.1:40000", 0))
	gamma = newFakeAgent(t, host(300, "curl", "10.0.0.3:5000", "93.184.216.34:443", 0))
	return
}

func TestMergedGraphAcrossHosts(t *testing.T) {
	alpha, beta, gamma := threeHosts(t)
	h := startHub(t, Options{},
		Agent{Host: "alpha", URL: alpha.ts.URL}, Agent{Host: "beta", URL: beta.ts.URL}, Agent{Host: "gamma", URL: gamma.ts.URL})
	s := h.waitFor(t, "three hosts", func(s *graph.Snapshot) bool {
		return s.Node("alpha/proc:100:1") != nil && s.Node("beta/proc:200:1") != nil && s.Node("gamma/proc:300:1") != nil
	})
	for _, n := range s.Nodes {
		host, _, ok := strings.Cut(n.ID, "/")
		if !ok {
			t.Errorf("node %s has no host prefix", n.ID)
		}
		if n.Kind == graph.KindProcess && n.Host != host {
			t.Errorf("process %s: host %q", n.ID, n.Host)
		}
	}
	peer := graph.Edge{From: "alpha/socket:[1000]", To: "beta/socket:[2000]", Kind: graph.EdgePeer}
	var peers []graph.Edge
	for _, e := range s.Edges {
		if e.Kind == graph.EdgePeer {
			peers = append(peers, e)
		}
	}
	if len(peers) != 1 || peers[0] != peer {
		t.Errorf("peer edges %v, want only %v", peers, peer)
	}

	// The REST API over the merged graph: the client's peer is the server on the other host.
	var rows []graph.Peer
	h.getJSON(t, "/api/processes/100/peers", &rows)
	if len(rows) != 1 || rows[0].PeerPID != 200 || rows[0].Via != graph.ViaTCP || rows[0].Relation != graph.RelConnection ||
		rows[0].PeerProcess != "beta/proc:200:1" || rows[0].FD != 3 || rows[0].PeerFD != 3 {
		t.Errorf("peers of the client: %+v", rows)
	}
	var focus graph.Snapshot
	h.getJSON(t, "/api/processes/100", &focus)
	if focus.Node("beta/proc:200:1") == nil || focus.Node("beta/socket:[2000]") == nil {
		t.Errorf("the client's focus lacks the server on the other host: %v", focus.Nodes)
	}
	var procs []graph.ProcessRow
	h.getJSON(t, "/api/processes", &procs)
	if len(procs) != 3 || procs[0].Connections != 1 || procs[1].Connections != 1 || procs[2].Connections != 0 {
		t.Errorf("process rows: %+v", procs)
	}
	var g struct {
		Nodes []map[string]any `json:"nodes"`
	}
	h.getJSON(t, "/api/graph", &g)
	hosts := map[any]bool{}
	for _, n := range g.Nodes {
		if n["kind"] == "process" {
			hosts[n["host"]] = true
		}
	}
	if len(hosts) != 3 || !hosts["alpha"] || !hosts["beta"] || !hosts["gamma"] {
		t.Errorf("hosts in /api/graph: %v", hosts)
	}

	// Diffs are followed: beta opens two more fds.
	beta.store.Publish(host(200, "server", "10.0.0.2:80", "10.0.0.1:40000", 2))
	h.waitFor(t, "beta's new fds", hasNode("beta/fd:200:1:11"))
}

func TestAgentLostAndBack(t *testing.T) {
	alpha, beta, _ := threeHosts(t)
	reg := prometheus.NewRegistry()
	h := startHub(t, Options{DropAfter: 500 * time.Millisecond, Registry: reg},
		Agent{Host: "alpha", URL: alpha.ts.URL}, Agent{Host: "beta", URL: beta.ts.URL})
	h.waitFor(t, "both hosts", func(s *graph.Snapshot) bool {
		return s.Node("alpha/proc:100:1") != nil && s.Node("beta/proc:200:1") != nil
	})

	beta.down()
	s := h.waitFor(t, "beta marked unreachable", func(s *graph.Snapshot) bool {
		n := s.Node("beta/proc:200:1")
		return n != nil && strings.HasPrefix(n.Error, HostUnreachable)
	})
	if n := s.Node("alpha/proc:100:1"); n.Error != "" {
		t.Errorf("alpha marked too: %q", n.Error)
	}
	if up, down := agentsGauge(t, reg, "up"), agentsGauge(t, reg, "down"); up != 1 || down != 1 {
		t.Errorf("fdscope_hub_agents: up %v, down %v; want 1 and 1", up, down)
	}
	if !strings.Contains(strings.Join(s.Stats.Errors, "\n"), "beta: "+HostUnreachable) {
		t.Errorf("stats errors: %q", s.Stats.Errors)
	}
	h.waitFor(t, "beta dropped", func(s *graph.Snapshot) bool {
		return s.Node("beta/proc:200:1") == nil && s.Node("alpha/proc:100:1") != nil
	})

	// Back, with a host that changed meanwhile: a fresh snapshot.
	beta.store.Publish(host(200, "server", "10.0.0.2:80", "10.0.0.1:40000", 1))
	beta.up()
	s = h.waitFor(t, "beta back", hasNode("beta/fd:200:1:10"))
	if n := s.Node("beta/proc:200:1"); n.Error != "" {
		t.Errorf("beta still marked: %q", n.Error)
	}
	if s.Node("alpha/socket:[1000]") == nil || len(graph.NewIndex(s).Peers(100)) != 1 {
		t.Errorf("the connection across hosts is not back")
	}
}

// agentsGauge reads fdscope_hub_agents{state}.
func agentsGauge(t *testing.T, reg *prometheus.Registry, state string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "fdscope_hub_agents" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" && l.GetValue() == state {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no fdscope_hub_agents{state=%q}", state)
	return 0
}

// A stuck agent (it accepts connections and never answers) and one whose
// snapshot is larger than the hub takes delay nobody else.
func TestSlowAndOversizedAgents(t *testing.T) {
	alpha, beta, _ := threeHosts(t)
	stuck, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := stuck.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	big := newFakeAgent(t, host(400, "big", "10.0.0.4:1", "10.0.0.5:2", 200))
	h := startHub(t, Options{MaxMessageBytes: 16 << 10},
		Agent{Host: "alpha", URL: alpha.ts.URL}, Agent{Host: "beta", URL: beta.ts.URL},
		Agent{Host: "stuck", URL: "http://" + stuck.Addr().String()}, Agent{Host: "big", URL: big.ts.URL})
	s := h.waitFor(t, "alpha and beta", func(s *graph.Snapshot) bool {
		return s.Node("alpha/proc:100:1") != nil && s.Node("beta/proc:200:1") != nil
	})
	for _, n := range s.Nodes {
		if strings.HasPrefix(n.ID, "stuck/") || strings.HasPrefix(n.ID, "big/") {
			t.Fatalf("unexpected node %s", n.ID)
		}
	}
	// Changes keep flowing while the others stay stuck.
	alpha.store.Publish(host(100, "client", "10.0.0.1:40000", "10.0.0.2:80", 1))
	h.waitFor(t, "alpha's change", hasNode("alpha/fd:100:1:10"))
}

func TestSetAgentsRefusesBadHosts(t *testing.T) {
	h, err := New(Options{Store: live.NewStore(0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range [][]Agent{
		{{Host: "", URL: "http://a"}},
		{{Host: "a/b", URL: "http://a"}},
		{{Host: "a", URL: "http://a"}, {Host: "a", URL: "http://b"}},
	} {
		if err := h.SetAgents(list); err == nil {
			t.Errorf("SetAgents(%v) took it", list)
		}
	}
}
