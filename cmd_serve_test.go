//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/graph"
)

// serveRoleEnv makes the test binary play a role in a live test instead of
// running tests: "unix-server PATH" accepts one connection on a unix socket
// and waits; "unix-client PATH" connects to it and waits; "bench-client URL
// IDLE" measures a server (cmd_serve_bench_test.go).
const serveRoleEnv = "FDSCOPE_SERVE_TEST_ROLE"

func init() {
	role := os.Getenv(serveRoleEnv)
	if role == "" {
		return
	}
	f := strings.Fields(role)
	switch f[0] {
	case "unix-server":
		ln, err := net.Listen("unix", f[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("listening")
		c, err := ln.Accept()
		if err != nil {
			os.Exit(2)
		}
		io.Copy(io.Discard, c) // until the client goes
	case "bench-client":
		idle, err := time.ParseDuration(f[2])
		if err == nil {
			err = runBenchClient(f[1], idle)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench client:", err)
			os.Exit(1)
		}
	case "unix-client":
		c, err := net.Dial("unix", f[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("connected")
		io.Copy(io.Discard, c)
	}
	os.Exit(0)
}

// server runs runServe in the background and returns its base URL.
type server struct {
	url    string
	token  string
	cancel context.CancelFunc
	done   chan error
}

var servingRE = regexp.MustCompile(`serving on (http://[^/]+)/(?:\?token=(\w+))?`)

func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- runServe(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve printed no address: %v (%v)", err, <-s.done)
	}
	go io.Copy(io.Discard, pr)
	m := servingRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("serve printed %q", line)
	}
	s.url, s.token = m[1], m[2]
	t.Cleanup(func() {
		cancel()
		if err := <-s.done; err != nil {
			t.Errorf("runServe after shutdown: %v", err)
		}
	})
	return s
}

// get sends a GET (with the token, if any), decodes a 200 JSON answer into
// out when out is not nil, and returns the response with its body read.
func (s *server) get(t *testing.T, path string, out any) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp, body
}

type wireMsg struct {
	Type  string          `json:"type"`
	Seq   uint64          `json:"seq"`
	Base  uint64          `json:"base"`
	Graph *graph.Snapshot `json:"graph"`
	graph.Changes
	graph.RowChanges
}

// follower applies a whole-graph stream.
type follower struct {
	t    *testing.T
	c    *websocket.Conn
	seq  uint64
	snap *graph.Snapshot
}

func (f *follower) next(ctx context.Context) {
	f.t.Helper()
	_, b, err := f.c.Read(ctx)
	if err != nil {
		f.t.Fatalf("ws read: %v", err)
	}
	var m wireMsg
	if err := json.Unmarshal(b, &m); err != nil {
		f.t.Fatal(err)
	}
	switch m.Type {
	case api.TypeSnapshot:
		if f.snap != nil {
			f.t.Fatalf("a second snapshot (seq %d after %d): the client kept up and should get diffs", m.Seq, f.seq)
		}
		f.seq, f.snap = m.Seq, m.Graph
	case api.TypeDiff:
		if m.Base != f.seq {
			f.t.Fatalf("diff base %d, client at %d", m.Base, f.seq)
		}
		f.seq, f.snap = m.Seq, graph.Apply(f.snap, &m.Changes)
	default:
		f.t.Fatalf("unexpected message %.100s", b)
	}
}

// until reads until cond holds of the graph.
func (f *follower) until(ctx context.Context, what string, cond func(*graph.Index) bool) time.Time {
	f.t.Helper()
	for !cond(graph.NewIndex(f.snap)) {
		if ctx.Err() != nil {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		f.next(ctx)
	}
	return time.Now()
}

// TestServeLive runs the server on the real machine: processes that start,
// connect and exit show up in the diff stream, the diffs applied to the
// first snapshot give the server's latest graph, and SIGINT (a cancelled
// context) closes the websocket with 1001 and returns within 2 s.
func TestServeLive(t *testing.T) {
	s := startServe(t, "--listen", "127.0.0.1:0", "--interval", "100ms", "--full-interval", "1s", "--log-level", "error")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The page and its script.
	resp, body := s.get(t, "/", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `src="/static/app.js"`) {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	if resp, _ := s.get(t, "/static/app.js", nil); resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /static/app.js: %d", resp.StatusCode)
	}

	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(-1)
	f := &follower{t: t, c: c}
	f.next(ctx)
	self := os.Getpid()
	f.until(ctx, "this process", func(x *graph.Index) bool { return x.Process(self) != nil })

	for round := range 2 {
		sock := filepath.Join(t.TempDir(), "s.sock")
		srv := exec.Command(os.Args[0])
		srv.Env = append(os.Environ(), serveRoleEnv+"=unix-server "+sock)
		out, _ := srv.StdoutPipe()
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		bufio.NewReader(out).ReadString('\n')
		cli := exec.Command(os.Args[0])
		cli.Env = append(os.Environ(), serveRoleEnv+"=unix-client "+sock)
		cout, _ := cli.StdoutPipe()
		if err := cli.Start(); err != nil {
			t.Fatal(err)
		}
		bufio.NewReader(cout).ReadString('\n')
		connected := time.Now()
		pipe := exec.Command("sh", "-c", "sleep 60 | sleep 60")
		if err := pipe.Start(); err != nil {
			t.Fatal(err)
		}
		sp, cp := srv.Process.Pid, cli.Process.Pid
		seen := f.until(ctx, "the unix connection", func(x *graph.Index) bool {
			for _, p := range x.Peers(sp) {
				if p.PeerPID == cp && p.Via == graph.ViaUnix {
					return true
				}
			}
			return false
		})
		t.Logf("round %d: connection to diff in %v", round, seen.Sub(connected))
		var peers []graph.Peer
		if resp, _ := s.get(t, "/api/processes/"+strconv.Itoa(cp)+"/peers", &peers); resp.StatusCode != 200 {
			t.Errorf("peers of the client: %d", resp.StatusCode)
		}
		f.until(ctx, "the pipe between the sleeps", func(x *graph.Index) bool {
			for _, r := range x.Processes() {
				if r.Comm == "sleep" && r.Pipes > 0 && r.Peers > 0 {
					return true
				}
			}
			return false
		})
		srv.Process.Kill()
		cli.Process.Kill()
		srv.Wait()
		cli.Wait()
		pipe.Process.Kill()
		pipe.Wait()
		f.until(ctx, "the exits", func(x *graph.Index) bool { return x.Process(sp) == nil && x.Process(cp) == nil })
	}

	// The stream applied to the first snapshot is the server's latest graph.
	for {
		var g graph.Snapshot
		resp, _ := s.get(t, "/api/graph", &g)
		seq, _ := strconv.ParseUint(resp.Header.Get(api.SeqHeader), 10, 64)
		for f.seq < seq {
			f.next(ctx)
		}
		if f.seq == seq {
			if !graph.Equal(f.snap, &g) {
				t.Fatalf("first snapshot + %d diffs != /api/graph at seq %d", seq-1, seq)
			}
			break
		}
	}

	// Shutdown: close frame 1001, back within 2 s.
	start := time.Now()
	s.cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Errorf("on shutdown: %v, want close 1001", err)
			}
			break
		}
	}
	if err := <-s.done; err != nil {
		t.Errorf("runServe: %v", err)
	}
	s.done <- nil // for the cleanup
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v", d)
	}
}

// TestServeNotLoopback: listening on every interface, serve makes up a
// token, prints it, and refuses requests without it.
func TestServeNotLoopback(t *testing.T) {
	s := startServe(t, "--listen", "0.0.0.0:0", "--interval", "1s", "--log-level", "error")
	if len(s.token) < 16 {
		t.Fatalf("no generated token in the address (%q)", s.token)
	}
	token := s.token
	s.token = ""
	if resp, _ := s.get(t, "/api/processes", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", resp.StatusCode)
	}
	s.token = token
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := s.get(t, "/healthz", nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz with the token: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/healthz", nil)
	req.Host = "rebind.example"
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("with a foreign Host: %d, want 403", resp.StatusCode)
	}
}

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--interval", "0s"},
		{"--interval", "5s", "--full-interval", "1s"},
		{"--log-level", "loud"},
		{"extra"},
	} {
		if err := runServe(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("serve %v: no error", args)
		}
	}
}
