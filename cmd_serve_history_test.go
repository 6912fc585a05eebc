//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/history"
)

// syncBuffer is a bytes.Buffer safe for the server's logging goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestServeHistory: serve records into --data-dir and answers
// /api/changes; the store is there to read after it stops.
func TestServeHistory(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, "--listen", "127.0.0.1:0", "--interval", "100ms", "--full-interval", "1s", "--log-level", "error", "--data-dir", dir)
	var body api.ChangesBody
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, b := s.get(t, "/api/changes", &body)
		if resp.StatusCode != 200 {
			t.Fatalf("/api/changes: %d %s", resp.StatusCode, b)
		}
		if !body.Begins.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no history begins after 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, history.FileName)); err != nil {
		t.Fatal(err)
	}
	at := body.Begins.Add(time.Millisecond).Format(time.RFC3339Nano)
	if resp, b := s.get(t, "/api/graph?at="+at, nil); resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"nodes"`)) {
		t.Errorf("/api/graph?at=%s: %d %.200s", at, resp.StatusCode, b)
	}
}

// TestServeHistoryFaults: a store that cannot be opened is reported, and
// the server serves without history; --no-history records nothing.
func TestServeHistoryFaults(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	s := startServeStderr(t, &stderr, "--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir", filepath.Join(notADir, "sub"))
	if !strings.Contains(stderr.String(), "no history is recorded") {
		t.Errorf("stderr says nothing of the store: %s", stderr.String())
	}
	if resp, b := s.get(t, "/api/changes", nil); resp.StatusCode != 404 || !bytes.Contains(b, []byte("no history is recorded")) {
		t.Errorf("/api/changes without a store: %d %s", resp.StatusCode, b)
	}
	if resp, _ := s.get(t, "/healthz", nil); resp.StatusCode != 200 && resp.StatusCode != 503 {
		t.Errorf("/healthz without a store: %d", resp.StatusCode)
	}

	dir := t.TempDir()
	s = startServe(t, "--listen", "127.0.0.1:0", "--log-level", "error", "--no-history", "--data-dir", dir)
	if resp, _ := s.get(t, "/api/changes", nil); resp.StatusCode != 404 {
		t.Errorf("/api/changes with --no-history: %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, history.FileName)); err == nil {
		t.Errorf("--no-history wrote %s", history.FileName)
	}
}

func TestDefaultDataDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		uid  int
		env  map[string]string
		want string
	}{
		{0, map[string]string{"XDG_STATE_HOME": "/x"}, "/var/lib/fdscope"},
		{1000, map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/home/a"}, "/x/fdscope"},
		{1000, map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/home/a"}, "/home/a/.local/state/fdscope"},
		{1000, map[string]string{"HOME": "/home/a"}, "/home/a/.local/state/fdscope"},
	} {
		if got := defaultDataDir(tc.uid, env(tc.env)); got != tc.want {
			t.Errorf("defaultDataDir(%d, %v) = %q, want %q", tc.uid, tc.env, got, tc.want)
		}
	}
}
