//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// TestServeKernelEvents: with kernel events and no full scan for an hour,
// an fd replaced in place (dup2 over an open fd: the fd count does not
// change, and no socket appears) reaches the websocket. Without the events
// only a full scan would show it. Root only (loading the programs); CI runs
// as root.
func TestServeKernelEvents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("kernel events need root")
	}
	s := startServe(t, "--listen", "127.0.0.1:0", "--kernel-events", "on", "--interval", "100ms", "--full-interval", "1h", "--log-level", "error")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f := dialFollow(ctx, t, s)

	// A shell holds /dev/null on fd 3 and, on SIGUSR1, opens /etc/hostname
	// onto fd 3 (open, dup2, close: the same number of fds).
	sh := exec.Command("sh", "-c", `exec 3</dev/null; trap 'exec 3</etc/hostname' USR1; while :; do sleep 0.2; done`)
	sh.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	pid := sh.Process.Pid
	f.until(ctx, "the shell's fd 3 on /dev/null", func(x *graph.Index) bool { return fdObjectPath(x, pid, 3) == "/dev/null" })
	if err := sh.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	f.until(ctx, "the shell's fd 3 on /etc/hostname", func(x *graph.Index) bool { return fdObjectPath(x, pid, 3) == "/etc/hostname" })
}

// fdObjectPath is the path of the object behind fd of the process pid in
// x, "" if there is none.
func fdObjectPath(x *graph.Index, pid, fd int) string {
	p := x.Process(pid)
	if p == nil || p.Process == nil {
		return ""
	}
	s := x.Snapshot()
	next := func(from string, kind graph.EdgeKind) string {
		for _, e := range s.Edges {
			if e.From == from && e.Kind == kind {
				return e.To
			}
		}
		return ""
	}
	obj := s.Node(next(next(graph.FDID(pid, p.Process.StartTime, fd), graph.EdgeOFD), graph.EdgeObject))
	if obj == nil || obj.Object == nil {
		return ""
	}
	return obj.Object.Path
}
