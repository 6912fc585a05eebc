//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestHelp: every way of asking for help prints a real usage on stdout
// (commands, flags, examples) and succeeds.
func TestHelp(t *testing.T) {
	all := []string{"serve", "snapshot", "bench", "--listen", "--pid", "--format", "--scale", "Examples:", "fdscope snapshot --pid"}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, all},
		{[]string{"-h"}, all},
		{[]string{"-help"}, all},
		{[]string{"help"}, all},
		{[]string{"help", "snapshot"}, []string{"fdscope snapshot [flags]", "-pid PID", "-width", "-ascii", "Examples:", "pgrep"}},
		{[]string{"snapshot", "--help"}, []string{"fdscope snapshot [flags]", "-pid PID", "Examples:"}},
		{[]string{"help", "serve"}, []string{"fdscope [serve] [flags]", "-listen", "-token", "Examples:"}},
		{[]string{"serve", "-h"}, []string{"fdscope [serve] [flags]", "-listen", "Examples:"}},
		{[]string{"help", "bench"}, []string{"fdscope bench [flags]", "-scale", "-enforce", "Examples:"}},
		{[]string{"bench", "--help"}, []string{"fdscope bench [flags]", "-runs"}},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), tt.args, &stdout, &stderr); err != nil {
			t.Errorf("fdscope %s: %v", strings.Join(tt.args, " "), err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("fdscope %s: stdout lacks %q:\n%s", strings.Join(tt.args, " "), w, stdout.String())
			}
		}
		if stderr.Len() > 0 {
			t.Errorf("fdscope %s: wrote to stderr: %s", strings.Join(tt.args, " "), stderr.String())
		}
	}
	for _, args := range [][]string{{"help", "nope"}, {"nope"}, {"help", "serve", "snapshot"}} {
		if err := run(context.Background(), args, new(bytes.Buffer), new(bytes.Buffer)); err == nil {
			t.Errorf("fdscope %s: no error", strings.Join(args, " "))
		}
	}
}

// TestSnapshotFlags: snapshot refuses nonsense before it scans anything,
// with a message naming the flag and what it allows (the API's bounds).
func TestSnapshotFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"--pid", "1", "--format", "text", "--width", "5"}, "--width 5: out of range (want 40 to 1000 cells, or 0 for the terminal's width)"},
		{[]string{"--pid", "1", "--format", "text", "--width", "1001"}, "--width 1001"},
		{[]string{"--pid", "1", "--format", "text", "--width", "-1"}, "--width -1"},
		{[]string{"--pid", "1", "--format", "svg", "--width", "39"}, "--width 39: out of range (want 40 to 2000 cells, or 0 for no wrapping)"},
		{[]string{"--pid", "1", "--format", "layout", "--width", "2001"}, "--width 2001"},
		{[]string{"--pid", "-3", "--format", "text"}, `flag -pid: "-3" is not a process ID (want 1 to 4194304)`},
		{[]string{"--pid", "-3", "--format", "json"}, `flag -pid: "-3" is not a process ID`},
		{[]string{"--pid", "0"}, `flag -pid: "0" is not a process ID`},
		{[]string{"--pid", "+7"}, `flag -pid: "+7" is not a process ID`},
		{[]string{"--pid", "0x10"}, `flag -pid: "0x10" is not a process ID`},
		{[]string{"--pid", "4194305"}, `flag -pid: "4194305" is not a process ID`},
		{[]string{"--format", "text"}, "--format text draws one process: give --pid"},
		{[]string{"--format", "png"}, `--format "png": unknown format (want json, map, map-svg, map-json, text, svg or layout)`},
		{[]string{"--ascii"}, "--ascii applies to --format text only, not json"},
		{[]string{"--pid", "1", "--format", "svg", "--ascii"}, "--ascii applies to --format text only, not svg"},
		{[]string{"--theme", "dark"}, "--theme applies to --format svg, map-svg only, not json"},
		{[]string{"--pid", "1", "--format", "text", "--theme", "dark"}, "--theme applies to --format svg, map-svg only, not text"},
		{[]string{"--pid", "1", "--format", "svg", "--theme", "neon"}, `--theme: unknown theme "neon" (want light, dark or auto)`},
		{[]string{"--width", "80"}, "--width applies to --format text, svg, layout, map only, not json"},
		{[]string{"--pid", "1", "--watches"}, "--watches applies to --format text, svg, layout only, not json"},
		{[]string{"--expand"}, "--expand applies to --format text, svg, layout only, not json"},
		{[]string{"--scanner", "ebpf"}, `invalid value "ebpf" for flag -scanner: scanner "ebpf": want auto, bpf or procfs`},
		// The bpf backend needs the live /proc; --proc is a temporary directory.
		{[]string{"--scanner", "bpf"}, "bpf scanner: the proc root is "},
		{[]string{"--pid", "1", "--format", "map"}, "--format map draws the whole host: no --pid"},
		{[]string{"--format", "map", "--width", "39"}, "--width 39: out of range (want 40 to 1000 cells"},
		{[]string{"--format", "map-svg", "--width", "80"}, "--width applies to --format text, svg, layout, map only, not map-svg"},
		{[]string{"--format", "map", "--theme", "dark"}, "--theme applies to --format svg, map-svg only, not map"},
		{[]string{"--format", "map-svg", "--theme", "neon"}, `--theme: unknown theme "neon"`},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--nope"}, "flag provided but not defined: -nope"},
	} {
		// A scan of an empty proc root would succeed: an error here comes
		// from the flags.
		args := append([]string{"snapshot", "--proc", t.TempDir()}, tt.args...)
		err := run(context.Background(), args, new(bytes.Buffer), new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("snapshot %s: %v; want an error with %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	// What the checks let through.
	for _, args := range [][]string{
		{},
		{"--pid", "1"},
		{"--pid", "1", "--format", "text", "--width", "40", "--ascii", "--watches", "--expand"},
		{"--pid", "1", "--format", "text", "--width", "0"},
		{"--pid", "1", "--format", "svg", "--theme", "auto", "--width", "2000"},
		{"--pid", "1", "--format", "layout", "--width", "0"},
		{"--scanner", "procfs"},
		{"--scanner", "auto"}, // falls back to procfs
	} {
		args := append([]string{"snapshot", "--proc", t.TempDir()}, args...)
		err := run(context.Background(), args, new(bytes.Buffer), new(bytes.Buffer))
		if err != nil && !strings.Contains(err.Error(), "no process 1") {
			t.Errorf("%s: %v", strings.Join(args, " "), err)
		}
	}
}

// busyPort holds a TCP port of 127.0.0.1 with a real listener.
func busyPort(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// TestListenFallback: without --listen, a taken port makes serve say so and
// take the next free one; a taken --listen is an error naming the flag.
func TestListenFallback(t *testing.T) {
	_, port := busyPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)

	var stderr bytes.Buffer
	ln, err := listenOn(addr, false, 20, &stderr)
	if err != nil {
		t.Fatalf("default address %s taken: %v", addr, err)
	}
	got := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if got <= port || got >= port+20 {
		t.Errorf("took port %d, want one of %d to %d", got, port+1, port+19)
	}
	if msg := stderr.String(); !strings.Contains(msg, addr+" is in use") || !strings.Contains(msg, ":"+strconv.Itoa(got)) || !strings.Contains(msg, "--listen") {
		t.Errorf("stderr: %q; want it to say %s is in use and which port is served", msg, addr)
	}

	// A free default port: taken silently.
	stderr.Reset()
	free, freePort := busyPort(t)
	free.Close()
	if ln, err := listenOn("127.0.0.1:"+strconv.Itoa(freePort), false, 1, &stderr); err != nil {
		t.Errorf("a free default port: %v", err)
	} else {
		ln.Close()
	}
	if stderr.Len() > 0 {
		t.Errorf("a free default port: stderr %q", stderr.String())
	}

	// Every port tried taken: an error that says to use --listen.
	if _, err := listenOn(addr, false, 1, &stderr); err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("every port taken: %v, want an error pointing to --listen", err)
	}

	// An explicit address that is taken stays an error, naming the flag.
	err = runServe(context.Background(), []string{"--listen", addr, "--log-level", "error"}, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "--listen "+addr) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("serve --listen %s (taken): %v, want an error naming --listen", addr, err)
	}
}

// TestServeDefaultPortTaken runs serve without --listen while 8080 is
// taken (by this test, or by whatever already holds it): it serves on
// another port and says so.
func TestServeDefaultPortTaken(t *testing.T) {
	if ln, err := net.Listen("tcp", defaultListen); err == nil {
		t.Cleanup(func() { ln.Close() })
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Skipf("cannot hold %s: %v", defaultListen, err)
	}
	var stderr lockedBuffer
	s := startServeStderr(t, &stderr, "--interval", "1s", "--log-level", "error")
	if strings.HasSuffix(s.url, ":8080") {
		t.Fatalf("serving on %s, which was taken", s.url)
	}
	if resp, _ := s.get(t, "/healthz", nil); resp.StatusCode != 200 && resp.StatusCode != 503 {
		t.Errorf("/healthz on %s: %d", s.url, resp.StatusCode)
	}
	if msg := stderr.String(); !strings.Contains(msg, defaultListen+" is in use; serving on "+strings.TrimPrefix(s.url, "http://")) {
		t.Errorf("stderr %q does not say that %s is in use and where it serves", msg, defaultListen)
	}
}

// lockedBuffer is a bytes.Buffer that a server goroutine may write to
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestReadsOthersFDs(t *testing.T) {
	for _, tt := range []struct {
		capEff uint64
		want   bool
	}{
		{0, false},
		{0x000001ffffffffff, true}, // root
		{1<<capDACReadSearch | 1<<capSysPtrace, true}, // the setcap of the README
		{1 << capSysPtrace, false},
		{1 << capDACReadSearch, false},
	} {
		if got := readsOthersFDs(tt.capEff); got != tt.want {
			t.Errorf("readsOthersFDs(%#x) = %v, want %v", tt.capEff, got, tt.want)
		}
	}
}
