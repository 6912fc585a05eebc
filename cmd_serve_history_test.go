//go:build linux

package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// startServeProcess runs fdscope serve in a process of its own (this test
// binary in its "serve" role), with its stderr into stderr. The process is
// killed when the test ends, if it still runs.
func startServeProcess(t *testing.T, stderr io.Writer, args ...string) (*server, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serveRoleEnv+"=serve "+strings.Join(args, " "))
	return startServeCmd(t, cmd, stderr), cmd
}

// startServeCmd starts cmd, which runs this test binary in its "serve"
// role (maybe through unshare or nsenter), and waits until the server has
// scanned once. The process is killed when the test ends, if it still
// runs.
func startServeCmd(t *testing.T, cmd *exec.Cmd, stderr io.Writer) *server {
	t.Helper()
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	m := servingRE.FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("serve printed %q (%v)", line, err)
	}
	go io.Copy(io.Discard, out)
	s := &server{url: m[1], token: m[2]}
	waitScanned(t, s)
	return s
}

// waitScanned waits until s has scanned the machine once (/healthz 200):
// what starts after that is a change, not part of its first snapshot.
func waitScanned(t *testing.T, s *server) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if resp, _ := s.get(t, "/healthz", nil); resp.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the server has not scanned after 2 minutes")
		}
	}
}

// startSleeper starts a process that only sleeps, ended with the test.
func startSleeper(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// waitChanges waits until /api/changes?pid=pid on s lists a change of kind.
func waitChanges(t *testing.T, s *server, pid int, kind string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var body api.ChangesBody
		if resp, _ := s.get(t, "/api/changes?pid="+strconv.Itoa(pid), nil); resp.StatusCode == 200 {
			s.get(t, "/api/changes?pid="+strconv.Itoa(pid), &body)
			if slices.ContainsFunc(body.Changes, func(e history.Event) bool { return e.Kind == kind }) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s of pid %d in /api/changes after 2 minutes: %+v", kind, pid, body.Changes)
		}
	}
}

// TestServeHistoryKill9: a server killed with SIGKILL loses nothing it
// had recorded: once /api/changes lists a process's start (the recorder
// writes every 250 ms), the server is killed, restarted on the same store,
// and lists the start again, from a store that opens clean.
func TestServeHistoryKill9(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir", dir}
	s, cmd := startServeProcess(t, io.Discard, args...)
	pid := startSleeper(t)
	waitChanges(t, s, pid, history.ProcessStart)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	var stderr syncBuffer
	s, _ = startServeProcess(t, &stderr, args...)
	var body api.ChangesBody
	if resp, b := s.get(t, "/api/changes?pid="+strconv.Itoa(pid), &body); resp.StatusCode != 200 {
		t.Fatalf("/api/changes after the restart: %d %s", resp.StatusCode, b)
	}
	if !slices.ContainsFunc(body.Changes, func(e history.Event) bool { return e.Kind == history.ProcessStart && e.PID == pid }) {
		t.Errorf("the start of pid %d, recorded before the kill, is not in the store: %+v", pid, body.Changes)
	}
	if strings.Contains(stderr.String(), "no history is recorded") {
		t.Errorf("the store did not open after the kill: %s", stderr.String())
	}
}

// TestServeHistoryFullDisk: when the store's file system is full,
// recording pauses (and says so) and the server goes on serving; when
// there is room again, recording goes on. The store is on a tmpfs of the
// server's own mount namespace. Root only (mount); CI runs as root.
func TestServeHistoryFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("unshare is missing (util-linux)")
		}
		t.Skip("no unshare")
	}
	dir := t.TempDir()
	var stderr syncBuffer
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o size=32m fdscope-test "$0" && exec "$1"`, dir, os.Args[0])
	cmd.Env = append(os.Environ(), serveRoleEnv+"=serve --listen 127.0.0.1:0 --interval 100ms --log-level info --data-dir "+dir)
	s := startServeCmd(t, cmd, &stderr)
	// The store as the server sees it, through its mount namespace.
	store := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "root", dir)
	waitChanges(t, s, startSleeper(t), history.ProcessStart)

	// Fill the file system, and make changes until a write fails.
	fill, err := os.Create(filepath.Join(store, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := fill.Write(buf); err != nil {
			break // ENOSPC
		}
	}
	fill.Close()
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(stderr.String(), "recording paused"); time.Sleep(100 * time.Millisecond) {
		startSleeper(t)
		if time.Now().After(deadline) {
			t.Fatalf("no pause said on a full disk: %s", stderr.String())
		}
	}
	// The server serves on.
	if resp, b := s.get(t, "/api/graph", nil); resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"nodes"`)) {
		t.Errorf("/api/graph on a full disk: %d %.200s", resp.StatusCode, b)
	}
	if resp, _ := s.get(t, "/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz on a full disk: %d", resp.StatusCode)
	}

	// Room again: recording goes on, and what changes now is recorded.
	if err := os.Remove(filepath.Join(store, "fill")); err != nil {
		t.Fatal(err)
	}
	later := startSleeper(t)
	waitChanges(t, s, later, history.ProcessStart)
	if !strings.Contains(stderr.String(), "recording again") {
		t.Errorf("the server did not say that it records again: %s", stderr.String())
	}
}
