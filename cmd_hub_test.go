//go:build linux

package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// startHub runs runHub in the background, as startServe runs runServe.
func startHub(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- runHub(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("hub printed no address: %v (%v)", err, <-s.done)
	}
	go io.Copy(io.Discard, pr)
	m := servingRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("hub printed %q", line)
	}
	s.url, s.token = m[1], m[2]
	t.Cleanup(func() {
		cancel()
		if err := <-s.done; err != nil {
			t.Errorf("runHub after shutdown: %v", err)
		}
	})
	return s
}

// TestHubOverARealAgent: a hub over one fdscope serve shows this test's
// process, in the agent's name space and with its host.
func TestHubOverARealAgent(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("agent-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := startServe(t, "--listen", "127.0.0.1:0", "--token-file", tokenFile)
	hub := startHub(t, "--listen", "127.0.0.1:0", "--agents", "alpha="+agent.url, "--agent-token-file", tokenFile)

	pid := os.Getpid()
	deadline := time.Now().Add(60 * time.Second) // a first scan of a loaded machine: generous
	var focus graph.Snapshot
	for {
		resp, _ := hub.get(t, "/api/processes/"+strconv.Itoa(pid), &focus)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub never showed pid %d: %s", pid, resp.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var self *graph.Node
	for _, n := range focus.Nodes {
		if !strings.HasPrefix(n.ID, "alpha/") {
			t.Errorf("node %s is not in alpha's name space", n.ID)
		}
		if n.Kind == graph.KindProcess && n.PID == pid {
			self = n
		}
	}
	if self == nil || self.Host != "alpha" {
		t.Fatalf("this process in the hub's focus: %+v", self)
	}
	if resp, body := hub.get(t, "/healthz", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("hub /healthz: %s %s", resp.Status, body)
	}
}

func TestHubFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--agents", "10.0.0.1:8080"},
		{"--agents", "http://a:1", "--agent-scheme", "ftp"},
		{"--agents-dns", "x", "--agent-port", "0"},
		{"--agents", "http://a:1", "--agent-token-file", "/nonexistent"},
		{"--agents", "http://a:1", "extra"},
	} {
		if err := runHub(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("hub %q: no error", args)
		}
	}
}
