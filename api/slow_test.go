package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"weak"

	"github.com/fdscope/fdscope/graph"
	"golang.org/x/sys/unix"
)

// hugeSnapshot is a graph whose JSON (about 12 MB) is far more than the
// socket buffers of a connection hold.
func hugeSnapshot() *graph.Snapshot {
	var nodes []*graph.Node
	long := strings.Repeat("x", 4000)
	for pid := 1000; pid < 4000; pid++ {
		nodes = append(nodes, &graph.Node{ID: graph.ProcessID(pid, 1), Kind: graph.KindProcess, PID: pid,
			Process: &graph.Process{Comm: "big", Cmdline: long, StartTime: 1}})
	}
	return graph.New(nodes, nil, graph.Stats{Processes: len(nodes)})
}

// slowReader sends GET path on a connection whose receive buffer is as
// small as the kernel allows, and never reads the answer.
func slowReader(t *testing.T, e *env, path string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1) })
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSlowReaders: clients that ask for the whole graph and never read it
// share one encoding of it, take at most MaxHeavyResponses slots (the
// rest get 503 with Retry-After at once), and give their slot back when
// they go; readers get the whole graph.
func TestSlowReaders(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxHeavyResponses = 2; o.ResponseTimeout = time.Hour })
	e.store.Publish(hugeSnapshot())
	_, snap := e.store.Latest()
	enc := e.srv.hub.views.graphJSON(snap) // held: the encoding stays while in use
	defer runtime.KeepAlive(enc)
	want := len(enc.b)
	encodes := e.srv.hub.views.encodes.Load()

	slow := []net.Conn{slowReader(t, e, "/api/graph"), slowReader(t, e, "/api/graph")}
	waitFor(t, "two answers under way", func() bool { return len(e.srv.heavy) == 2 })
	for _, p := range []string{"/api/graph", "/api/processes", "/api/processes/1000/diagram.svg"} {
		resp, body := e.get(p)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s with every slot taken = %d (Retry-After %q) %.100s, want 503", p, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	// Light answers are not limited.
	if resp, _ := e.get("/api/processes/1000/peers"); resp.StatusCode != http.StatusOK {
		t.Errorf("peers with every heavy slot taken = %d, want 200", resp.StatusCode)
	}
	for _, c := range slow {
		c.Close()
	}
	waitFor(t, "the slots back", func() bool { return len(e.srv.heavy) == 0 })
	for range 3 {
		resp, body := e.get("/api/graph")
		if resp.StatusCode != http.StatusOK || len(body) != want {
			t.Fatalf("GET /api/graph after the slow readers left = %d, %d bytes, want 200, %d bytes", resp.StatusCode, len(body), want)
		}
	}
	// Five clients of the graph (two of them slow), one of the peers.
	if n := e.srv.hub.views.encodes.Load() - encodes; n != 1 {
		t.Errorf("%d answers encoded, want 1: the peers; the graph was encoded before", n)
	}
}

// TestSlowReaderCutOff: a client that stops reading is cut off when its
// answer's time is up, and its slot is free again.
func TestSlowReaderCutOff(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxHeavyResponses = 1; o.ResponseTimeout = 300 * time.Millisecond })
	e.store.Publish(hugeSnapshot())
	_, snap := e.store.Latest()
	want := len(e.srv.hub.views.graphJSON(snap).b)
	c := slowReader(t, e, "/api/graph")
	waitFor(t, "the answer under way", func() bool { return len(e.srv.heavy) == 1 })
	waitWithin(t, time.Minute, "the slow reader cut off", func() bool { return len(e.srv.heavy) == 0 })
	// What it can still read ends before the whole answer.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	n, _ := io.Copy(io.Discard, bufio.NewReader(c))
	if n >= int64(want) {
		t.Errorf("the slow reader got %d bytes, the whole answer (%d)", n, want)
	}
	if resp, _ := e.get("/api/graph"); resp.StatusCode != http.StatusOK {
		t.Errorf("after the cut: %d, want 200", resp.StatusCode)
	}
}

// TestGraphEncodingLetGo: once no request is writing it, the encoded graph
// is let go (a server at rest holds no copy for a request that may never
// come), and the next request encodes it again.
func TestGraphEncodingLetGo(t *testing.T) {
	e := newEnv(t, nil)
	e.store.Publish(hugeSnapshot())
	before := e.srv.hub.views.encodes.Load()
	for range 2 {
		if resp, _ := e.get("/api/graph"); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/graph = %d", resp.StatusCode)
		}
		// The handler may still be returning when the client has the answer.
		waitFor(t, "the encoded graph let go", func() bool {
			runtime.GC()
			return e.srv.hub.views.graph.Value() == nil
		})
	}
	// Nor does it hold the snapshot it encoded once that is no longer the latest.
	_, old := e.store.Latest()
	w := weak.Make(old)
	old = nil
	e.store.Publish(graph.New(nil, nil, graph.Stats{}))
	runtime.GC()
	if w.Value() != nil {
		t.Error("the snapshot of the encoded graph is still alive")
	}
	if n := e.srv.hub.views.encodes.Load() - before; n != 2 {
		t.Errorf("%d encodings, want 2", n)
	}
}

// TestSnapshotMessageLetGo: the websocket's whole-graph snapshot message
// is let go once written, like the encoded graph.
func TestSnapshotMessageLetGo(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client("")
	if m := e.read(c); m.Type != TypeSnapshot {
		t.Fatalf("first message %.100s", m.raw)
	}
	v := e.srv.hub.views.latest()
	// The server's write may still be returning when the client has it.
	waitFor(t, "the snapshot message let go", func() bool {
		runtime.GC()
		return v.snapMsg.Value() == nil
	})
}

// TestSlowAnswerNotCutOff: the time an answer takes to compute (a past
// graph rebuilt from the history, on a big host) does not count against
// ResponseTimeout, which bounds its writing only.
func TestSlowAnswerNotCutOff(t *testing.T) {
	const timeout = 200 * time.Millisecond
	srv := &Server{opts: Options{ResponseTimeout: timeout}}
	body := strings.Repeat("x", 1<<20)
	ts := httptest.NewServer(srv.deadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * timeout) // computing
		io.WriteString(w, body)
	})))
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || len(got) != len(body) {
		t.Errorf("read %d of %d bytes: %v", len(got), len(body), err)
	}
}
