//go:build linux && (amd64 || arm64)

package conntrace

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fdscope/fdscope/internal/proctest"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// burstSize is how many connections each burst makes.
const burstSize = 200

// collector runs a Tracer and keeps what it hands over.
type collector struct {
	mu    sync.Mutex
	conns []Conn
	t     *Tracer
}

// startTracer opens a Tracer and runs it until the test ends; set (when
// not nil) configures it before it runs.
func startTracer(t *testing.T, set func(*Tracer)) *collector {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root (CI runs as root)")
	}
	tr, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(tr)
	}
	c := &collector{t: tr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- tr.Run(ctx, func(conn Conn) {
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := tr.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// byClientInode returns the connections handed over so far, by the
// client's socket inode.
func (c *collector) byClientInode() map[uint64]Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[uint64]Conn, len(c.conns))
	for _, conn := range c.conns {
		if conn.Client.Inode != 0 {
			m[conn.Client.Inode] = conn
		}
	}
	return m
}

// waitFor waits (10 s at most) until every connection in want has been
// handed over, and returns them.
func (c *collector) waitFor(t *testing.T, want []proctest.Conn) map[uint64]Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := c.byClientInode()
		missing := 0
		for _, w := range want {
			if _, ok := got[w.Inode]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			tot, _ := c.t.Totals()
			t.Fatalf("%d of %d connections not reported after 10 s (totals %+v)", missing, len(want), tot)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShortConnectionsBothEnds(t *testing.T) {
	c := startTracer(t, nil)
	for _, network := range []string{"tcp", "tcp6", "unix", "unixpacket"} {
		t.Run(network, func(t *testing.T) {
			via := network
			if network == "unixpacket" {
				via = "unix"
			}
			b := proctest.StartBurst(t, network, burstSize)
			made := b.Run()
			if len(made) != burstSize {
				t.Fatalf("the client made %d connections, want %d", len(made), burstSize)
			}
			got := c.waitFor(t, made)
			for _, m := range made {
				conn := got[m.Inode]
				if conn.Via != via {
					t.Errorf("%+v: via %q, want %q", m, conn.Via, via)
				}
				if conn.Client.PID != b.Client.PID || conn.Server.PID != b.Server.PID {
					t.Errorf("%+v: pids %d → %d, want %d → %d", m, conn.Client.PID, conn.Server.PID, b.Client.PID, b.Server.PID)
				}
				if conn.Client.Comm != "burst-client" || conn.Server.Comm != "burst-server" {
					t.Errorf("%+v: comms %q → %q", m, conn.Client.Comm, conn.Server.Comm)
				}
				if conn.Client.FD != m.FD || conn.Server.FD < 0 || conn.Server.Inode == 0 || conn.Server.Inode == m.Inode {
					t.Errorf("%+v: client fd %d, server fd %d inode %d", m, conn.Client.FD, conn.Server.FD, conn.Server.Inode)
				}
				if via == "unix" {
					if conn.Client.Addr != b.Addr || conn.Server.Addr != b.Addr {
						t.Errorf("%+v: names %q, %q, want %q", m, conn.Client.Addr, conn.Server.Addr, b.Addr)
					}
				} else if conn.Client.Addr != m.Local || conn.Server.Addr != m.Remote {
					t.Errorf("%+v: addresses %q → %q", m, conn.Client.Addr, conn.Server.Addr)
				}
				if conn.Opened.IsZero() || conn.Closed.Before(conn.Opened) || time.Since(conn.Opened) > time.Minute {
					t.Errorf("%+v: opened %v, closed %v", m, conn.Opened, conn.Closed)
				}
				if conn.Client.Started <= 0 || conn.Client.Started.Truncate(10*time.Millisecond) != startOf(t, b.Client.PID) {
					t.Errorf("%+v: client started %v, /proc says %v", m, conn.Client.Started, startOf(t, b.Client.PID))
				}
			}
			var life []time.Duration
			for _, m := range made {
				life = append(life, got[m.Inode].Lifetime())
			}
			t.Logf("%d connections; lifetimes: first %v, last %v", len(made), life[0], life[len(life)-1])
		})
	}
}

// startOf reads when pid started (after boot) from /proc, to the clock
// tick (the kernel's USER_HZ, 100).
func startOf(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ticks, err := strconv.ParseInt(fields[19], 10, 64) // field 22
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func TestNoKernelAddressLeaves(t *testing.T) {
	var mu sync.Mutex
	addrs := map[uint64]bool{}
	c := startTracer(t, func(tr *Tracer) {
		tr.seen = func(a uint64) {
			if a != 0 {
				mu.Lock()
				addrs[a] = true
				mu.Unlock()
			}
		}
	})
	var made []proctest.Conn
	for _, network := range []string{"tcp", "unix"} {
		made = append(made, proctest.StartBurst(t, network, 20).Run()...)
	}
	got := c.waitFor(t, made)
	var out strings.Builder
	for _, conn := range got {
		b, err := json.Marshal(conn)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s\n%+v\n%#v\n", b, conn, conn)
	}
	text := out.String()
	mu.Lock()
	defer mu.Unlock()
	kernel := 0
	for a := range addrs {
		if a >= 0xffff800000000000 {
			kernel++
		}
		for _, form := range []string{strconv.FormatUint(a, 10), strconv.FormatUint(a, 16), strconv.FormatInt(int64(a), 10)} {
			if strings.Contains(text, form) {
				t.Errorf("kernel address %#x shows in the output as %s", a, form)
			}
		}
	}
	if kernel < len(made) {
		t.Fatalf("only %d kernel addresses read for %d connections: the test checks nothing", kernel, len(made))
	}
}

// unprivilegedEnv makes the test binary try Open itself and report.
const unprivilegedEnv = "FDSCOPE_CONNTRACE_UNPRIVILEGED"

// TestOpenUnprivileged: as a user without privileges, Open fails and
// says what is needed. The test binary runs itself as nobody.
func TestOpenUnprivileged(t *testing.T) {
	if os.Getenv(unprivilegedEnv) != "" {
		_, err := Open()
		if err == nil {
			t.Fatal("Open succeeded without privileges")
		}
		fmt.Println("ERR:", err)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("runs itself as nobody: needs root (CI runs as root)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A copy nobody may run (the build directory is its owner's only).
	dir, err := os.MkdirTemp("", "fdscope-conntrace-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "conntrace.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestOpenUnprivileged$", "-test.v")
	cmd.Env = append(os.Environ(), unprivilegedEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "ERR: conntrace: load: operation not permitted: tracing programs need root, or CAP_BPF and CAP_PERFMON") {
		t.Errorf("the error says: %s", out)
	}
}

// bpfFDs counts this process's fds of BPF objects (programs, maps, links).
func bpfFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "anon_inode:bpf") {
			n++
		}
	}
	return n
}

// TestCloseReleasesEverything: after Run and Close, no program, map or
// link of the Tracer is held; Run returns once the Tracer is closed.
func TestCloseReleasesEverything(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root (CI runs as root)")
	}
	before := bpfFDs(t)
	tr, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	if during := bpfFDs(t); during < before+len(hooks)*2 {
		t.Fatalf("%d BPF fds while open, %d before: the count sees nothing", during, before)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Run(context.Background(), func(Conn) {}) }()
	time.Sleep(2 * tick)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if after := bpfFDs(t); after != before {
		t.Errorf("%d BPF fds after Close, %d before", after, before)
	}
}

// nsChildEnv makes the test binary, in a pid namespace of its own, trace
// the connections it makes to the address the variable holds.
const nsChildEnv = "FDSCOPE_CONNTRACE_NS_CHILD"

// nsConns is how many connections the child in a pid namespace makes.
const nsConns = 20

// TestPIDNamespaces: pids are those of the reader's pid namespace. A
// process in a pid namespace of its own (pid 1 there) connects 20 times
// to this one: this test's Tracer reports the child by the pid this
// namespace gives it; the child's Tracer reports the child as pid 1 and
// this process, outside its namespace, as pid 0.
func TestPIDNamespaces(t *testing.T) {
	if addr := os.Getenv(nsChildEnv); addr != "" {
		nsChild(t, addr)
		return
	}
	c := startTracer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, conn)
				conn.Close()
			}()
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestPIDNamespaces$", "-test.v")
	cmd.Env = append(os.Environ(), nsChildEnv+"="+ln.Addr().String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child in its pid namespace: %v: %s", err, out)
	}
	inside := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "CONN client=1 server=0") {
			inside++
		}
	}
	if inside != nsConns {
		t.Errorf("the child's tracer saw %d connections as pid 1 → pid 0, want %d: %s", inside, nsConns, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		outside := 0
		c.mu.Lock()
		for _, conn := range c.conns {
			if conn.Server.Addr == ln.Addr().String() && conn.Client.PID == cmd.Process.Pid && conn.Server.PID == os.Getpid() {
				outside++
			}
		}
		c.mu.Unlock()
		if outside == nsConns {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("this test's tracer saw %d connections as pid %d → pid %d, want %d", outside, cmd.Process.Pid, os.Getpid(), nsConns)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nsChild runs in the child: it traces, connects nsConns times to addr,
// and prints the pids its tracer saw at both ends of each.
func nsChild(t *testing.T, addr string) {
	if os.Getpid() != 1 {
		t.Fatalf("pid %d: not in a pid namespace of its own", os.Getpid())
	}
	c := startTracer(t, nil)
	for range nsConns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte{1})
		conn.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var mine []Conn
		c.mu.Lock()
		for _, conn := range c.conns {
			if conn.Server.Addr == addr {
				mine = append(mine, conn)
			}
		}
		c.mu.Unlock()
		if len(mine) >= nsConns || time.Now().After(deadline) {
			for _, conn := range mine {
				fmt.Printf("CONN client=%d server=%d\n", conn.Client.PID, conn.Server.PID)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
