//go:build linux

package live

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func inode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func connInode(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ino uint64
	rc.Control(func(fd uintptr) { ino = inode(t, int(fd)) })
	return ino
}

// TestSockDiagProber dumps this process's namespace: a unix pair and a TCP
// connection appear, and queued bytes change their signatures.
func TestSockDiagProber(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	ln, client, server := tcpPair(t)

	p := NewSockDiagProber("")
	defer p.Close()
	netns := map[uint64]int{p.netns.Self(): os.Getpid()}
	ctx := context.Background()
	before, err := p.ProbeSockets(ctx, netns)
	if err != nil {
		t.Fatal(err)
	}
	u0, tc := inode(t, fds[0]), connInode(t, client.(*net.TCPConn))
	for _, ino := range []uint64{u0, tc, connInode(t, ln.(*net.TCPListener))} {
		if _, ok := before[ino]; !ok {
			t.Fatalf("socket %d missing from the dump", ino)
		}
	}
	if _, err := unix.Write(fds[1], []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	after, err := p.ProbeSockets(ctx, netns)
	if err != nil {
		t.Fatal(err)
	}
	if before[u0] == after[u0] {
		t.Errorf("unix signature unchanged after queuing bytes: %x", after[u0])
	}
	if before[tc] == after[tc] {
		t.Errorf("tcp signature unchanged after queuing bytes: %x", after[tc])
	}
	if p.netns.Len() != 1 {
		t.Errorf("%d connections kept, want 1", p.netns.Len())
	}
	// A namespace that is gone is forgotten.
	if _, err := p.ProbeSockets(ctx, map[uint64]int{}); err != nil {
		t.Fatal(err)
	}
	if p.netns.Len() != 0 {
		t.Errorf("%d connections kept for no namespace", p.netns.Len())
	}
}

func TestSignature(t *testing.T) {
	seen := map[uint64]bool{}
	for state := range uint64(12) {
		for q := range uint64(50) {
			for _, k := range []byte{'u', 'i'} {
				h := signature(k, state, q, 0)
				if seen[h] {
					t.Fatalf("collision at %c %d %d", k, state, q)
				}
				seen[h] = true
			}
		}
	}
	if signature('u', 1, 2) == signature('u', 2, 1) {
		t.Error("the order of facts does not count")
	}
}

// TestSockDiagProberOtherNetns enters another network namespace (that of an
// `unshare -n` child) and finds a socket made there.
func TestSockDiagProberOtherNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering a network namespace needs CAP_SYS_ADMIN")
	}
	sleep := exec.Command("unshare", "-n", "sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	defer func() {
		sleep.Process.Kill()
		sleep.Wait()
	}()
	path := "/proc/" + strconv.Itoa(sleep.Process.Pid) + "/ns/net"
	var st unix.Stat_t
	for deadline := time.Now().Add(30 * time.Second); ; {
		// unshare execs sleep once the namespace is made.
		var self unix.Stat_t
		unix.Stat("/proc/self/ns/net", &self)
		if unix.Stat(path, &st) == nil && st.Ino != self.Ino {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never got its own namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}
	nsf, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer nsf.Close()
	// A unix socket made inside that namespace, held by this process.
	fd, err := inNetNS(int(nsf.Fd()), func() (int, error) {
		return unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: "@fdscope-live-test-" + strconv.Itoa(os.Getpid())}); err != nil {
		t.Fatal(err)
	}
	ino := inode(t, fd)
	p := NewSockDiagProber("")
	defer p.Close()
	got, err := p.ProbeSockets(context.Background(), map[uint64]int{st.Ino: sleep.Process.Pid})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got[ino]; !ok {
		t.Errorf("the socket made in the other namespace (%d) is not in its dump (%d sockets)", ino, len(got))
	}
	// The same socket is not in this process's own namespace.
	own, err := p.ProbeSockets(context.Background(), map[uint64]int{p.netns.Self(): os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := own[ino]; ok {
		t.Error("the other namespace's socket is in this namespace's dump")
	}
}

// inNetNS runs fn on a locked OS thread moved into the namespace of nsFD,
// and moves the thread back. A thread that cannot be moved back is never
// unlocked, so the runtime ends it with the goroutine.
func inNetNS(nsFD int, fn func() (int, error)) (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, err}
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("setns: %w", err)}
			return
		}
		fd, err := fn()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// TestSockDiagProberAllocs checks that a probe allocates nothing per
// socket: with thousands of sockets, a handful of allocations, which are
// the signature map's.
func TestSockDiagProberAllocs(t *testing.T) {
	for range 1500 {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("socketpair: %v", err)
		}
		t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	}
	p := NewSockDiagProber("")
	defer p.Close()
	netns := map[uint64]int{p.netns.Self(): os.Getpid()}
	ctx := context.Background()
	var n int
	allocs := testing.AllocsPerRun(5, func() {
		got, err := p.ProbeSockets(ctx, netns)
		if err != nil {
			t.Fatal(err)
		}
		n = len(got)
	})
	if n < 3000 {
		t.Fatalf("%d sockets probed, want at least 3000", n)
	}
	if allocs > 30 {
		t.Errorf("a probe of %d sockets made %.0f allocations, want at most 30", n, allocs)
	}
	t.Logf("%d sockets, %.0f allocations per probe", n, allocs)
}

// TestSockDiagProberIgnoreLocal: the server's own listener and the
// connections accepted from it are left out; its clients' ends are not.
func TestSockDiagProberIgnoreLocal(t *testing.T) {
	ln, client, server := tcpPair(t)
	for _, listen := range []string{ln.Addr().String(), "0.0.0.0:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)} {
		p := NewSockDiagProber("")
		p.IgnoreLocal(netip.MustParseAddrPort(listen))
		got, err := p.ProbeSockets(context.Background(), map[uint64]int{p.netns.Self(): os.Getpid()})
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got[connInode(t, client.(*net.TCPConn))]; !ok {
			t.Errorf("ignoring %s: the client's end is missing", listen)
		}
		for name, ino := range map[string]uint64{"listener": connInode(t, ln.(*net.TCPListener)), "accepted": connInode(t, server.(*net.TCPConn))} {
			if _, ok := got[ino]; ok {
				t.Errorf("ignoring %s: the server's %s socket is probed", listen, name)
			}
		}
	}
}

// tcpPair opens a listener on 127.0.0.1 and one connection to it, closed
// when the test ends.
func tcpPair(t *testing.T) (ln net.Listener, client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return ln, client, server
}
