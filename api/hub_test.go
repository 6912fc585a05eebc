package api

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
	"github.com/google/go-cmp/cmp"
)

// TestStreams follows the three kinds of stream through random changes of
// the World: applying every message to the first gives, for the whole
// graph, the latest snapshot; for a focus, the latest focus subgraph; for
// the process list, the latest rows.
func TestStreams(t *testing.T) {
	e := newEnv(t, nil)
	r := rand.New(rand.NewPCG(7, 8))
	server := e.world.PIDs()[1]
	all := e.client("")
	focus := e.client("?graph=focus&pid=" + itoa(server))
	procs := e.client("?graph=none&processes=1")

	var ga, gf graphState
	var rp rowsState
	for _, step := range []struct {
		c     *wsc
		apply func(msg) error
	}{{all, ga.apply}, {focus, gf.apply}, {procs, rp.apply}} {
		if err := step.apply(e.read(step.c)); err != nil {
			t.Fatal(err)
		}
	}
	if gf.snap.Node(graph.ProcessID(server, 0)) == nil && len(gf.snap.Nodes) < 3 {
		t.Fatalf("focus snapshot has %d nodes", len(gf.snap.Nodes))
	}

	var final uint64
	for range 150 {
		e.world.Step(r)
		if r.IntN(4) == 0 {
			e.world.Connect(server, e.world.PIDs()[r.IntN(len(e.world.PIDs()))])
		}
		final = e.publish()
	}
	// The whole-graph stream gets every version.
	for ga.seq < final {
		if err := ga.apply(e.read(all)); err != nil {
			t.Fatal(err)
		}
	}
	_, latest := e.store.Latest()
	if !graph.Equal(ga.snap, latest) {
		t.Error("whole graph: first snapshot + diffs != latest snapshot")
	}
	// The others get only what changed for them: read until they hold the
	// latest (e.read fails the test if a message never comes).
	idx := graph.NewIndex(latest)
	want := idx.Focus(server)
	if want == nil {
		want = graph.New(nil, nil, graph.Stats{})
	}
	drain := func(c *wsc, apply func(msg) error, done func() bool) int {
		n := 0
		for !done() {
			if err := apply(e.read(c)); err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	nf := drain(focus, gf.apply, func() bool { return graph.Equal(gf.snap, want) })
	np := drain(procs, rp.apply, func() bool { return cmp.Equal(idx.Processes(), rp.rows) })
	// Nothing more follows: the streams were where they should be.
	e.quiet(focus, 200*time.Millisecond)
	e.quiet(procs, 200*time.Millisecond)
	if nf == 0 || np == 0 || uint64(nf) >= final-1 {
		t.Errorf("focus got %d diffs and processes %d over %d versions; want some, and fewer focus diffs than versions", nf, np, final-1)
	}
}

// TestFocusOnlyWhatTouchesIt checks that a focus stream is quiet while
// other processes change, and that focus and subscribe requests restart it.
func TestFocusOnlyWhatTouchesIt(t *testing.T) {
	e := newEnv(t, nil)
	server := e.world.PIDs()[1]
	c := e.client("?pid=" + itoa(server))
	m := e.read(c)
	if m.Type != TypeSnapshot || m.Focus != server || m.Seq != 1 {
		t.Fatalf("first message: %s", m.raw)
	}
	// Changes elsewhere: no message.
	x := e.world.Start(1, "x")
	y := e.world.Start(1, "y")
	e.world.Connect(x, y)
	e.publish()
	e.quiet(c, 200*time.Millisecond)
	// A new peer of the server: a diff that adds it.
	e.world.Connect(server, x)
	seq := e.publish()
	m = e.read(c)
	if m.Type != TypeDiff || m.Seq != seq || m.Base != 1 || m.Focus != server {
		t.Fatalf("diff: %s", m.raw)
	}
	var added []string
	for _, n := range m.NodesAdded {
		added = append(added, n.ID)
	}
	if !strings.Contains(strings.Join(added, " "), "proc:"+itoa(x)+":") {
		t.Errorf("the diff does not add the new peer process: %v", added)
	}
	// Another focus: a new snapshot.
	send(t, c, Request{Type: TypeFocus, PID: y})
	m = e.read(c)
	if m.Type != TypeSnapshot || m.Focus != y {
		t.Fatalf("after focus: %s", m.raw)
	}
	// A pid that does not exist: an error and nothing else, not even at
	// the next versions; once the process starts, its snapshot.
	missing := slices.Max(e.world.PIDs()) + 1 // the next the world starts
	send(t, c, Request{Type: TypeFocus, PID: missing})
	if m = e.read(c); m.Type != TypeError || !strings.Contains(m.Error, "no process with pid "+itoa(missing)) {
		t.Fatalf("focus on a missing pid: %s", m.raw)
	}
	e.world.Connect(x, y)
	e.publish()
	e.quiet(c, 200*time.Millisecond)
	if pid := e.world.Start(1, "late"); pid != missing {
		t.Fatalf("the world started pid %d, want %d", pid, missing)
	}
	e.publish()
	if m = e.read(c); m.Type != TypeSnapshot || m.Focus != missing || len(m.Graph.Nodes) == 0 {
		t.Fatalf("the missing pid started: %s", m.raw)
	}
	// Subscribe to the process list only.
	yes := true
	send(t, c, Request{Type: TypeSubscribe, Graph: GraphNone, Processes: &yes})
	if m = e.read(c); m.Type != TypeProcesses || len(m.Processes) != 6 {
		t.Fatalf("after subscribe: %s", m.raw)
	}
	e.world.Connect(x, y)
	e.publish()
	if m = e.read(c); m.Type != TypeProcessesDiff {
		t.Fatalf("process-list diff: %s", m.raw)
	}
}

// TestManyClients: 200 clients all receive the same diffs, in order.
func TestManyClients(t *testing.T) {
	const n = 200
	e := newEnv(t, func(o *Options) { o.MaxClientsPerUser = n; o.MaxClients = n })
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = e.mustDial("")
	}
	for _, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		m, err := readMsg(ctx, c)
		cancel()
		if err != nil || m.Type != TypeSnapshot || m.Seq != 1 {
			t.Fatalf("first message %s, %v", m.raw, err)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	var final uint64
	for range 25 {
		for {
			e.world.Step(r)
			if seq, changed := e.store.Publish(e.world.Snapshot()); changed {
				final = seq
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	got := make([][][]byte, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for seq := uint64(2); seq <= final; seq++ {
				m, err := readMsg(ctx, c)
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				if m.Type != TypeDiff || m.Seq != seq || m.Base != seq-1 {
					errs <- fmt.Errorf("client %d: want diff %d, got %.80s", i, seq, m.raw)
					return
				}
				got[i] = append(got[i], m.raw)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		for j := range got[0] {
			if !bytes.Equal(got[0][j], got[i][j]) {
				t.Fatalf("client %d's diff %d differs from client 0's", i, j+2)
			}
		}
	}
	_, body := e.get("/metrics")
	if !strings.Contains(body, "fdscope_ws_clients 200") {
		t.Error("metrics do not count 200 clients")
	}
}

// bigSnapshot is version v of a machine of many processes with long command
// lines, every version changing every node, so that each diff is about 3.5 MB.
func bigSnapshot(v int) *graph.Snapshot {
	const procs = 5000
	nodes := make([]*graph.Node, procs)
	pad := strings.Repeat("x", 600)
	for i := range nodes {
		nodes[i] = &graph.Node{ID: graph.ProcessID(i+1, 1), Kind: graph.KindProcess, PID: i + 1,
			Process: &graph.Process{Comm: "v" + strconv.Itoa(v), Cmdline: pad, StartTime: 1}}
	}
	return graph.New(nodes, nil, graph.Stats{})
}

var diffHead = regexp.MustCompile(`^\{"type":"(\w+)","seq":(\d+)`)

// fastReaders reads every message on conns, keeping the seq of the last
// one each saw (reading only the head of each message), until ctx is done.
func fastReaders(ctx context.Context, conns []*websocket.Conn) ([]atomic.Uint64, *sync.WaitGroup) {
	last := make([]atomic.Uint64, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			for {
				_, b, err := c.Read(ctx)
				if err != nil {
					return
				}
				if m := diffHead.FindSubmatch(b[:min(len(b), 60)]); m != nil {
					seq, _ := strconv.ParseUint(string(m[2]), 10, 64)
					last[i].Store(seq)
				}
			}
		})
	}
	return last, &wg
}

// TestSlowClient: a client that never reads does not stall the scan loop
// or the other clients, and what it costs the server does not grow with
// what it misses.
func TestSlowClient(t *testing.T) {
	store := live.NewStore(4)
	store.Publish(bigSnapshot(0))
	e := newEnv(t, func(o *Options) { o.Source = store; o.Window = 4; o.WriteTimeout = time.Minute })
	e.store = store

	slow := e.mustDial("") // connected, never reading
	fast := []*websocket.Conn{e.mustDial(""), e.mustDial(""), e.mustDial("")}
	waitFor(t, "4 clients", func() bool { return e.srv.Clients() == 4 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	last, wg := fastReaders(ctx, fast)
	defer wg.Wait()
	defer cancel()

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var worstPublish time.Duration
	publishTo := func(from, to int) {
		for v := from; to >= v; v++ {
			s := bigSnapshot(v)
			start := time.Now()
			seq, _ := store.Publish(s)
			worstPublish = max(worstPublish, time.Since(start))
			// The fast clients keep up, whatever the slow one does.
			waitWithin(t, 20*time.Second, fmt.Sprintf("fast clients at %d", seq), func() bool {
				return last[0].Load() == seq && last[1].Load() == seq && last[2].Load() == seq
			})
		}
	}
	publishTo(1, 8)
	h8 := heap() // the window (4 versions) is full: the heap holds what it will hold
	publishTo(9, 24)
	h24 := heap()
	if n := e.srv.Clients(); n != 4 {
		t.Fatalf("%d clients after 24 versions, want 4 (the slow one stuck in its write)", n)
	}
	// Sixteen versions of 3.5 MB missed by the slow client: were they
	// queued for it, the heap would grow by ~55 MB.
	if h24 > h8+20<<20 {
		t.Errorf("heap grew from %d MB to %d MB while a client was not reading", h8>>20, h24>>20)
	}
	// Had Publish waited for the stuck client, it would have waited for
	// its write timeout (a minute).
	if worstPublish > 20*time.Second {
		t.Errorf("Publish took up to %v while a client was stuck", worstPublish)
	}
	slow.CloseNow()
	t.Logf("heap %d MB after 8 versions, %d MB after 24; worst Publish %v", h8>>20, h24>>20, worstPublish)
}

// TestSlowClientDropped: a client whose write does not finish within the
// write timeout is dropped and counted; the others go on.
func TestSlowClientDropped(t *testing.T) {
	store := live.NewStore(4)
	store.Publish(bigSnapshot(0))
	e := newEnv(t, func(o *Options) { o.Source = store; o.Window = 4; o.WriteTimeout = 500 * time.Millisecond })
	e.store = store
	e.mustDial("") // never reads
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	last, wg := fastReaders(ctx, []*websocket.Conn{e.mustDial("")})
	defer wg.Wait()
	defer cancel()
	waitFor(t, "2 clients", func() bool { return e.srv.Clients() == 2 })
	// Versions until the slow client's write times out (500 ms once its
	// socket buffers are full); the bound is for a loaded machine.
	var seq uint64
	deadline := time.Now().Add(60 * time.Second)
	for v := 1; e.srv.Clients() == 2; v++ {
		if time.Now().After(deadline) {
			t.Fatalf("the slow client was not dropped after %d versions in 60 s", v-1)
		}
		seq, _ = store.Publish(bigSnapshot(v))
		time.Sleep(50 * time.Millisecond)
	}
	if _, body := e.get("/metrics"); !strings.Contains(body, `fdscope_ws_dropped_clients_total{reason="slow"} 1`) {
		t.Errorf("the drop is not counted")
	}
	waitWithin(t, 20*time.Second, "the fast client to catch up", func() bool { return last[0].Load() == seq })
}

// TestGapGetsSnapshot: a client that falls further behind than the window
// gets a snapshot; within the window, every diff in order; on request, a
// snapshot.
func TestGapGetsSnapshot(t *testing.T) {
	store := live.NewStore(64)
	gate := &gatedSource{Source: store}
	e := newEnv(t, func(o *Options) { o.Source = gate; o.Window = 4 })
	e.store = store
	e.publish()
	c := e.client("?processes=1")
	if m := e.read(c); m.Type != TypeSnapshot || m.Seq != 1 {
		t.Fatalf("first: %s", m.raw)
	}
	if m := e.read(c); m.Type != TypeProcesses || m.Seq != 1 {
		t.Fatalf("second: %s", m.raw)
	}
	// Ten versions while the client sleeps: more than the window.
	var seq uint64
	for range 10 {
		e.world.Start(1, "p")
		seq = e.publish()
	}
	gate.wake()
	if m := e.read(c); m.Type != TypeSnapshot || m.Seq != seq {
		t.Fatalf("after a gap: %s, want a snapshot at %d", m.raw, seq)
	}
	if m := e.read(c); m.Type != TypeProcesses || m.Seq != seq {
		t.Fatalf("after a gap: %.100s, want the process list at %d", m.raw, seq)
	}
	// Three versions: within the window, three diffs in order.
	for range 3 {
		e.world.Start(1, "q")
		e.publish()
	}
	gate.wake()
	for i := range uint64(3) {
		if m := e.read(c); m.Type != TypeDiff || m.Seq != seq+i+1 || m.Base != seq+i {
			t.Fatalf("diff %d: %.100s", i, m.raw)
		}
	}
	// The process list: one diff from what the client has to the latest.
	if m := e.read(c); m.Type != TypeProcessesDiff || m.Seq != seq+3 || m.Base != seq || len(m.Changed) != 3 {
		t.Fatalf("processes diff: %.300s", m.raw)
	}
	// A client that lost track asks for a resync.
	send(t, c, Request{Type: TypeResync})
	if m := e.read(c); m.Type != TypeSnapshot || m.Seq != seq+3 {
		t.Fatalf("after resync: %.100s", m.raw)
	}
	if m := e.read(c); m.Type != TypeProcesses {
		t.Fatalf("after resync: %.100s", m.raw)
	}
	_, body := e.get("/metrics")
	for _, want := range []string{`fdscope_ws_resyncs_total{reason="gap"} 2`, `fdscope_ws_resyncs_total{reason="request"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Heartbeat = 30 * time.Millisecond })
	var pings atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.wsURL("?graph=none"), &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	go c.Read(ctx) // reading answers the pings
	waitFor(t, "3 pings", func() bool { return pings.Load() >= 3 })
	if e.srv.Clients() != 1 {
		t.Error("the client was dropped although it answers pings")
	}
}
