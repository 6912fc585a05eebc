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
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/graph"
)

// serveRoleEnv makes the test binary play a role in a live test instead of
// running tests: "unix-server PATH" accepts one connection on a unix socket
// and waits; "unix-client PATH" connects to it and waits; "bench-client URL
// IDLE" measures a server (cmd_serve_bench_test.go); "serve ARGS..." runs
// fdscope serve (cmd_serve_history_test.go kills it), "hub ARGS..." fdscope
// hub; "tcp-server ADDR" accepts one TCP connection and holds it,
// "tcp-client ADDR" makes it (cmd_hub_netns_test.go).
const serveRoleEnv = "FDSCOPE_SERVE_TEST_ROLE"

func init() {
	role := os.Getenv(serveRoleEnv)
	if role == "" {
		return
	}
	f := strings.Fields(role)
	switch f[0] {
	case "unix-server", "tcp-server":
		ln, err := net.Listen(strings.TrimSuffix(f[0], "-server"), f[1])
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
	case "serve", "hub":
		// A server (or hub) in a process of its own, which a test can kill -9.
		run := runServe
		if f[0] == "hub" {
			run = runHub
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, f[1:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "unix-client", "tcp-client":
		c, err := net.Dial(strings.TrimSuffix(f[0], "-client"), f[1])
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
	return startServeStderr(t, io.Discard, args...)
}

// startServeStderr is startServe with serve's stderr going to stderr.
func startServeStderr(t *testing.T, stderr io.Writer, args ...string) *server {
	t.Helper()
	if !slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "history") || strings.Contains(a, "data-dir") }) {
		args = append(args, "--data-dir", t.TempDir()) // never the host's own store
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- runServe(ctx, args, pw, stderr)
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
	msgs chan []byte // read off the socket as they come
	errc chan error  // why the reading ended
	seq  uint64
	snap *graph.Snapshot
	// diffs and resyncs count the diffs applied and the snapshots after
	// the first.
	diffs, resyncs int
}

// follow reads c's messages as they come, whatever the test does with
// them: a test slower than the server (a loaded machine, -race) must not
// look like a stuck client, which the server drops.
func follow(ctx context.Context, t *testing.T, c *websocket.Conn) *follower {
	f := &follower{t: t, msgs: make(chan []byte, 1<<16), errc: make(chan error, 1)}
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				f.errc <- err
				close(f.msgs)
				return
			}
			f.msgs <- b
		}
	}()
	return f
}

// dialFollow connects to s's websocket, follows it, and applies the
// first message (the snapshot).
func dialFollow(ctx context.Context, t *testing.T, s *server) *follower {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(-1)
	f := follow(ctx, t, c)
	f.next(ctx)
	return f
}

// next applies the next message.
func (f *follower) next(ctx context.Context) {
	f.t.Helper()
	var b []byte
	select {
	case m, ok := <-f.msgs:
		if !ok {
			f.t.Fatalf("ws read: %v", <-f.errc)
		}
		b = m
	case <-ctx.Done():
		f.t.Fatalf("ws read: %v", ctx.Err())
	}
	var m wireMsg
	if err := json.Unmarshal(b, &m); err != nil {
		f.t.Fatal(err)
	}
	switch m.Type {
	case api.TypeSnapshot:
		// A client that falls behind may be sent a fresh snapshot; the
		// test counts them, and wants diffs too.
		if f.snap != nil {
			f.resyncs++
			f.t.Logf("a snapshot at seq %d after %d", m.Seq, f.seq)
		}
		f.seq, f.snap = m.Seq, m.Graph
	case api.TypeDiff:
		if m.Base != f.seq {
			f.t.Fatalf("diff base %d, client at %d", m.Base, f.seq)
		}
		f.seq, f.snap = m.Seq, graph.Apply(f.snap, &m.Changes)
		f.diffs++
	default:
		f.t.Fatalf("unexpected message %.100s", b)
	}
}

// until reads until cond holds of the graph: it applies every message
// that has come before it looks again.
func (f *follower) until(ctx context.Context, what string, cond func(*graph.Index) bool) time.Time {
	f.t.Helper()
	for !cond(graph.NewIndex(f.snap)) {
		if ctx.Err() != nil {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		f.next(ctx)
		for len(f.msgs) > 0 {
			f.next(ctx)
		}
	}
	return time.Now()
}

// TestServeLive runs the server on the real machine: processes that start,
// connect and exit show up in the diff stream, the diffs applied to the
// first snapshot give the server's latest graph, and SIGINT (a cancelled
// context) closes the websocket with 1001 and returns within 2 s.
func TestServeLive(t *testing.T) {
	s := startServe(t, "--listen", "127.0.0.1:0", "--interval", "100ms", "--full-interval", "1s", "--log-level", "error")
	// A bound for a loaded machine (under -race a scan of it took 13 s):
	// the test waits for what it sees, not for a time.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The page and its script.
	resp, body := s.get(t, "/", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `src="/static/app.js"`) {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	if resp, _ := s.get(t, "/static/app.js", nil); resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /static/app.js: %d", resp.StatusCode)
	}

	f := dialFollow(ctx, t, s)
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
				t.Fatalf("the stream (%d diffs, %d snapshots after the first) != /api/graph at seq %d", f.diffs, f.resyncs, seq)
			}
			break
		}
	}
	if f.diffs == 0 {
		t.Errorf("the stream sent no diff (%d snapshots after the first)", f.resyncs)
	}

	// Shutdown: close frame 1001, and back. serve gives clients 1.5 s
	// (shutdownGrace); the bound here is for a loaded machine.
	start := time.Now()
	s.cancel()
	for range f.msgs {
	}
	if err := <-f.errc; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("on shutdown: %v, want close 1001", err)
	}
	if err := <-s.done; err != nil {
		t.Errorf("runServe: %v", err)
	}
	s.done <- nil // for the cleanup
	if d := time.Since(start); d > 20*time.Second {
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
	// The server's own user needs no token on loopback (the kernel says
	// who is asking); through another address of the machine, nobody is
	// known and the token is required.
	if ip := nonLoopbackIP(); ip != "" {
		loop := s.url
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
		s.url, s.token = "http://"+net.JoinHostPort(ip, port), ""
		if resp, _ := s.get(t, "/api/processes", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("through %s without the token: %d, want 401", ip, resp.StatusCode)
		}
		s.url = loop
	}
	s.token = token
	deadline := time.Now().Add(3 * time.Minute) // the first scan, on a loaded machine
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

// nonLoopbackIP returns an IPv4 address of the machine not on loopback, or "".
func nonLoopbackIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
