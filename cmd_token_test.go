//go:build linux

package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
)

func TestAccessToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	const tok = "0123456789abcdef-token"
	private := write("private", tok+"\n", 0o600)
	shared := write("shared", tok, 0o644)
	empty := write("empty", " \n", 0o600)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == TokenEnv {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		name, flag, file, env string
		want, warn, err       string
	}{
		{name: "none"},
		{name: "file", file: private, env: "ignored-ignored-ignored", want: tok},
		{name: "file others can read", file: shared, want: tok, warn: "readable by others"},
		{name: "env", env: tok, want: tok},
		{name: "flag", flag: tok, want: tok, warn: "/proc/PID/cmdline"},
		{name: "both", flag: tok, file: private, err: "give one"},
		{name: "missing file", file: filepath.Join(dir, "nope"), err: "no such file"},
		{name: "empty file", file: empty, err: "empty"},
		{name: "short", env: "short", err: "at least 16"},
		{name: "spaces", flag: "with spaces in the token", err: "printable"},
	} {
		got, warnings, err := accessToken(c.flag, c.file, env(c.env))
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
		case err != nil || got != c.want:
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		case c.warn == "" && len(warnings) > 0, c.warn != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], c.warn)):
			t.Errorf("%s: warnings %q, want %q", c.name, warnings, c.warn)
		}
	}
}

// TestServeTokenRedacted: serve with --token-file prints an address
// without the token, serves its own user without one, and shows the token
// nowhere in the graph, even in the command line of a process that carries
// it.
func TestServeTokenRedacted(t *testing.T) {
	const tok = "0123456789abcdef-secret"
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	holder := exec.Command("sh", "-c", "sleep 600; exit 0", tok) // $0 is the token; the shell stays
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	s := startServe(t, "--listen", "127.0.0.1:0", "--token-file", file, "--interval", "100ms", "--log-level", "error")
	if s.token != "" {
		t.Fatalf("serve printed the token from the file: %q", s.token)
	}
	var p graph.Snapshot
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := s.get(t, "/api/processes/"+strconv.Itoa(holder.Process.Pid), &p)
		if resp.StatusCode == http.StatusOK {
			if strings.Contains(string(body), tok) {
				t.Fatalf("the token is in the process's details: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process holding the token: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	n := graph.NewIndex(&p).Process(holder.Process.Pid)
	if n == nil || !strings.Contains(n.Process.Cmdline, live.Redacted) {
		t.Errorf("the holder's command line is not redacted: %+v", n)
	}
	if _, body := s.get(t, "/api/search?q="+tok[:12], nil); strings.Contains(string(body), tok[:12]) || strings.Contains(string(body), strconv.Itoa(holder.Process.Pid)) {
		t.Errorf("search finds the token: %s", body)
	}
	if _, body := s.get(t, "/api/graph", nil); strings.Contains(string(body), tok) {
		t.Error("the token is in /api/graph")
	}
}
