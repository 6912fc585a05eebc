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
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/hub"
)

// The end-to-end test of the hub over hosts made of namespaces. Three
// "hosts", each a network + pid + mount namespace held by `unshare ...
// sleep infinity`: alpha and beta run an agent each (this test binary,
// re-executed by nsenter, running fdscope serve), beta a TCP server and
// alpha its client, over a veth pair between them; hubhost runs the hub,
// joined to each agent's host by a veth pair of its own. Every address is
// in the test's own namespaces: nothing is configured in the namespace the
// test runs in. The test reaches the hub (on 127.0.0.1 inside hubhost)
// through a loopback listener of its own whose connections it dials from
// a thread that entered hubhost's network namespace (dialIn); Chromium
// reaches it the same way.
//
//	alpha 10.231.0.1/30 ─ veth ─ 10.231.0.2/30 beta      (client → server:7000)
//	alpha 10.231.1.2/30 ─ veth ─ 10.231.1.1/30 hubhost   (agent alpha :9440)
//	beta  10.231.2.2/30 ─ veth ─ 10.231.2.1/30 hubhost   (agent beta :9440)

// nsHost is a host made of namespaces: holder is the pid (in the test's
// pid namespace) of the process that holds them, pid 1 of its own.
type nsHost struct {
	name   string
	holder int
}

// needNamespaces skips the test without root or the tools it needs (and
// fails it under CI=true, which runs as root with them).
func needNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces as hosts need root")
	}
	for _, tool := range []string{"unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing; CI=true requires the namespace test (util-linux, iproute2)", tool)
			}
			t.Skipf("%s is missing (util-linux, iproute2)", tool)
		}
	}
}

// newNSHost starts a host; it ends, with every process in it, when the test does.
func newNSHost(t *testing.T, name string) *nsHost {
	t.Helper()
	cmd := exec.Command("unshare", "--net", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc", "sleep", "infinity")
	if err := cmd.Start(); err != nil {
		t.Fatalf("host %s: %v", name, err)
	}
	t.Cleanup(func() {
		// --kill-child: the holder dies with unshare, and every process of
		// its pid namespace with it; the network namespace goes with them.
		cmd.Process.Kill()
		cmd.Wait()
	})
	h := &nsHost{name: name}
	waitUntil(t, 10*time.Second, "host "+name+"'s holder", func() bool {
		h.holder = childOf(cmd.Process.Pid)
		if h.holder == 0 {
			return false
		}
		// unshare forks once the namespaces are made: its child is in them
		// from the start, but is "unshare" until it runs sleep.
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", h.holder))
		return strings.TrimSpace(string(comm)) == "sleep"
	})
	h.ip(t, "link", "set", "lo", "up")
	return h
}

// childOf returns the first child of a process, 0 when it has none.
func childOf(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// ip runs ip(8) in the host's network namespace.
func (h *nsHost) ip(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("nsenter", append([]string{"--target", strconv.Itoa(h.holder), "--net", "--", "ip"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: ip %s: %v: %s", h.name, strings.Join(args, " "), err, out)
	}
}

// setLastPID makes n the last pid given in the host's pid namespace: the
// next process there is n+1 (unless another starts first).
func (h *nsHost) setLastPID(t *testing.T, n int) {
	t.Helper()
	out, err := exec.Command("nsenter", "--target", strconv.Itoa(h.holder), "--pid", "--mount", "--",
		"sh", "-c", fmt.Sprintf("echo %d > /proc/sys/kernel/ns_last_pid", n)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: ns_last_pid: %v: %s", h.name, err, out)
	}
}

// link joins two hosts by a veth pair, made in a's namespace with its peer
// in b's, and addresses its ends (addresses of a /30).
func link(t *testing.T, a, b *nsHost, addrA, addrB string) {
	t.Helper()
	ifA, ifB := "to-"+b.name, "to-"+a.name
	a.ip(t, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", strconv.Itoa(b.holder))
	a.ip(t, "addr", "add", addrA+"/30", "dev", ifA)
	a.ip(t, "link", "set", ifA, "up")
	b.ip(t, "addr", "add", addrB+"/30", "dev", ifB)
	b.ip(t, "link", "set", ifB, "up")
}

// nsProc is this test binary in a role, run in a host's namespaces.
type nsProc struct {
	cmd   *exec.Cmd
	pid   int // the role's pid in the test's pid namespace
	nsPID int // its pid in its host
	first string
	done  chan struct{}
}

// start runs role (serveRoleEnv) in the host and waits for its first line.
func (h *nsHost) start(t *testing.T, role string) *nsProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--target", strconv.Itoa(h.holder), "--net", "--pid", "--mount", "--", exe)
	cmd.Env = append(os.Environ(), serveRoleEnv+"="+role)
	cmd.Stderr = &prefixWriter{t: t, prefix: h.name + " " + strings.Fields(role)[0] + ": "}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %s: %v", h.name, role, err)
	}
	p := &nsProc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		l, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(l)
		io.Copy(io.Discard, r)
	}()
	select {
	case p.first = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: %s printed nothing within 30 s", h.name, role)
	}
	if p.first == "" {
		t.Fatalf("%s: %s ended before it was ready", h.name, role)
	}
	// nsenter forks into the pid namespace: the role is its child.
	p.pid = childOf(cmd.Process.Pid)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	for l := range strings.Lines(string(status)) {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "NSpid:" {
			p.nsPID, _ = strconv.Atoi(f[len(f)-1])
		}
	}
	if p.pid == 0 || p.nsPID == 0 {
		t.Fatalf("%s: %s: no pid in the host (%q)", h.name, role, status)
	}
	return p
}

// kill ends the role by its pid (SIGKILL: an agent that goes away
// without a word), and nsenter with it.
func (p *nsProc) kill() {
	if p.pid != 0 {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// prefixWriter logs what a role writes to stderr.
type prefixWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for l := range strings.Lines(string(b)) {
		w.t.Log(w.prefix + strings.TrimRight(l, "\n"))
	}
	return len(b), nil
}

// dialIn dials addr over TCP from inside the network namespace of process
// pid: a goroutine locks its thread, enters the namespace, makes the
// socket (which stays in that namespace) and goes back. A thread that
// cannot go back is never unlocked, so it ends with its goroutine.
func dialIn(ctx context.Context, pid int, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer self.Close()
		target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// forward listens on 127.0.0.1 in the test's namespace and joins every
// connection to addr inside the network namespace of pid; it returns the
// listener's address.
func forward(t *testing.T, pid int, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				up, err := dialIn(ctx, pid, addr)
				cancel()
				if err != nil {
					c.Close()
					return
				}
				mu.Lock()
				conns = append(conns, c, up)
				mu.Unlock()
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, up)
				c.Close()
			})
		}
	})
	return ln.Addr().String()
}

// waitUntil polls cond every 50 ms for at most bound: a generous bound,
// not a measure of speed.
func waitUntil(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", bound, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agentArgs are the flags of an agent in a namespace host: /proc of its
// own pid namespace (the BPF iterator and the kernel's events see every
// task of the machine, by the initial namespace's pids), scans four times
// a second.
func agentArgs(listen, tokenFile, dataDir string) string {
	return "serve --listen " + listen + " --token-file " + tokenFile + " --data-dir " + dataDir +
		" --scanner procfs --kernel-events off --conn-events off --proc-events=false --activity=false" +
		" --interval 250ms --full-interval 1s --log-level warn"
}

// crossHostPeer reports whether the peers of the client (pid on alpha)
// hold the server (pid on beta) via tcp as a connection.
func crossHostPeer(peers []graph.Peer, server int) bool {
	for _, p := range peers {
		if p.Via == graph.ViaTCP && p.Relation == graph.RelConnection && p.PeerPID == server &&
			strings.HasPrefix(p.PeerProcess, "beta/proc:"+strconv.Itoa(server)+":") {
			return true
		}
	}
	return false
}

// TestHubAcrossNamespaceHosts: a client on host alpha and its server on
// host beta are one peer edge in the hub; every process carries its host;
// beta's agent killed, its processes are marked, then dropped; started
// again, they are back with the edge; the page follows the edge across
// hosts (Chromium).
func TestHubAcrossNamespaceHosts(t *testing.T) {
	needNamespaces(t)
	alpha, beta, hubhost := newNSHost(t, "alpha"), newNSHost(t, "beta"), newNSHost(t, "hubhost")
	link(t, alpha, beta, "10.231.0.1", "10.231.0.2")
	link(t, hubhost, alpha, "10.231.1.1", "10.231.1.2")
	link(t, hubhost, beta, "10.231.2.1", "10.231.2.2")

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("netns-agent-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"alpha", "beta"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	alpha.start(t, agentArgs("10.231.1.2:9440", tokenFile, filepath.Join(dir, "alpha")))
	betaAgent := func() *nsProc {
		return beta.start(t, agentArgs("10.231.2.2:9440", tokenFile, filepath.Join(dir, "beta")))
	}
	agentB := betaAgent()
	// The server and the client get the same pid in their hosts (the next
	// after 999 in each), as pids do across machines.
	beta.setLastPID(t, 999)
	server := beta.start(t, "tcp-server 10.231.0.2:7000")
	alpha.setLastPID(t, 999)
	client := alpha.start(t, "tcp-client 10.231.0.2:7000")
	hubProc := hubhost.start(t, "hub --listen 127.0.0.1:9440 --agents alpha=http://10.231.1.2:9440,beta=http://10.231.2.2:9440"+
		" --agent-token-file "+tokenFile+" --drop-after 2s --log-level warn")
	if !strings.Contains(hubProc.first, "serving on http://127.0.0.1:9440/") {
		t.Fatalf("hub printed %q", hubProc.first)
	}
	hubURL := "http://" + forward(t, hubhost.holder, "127.0.0.1:9440")
	t.Logf("client pid %d on alpha, server pid %d on beta; hub at %s", client.nsPID, server.nsPID, hubURL)

	hubGet := func(path string, out any) int {
		t.Helper()
		resp, err := http.Get(hubURL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK && out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	clientPeers := fmt.Sprintf("/api/processes/%d/peers?host=alpha", client.nsPID)
	serverFocus := fmt.Sprintf("/api/processes/%d?host=beta", server.nsPID)
	edge := func() bool {
		var peers []graph.Peer
		return hubGet(clientPeers, &peers) == http.StatusOK && crossHostPeer(peers, server.nsPID)
	}
	waitUntil(t, 60*time.Second, "the client's peer edge to the server on beta", edge)

	// Every process node carries its host, the one its ID names.
	var g graph.Snapshot
	if code := hubGet("/api/graph", &g); code != http.StatusOK {
		t.Fatalf("/api/graph: %d", code)
	}
	hosts := map[string]int{}
	for _, n := range g.Nodes {
		if n.Kind != graph.KindProcess {
			continue
		}
		if n.Host == "" || !strings.HasPrefix(n.ID, n.Host+"/") {
			t.Errorf("process %s: host %q", n.ID, n.Host)
		}
		hosts[n.Host]++
	}
	if hosts["alpha"] < 3 || hosts["beta"] < 3 || len(hosts) != 2 {
		t.Errorf("processes by host: %v, want alpha and beta with holder, agent and client or server", hosts)
	}

	// One pid on two hosts: ?host= names each; without it, the one that
	// started last: the client (or, started in the same clock tick, the
	// first by node ID: alpha's, the client again).
	if client.nsPID == server.nsPID {
		layoutOf := func(query string) string {
			var l struct {
				FocusID string `json:"focus_id"`
			}
			if code := hubGet(fmt.Sprintf("/api/processes/%d/layout%s", server.nsPID, query), &l); code != http.StatusOK {
				t.Fatalf("layout%s: %d", query, code)
			}
			return l.FocusID
		}
		for query, host := range map[string]string{"?host=beta": "beta", "?host=alpha": "alpha", "": "alpha"} {
			if got := layoutOf(query); !strings.HasPrefix(got, host+"/proc:") {
				t.Errorf("the focus of pid %d%s is %s, want %s's", server.nsPID, query, got, host)
			}
		}
		if code := hubGet(fmt.Sprintf("/api/processes/%d?host=hubhost", server.nsPID), nil); code != http.StatusNotFound {
			t.Errorf("pid %d on hubhost: %d, want 404", server.nsPID, code)
		}
	} else {
		t.Logf("the client (pid %d) and the server (pid %d) have different pids: ?host= is not needed to tell them apart", client.nsPID, server.nsPID)
	}

	browseAcrossHosts(t, hubURL, client.nsPID, server.nsPID)

	// Beta's agent goes away: its processes are marked, then dropped.
	agentB.kill()
	serverError := func() string {
		var f graph.Snapshot
		if hubGet(serverFocus, &f) != http.StatusOK {
			return ""
		}
		for _, n := range f.Nodes {
			if n.Kind == graph.KindProcess && n.Host == "beta" && n.PID == server.nsPID {
				return n.Error
			}
		}
		return ""
	}
	waitUntil(t, 60*time.Second, "the server marked unreachable", func() bool {
		return strings.HasPrefix(serverError(), hub.HostUnreachable)
	})
	waitUntil(t, 60*time.Second, "the server dropped after --drop-after", func() bool {
		return hubGet(serverFocus, nil) == http.StatusNotFound
	})
	if edge() {
		t.Error("the client still has its peer on beta while beta is dropped")
	}

	// Back: a fresh snapshot, the server unmarked and the edge again.
	betaAgent()
	waitUntil(t, 60*time.Second, "the edge back with beta's agent", edge)
	if e := serverError(); e != "" {
		t.Errorf("the server is still marked: %s", e)
	}
}
