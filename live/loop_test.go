package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
	"github.com/fdscope/fdscope/live/livetest"
	"github.com/google/go-cmp/cmp"
)

// clock is a fake clock for Loop.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newLoop(w *livetest.World, c *clock) *live.Loop {
	return &live.Loop{Scanner: w, Prober: w, Store: live.NewStore(0), Interval: time.Second,
		FullInterval: 10 * time.Second, Now: c.now}
}

func tick(t *testing.T, l *live.Loop, c *clock, want string) {
	t.Helper()
	c.advance(time.Second)
	got, err := l.Tick(context.Background())
	if err != nil {
		t.Fatalf("Tick: %v", err)
	}
	if got != want {
		t.Fatalf("Tick outcome = %s, want %s", got, want)
	}
}

func TestLoopIncremental(t *testing.T) {
	w := livetest.NewWorld()
	server := w.Start(1, "server")
	client := w.Start(1, "client")
	bystander := w.Start(1, "bystander")
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLoop(w, c)

	tick(t, l, c, live.TickFull)
	tick(t, l, c, live.TickIdle)
	tick(t, l, c, live.TickIdle)
	if len(w.Rescans) != 0 || w.Scans != 1 {
		t.Fatalf("idle ticks scanned: %d rescans, %d scans", len(w.Rescans), w.Scans)
	}
	seq0, _ := l.Store.Latest()

	// A connection: both ends are rescanned, the bystander is not.
	w.Connect(server, client)
	tick(t, l, c, live.TickRescan)
	if d := cmp.Diff([]int{server, client}, w.Rescans[0]); d != "" {
		t.Errorf("rescanned pids (-want +got):\n%s", d)
	}
	if seq, _ := l.Store.Latest(); seq != seq0+1 {
		t.Errorf("seq after the connection = %d, want %d", seq, seq0+1)
	}

	// The client exits: it and its peer (the server, whose fd count does
	// not change) are rescanned.
	w.Stop(client)
	tick(t, l, c, live.TickRescan)
	if d := cmp.Diff([]int{server, client}, w.Rescans[1]); d != "" {
		t.Errorf("rescanned pids after exit (-want +got):\n%s", d)
	}

	// A position change is invisible to the probe; the full sweep finds it.
	w.Seek(bystander, 0, 42)
	tick(t, l, c, live.TickIdle)
	_, before := l.Store.Latest()
	c.advance(10 * time.Second)
	tick(t, l, c, live.TickFull)
	_, after := l.Store.Latest()
	if graph.Equal(before, after) {
		t.Error("the full sweep did not pick up the moved position")
	}
	if !graph.Equal(after, w.Snapshot()) {
		t.Error("the published snapshot is not the world's")
	}
}

// fullOnly hides the World's Rescan.
type fullOnly struct{ w *livetest.World }

func (f fullOnly) Scan(ctx context.Context) (*graph.Snapshot, error) { return f.w.Scan(ctx) }

func TestLoopWithoutRescanner(t *testing.T) {
	w := livetest.NewWorld()
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLoop(w, c)
	l.Scanner = fullOnly{w}
	tick(t, l, c, live.TickFull)
	tick(t, l, c, live.TickIdle)
	w.Start(1, "new")
	tick(t, l, c, live.TickFull) // a change, and no Rescan: scan everything
	if w.Scans != 2 {
		t.Errorf("scans = %d, want 2", w.Scans)
	}
	l.Prober = nil
	tick(t, l, c, live.TickFull) // no prober: every tick is full
}

type failing struct {
	live.Scanner
	fail bool
}

func (f *failing) Scan(ctx context.Context) (*graph.Snapshot, error) {
	if f.fail {
		return nil, errors.New("boom")
	}
	return f.Scanner.Scan(ctx)
}

func TestLoopScanFails(t *testing.T) {
	w := livetest.NewWorld()
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLoop(w, c)
	f := &failing{Scanner: w, fail: true}
	l.Scanner = f
	c.advance(time.Second)
	if out, err := l.Tick(context.Background()); out != live.TickFailed || err == nil {
		t.Fatalf("Tick = %s, %v; want failed with an error", out, err)
	}
	if seq, _ := l.Store.Latest(); seq != 0 {
		t.Fatalf("a failed scan published version %d", seq)
	}
	f.fail = false
	tick(t, l, c, live.TickFull)
	tick(t, l, c, live.TickIdle)
}

// TestLoopStream runs the loop over a changing World and checks that the
// Store's versions replay: the first snapshot with every diff applied is
// the latest snapshot, and each version is the World at that time.
func TestLoopStream(t *testing.T) {
	w := livetest.NewWorld()
	r := rand.New(rand.NewPCG(1, 2))
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLoop(w, c)
	l.Store = live.NewStore(1000)
	tick(t, l, c, live.TickFull)
	_, first := l.Store.Latest()
	for i := range 300 {
		if i%3 != 0 {
			w.Step(r)
		}
		c.advance(time.Second)
		if _, err := l.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, latest := l.Store.Latest()
		if !graph.Equal(latest, w.Snapshot()) {
			t.Fatalf("step %d: the published snapshot is not the world's", i)
		}
	}
	last, _ := l.Store.Latest()
	g := first
	for seq := uint64(2); seq <= last; seq++ {
		d, ok := l.Store.Changes(seq)
		if !ok {
			t.Fatalf("Changes(%d) missing", seq)
		}
		g = graph.Apply(g, d)
	}
	if _, latest := l.Store.Latest(); !graph.Equal(g, latest) {
		t.Error("the first snapshot with every diff applied is not the latest")
	}
	if last < 100 {
		t.Errorf("only %d versions over 300 ticks", last)
	}
}

func TestLoopRun(t *testing.T) {
	w := livetest.NewWorld()
	wake := make(chan struct{})
	l := &live.Loop{Scanner: w, Prober: w, Store: live.NewStore(0), Interval: time.Hour, Wake: wake}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	notify, stop := l.Store.Notify()
	defer stop()
	<-notify // the first scan
	w.Start(1, "new")
	wake <- struct{}{} // the proc connector's nudge: tick now, not in an hour
	select {
	case <-notify:
	case <-time.After(30 * time.Second):
		t.Fatal("a wake-up did not make a tick")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func TestLoopMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := livetest.NewWorld()
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLoop(w, c)
	l.Metrics = live.NewMetrics(reg)
	tick(t, l, c, live.TickFull)
	tick(t, l, c, live.TickIdle)
	tick(t, l, c, live.TickIdle)
	w.Start(1, "x")
	tick(t, l, c, live.TickRescan)
	want := `
# HELP fdscope_ticks_total Ticks of the live loop, by outcome.
# TYPE fdscope_ticks_total counter
fdscope_ticks_total{outcome="failed"} 0
fdscope_ticks_total{outcome="full"} 1
fdscope_ticks_total{outcome="idle"} 2
fdscope_ticks_total{outcome="rescan"} 1
# HELP fdscope_graph_nodes Nodes in the latest snapshot, by kind.
# TYPE fdscope_graph_nodes gauge
fdscope_graph_nodes{kind="chr"} 1
fdscope_graph_nodes{kind="fd"} 6
fdscope_graph_nodes{kind="ofd"} 6
fdscope_graph_nodes{kind="process"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fdscope_ticks_total", "fdscope_graph_nodes"); err != nil {
		t.Error(err)
	}
}

// TestLoopRedact: the server's secret never shows in a published
// snapshot or diff, whichever process's command line carries it.
func TestLoopRedact(t *testing.T) {
	const secret = "s3cret-token-0123456789"
	w := livetest.NewWorld()
	own := w.Start(1, "fdscope serve --token "+secret)
	other := w.Start(1, "bystander")
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLoop(w, c)
	l.Redact = []string{secret}
	tick(t, l, c, live.TickFull)
	check := func() {
		t.Helper()
		_, snap := l.Store.Latest()
		b, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Fatalf("the secret is in the snapshot: %s", b)
		}
		x := graph.NewIndex(snap)
		p := x.Process(own)
		if p == nil || p.Process.Cmdline != "fdscope serve --token "+live.Redacted {
			t.Fatalf("own process %+v", p)
		}
		if hits := x.Search(secret[:10], 10); len(hits) != 0 {
			t.Errorf("search finds the secret: %+v", hits)
		}
	}
	check()
	seq, _ := l.Store.Latest()
	w.Connect(own, other) // rescans own: a fresh node with the secret, redacted again
	tick(t, l, c, live.TickRescan)
	check()
	seq2, _ := l.Store.Latest()
	d, ok := l.Store.Changes(seq2)
	if !ok || seq2 != seq+1 {
		t.Fatalf("versions %d, %d", seq, seq2)
	}
	if b, _ := json.Marshal(d); strings.Contains(string(b), secret) || !strings.Contains(string(b), live.Redacted) {
		t.Errorf("the diff of the rescan: %s", b)
	}
	c.advance(10 * time.Second)
	tick(t, l, c, live.TickFull)
	check()
}

// TestLoopSocketInPlace: a process closes an fd and opens a socket that
// takes its number between two probes, so its fd count does not change;
// the socket the probe saw appear and no scan has found makes the next
// tick a full scan. A socket no scan can find (its process is out of
// sight) costs one full scan, not one per tick.
func TestLoopSocketInPlace(t *testing.T) {
	w := livetest.NewWorld()
	w.ProbeSockets = true
	server := w.Start(1, "server")
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLoop(w, c)
	l.FullInterval = time.Hour

	tick(t, l, c, live.TickFull)
	tick(t, l, c, live.TickIdle)
	ino := w.ReplaceWithSocket(server, 1)
	tick(t, l, c, live.TickIdle) // the probe sees the socket appear
	tick(t, l, c, live.TickFull) // and it is in no process of the snapshot
	if _, snap := l.Store.Latest(); snap.Node(graph.SocketID(ino)) == nil {
		t.Fatalf("socket:[%d] not in the snapshot after the full scan", ino)
	}
	tick(t, l, c, live.TickIdle)

	// Not sooner than twice the interval after the last full scan, but
	// not forgotten meanwhile.
	l.Interval = 4 * time.Second
	ino = w.ReplaceWithSocket(server, 2)
	tick(t, l, c, live.TickIdle) // 2 s after the full scan: it appears
	tick(t, l, c, live.TickIdle) // 3 s: too soon
	tick(t, l, c, live.TickIdle) // 4 s: too soon
	tick(t, l, c, live.TickIdle) // 5 s: too soon
	tick(t, l, c, live.TickIdle) // 6 s: too soon
	tick(t, l, c, live.TickIdle) // 7 s: too soon
	tick(t, l, c, live.TickFull) // 8 s
	if _, snap := l.Store.Latest(); snap.Node(graph.SocketID(ino)) == nil {
		t.Fatalf("socket:[%d] not in the snapshot after the full scan", ino)
	}
	l.Interval = time.Second

	w.Hidden = []uint64{99999}
	tick(t, l, c, live.TickIdle) // it appears
	tick(t, l, c, live.TickFull) // one full scan looks for it
	for range 5 {
		c.advance(time.Minute) // far past the bound on full scans
		tick(t, l, c, live.TickIdle)
	}
	if w.Scans != 4 {
		t.Errorf("%d full scans, want 4", w.Scans)
	}
}

// TestLoopExecs: a process that exec'd is read again at the next tick,
// though its start time and fd count did not change; the loop's own
// process is not.
func TestLoopExecs(t *testing.T) {
	w := livetest.NewWorld()
	server := w.Start(1, "server")
	self := w.Start(1, "fdscope")
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLoop(w, c)
	l.Execs, l.Self = &live.PIDSet{}, self

	tick(t, l, c, live.TickFull)
	tick(t, l, c, live.TickIdle)
	l.Execs.Add(server)
	l.Execs.Add(self)
	tick(t, l, c, live.TickRescan)
	if d := cmp.Diff([]int{server}, w.Rescans[0]); d != "" {
		t.Errorf("rescanned pids (-want +got):\n%s", d)
	}
	tick(t, l, c, live.TickIdle)
}

// TestLoopSelfEvery: full scans read every process but the server's own,
// which one full scan in SelfEvery reads again.
func TestLoopSelfEvery(t *testing.T) {
	w := livetest.NewWorld()
	server := w.Start(1, "server")
	self := w.Start(1, "fdscope")
	other := w.Start(1, "other")
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLoop(w, c)
	l.Self, l.SelfEvery = self, time.Minute

	tick(t, l, c, live.TickFull) // the first: everything
	if w.Scans != 1 || len(w.Rescans) != 0 {
		t.Fatalf("first tick: %d scans, %d rescans", w.Scans, len(w.Rescans))
	}
	c.advance(10 * time.Second)
	tick(t, l, c, live.TickFull) // every process but self
	if w.Scans != 1 || len(w.Rescans) != 1 {
		t.Fatalf("second full tick: %d scans, %d rescans; want 1 and 1", w.Scans, len(w.Rescans))
	}
	var want []int // every process of the world (its init too) but self
	for _, n := range w.Snapshot().Nodes {
		if n.Kind == graph.KindProcess && n.PID != self {
			want = append(want, n.PID)
		}
	}
	if !slices.Contains(want, server) || !slices.Contains(want, other) {
		t.Fatalf("the world's processes: %v", want)
	}
	slices.Sort(want)
	if d := cmp.Diff(want, w.Rescans[0]); d != "" {
		t.Errorf("a full tick read (-want +got):\n%s", d)
	}
	c.advance(time.Minute)
	tick(t, l, c, live.TickFull) // SelfEvery is over: everything
	if w.Scans != 2 {
		t.Errorf("after SelfEvery: %d scans, want 2", w.Scans)
	}
}

// fakeEvents is a live.Events that returns what the test queued.
type fakeEvents struct {
	next live.Changed
	err  error
}

func (f *fakeEvents) Changed() (live.Changed, error) {
	c, err := f.next, f.err
	f.next, f.err = live.Changed{}, nil
	return c, err
}

// countingProber counts the World's probes.
type countingProber struct {
	w      *livetest.World
	probes int
}

func (p *countingProber) Probe(ctx context.Context) (*live.Probe, error) {
	p.probes++
	return p.w.Probe(ctx)
}

// TestLoopEvents: with kernel events, a tick reads again the processes
// they marked and the far ends of their connections, and looks at nothing
// else; the Prober looks at full scans and, when sockets changed state, at
// most every SocketInterval; lost events or failing ones scan everything.
func TestLoopEvents(t *testing.T) {
	w := livetest.NewWorld()
	w.ProbeSockets = true
	server := w.Start(1, "server")
	client := w.Start(1, "client")
	bystander := w.Start(1, "bystander")
	w.Connect(server, client)
	c := &clock{t: time.Unix(1e9, 0)}
	ev := &fakeEvents{}
	prober := &countingProber{w: w}
	l := newLoop(w, c)
	l.Prober, l.Events, l.FullInterval, l.SocketInterval = prober, ev, time.Hour, 3*time.Second

	tick(t, l, c, live.TickFull)
	if prober.probes != 1 {
		t.Fatalf("probes at the first full scan = %d, want 1", prober.probes)
	}
	for range 3 {
		tick(t, l, c, live.TickIdle)
	}
	if prober.probes != 1 || len(w.Rescans) != 0 {
		t.Fatalf("idle ticks probed %d times and rescanned %v", prober.probes-1, w.Rescans)
	}
	if got := l.Store.CheckedAt(); !got.Equal(c.now()) {
		t.Errorf("the store was last checked at %v, want the last idle tick's %v", got, c.now())
	}

	// An fd replaced in place by the client: marked, read again with its
	// peer; the bystander is not.
	ino := w.ReplaceWithSocket(client, 1)
	ev.next = live.Changed{PIDs: []int{client}}
	tick(t, l, c, live.TickRescan)
	if d := cmp.Diff([]int{server, client}, w.Rescans[0]); d != "" {
		t.Errorf("rescanned pids (-want +got):\n%s", d)
	}
	if _, snap := l.Store.Latest(); snap.Node(graph.SocketID(ino)) == nil {
		t.Errorf("socket:[%d] not in the snapshot", ino)
	}

	// Sockets changed state: the Prober looks, then not again before
	// SocketInterval, though the events keep saying so, and then once.
	ev.next = live.Changed{Sockets: true}
	tick(t, l, c, live.TickIdle)
	ev.next = live.Changed{Sockets: true}
	tick(t, l, c, live.TickIdle)
	if prober.probes != 2 {
		t.Fatalf("probes = %d, want 2", prober.probes)
	}
	tick(t, l, c, live.TickIdle)
	tick(t, l, c, live.TickIdle) // 3 s after the last look: the pending change
	if prober.probes != 3 {
		t.Fatalf("probes = %d, want 3", prober.probes)
	}
	tick(t, l, c, live.TickIdle)
	if prober.probes != 3 {
		t.Fatalf("probes = %d, want 3: nothing pending", prober.probes)
	}

	// Lost events, or events that fail: everything is read.
	ev.next = live.Changed{Lost: true, PIDs: []int{bystander}}
	tick(t, l, c, live.TickFull)
	ev.err = errors.New("the map is gone")
	tick(t, l, c, live.TickFull)
	tick(t, l, c, live.TickIdle)
	if !graph.Equal(func() *graph.Snapshot { _, s := l.Store.Latest(); return s }(), w.Snapshot()) {
		t.Error("the published snapshot is not the world's")
	}
}

// fakeTables is a live.FDTables over fixed fingerprints.
type fakeTables map[int]uint64

func (f fakeTables) Fingerprint(pid int) (uint64, bool) {
	fp, ok := f[pid]
	return fp, ok
}

// slowScans makes every scan of the World take d on the fake clock.
type slowScans struct {
	*livetest.World
	c *clock
	d time.Duration
}

func (s slowScans) Rescan(ctx context.Context, prev *graph.Snapshot, pids []int) (*graph.Snapshot, error) {
	s.c.advance(s.d)
	return s.World.Rescan(ctx, prev, pids)
}

// TestLoopEventsFDsOnly: a process marked for opening and closing fds is
// read again only when its fd table changed; and scans take at most a
// third of the time, what changes meanwhile waiting for the pause to end.
func TestLoopEventsFDsOnly(t *testing.T) {
	w := livetest.NewWorld()
	a := w.Start(1, "a")
	b := w.Start(1, "b")
	c := &clock{t: time.Unix(1e9, 0)}
	ev := &fakeEvents{}
	tables := fakeTables{a: 1, b: 1}
	l := newLoop(w, c)
	l.Events, l.FDTables, l.FullInterval = ev, tables, time.Hour

	tick(t, l, c, live.TickFull)
	ev.next = live.Changed{FDsOnly: []int{a}}
	tick(t, l, c, live.TickRescan) // not known yet
	ev.next = live.Changed{FDsOnly: []int{a}}
	tick(t, l, c, live.TickIdle) // as it was
	tables[a] = 2
	ev.next = live.Changed{FDsOnly: []int{a}}
	tick(t, l, c, live.TickRescan) // changed
	if d := cmp.Diff([][]int{{a}, {a}}, w.Rescans); d != "" {
		t.Errorf("rescans (-want +got):\n%s", d)
	}

	// A process with a thread that has an fd table of its own: the
	// fingerprint of the process's table does not see the thread's.
	w.StartThread(b, "b-worker")
	ev.next = live.Changed{PIDs: []int{b}}
	tick(t, l, c, live.TickRescan)
	ev.next = live.Changed{FDsOnly: []int{b}}
	tick(t, l, c, live.TickRescan) // as it was, but it may be the thread's
	if d := cmp.Diff([]int{b}, w.Rescans[len(w.Rescans)-1]); d != "" {
		t.Errorf("rescans (-want +got):\n%s", d)
	}

	// Rescans of 2 s: the next change waits 4 s after the scan's end.
	l.Scanner = slowScans{w, c, 2 * time.Second}
	ev.next = live.Changed{PIDs: []int{a}}
	tick(t, l, c, live.TickRescan) // at 0 s, to 2 s
	ev.next = live.Changed{PIDs: []int{b}}
	tick(t, l, c, live.TickIdle)   // 3 s: waits
	tick(t, l, c, live.TickIdle)   // 4 s: waits
	tick(t, l, c, live.TickIdle)   // 5 s: waits
	tick(t, l, c, live.TickRescan) // 6 s: b at last
	if d := cmp.Diff([]int{b}, w.Rescans[len(w.Rescans)-1]); d != "" {
		t.Errorf("the change that waited (-want +got):\n%s", d)
	}
}
