package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"
	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
	"github.com/fdscope/fdscope/live/livetest"
)

// env is a server over a fake World, for tests.
type env struct {
	t     *testing.T
	world *livetest.World
	store *live.Store
	srv   *Server
	ts    *httptest.Server
}

// newEnv starts a server on an httptest listener (127.0.0.1) over a World
// with a few processes, scanned once. tweak may change the options.
func newEnv(t *testing.T, tweak func(*Options)) *env {
	t.Helper()
	w := livetest.NewWorld()
	a := w.Start(1, "server")
	b := w.Start(1, "client")
	w.Connect(a, b)
	store := live.NewStore(64)
	opts := Options{
		Source: store, Listen: "127.0.0.1:0",
		Page:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>page</html>") }),
		Static: fstest.MapFS{"app.js": {Data: []byte("console.log(1)")}, "sub/x.css": {Data: []byte("p{}")}},
		Window: 32, WriteTimeout: 2 * time.Second,
	}
	if tweak != nil {
		tweak(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, world: w, store: store, srv: srv}
	e.ts = httptest.NewUnstartedServer(srv.Handler())
	e.ts.Config.ConnContext = srv.ConnContext
	e.ts.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		e.ts.Close()
	})
	e.publish()
	return e
}

// publish scans the World into the store and returns the new seq.
func (e *env) publish() uint64 {
	seq, _ := e.store.Publish(e.world.Snapshot())
	return seq
}

// get sends a GET with the given headers and returns the response and body.
func (e *env) get(path string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *env) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/api/ws" + query
}

// dial opens a websocket; hdr are header name/value pairs.
func (e *env) dial(query string, hdr ...string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, e.wsURL(query), &websocket.DialOptions{HTTPHeader: h})
	if c != nil {
		c.SetReadLimit(-1)
		e.t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func (e *env) mustDial(query string) *websocket.Conn {
	e.t.Helper()
	c, _, err := e.dial(query)
	if err != nil {
		e.t.Fatalf("dial %s: %v", query, err)
	}
	return c
}

// msg is any server message.
type msg struct {
	Type      string             `json:"type"`
	Seq       uint64             `json:"seq"`
	Base      uint64             `json:"base"`
	Focus     int                `json:"focus"`
	Graph     *graph.Snapshot    `json:"graph"`
	Processes []graph.ProcessRow `json:"processes"`
	Error     string             `json:"error"`
	Layout    *diagram.Layout    `json:"layout"`
	graph.Changes
	graph.RowChanges
	raw []byte
}

func readMsg(ctx context.Context, c *websocket.Conn) (msg, error) {
	_, b, err := c.Read(ctx)
	if err != nil {
		return msg{}, err
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		return msg{}, fmt.Errorf("decode %s: %w", b, err)
	}
	m.raw = b
	return m, nil
}

// wsc is a websocket client whose messages a goroutine reads into a
// channel, so that a test can wait for one with a timeout (a Read whose
// context expires closes the connection).
type wsc struct {
	*websocket.Conn
	msgs chan msg
	errc chan error
}

// client dials and starts reading.
func (e *env) client(query string) *wsc {
	e.t.Helper()
	c := e.mustDial(query)
	w := &wsc{Conn: c, msgs: make(chan msg, 4096), errc: make(chan error, 1)}
	go func() {
		for {
			m, err := readMsg(context.Background(), c)
			if err != nil {
				w.errc <- err
				close(w.msgs)
				return
			}
			w.msgs <- m
		}
	}()
	return w
}

func (e *env) read(c *wsc) msg {
	e.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			e.t.Fatalf("read: connection ended: %v", <-c.errc)
		}
		return m
	case <-time.After(30 * time.Second):
		e.t.Fatal("read: no message within 30 s")
	}
	return msg{}
}

// quiet checks that nothing arrives on c within d.
func (e *env) quiet(c *wsc, d time.Duration) {
	e.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if ok {
			e.t.Fatalf("unexpected message %.200s", m.raw)
		}
		e.t.Fatalf("connection ended: %v", <-c.errc)
	case <-time.After(d):
	}
}

// end waits for the connection to end, skipping messages, and returns why.
func (e *env) end(c *wsc) error {
	e.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-c.msgs:
			if !ok {
				return <-c.errc
			}
		case <-timeout:
			e.t.Fatal("the connection did not end within 30 s")
		}
	}
}

func send(t *testing.T, c *wsc, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := c.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// graphState follows a graph stream as a client does.
type graphState struct {
	seq  uint64
	snap *graph.Snapshot
}

func (g *graphState) apply(m msg) error {
	switch m.Type {
	case TypeSnapshot:
		g.seq, g.snap = m.Seq, m.Graph
	case TypeDiff:
		if m.Base != g.seq {
			return fmt.Errorf("diff base %d, but the client is at %d", m.Base, g.seq)
		}
		if m.Seq <= m.Base {
			return fmt.Errorf("diff seq %d not after base %d", m.Seq, m.Base)
		}
		c := m.Changes
		g.seq, g.snap = m.Seq, graph.Apply(g.snap, &c)
	default:
		return fmt.Errorf("unexpected %s message on the graph stream", m.Type)
	}
	return nil
}

// rowsState follows a process-list stream as a client does.
type rowsState struct {
	seq  uint64
	rows []graph.ProcessRow
}

func (r *rowsState) apply(m msg) error {
	switch m.Type {
	case TypeProcesses:
		r.seq, r.rows = m.Seq, m.Processes
	case TypeProcessesDiff:
		if m.Base != r.seq {
			return fmt.Errorf("processes_diff base %d, but the client is at %d", m.Base, r.seq)
		}
		c := m.RowChanges
		r.seq, r.rows = m.Seq, graph.ApplyRows(r.rows, &c)
	default:
		return fmt.Errorf("unexpected %s message on the process stream", m.Type)
	}
	return nil
}

// waitFor polls cond until it holds or 30 s pass (a bound for a loaded
// machine, not a speed to meet).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, cond)
}

// waitWithin polls cond until it holds or d passes.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gatedSource wraps a Source so that the test decides when clients wake.
type gatedSource struct {
	Source
	mu   sync.Mutex
	subs []chan struct{}
}

func (g *gatedSource) Notify() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	g.mu.Lock()
	g.subs = append(g.subs, ch)
	g.mu.Unlock()
	return ch, func() {}
}

func (g *gatedSource) wake() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ch := range g.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
